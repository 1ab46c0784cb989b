//! Process faults: kill (irreversible, recorded as such) and stop (SIGSTOP, undone by SIGCONT).

use jiff::Timestamp;
use serde_json::json;

use crate::ledger::{Lease, Ledger, LedgerError, NewLease, Undo};
use crate::target::process::{ProcessInfo, SignalError};

/// A process fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessFault {
    /// Send a signal (SIGKILL by default); nothing to undo.
    Kill {
        /// Signal name.
        signal: String,
    },
    /// SIGSTOP; undone with SIGCONT.
    Stop,
}

/// Applying a process fault failed.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The ledger refused (halted) or failed; nothing was applied.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The signal could not be delivered; the lease is closed as apply-failed.
    #[error("signal process {pid} ({name}): {source}")]
    Signal {
        /// The pid.
        pid: i32,
        /// Its name.
        name: String,
        /// Why.
        source: SignalError,
    },
}

/// Where a fault comes from and how long it may last.
#[derive(Debug, Clone)]
pub struct FaultOrigin {
    /// Run id.
    pub run_id: String,
    /// Activity name.
    pub activity: String,
    /// Builtin function name.
    pub func: String,
    /// Latest revert time.
    pub deadline: Timestamp,
}

impl ProcessFault {
    /// The signal this fault sends.
    pub fn signal(&self) -> &str {
        match self {
            ProcessFault::Kill { signal } => signal,
            ProcessFault::Stop => "SIGSTOP",
        }
    }

    /// Records the lease, applies the fault, marks the lease; returns it.
    pub async fn apply(
        &self,
        ledger: &Ledger,
        victim: &ProcessInfo,
        origin: &FaultOrigin,
    ) -> Result<Lease, FaultError> {
        let undo = match self {
            ProcessFault::Kill { .. } => Undo::Irreversible,
            ProcessFault::Stop => Undo::Signal {
                process: victim.identity,
                signal: "SIGCONT".into(),
            },
        };
        let lease = ledger
            .record(&NewLease {
                run_id: origin.run_id.clone(),
                activity: origin.activity.clone(),
                func: origin.func.clone(),
                target: json!({
                    "kind": "process",
                    "pid": victim.identity.pid,
                    "name": victim.name,
                    "cmdline": victim.cmdline,
                }),
                undo,
                deadline: origin.deadline,
            })
            .await?;
        match victim.identity.signal(self.signal()) {
            Ok(()) => {
                ledger.mark_applied(&lease).await?;
                Ok(lease)
            }
            Err(source) => {
                ledger
                    .mark_apply_failed(&lease, &source.to_string())
                    .await?;
                Err(FaultError::Signal {
                    pid: victim.identity.pid,
                    name: victim.name.clone(),
                    source,
                })
            }
        }
    }
}
