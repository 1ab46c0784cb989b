//! The one error of every fault family.

use crate::ledger::LedgerError;
use crate::target::FindError;

/// A fault could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `monkeywrench halt` is in force: nothing was applied.
    #[error(
        "start a fault: monkeywrench is halted ({reason}); run `monkeywrench resume` to allow faults again"
    )]
    Halted { reason: String },
    /// The ledger failed (the store is down): nothing was applied.
    #[error(transparent)]
    Ledger(LedgerError),
    /// The arguments (after substitution) do not fit.
    #[error("invalid arguments: {0}")]
    Arguments(String),
    /// No target, or the platform could not be asked which there are.
    #[error(transparent)]
    Find(#[from] FindError),
    /// The victim disappeared before the fault reached it.
    #[error("{0}")]
    Gone(String),
    /// The platform (the Kubernetes API, the Docker engine) cannot be reached or refused the
    /// credentials; the lease is closed as apply-failed and a run exits 69.
    #[error("{what}: {message}")]
    Unavailable { what: String, message: String },
    /// The platform refused or failed; the lease is closed as apply-failed.
    #[error("{what}: {message}")]
    Failed {
        /// The target.
        what: String,
        message: String,
    },
}

impl From<LedgerError> for Error {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Halted { reason } => Error::Halted { reason },
            other => Error::Ledger(other),
        }
    }
}

impl Error {
    /// A platform failure on `what`.
    pub fn failed(what: impl Into<String>, message: impl std::fmt::Display) -> Error {
        Error::Failed {
            what: what.into(),
            message: message.to_string(),
        }
    }

    /// The platform on `what` cannot be used at all.
    pub fn unavailable(what: impl Into<String>, message: impl std::fmt::Display) -> Error {
        Error::Unavailable {
            what: what.into(),
            message: message.to_string(),
        }
    }

    /// Whether the platform could not be used at all (exit 69 rather than 2).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Unavailable { .. } => true,
            Error::Find(e) => e.is_unavailable(),
            Error::Halted { .. }
            | Error::Ledger(_)
            | Error::Arguments(_)
            | Error::Gone(_)
            | Error::Failed { .. } => false,
        }
    }
}
