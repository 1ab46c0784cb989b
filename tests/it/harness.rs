//! Shared helpers for integration tests: run the real binary, make temp dirs.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Path of the `monkeywrench` binary built for this test run.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_monkeywrench"))
}

/// Runs the binary with `args` in `dir`, with empty stdin, and returns its output.
pub fn run_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the monkeywrench binary starts")
}

/// A fresh temporary directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a unique directory under the system temp dir.
    pub fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "mw-it-{label}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    /// The directory's path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
