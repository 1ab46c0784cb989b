//! The monkey's config file (YAML or JSON): Netflix's Chaos Monkey keys in snake_case, validated in
//! one pass (`check`) with every problem reported at its `file:line:column`.

mod check;

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

use crate::experiment::diagnostic::Diagnostic;
use crate::experiment::model::Experiment;
use crate::experiment::source::{self, Format};
use crate::target::selector::{Pick, ProcessSelector};

const KEYS: [&str; 18] = [
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

fn mode_from(mode: &str, value: Option<f64>) -> Result<KillMode, String> {
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
    /// App name.
    pub app: Option<String>,
    /// Stack.
    pub stack: Option<String>,
    /// Cluster.
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
    /// Which processes.
    pub selector: ProcessSelector,
    /// The selector as written (for messages).
    pub text: String,
    /// App name (required).
    pub app: String,
    /// Stack.
    pub stack: Option<String>,
    /// Cluster.
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
    /// The time zone.
    pub time_zone: TimeZone,
    /// First hour of the window.
    pub start_hour: i8,
    /// Hour the window ends (exclusive).
    pub end_hour: i8,
    /// Work days.
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
        }
    }
}

/// The config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("read the monkey config {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Syntax or meaning errors, all of them.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

/// Reads and validates a config file.
pub fn load(path: &std::path::Path) -> Result<MonkeyConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let format = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Format::Json,
        _ => Format::Yaml,
    };
    parse(&text, format, &path.display().to_string())
}

/// Validates config text; `file` names it in diagnostics.
pub fn parse(text: &str, format: Format, file: &str) -> Result<MonkeyConfig, ConfigError> {
    let parsed = source::parse(text, format, file).map_err(|d| ConfigError::Invalid(vec![d]))?;
    let mut c = check::Check {
        file,
        errors: Vec::new(),
    };
    let config = c.config(&parsed.root);
    if c.errors.is_empty() {
        Ok(config)
    } else {
        c.errors.sort_by_key(|d| (d.line, d.column));
        Err(ConfigError::Invalid(c.errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<MonkeyConfig, Vec<String>> {
        parse(text, Format::Yaml, "monkey.yaml").map_err(|e| match e {
            ConfigError::Invalid(ds) => ds.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        })
    }

    #[test]
    fn defaults_are_netflixs() {
        let c = yaml("enabled: true\n").unwrap();
        assert!(c.enabled && c.leashed);
        assert_eq!((c.start_hour, c.end_hour), (9, 15));
        assert_eq!(c.grouping, Grouping::Cluster);
        assert_eq!(c.mean_time_between_kills, 2.0);
        assert_eq!(c.min_time_between_kills, 1);
        assert_eq!(c.work_days.len(), 5);
        assert_eq!(c.kill_mode, KillMode::One);
    }

    #[test]
    fn every_error_is_reported_with_its_line() {
        let errors = yaml(
            "enabled: yes please\ntime_zone: Mars/Olympus\nstart_hour: 17\nend_hour: 9\n\
             mean_time_between_kills_in_work_days: 0\nkill_mod: one\nholidays: [2026-13-01]\n\
             work_days: [monday, funday]\n",
        )
        .unwrap_err();
        let all = errors.join("\n");
        for needle in [
            "monkey.yaml:1:10: error: enabled: expected true or false",
            "monkey.yaml:2:12: error: time_zone: unknown time zone \"Mars/Olympus\"",
            "end_hour: end_hour (9) must be after start_hour (17)",
            "monkey.yaml:5:39: error: mean_time_between_kills_in_work_days: expected a number of work days > 0",
            "monkey.yaml:6:1: error: kill_mod: unknown key \"kill_mod\" (did you mean \"kill_mode\"?)",
            "monkey.yaml:7:12: error: holidays[0]: expected a date",
            "monkey.yaml:8:21: error: work_days[1]",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn kill_modes_processes_webhooks_and_gate() {
        let c = yaml(
            "kill_mode: {mode: fixed-percent, value: 50}\n\
             processes:\n  - {pattern: 'worker', app: billing, stack: prod}\n\
             webhooks: ['http://127.0.0.1:9/hook', {url: 'http://127.0.0.1:9/b', timeout_s: 1, retries: 0}]\n\
             outage_gate:\n  - type: probe\n    name: up\n    tolerance: true\n    provider: {type: builtin, func: file.exists, arguments: {path: /}}\n",
        )
        .unwrap();
        assert_eq!(c.kill_mode, KillMode::FixedPercent(50.0));
        assert_eq!(c.processes[0].app, "billing");
        assert_eq!(c.webhooks[1].retries, 0);
        assert!(c.outage_gate.is_some());
        let errors = yaml(
            "kill_mode: fixed\nprocesses: [{pattern: '(', app: x}, {name: y}]\n\
             outage_gate:\n  - type: probe\n    name: up\n    provider: {type: builtin, func: file.exist, arguments: {path: /}}\n",
        )
        .unwrap_err()
        .join("\n");
        assert!(errors.contains("kill mode fixed needs a value"), "{errors}");
        assert!(errors.contains("processes[0]"), "{errors}");
        assert!(
            errors.contains("processes[1]: a process entry needs an app"),
            "{errors}"
        );
        assert!(errors.contains("outage_gate[0]"), "{errors}");
        assert!(errors.contains("monkey.yaml:6:"), "{errors}");
        assert_eq!(KillMode::parse_label("fixed:2"), Ok(KillMode::Fixed(2)));
        let scoped = yaml("docker: {labels: {team: shop}}\n").unwrap();
        assert!(scoped.docker && scoped.docker_scope.is_some());
        let errors = yaml("docker: {lables: {team: shop}}\n")
            .unwrap_err()
            .join("\n");
        assert!(
            errors.contains("monkey.yaml:1:9: error: docker: target: unknown key \"lables\""),
            "{errors}"
        );
        assert!(KillMode::parse_label("most").is_err());
    }
}
