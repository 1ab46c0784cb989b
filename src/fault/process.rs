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
    /// Stop the process (`signal`, then SIGKILL after `grace`) and start `command` in its place.
    Restart {
        /// Signal asking it to stop (SIGTERM by default).
        signal: String,
        /// How long to wait before SIGKILL.
        grace: std::time::Duration,
        /// Shell command that starts it again (run detached, in its own process group).
        command: String,
    },
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

impl FaultOrigin {
    /// The lease this origin takes for `target`, undone by `undo`.
    pub fn lease(&self, target: serde_json::Value, undo: Undo) -> NewLease {
        NewLease {
            run_id: self.run_id.clone(),
            activity: self.activity.clone(),
            func: self.func.clone(),
            target,
            undo,
            deadline: self.deadline,
        }
    }
}

impl ProcessFault {
    /// The signal this fault sends.
    pub fn signal(&self) -> &str {
        match self {
            ProcessFault::Kill { signal } | ProcessFault::Restart { signal, .. } => signal,
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
            // A restart is its own recovery: nothing is left to undo once it has run.
            ProcessFault::Kill { .. } | ProcessFault::Restart { .. } => Undo::Irreversible,
            ProcessFault::Stop => Undo::Signal {
                process: victim.identity,
                signal: "SIGCONT".into(),
            },
        };
        let target = json!({
            "kind": "process",
            "pid": victim.identity.pid,
            "name": victim.name,
            "cmdline": victim.cmdline,
        });
        let applied = async {
            match self {
                ProcessFault::Restart { grace, command, .. } => {
                    restart(victim, self.signal(), *grace, command).await
                }
                _ => victim.identity.signal(self.signal()),
            }
        };
        ledger
            .apply(&origin.lease(target, undo), applied)
            .await?
            .map_err(|source| FaultError::Signal {
                pid: victim.identity.pid,
                name: victim.name.clone(),
                source,
            })
    }
}

/// Stops `victim` (signal, then SIGKILL after `grace`) and starts `command` detached.
async fn restart(
    victim: &ProcessInfo,
    signal: &str,
    grace: std::time::Duration,
    command: &str,
) -> Result<(), SignalError> {
    victim.identity.signal(signal)?;
    let deadline = tokio::time::Instant::now() + grace;
    while victim.identity.is_alive() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    if victim.identity.is_alive() {
        match victim.identity.signal("SIGKILL") {
            Ok(()) | Err(SignalError::Gone(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(command);
    // Its own process group, no terminal I/O: it must outlive this run.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| SignalError::Os {
            pid: victim.identity.pid,
            message: format!("restart command failed to start: {e}"),
        })
}
