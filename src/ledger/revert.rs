//! Executing an undo recipe. Every recipe is idempotent: undoing twice is harmless.

use super::lease::Undo;
use crate::target::process::SignalError;

/// What a revert attempt achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertOutcome {
    /// Undone.
    Reverted,
    /// The target no longer exists; nothing to undo.
    TargetGone,
    /// Irreversible: nothing to do.
    Nothing,
    /// The undo failed (kept active; retried by the guard).
    Failed(String),
}

/// Applies `undo`.
pub fn undo(undo: &Undo) -> RevertOutcome {
    match undo {
        Undo::Irreversible => RevertOutcome::Nothing,
        Undo::Signal { process, signal } => match process.signal(signal) {
            Ok(()) => RevertOutcome::Reverted,
            Err(SignalError::Gone(_)) => RevertOutcome::TargetGone,
            Err(e) => RevertOutcome::Failed(e.to_string()),
        },
    }
}
