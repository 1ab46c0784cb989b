//! What the config file means, once checked: the monkey's schedule, targets and limits.

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

use crate::experiment::model::Experiment;
use crate::target::selector::{Pick, ProcessSelector};

pub(super) const KEYS: [&str; 19] = [
    "name",
    "enabled",
    "leashed",
    "time_zone",
    "start_hour",
    "end_hour",
    "work_days",
    "holidays",
    "grouping",
    "mean_time_between_kills_in_work_days",
    "min_time_between_kills_in_work_days",
    "kill_mode",
    "exceptions",
    "outage_gate",
    "webhooks",
    "max_kills_per_day",
    "processes",
    "docker",
    "kubernetes",
];

/// How instances are grouped; a group is killed at most once per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One group per app.
    App,
    /// One group per (app, stack).
    Stack,
    /// One group per (app, stack, cluster).
    Cluster,
}

/// How many instances of a group one kill takes.
#[derive(Debug, Clone, PartialEq)]
pub enum KillMode {
    /// One (Netflix's only mode).
    One,
    /// N instances.
    Fixed(u64),
    /// P percent (at least one).
    FixedPercent(f64),
    /// Up to P percent, drawn (may be none).
    RandomMaxPercent(f64),
}

impl KillMode {
    /// The selector pick for this mode.
    pub fn pick(&self) -> Pick {
        match self {
            KillMode::One => Pick::One,
            KillMode::Fixed(n) => Pick::Fixed(*n),
            KillMode::FixedPercent(p) => Pick::FixedPercent(*p),
            KillMode::RandomMaxPercent(p) => Pick::RandomMaxPercent(*p),
        }
    }

    /// `one`, `fixed 2`, `fixed-percent 50`, …
    pub fn describe(&self) -> String {
        match self {
            KillMode::One => "one".into(),
            KillMode::Fixed(n) => format!("fixed {n}"),
            KillMode::FixedPercent(p) => format!("fixed-percent {p}"),
            KillMode::RandomMaxPercent(p) => format!("random-max-percent {p}"),
        }
    }

    /// Parses `one`, `fixed:2`, `fixed-percent:50`, `random-max-percent:30` (the label form).
    pub fn parse_label(text: &str) -> Result<KillMode, String> {
        let (mode, value) = match text.split_once(':') {
            Some((m, v)) => (m.trim(), Some(v.trim())),
            None => (text.trim(), None),
        };
        let value = value.map(|v| {
            v.parse::<f64>()
                .map_err(|_| format!("kill mode value {v:?} is not a number"))
        });
        mode_from(mode, value.transpose()?)
    }
}

pub(super) fn mode_from(mode: &str, value: Option<f64>) -> Result<KillMode, String> {
    let need = |max: Option<f64>| match value {
        Some(v) if v >= 0.0 && max.is_none_or(|m| v <= m) => Ok(v),
        _ => Err(format!(
            "kill mode {mode} needs a value{}",
            if max.is_some() {
                " between 0 and 100"
            } else {
                " ≥ 0"
            }
        )),
    };
    Ok(match mode {
        "one" => KillMode::One,
        "fixed" => KillMode::Fixed(need(None)? as u64),
        "fixed-percent" => KillMode::FixedPercent(need(Some(100.0))?),
        "random-max-percent" => KillMode::RandomMaxPercent(need(Some(100.0))?),
        other => {
            return Err(format!(
                "unknown kill mode {other:?}; expected one, fixed, fixed-percent or random-max-percent"
            ));
        }
    })
}

/// Instances that are never candidates: every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exception {
    pub app: Option<String>,
    pub stack: Option<String>,
    pub cluster: Option<String>,
    /// Instance name (container or process name).
    pub name: Option<String>,
}

/// Where a JSON notification goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// http:// or https:// URL.
    pub url: String,
    /// Per-attempt timeout in seconds.
    pub timeout_s: f64,
    /// Attempts after the first.
    pub retries: u32,
}

/// Processes opted in by an explicit entry.
#[derive(Debug, Clone)]
pub struct ProcessEntry {
    pub selector: ProcessSelector,
    /// The selector as written (for messages).
    pub text: String,
    /// App name (required).
    pub app: String,
    pub stack: Option<String>,
    pub cluster: Option<String>,
}

/// A validated monkey config.
#[derive(Debug, Clone)]
pub struct MonkeyConfig {
    /// The monkey's name: monkeys with the same name on one store share their daily plans (a
    /// standby pair); different names plan independently.
    pub name: String,
    /// Whether kills happen at all.
    pub enabled: bool,
    /// Dry run: everything runs and is recorded, only the kill is skipped.
    pub leashed: bool,
    /// The IANA name of the time zone.
    pub time_zone_name: String,
    pub time_zone: TimeZone,
    /// First hour of the window.
    pub start_hour: i8,
    /// Hour the window ends (exclusive).
    pub end_hour: i8,
    pub work_days: Vec<Weekday>,
    /// Days off.
    pub holidays: BTreeSet<Date>,
    /// Group granularity.
    pub grouping: Grouping,
    /// Mean work days between kills of a group (> 0).
    pub mean_time_between_kills: f64,
    /// Work days that must pass after a kill before the next (0: no limit).
    pub min_time_between_kills: u32,
    /// How many instances a kill takes.
    pub kill_mode: KillMode,
    /// Never candidates.
    pub exceptions: Vec<Exception>,
    /// Probes that must all hold for a kill to happen.
    pub outage_gate: Option<Experiment>,
    /// Notification endpoints.
    pub webhooks: Vec<Webhook>,
    /// Most kills in one day, across groups.
    pub max_kills_per_day: Option<u32>,
    /// Opted-in processes.
    pub processes: Vec<ProcessEntry>,
    /// Whether Docker containers and Swarm services are looked at.
    pub docker: bool,
    /// When given, only opted-in containers (and Swarm services) this selector matches are
    /// candidates — a team's monkey on a shared Docker host.
    pub docker_scope: Option<crate::target::container_selector::ContainerSelector>,
    /// Kubernetes workloads (Deployments, StatefulSets, DaemonSets) opted in by label; `None`:
    /// not looked at.
    pub kubernetes: Option<K8sScope>,
}

/// Which cluster (and namespace) the monkey looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct K8sScope {
    pub cluster: crate::target::k8s::ClusterRef,
    /// Only this namespace (else every namespace but kube-system).
    pub namespace: Option<String>,
}

impl Default for MonkeyConfig {
    fn default() -> Self {
        MonkeyConfig {
            name: "monkey".into(),
            enabled: false,
            leashed: true,
            time_zone_name: "UTC".into(),
            time_zone: TimeZone::UTC,
            start_hour: 9,
            end_hour: 15,
            work_days: vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
            holidays: BTreeSet::new(),
            grouping: Grouping::Cluster,
            mean_time_between_kills: 2.0,
            min_time_between_kills: 1,
            kill_mode: KillMode::One,
            exceptions: Vec::new(),
            outage_gate: None,
            webhooks: Vec::new(),
            max_kills_per_day: None,
            processes: Vec::new(),
            docker: true,
            docker_scope: None,
            kubernetes: None,
        }
    }
}
