//! `monkeywrench validate`: check an experiment file and report every problem at once.

use clap::Args;

use super::prepare::{SourceArgs, prepare};
use crate::exit_code;

/// Options of `monkeywrench validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Source and override options.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Runs the subcommand; returns the exit code (0 valid, 64 invalid).
pub async fn execute(args: ValidateArgs) -> anyhow::Result<i32> {
    Ok(
        match prepare(&args.source, None, args.source.output).await {
            Ok(_) => {
                if args.source.output == super::prepare::OutputFormat::Text {
                    eprintln!("{}: valid", args.source.source);
                }
                exit_code::OK
            }
            Err(()) => exit_code::USAGE,
        },
    )
}
