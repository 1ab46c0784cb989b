//! `monkeywrench run`: run an experiment.

use clap::Args;

/// Options of `monkeywrench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Experiment file (.json, .yaml, .yml) or http(s) URL.
    pub source: String,
}

/// Runs the subcommand; returns the exit code.
pub async fn execute(_args: RunArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
