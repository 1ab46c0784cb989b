//! The ledger: every fault is recorded (with its undo recipe, owner and deadline) and committed
//! **before** it is applied; it drives revert-on-deadline, revert-at-start, the guard and halt.

mod book;
mod error;
pub mod guard;
mod inflight;
mod lease;
mod revert;
#[cfg(test)]
mod tests;

pub use book::{DEFAULT_PATIENCE, HaltState, Ledger};
pub use error::LedgerError;
pub use lease::{Lease, LeaseState, NewLease};
pub use revert::{RevertOutcome, UndoAttempt, UndoFuture, Undoer};
