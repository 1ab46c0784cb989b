//! A lease: what a fault did, how to undo it, who owns it, and until when.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::target::docker::Attachment;
use crate::target::process::ProcessIdentity;

/// How to undo a fault; stored as JSON in the ledger before the fault is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// Nothing can undo it (e.g. SIGKILL); recorded as irreversible.
    Irreversible,
    /// Send a signal to the process (SIGCONT after SIGSTOP).
    Signal {
        /// The exact process.
        process: ProcessIdentity,
        /// Signal name.
        signal: String,
    },
    /// Remove a toxic from a proxy through the Toxiproxy API.
    RemoveToxic {
        /// API base URL, e.g. `http://127.0.0.1:8474`.
        api: String,
        /// Proxy name.
        proxy: String,
        /// Toxic name.
        toxic: String,
    },
    /// Re-enable a proxy that was disabled ("down").
    EnableProxy {
        /// API base URL.
        api: String,
        /// Proxy name.
        proxy: String,
    },
    /// Start a container that was stopped.
    StartContainer {
        /// Container id.
        id: String,
        /// Its name (for messages).
        name: String,
    },
    /// Unpause a paused container.
    UnpauseContainer {
        /// Container id.
        id: String,
        /// Its name.
        name: String,
    },
    /// Reconnect a container to the network it was cut off, with its former aliases and address.
    ReconnectContainer {
        /// Container id.
        id: String,
        /// Its name.
        name: String,
        /// Network name.
        network: String,
        /// Aliases and address it had.
        attachment: Attachment,
    },
    /// Scale a Swarm service back to the replica count it had.
    ScaleService {
        /// Service id.
        id: String,
        /// Service name.
        name: String,
        /// Replicas before the fault.
        replicas: u64,
    },
}

impl Undo {
    /// Whether there is anything to undo.
    pub fn is_reversible(&self) -> bool {
        !matches!(self, Undo::Irreversible)
    }
}

/// Lifecycle of a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaseState {
    /// Written, fault not yet (known to be) applied.
    Pending,
    /// The fault is in effect.
    Applied,
    /// Undone.
    Reverted,
    /// The undo failed; kept active and retried by the guard.
    RevertFailed,
    /// Nothing to undo (irreversible fault, applied).
    Irreversible,
    /// The target disappeared before the revert; nothing left to undo.
    TargetGone,
    /// Applying failed; nothing was changed.
    ApplyFailed,
}

impl LeaseState {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseState::Pending => "pending",
            LeaseState::Applied => "applied",
            LeaseState::Reverted => "reverted",
            LeaseState::RevertFailed => "revert-failed",
            LeaseState::Irreversible => "irreversible",
            LeaseState::TargetGone => "target-gone",
            LeaseState::ApplyFailed => "apply-failed",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<LeaseState> {
        Some(match s {
            "pending" => LeaseState::Pending,
            "applied" => LeaseState::Applied,
            "reverted" => LeaseState::Reverted,
            "revert-failed" => LeaseState::RevertFailed,
            "irreversible" => LeaseState::Irreversible,
            "target-gone" => LeaseState::TargetGone,
            "apply-failed" => LeaseState::ApplyFailed,
            _ => return None,
        })
    }

    /// States in which the fault may still be in effect and must be reverted.
    pub const ACTIVE: [LeaseState; 3] = [
        LeaseState::Pending,
        LeaseState::Applied,
        LeaseState::RevertFailed,
    ];

    /// Whether the fault may still be in effect.
    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }
}

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lease {
    /// Unique id.
    pub id: String,
    /// The run (or monkey, or CLI command) that took it.
    pub run_id: String,
    /// The activity name.
    pub activity: String,
    /// The builtin function, e.g. `process.stop`.
    pub func: String,
    /// The target, as JSON (pid, name, container id, …).
    pub target: Value,
    /// How to undo.
    pub undo: Undo,
    /// The process that owns the lease; if it dies, the guard reverts.
    pub owner: ProcessIdentity,
    /// When it was written.
    pub created_at: Timestamp,
    /// When it must be reverted at the latest.
    pub deadline: Timestamp,
    /// Lifecycle state.
    pub state: LeaseState,
    /// When the fault was applied.
    pub applied_at: Option<Timestamp>,
    /// When it was reverted (or found gone).
    pub reverted_at: Option<Timestamp>,
    /// The last error (apply or revert).
    pub error: Option<String>,
    /// Revert attempts so far.
    pub attempts: i64,
}

/// What a caller asks the ledger to record before applying a fault.
#[derive(Debug, Clone)]
pub struct NewLease {
    /// The run id.
    pub run_id: String,
    /// The activity name.
    pub activity: String,
    /// The builtin function.
    pub func: String,
    /// The target as JSON.
    pub target: Value,
    /// How to undo.
    pub undo: Undo,
    /// The latest revert time.
    pub deadline: Timestamp,
}
