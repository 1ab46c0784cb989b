//! `monkeywrench guard`: revert faults whose deadline passed or whose owner died; exits when idle.

use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::failure::Blameworthy;
use super::state::StateArgs;
use crate::exit_code;
use crate::ledger::guard;

/// How long one revert attempt of the guard keeps trying before the next poll.
const GUARD_PATIENCE: Duration = Duration::from_secs(2);

/// Options of `monkeywrench guard`.
#[derive(Debug, Args)]
pub(super) struct GuardArgs {
    /// Where the ledger lives.
    #[command(flatten)]
    pub state: StateArgs,
    /// Milliseconds between ledger checks.
    #[arg(long, default_value_t = 200)]
    pub poll_ms: u64,
    /// Exit after this many consecutive checks find nothing active (0 = run until signalled).
    #[arg(long, default_value_t = 10)]
    pub idle_polls: u32,
}

/// Runs the guard; returns the exit code.
pub(super) async fn execute(args: GuardArgs) -> anyhow::Result<i32> {
    let dir = args.state.dir();
    // A run may be probing the lock at this instant: retry briefly before concluding another guard runs.
    let mut lock = None;
    for _ in 0..5 {
        lock = guard::try_lock(&dir).or_unavailable(|| lock_what(&dir))?;
        if lock.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let Some(lock) = lock else {
        eprintln!(
            "monkeywrench guard: another guard is already watching {}",
            dir.display()
        );
        return Ok(exit_code::OK);
    };
    // Short patience per attempt: the guard tries a failing revert again every poll anyway.
    let ledger = args
        .state
        .open_ledger()
        .await?
        .with_patience(GUARD_PATIENCE);
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    let idle = if args.idle_polls == 0 {
        u32::MAX
    } else {
        args.idle_polls
    };
    let mut lock = Some(lock);
    let mut report = guard::GuardReport::default();
    loop {
        let round = guard::watch(
            &ledger,
            Duration::from_millis(args.poll_ms.max(10)),
            idle,
            &cancel,
        )
        .await
        .or_unavailable(|| "watch the ledger".to_string())?;
        report.reverted += round.reverted;
        report.failed += round.failed;
        // Release first, then look once more: a run that saw this guard alive (and so started
        // none) has committed its lease before that check, so it is seen here.
        drop(lock.take());
        let active = ledger
            .active()
            .await
            .or_unavailable(|| "read the ledger".to_string())?;
        if cancel.is_cancelled() || active.is_empty() {
            break;
        }
        match guard::try_lock(&dir).or_unavailable(|| lock_what(&dir))? {
            Some(l) => lock = Some(l),
            None => break, // another guard took over
        }
    }
    eprintln!(
        "monkeywrench guard: done ({} reverted, {} failed attempts)",
        report.reverted, report.failed
    );
    Ok(exit_code::OK)
}

fn lock_what(dir: &std::path::Path) -> String {
    format!("take the guard lock in {}", dir.display())
}
