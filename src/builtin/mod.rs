//! The `builtin` provider registry (spec §3.5, §11.1): a closed set of native probes and actions.
//!
//! Each member declares its kind, checks its arguments at validation time, and runs under the
//! engine's cancellation (dropping the future stops the work).

use serde_json::Value;

/// Every native function, by its `family.verb` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// `tcp.connect`: can a TCP connection be opened? → `true`/`false`.
    TcpConnect,
    /// `file.exists`: does a path exist? → `true`/`false`.
    FileExists,
    /// `http.measure`: N requests at a concurrency → `{requests, rps, error_rate, p50_ms, p95_ms, p99_ms}`.
    HttpMeasure,
    /// `process.kill`: send a signal (SIGKILL by default) to target processes; irreversible.
    ProcessKill,
    /// `process.stop`: SIGSTOP target processes; reverted with SIGCONT.
    ProcessStop,
    /// `process.resume`: SIGCONT target processes (an action, no lease).
    ProcessResume,
}

impl Func {
    /// Every member, in catalogue order.
    pub const ALL: [Func; 6] = [
        Func::TcpConnect,
        Func::FileExists,
        Func::HttpMeasure,
        Func::ProcessKill,
        Func::ProcessStop,
        Func::ProcessResume,
    ];

    /// The `family.verb` name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Func::TcpConnect => "tcp.connect",
            Func::FileExists => "file.exists",
            Func::HttpMeasure => "http.measure",
            Func::ProcessKill => "process.kill",
            Func::ProcessStop => "process.stop",
            Func::ProcessResume => "process.resume",
        }
    }

    /// Whether it changes the world through the ledger (and so takes targets and a lease).
    pub fn is_fault(self) -> bool {
        matches!(self, Func::ProcessKill | Func::ProcessStop)
    }

    /// Whether it acts on targets chosen by a selector.
    pub fn takes_targets(self) -> bool {
        matches!(
            self,
            Func::ProcessKill | Func::ProcessStop | Func::ProcessResume
        )
    }

    /// Whether its fault can be undone (so `duration` applies).
    pub fn is_reversible(self) -> bool {
        matches!(self, Func::ProcessStop)
    }

    /// Looks a function up by its `family.verb` name.
    pub fn parse(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Checks literal arguments; returns problems as (key path below `arguments`, message).
    pub fn check_arguments(self, _arguments: &Value) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// STUB (replaced by the builtin branch).
#[derive(Debug, thiserror::Error)]
#[error("builtin failed")]
pub struct BuiltinError;

impl Func {
    /// STUB.
    pub async fn run(self, _arguments: &Value) -> Result<Value, BuiltinError> {
        Err(BuiltinError)
    }
}
