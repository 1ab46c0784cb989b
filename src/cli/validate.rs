//! `monkeywrench validate`: check an experiment file.

use clap::Args;

/// Options of `monkeywrench validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Experiment file (.json, .yaml, .yml) or http(s) URL.
    pub source: String,
}

/// Runs the subcommand; returns the exit code.
pub async fn execute(_args: ValidateArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
