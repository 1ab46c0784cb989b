//! `monkeywrench halt` and `monkeywrench resume`: the big red switch.

use clap::Args;

use super::failure::Blameworthy;
use super::state::{StateArgs, short};
use crate::exit_code;
use crate::ledger::RevertOutcome;

/// Options of `monkeywrench halt`.
#[derive(Debug, Args)]
pub(super) struct HaltArgs {
    /// Where the ledger lives.
    #[command(flatten)]
    pub state: StateArgs,
    /// Why (shown to every run that is refused).
    #[arg(long, default_value = "halted by an operator")]
    pub reason: String,
}

/// Options of `monkeywrench resume`.
#[derive(Debug, Args)]
pub(super) struct ResumeArgs {
    /// Where the ledger lives.
    #[command(flatten)]
    pub state: StateArgs,
}

/// Reverts every active fault and refuses new ones; exit 3 if a revert failed.
pub(super) async fn halt(args: HaltArgs) -> anyhow::Result<i32> {
    let ledger = args.state.open_ledger().await?;
    let outcomes = ledger
        .halt(&args.reason)
        .await
        .or_unavailable(|| "record the halt in the ledger".to_string())?;
    let mut failed = 0;
    for (lease, outcome) in &outcomes {
        let what = match outcome {
            RevertOutcome::Reverted => "reverted".to_string(),
            RevertOutcome::TargetGone => "target gone".to_string(),
            RevertOutcome::Nothing => "irreversible".to_string(),
            RevertOutcome::Failed(e) => {
                failed += 1;
                format!("FAILED: {e}")
            }
        };
        eprintln!(
            "  {} {} {}: {what}",
            short(&lease.id),
            lease.func,
            lease.target
        );
    }
    eprintln!(
        "halted ({}): {} active fault(s) handled, {failed} failed; new faults are refused until `monkeywrench resume`",
        args.reason,
        outcomes.len()
    );
    Ok(if failed > 0 {
        exit_code::ROLLBACK_FAILED
    } else {
        exit_code::OK
    })
}

pub(super) async fn resume(args: ResumeArgs) -> anyhow::Result<i32> {
    let ledger = args.state.open_ledger().await?;
    ledger
        .resume()
        .await
        .or_unavailable(|| "record the resume in the ledger".to_string())?;
    eprintln!("resumed: faults are allowed again");
    Ok(exit_code::OK)
}
