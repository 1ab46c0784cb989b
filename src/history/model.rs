//! The closed sets and rows of the history.

use jiff::Timestamp;
use serde::Serialize;

use crate::experiment::event::RunStatus;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// `monkeywrench run` typed by someone (or a CI job).
    Cli,
    /// A server schedule fired.
    Schedule,
    /// A request to the server's API.
    Api,
}

impl Trigger {
    pub const NAMES: &[&str] = &["cli", "schedule", "api"];

    pub fn name(self) -> &'static str {
        match self {
            Trigger::Cli => "cli",
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Trigger> {
        match s {
            "cli" => Some(Trigger::Cli),
            "schedule" => Some(Trigger::Schedule),
            "api" => Some(Trigger::Api),
            _ => None,
        }
    }
}

/// A run's status in the history: the journal's four words, and `running` until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryStatus {
    Running,
    Completed,
    Failed,
    Aborted,
    /// Stopped by a signal, safeguard, `--max-duration` or halt, or its process died.
    Interrupted,
}

impl HistoryStatus {
    pub const NAMES: &[&str] = &["running", "completed", "failed", "aborted", "interrupted"];

    pub fn name(self) -> &'static str {
        match self {
            HistoryStatus::Running => "running",
            HistoryStatus::Completed => "completed",
            HistoryStatus::Failed => "failed",
            HistoryStatus::Aborted => "aborted",
            HistoryStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<HistoryStatus> {
        match s {
            "running" => Some(HistoryStatus::Running),
            "completed" => Some(HistoryStatus::Completed),
            "failed" => Some(HistoryStatus::Failed),
            "aborted" => Some(HistoryStatus::Aborted),
            "interrupted" => Some(HistoryStatus::Interrupted),
            _ => None,
        }
    }
}

impl From<RunStatus> for HistoryStatus {
    fn from(s: RunStatus) -> Self {
        match s {
            RunStatus::Completed => HistoryStatus::Completed,
            RunStatus::Failed => HistoryStatus::Failed,
            RunStatus::Aborted => HistoryStatus::Aborted,
            RunStatus::Interrupted => HistoryStatus::Interrupted,
        }
    }
}

/// What is known about a run before it starts.
#[derive(Debug, Clone)]
pub struct RunMeta {
    /// The run id (the journal's `monkeywrench.run_id`, the leases' run).
    pub id: String,
    /// The name it is listed under (a server's experiment name; the file stem from the CLI).
    pub experiment: String,
    /// The experiment's title.
    pub title: String,
    /// The file (or URL) it was loaded from.
    pub file_path: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub file_sha256: String,
    pub trigger: Trigger,
    /// E.g. the schedule or the API client that asked.
    pub trigger_detail: Option<String>,
}

/// One run as the history holds it (without its journal and events, which are read apart).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: String,
    pub experiment: String,
    pub title: String,
    pub file_path: String,
    pub file_sha256: String,
    pub trigger: Trigger,
    pub trigger_detail: Option<String>,
    pub host: String,
    pub pid: i64,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub status: HistoryStatus,
    /// The verdict's one word (`passed`, `deviated`, …); null while running or when the process died.
    pub outcome: Option<String>,
    pub deviated: bool,
    pub exit_code: Option<i64>,
    /// Why the record is incomplete (the process died; the store went away mid-run).
    pub note: Option<String>,
}

impl RunRecord {
    /// Seconds between start and end (until now while running).
    pub fn duration_s(&self) -> f64 {
        let end = self.ended_at.unwrap_or_else(Timestamp::now);
        (end.as_millisecond() - self.started_at.as_millisecond()) as f64 / 1000.0
    }
}
