//! A lease: what a fault did, how to undo it, who owns it, and until when.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::target::process::ProcessIdentity;

/// Lifecycle of a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaseState {
    /// Written, fault not yet (known to be) applied.
    Pending,
    /// The fault is in effect.
    Applied,
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
    pub id: String,
    /// The run (or monkey, or CLI command) that took it.
    pub run_id: String,
    pub activity: String,
    /// The builtin function, e.g. `process.stop`.
    pub func: String,
    /// The target, as JSON (pid, name, container id, …).
    pub target: Value,
    /// How to undo: a recipe of the fault family that took the lease (JSON, read by its undoer).
    pub undo: Value,
    /// Whether the recipe has anything to undo.
    pub reversible: bool,
    /// The process that owns the lease; if it dies, the guard reverts.
    pub owner: ProcessIdentity,
    pub created_at: Timestamp,
    /// When it must be reverted at the latest.
    pub deadline: Timestamp,
    /// Until when an apply that was cut off may still take effect (e.g. a container stop that
    /// the engine finishes after its grace period): a revert waits for it first.
    pub settle_by: Option<Timestamp>,
    pub state: LeaseState,
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
    pub run_id: String,
    pub activity: String,
    pub func: String,
    /// The target as JSON.
    pub target: Value,
    /// How to undo (a family's recipe).
    pub undo: Value,
    /// Whether the recipe has anything to undo.
    pub reversible: bool,
    /// The latest revert time.
    pub deadline: Timestamp,
    /// How long an apply may go on taking effect after it was started.
    pub settles_within: Option<std::time::Duration>,
}
