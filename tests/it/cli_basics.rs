//! The binary's basic contract: help, version, usage errors map to documented exit codes.

use crate::harness::{TempDir, run_in, stderr, write};

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

#[test]
fn help_shows_every_exit_code_from_the_one_table() {
    let dir = TempDir::new("help-table");
    for args in [&["--help"][..], &["run", "--help"]] {
        let out = run_in(dir.path(), args);
        let text = String::from_utf8_lossy(&out.stdout);
        for d in monkeywrench::exit_code::TABLE {
            let row = format!("  {:<4}{}", d.code, d.name);
            assert!(text.contains(&row), "{args:?} lacks {row:?}:\n{text}");
        }
    }
}

/// An experiment whose one action leaves `marker` behind: proof that something ran.
fn touching_experiment(dir: &std::path::Path, marker: &std::path::Path) -> String {
    write(
        dir,
        "touch.json",
        &format!(
            r#"{{"title": "t", "description": "d", "method": [
                {{"type": "action", "name": "touch",
                  "provider": {{"type": "process", "path": "touch", "arguments": ["{}"]}}}}]}}"#,
            marker.display()
        ),
    )
}

#[test]
fn unwritable_outputs_are_usage_errors_and_nothing_runs() {
    let dir = TempDir::new("unwritable");
    let marker = dir.path().join("ran");
    let file = touching_experiment(dir.path(), &marker);
    let missing = dir.path().join("no-such-dir");
    let events = missing.join("events.ndjson").display().to_string();
    let journal_in_missing = missing.join("journal.json").display().to_string();
    let journal_is_a_dir = dir.path().display().to_string();
    let cases: [(&[&str], &str); 3] = [
        (&["--events-file", &events], "create the events file"),
        (
            &["--journal-path", &journal_in_missing],
            "write the journal",
        ),
        (&["--journal-path", &journal_is_a_dir], "write the journal"),
    ];
    for (options, message) in cases {
        let mut args = vec!["run"];
        args.extend_from_slice(options);
        args.push(&file);
        let out = run_in(dir.path(), &args);
        assert_eq!(out.status.code(), Some(64), "{options:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("failed to {message}")),
            "{options:?}: {}",
            stderr(&out)
        );
        assert!(!marker.exists(), "{options:?}: the method ran");
    }
    // The same experiment with writable outputs does run: the marker above proves something.
    let out = run_in(dir.path(), &["run", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(marker.exists());
}

#[test]
fn unreadable_configs_and_var_files_are_usage_errors() {
    let dir = TempDir::new("unreadable");
    let missing = dir.path().join("missing.yaml").display().to_string();
    let marker = dir.path().join("ran");
    let file = touching_experiment(dir.path(), &marker);
    let state = dir.path().join("state").display().to_string();
    let cases: [&[&str]; 4] = [
        &["run", "--var-file", &missing, &file],
        &[
            "monkey",
            "tick",
            "--config",
            &missing,
            "--state-dir",
            &state,
        ],
        &[
            "monkey",
            "plan",
            "--config",
            &missing,
            "--state-dir",
            &state,
        ],
        &["proxy", "serve", "--port", "0", "--config", &missing],
    ];
    for args in cases {
        let out = run_in(dir.path(), args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("missing.yaml"),
            "{args:?} names the file: {}",
            stderr(&out)
        );
    }
    assert!(!marker.exists(), "the method ran");
}

#[test]
fn an_unreachable_store_is_unavailable_not_a_bug() {
    let dir = TempDir::new("no-store");
    let store = "postgres://nobody@127.0.0.1:1/none";
    for args in [
        &["ledger", "--store", store][..],
        &["halt", "--store", store],
        &["resume", "--store", store],
    ] {
        let out = run_in(dir.path(), args);
        assert_eq!(out.status.code(), Some(69), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("failed to open the ledger"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_missing_mode_value_is_a_usage_error() {
    let dir = TempDir::new("targets-value");
    let out = run_in(
        dir.path(),
        &[
            "targets",
            r#"{"name": "nothing-here"}"#,
            "--mode",
            "fixed-percent",
        ],
    );
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--mode fixed-percent needs --value"),
        "{}",
        stderr(&out)
    );
}
