//! What can go wrong with the ledger.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The store failed; no fault was applied.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `monkeywrench halt` is in force.
    #[error(
        "start a fault: monkeywrench is halted ({reason}); run `monkeywrench resume` to allow faults again"
    )]
    Halted { reason: String },
    /// An apply task ended without an answer (it panicked); the lease stays active.
    #[error("apply the fault of lease {0}: the apply task ended without a result")]
    ApplyLost(String),
    /// A stored row could not be read back.
    #[error("read lease {id}: {message}")]
    Corrupt { id: String, message: String },
}

impl From<sqlx::Error> for LedgerError {
    fn from(e: sqlx::Error) -> Self {
        LedgerError::Store(StoreError::Query(e))
    }
}
