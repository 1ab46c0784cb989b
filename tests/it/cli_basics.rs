//! The binary's basic contract: help, version, usage errors map to documented exit codes.

use crate::harness::{TempDir, run_in};

#[test]
fn help_lists_exit_codes_and_exits_zero() {
    let dir = TempDir::new("help");
    let out = run_in(dir.path(), &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Exit codes:"), "{text}");
    assert!(text.contains("64  USAGE"), "{text}");
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let dir = TempDir::new("usage");
    let out = run_in(dir.path(), &["frobnicate"]);
    assert_eq!(out.status.code(), Some(64));
}
