//! What `server.yaml` means once checked.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::experiment::diagnostic::Diagnostic;
use crate::experiment::model::Experiment;
use crate::monkey::config::MonkeyConfig;
use crate::server::schedule::Schedule;
use crate::store::StoreLocation;

pub(super) const KEYS: [&str; 9] = [
    "listen",
    "store",
    "seed",
    "time_zone",
    "experiments",
    "notifications",
    "retention",
    "monkey",
    "proxies",
];
pub(super) const EXPERIMENT_KEYS: [&str; 5] = ["name", "file", "schedule", "targets", "variables"];
pub(super) const SCHEDULE_KEYS: [&str; 6] =
    ["cron", "every", "time_zone", "jitter", "window", "overlap"];
pub(super) const WINDOW_KEYS: [&str; 4] = ["start_hour", "end_hour", "work_days", "holidays"];
pub(super) const HOOK_KEYS: [&str; 5] = ["url", "events", "format", "timeout_s", "retries"];
pub(super) const RETENTION_KEYS: [&str; 2] = ["days", "runs"];
pub(super) const PROXY_KEYS: [&str; 4] = ["url", "name", "token", "token_env"];

/// The address the API listens on by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7700";

/// A validated server config.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `host:port` of the API (loopback unless a token is given).
    pub listen: String,
    /// Where firings and history live; None: the state directory's `ledger.db`, the store
    /// `run`, `halt` and `ledger` use, so a halt from the command line reaches the server.
    pub store: Option<StoreLocation>,
    /// Seed of the jitter draws (servers sharing a store should share it).
    pub seed: u64,
    /// Zone of schedules that name none.
    pub time_zone_name: String,
    pub experiments: Vec<ScheduledExperiment>,
    pub notifications: Vec<Hook>,
    pub retention: Retention,
    /// A Chaos Monkey the server runs beside the schedules (its own config file).
    pub monkey: Option<MonkeyConfig>,
    /// The proxy APIs whose live traffic the dashboard shows.
    pub proxies: Vec<ProxySource>,
    /// Warnings of the config and of the experiment files.
    pub warnings: Vec<Diagnostic>,
}

/// One experiment the server runs on a schedule.
#[derive(Debug, Clone)]
pub struct ScheduledExperiment {
    /// Unique in the config; used in the API's paths and in the store.
    pub name: String,
    /// The experiment file as written in the config.
    pub file_text: String,
    /// The file resolved against the config's directory (a URL as written).
    pub file: PathBuf,
    pub schedule: Schedule,
    /// Target keys: experiments sharing one never run at once.
    pub targets: BTreeSet<String>,
    /// Configuration overrides, as `--var` gives them.
    pub variables: Map<String, Value>,
    /// The validated experiment (with the overrides applied).
    pub experiment: Experiment,
}

/// What a webhook is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HookEvent {
    /// A run's steady state deviated.
    Deviated,
    /// A run failed (an action failed, the before-hypothesis was unmet, an internal error).
    Failed,
    /// A safeguard tripped.
    SafeguardTripped,
    /// A rollback or fault revert failed.
    RevertFailed,
    /// `halt` was called.
    Halt,
}

impl HookEvent {
    pub const ALL: [HookEvent; 5] = [
        HookEvent::Deviated,
        HookEvent::Failed,
        HookEvent::SafeguardTripped,
        HookEvent::RevertFailed,
        HookEvent::Halt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::Deviated => "deviated",
            HookEvent::Failed => "failed",
            HookEvent::SafeguardTripped => "safeguard-tripped",
            HookEvent::RevertFailed => "revert-failed",
            HookEvent::Halt => "halt",
        }
    }
}

/// The body a webhook gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookFormat {
    /// monkeywrench's JSON event.
    Json,
    /// A Slack-compatible `{"text": …}` body.
    Slack,
}

/// A notification endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// http:// or https:// URL.
    pub url: String,
    /// What it is told about (default: all).
    pub events: BTreeSet<HookEvent>,
    pub format: HookFormat,
    /// Per-attempt timeout in seconds.
    pub timeout_s: f64,
    /// Attempts after the first.
    pub retries: u32,
}

/// How long runs are kept in the history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Runs older than this many days are deleted.
    pub days: Option<u32>,
    /// Only the newest this many runs of each experiment are kept.
    pub runs: Option<u32>,
}

/// A proxy API (`monkeywrench proxy serve`) the server reads `GET /traffic` from.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxySource {
    /// Unique in the config (default: the URL's `host:port`).
    pub name: String,
    /// The API's base URL, without a trailing slash.
    pub url: String,
    /// The API's bearer token (from `token`, or the variable `token_env` names).
    pub token: Option<String>,
}
