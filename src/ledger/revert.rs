//! Reverting a lease: the recipe is undone by the fault family that wrote it (through
//! [`Undoer`], so the ledger knows no family), the world is checked, and a revert that does not
//! hold is tried again with backoff until the ledger's patience runs out.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

/// A boxed future, as the object-safe [`Undoer`] returns it.
pub type UndoFuture<'a> = Pin<Box<dyn Future<Output = UndoAttempt> + Send + 'a>>;

/// What undoes (and checks) the recipes the fault families store; see `crate::fault::Reverter`.
pub trait Undoer: Send + Sync + std::fmt::Debug {
    /// Whether the recipe has anything to undo.
    fn is_reversible(&self, recipe: &Value) -> bool;
    /// Undoes the recipe once and checks the target's real state (idempotent).
    fn undo<'a>(&'a self, recipe: &'a Value) -> UndoFuture<'a>;
}

/// One undo attempt, judged against the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UndoAttempt {
    /// Undone, and the target is seen in its former state.
    Verified,
    /// The target no longer exists; nothing is left to undo.
    Gone,
    /// An irreversible recipe: nothing to do.
    Nothing,
    /// The undo failed, or the target does not (yet) show it: worth another try.
    NotYet(String),
}

/// What a revert achieved, after its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertOutcome {
    /// Undone and verified.
    Reverted,
    /// The target no longer exists; nothing to undo.
    TargetGone,
    /// Irreversible: nothing to do.
    Nothing,
    /// The undo did not hold within the patience (kept active; retried by the guard).
    Failed(String),
}

/// Backoff between attempts: 100 ms, doubling, at most 1 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(4)).min(1000))
}

/// Undoes `recipe` and checks it, trying again until it holds or `patience` has passed.
pub(super) async fn undo_verified(
    undoer: &dyn Undoer,
    recipe: &Value,
    patience: Duration,
) -> RevertOutcome {
    let give_up = tokio::time::Instant::now() + patience;
    let mut attempt = 0;
    loop {
        match undoer.undo(recipe).await {
            UndoAttempt::Verified => return RevertOutcome::Reverted,
            UndoAttempt::Gone => return RevertOutcome::TargetGone,
            UndoAttempt::Nothing => return RevertOutcome::Nothing,
            UndoAttempt::NotYet(why) => {
                let wait = backoff(attempt);
                if tokio::time::Instant::now() + wait > give_up {
                    return RevertOutcome::Failed(why);
                }
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Holds only from the `holds_from`-th attempt on.
    #[derive(Debug)]
    struct Stubborn {
        calls: AtomicU32,
        holds_from: u32,
    }

    impl Undoer for Stubborn {
        fn is_reversible(&self, _: &Value) -> bool {
            true
        }
        fn undo<'a>(&'a self, _: &'a Value) -> UndoFuture<'a> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            let holds = n >= self.holds_from;
            Box::pin(async move {
                if holds {
                    UndoAttempt::Verified
                } else {
                    UndoAttempt::NotYet(format!("attempt {n} did not hold"))
                }
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_revert_is_retried_until_it_holds_or_patience_runs_out() {
        let eventually = Stubborn {
            calls: AtomicU32::new(0),
            holds_from: 4,
        };
        let outcome = undo_verified(&eventually, &Value::Null, Duration::from_secs(10)).await;
        assert_eq!(outcome, RevertOutcome::Reverted);
        assert_eq!(eventually.calls.load(Ordering::SeqCst), 4);

        let never = Stubborn {
            calls: AtomicU32::new(0),
            holds_from: u32::MAX,
        };
        let started = tokio::time::Instant::now();
        let outcome = undo_verified(&never, &Value::Null, Duration::from_secs(3)).await;
        assert!(
            matches!(&outcome, RevertOutcome::Failed(why) if why.contains("did not hold")),
            "{outcome:?}"
        );
        assert!(started.elapsed() <= Duration::from_secs(3));
        assert!(
            never.calls.load(Ordering::SeqCst) >= 4,
            "retried with backoff"
        );
    }
}
