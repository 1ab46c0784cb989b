//! What a process fault does to one victim, and the `process.resume` action.

use serde_json::{Value, json};

use super::Undo;
use crate::fault::{self, Error, Plan};
use crate::target::process::{ProcessInfo, SignalError};

/// What happens to one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a signal (SIGKILL by default); nothing to undo.
    Kill { signal: String },
    /// SIGSTOP; undone with SIGCONT.
    Stop,
    /// Stop the process (`signal`, then SIGKILL after `grace`) and start `command` in its place.
    Restart {
        /// Signal asking it to stop.
        signal: String,
        /// How long to wait before SIGKILL.
        grace: std::time::Duration,
        /// Shell command that starts it again (run detached, in its own process group).
        command: String,
    },
}

impl Action {
    /// The signal this fault sends.
    pub fn signal(&self) -> &str {
        match self {
            Action::Kill { signal } | Action::Restart { signal, .. } => signal,
            Action::Stop => "SIGSTOP",
        }
    }

    pub(super) fn plan_for(&self, victim: &ProcessInfo) -> Plan {
        let undo = match self {
            // A restart is its own recovery: nothing is left to undo once it has run.
            Action::Kill { .. } | Action::Restart { .. } => fault::Undo::NOTHING,
            Action::Stop => fault::Undo::Process(Undo::Signal {
                process: victim.identity,
                signal: "SIGCONT".into(),
            }),
        };
        Plan {
            target: json!({
                "kind": "process",
                "pid": victim.identity.pid,
                "name": victim.name,
                "cmdline": victim.cmdline,
            }),
            undo,
            settles_within: None,
        }
    }

    pub(super) async fn apply_to(&self, victim: &ProcessInfo) -> Result<(), Error> {
        let sent = match self {
            Action::Restart { grace, command, .. } => {
                restart(victim, self.signal(), *grace, command).await
            }
            Action::Kill { .. } | Action::Stop => victim.identity.signal(self.signal()),
        };
        sent.map_err(|e| signal_error(victim, e))
    }
}

/// A signal failure as a fault error: a vanished process is `Gone`.
fn signal_error(victim: &ProcessInfo, e: SignalError) -> Error {
    match e {
        SignalError::Gone(pid) => Error::Gone(format!("process {pid} is gone")),
        other => Error::failed(
            format!("signal process {} ({})", victim.identity.pid, victim.name),
            other,
        ),
    }
}

/// `process.resume`: SIGCONT to each victim (an action: no lease, nothing to undo).
pub fn resume(victims: &[ProcessInfo]) -> Result<Value, Error> {
    let mut resumed = Vec::new();
    for v in victims {
        v.identity
            .signal("SIGCONT")
            .map_err(|e| signal_error(v, e))?;
        resumed.push(json!({"pid": v.identity.pid, "name": v.name}));
    }
    Ok(json!({"resumed": resumed}))
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
