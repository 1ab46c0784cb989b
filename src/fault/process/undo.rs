//! Undoing a process fault: SIGCONT after SIGSTOP, checked in `/proc`.

use serde::{Deserialize, Serialize};

use crate::ledger::UndoAttempt;
use crate::target::process::{ProcessIdentity, SignalError};

/// How to undo a process fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// Send a signal to the exact process (SIGCONT after SIGSTOP).
    Signal {
        /// The exact process.
        process: ProcessIdentity,
        signal: String,
    },
}

impl Undo {
    /// Sends the signal, then checks the process is no longer stopped.
    pub async fn undo(&self) -> UndoAttempt {
        match self {
            Undo::Signal { process, signal } => match process.signal(signal) {
                Ok(()) => check_continued(process, signal),
                Err(SignalError::Gone(_)) => UndoAttempt::Gone,
                Err(e) => UndoAttempt::NotYet(e.to_string()),
            },
        }
    }
}

fn check_continued(process: &ProcessIdentity, signal: &str) -> UndoAttempt {
    let is_cont = crate::target::process::parse_signal(signal)
        .is_ok_and(|s| s == rustix::process::Signal::CONT);
    if !is_cont {
        return UndoAttempt::Verified;
    }
    match process.state() {
        None => UndoAttempt::Gone,
        // `T`: stopped by a signal. SIGCONT takes effect before kill(2) returns, so a process
        // still stopped was stopped again (by someone else) or ignores us.
        Some('T') => UndoAttempt::NotYet(format!(
            "process {} is still stopped after {signal}",
            process.pid
        )),
        Some(_) => UndoAttempt::Verified,
    }
}
