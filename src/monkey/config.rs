//! The monkey's config file (YAML or JSON): Netflix's Chaos Monkey keys in snake_case, validated in
//! one pass with every problem reported at its `file:line:column`.

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde_json::Value;

use crate::experiment::diagnostic::{Diagnostic, Span, nearest};
use crate::experiment::model::Experiment;
use crate::experiment::source::{self, Format, Key, Node, NodeValue};
use crate::experiment::validate::{ValidateOptions, validate};
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
    let mut c = Check {
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

struct Check<'a> {
    file: &'a str,
    errors: Vec<Diagnostic>,
}

impl Check<'_> {
    fn error(&mut self, span: Span, path: &str, message: impl Into<String>) {
        self.errors
            .push(Diagnostic::error(self.file, span, path, message));
    }

    fn config(&mut self, root: &Node) -> MonkeyConfig {
        let mut config = MonkeyConfig::default();
        let Some(entries) = root.entries() else {
            self.error(root.span, "", "the monkey config must be a mapping of keys");
            return config;
        };
        let mut hours_span = root.span;
        for (key, value) in entries {
            let path = key.name.as_str();
            match path {
                "name" => {
                    if let Some(name) = self.string(value, path) {
                        config.name = name;
                    }
                }
                "enabled" => config.enabled = self.boolean(value, path, config.enabled),
                "leashed" => config.leashed = self.boolean(value, path, config.leashed),
                "docker" => config.docker = self.boolean(value, path, config.docker),
                "time_zone" => {
                    if let Some(name) = self.string(value, path) {
                        match TimeZone::get(&name) {
                            Ok(tz) => {
                                config.time_zone = tz;
                                config.time_zone_name = name;
                            }
                            Err(_) => self.error(
                                value.span,
                                path,
                                format!(
                                    "unknown time zone {name:?}; expected an IANA name such as Europe/Berlin"
                                ),
                            ),
                        }
                    }
                }
                "start_hour" => {
                    config.start_hour = self.hour(value, path, config.start_hour);
                    hours_span = value.span;
                }
                "end_hour" => {
                    config.end_hour = self.hour(value, path, config.end_hour);
                    hours_span = value.span;
                }
                "work_days" => config.work_days = self.work_days(value, path),
                "holidays" => config.holidays = self.holidays(value, path),
                "grouping" => {
                    if let Some(g) = self.string(value, path) {
                        match g.as_str() {
                            "app" => config.grouping = Grouping::App,
                            "stack" => config.grouping = Grouping::Stack,
                            "cluster" => config.grouping = Grouping::Cluster,
                            other => self.error(
                                value.span,
                                path,
                                format!(
                                    "unknown grouping {other:?}; expected app, stack or cluster"
                                ),
                            ),
                        }
                    }
                }
                "mean_time_between_kills_in_work_days" => match number(value) {
                    Some(m) if m > 0.0 => config.mean_time_between_kills = m,
                    _ => self.error(value.span, path, "expected a number of work days > 0"),
                },
                "min_time_between_kills_in_work_days" => match value.value {
                    NodeValue::Int(n) if (0..=3650).contains(&n) => {
                        config.min_time_between_kills = n as u32
                    }
                    _ => self.error(value.span, path, "expected a whole number of work days ≥ 0"),
                },
                "max_kills_per_day" => match value.value {
                    NodeValue::Int(n) if n >= 0 => config.max_kills_per_day = Some(n as u32),
                    _ => self.error(value.span, path, "expected a whole number ≥ 0"),
                },
                "kill_mode" => {
                    if let Some(mode) = self.kill_mode(value, path) {
                        config.kill_mode = mode;
                    }
                }
                "exceptions" => config.exceptions = self.exceptions(value, path),
                "webhooks" => config.webhooks = self.webhooks(value, path),
                "processes" => config.processes = self.processes(value, path),
                "outage_gate" => config.outage_gate = self.outage_gate(key, value),
                other => {
                    let mut d = Diagnostic::error(
                        self.file,
                        key.span,
                        other,
                        format!("unknown key {other:?}"),
                    );
                    if let Some(s) = nearest(other, KEYS) {
                        d = d.with_suggestion(s);
                    }
                    self.errors.push(d);
                }
            }
        }
        if config.end_hour <= config.start_hour {
            self.error(
                hours_span,
                "end_hour",
                format!(
                    "end_hour ({}) must be after start_hour ({})",
                    config.end_hour, config.start_hour
                ),
            );
        }
        config
    }

    fn boolean(&mut self, v: &Node, path: &str, default: bool) -> bool {
        match v.value {
            NodeValue::Bool(b) => b,
            _ => {
                self.error(v.span, path, "expected true or false");
                default
            }
        }
    }

    fn string(&mut self, v: &Node, path: &str) -> Option<String> {
        match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(
                    v.span,
                    path,
                    format!("expected a string, got {}", v.type_name()),
                );
                None
            }
        }
    }

    fn hour(&mut self, v: &Node, path: &str, default: i8) -> i8 {
        match v.value {
            NodeValue::Int(h) if (0..=24).contains(&h) => h as i8,
            _ => {
                self.error(v.span, path, "expected an hour from 0 to 24");
                default
            }
        }
    }

    fn list<'n>(&mut self, v: &'n Node, path: &str) -> &'n [Node] {
        match v.as_seq() {
            Some(items) => items,
            None => {
                self.error(
                    v.span,
                    path,
                    format!("expected a list, got {}", v.type_name()),
                );
                &[]
            }
        }
    }

    fn work_days(&mut self, v: &Node, path: &str) -> Vec<Weekday> {
        let mut days = Vec::new();
        for (i, item) in self.list(v, path).iter().enumerate() {
            let day = item.as_str().and_then(parse_weekday);
            match day {
                Some(d) if !days.contains(&d) => days.push(d),
                Some(_) => {}
                None => self.error(
                    item.span,
                    &format!("{path}[{i}]"),
                    "expected a day name such as monday (or mon)",
                ),
            }
        }
        days
    }

    fn holidays(&mut self, v: &Node, path: &str) -> BTreeSet<Date> {
        let mut dates = BTreeSet::new();
        for (i, item) in self.list(v, path).iter().enumerate() {
            match item.as_str().and_then(|s| s.parse::<Date>().ok()) {
                Some(d) => {
                    dates.insert(d);
                }
                None => self.error(
                    item.span,
                    &format!("{path}[{i}]"),
                    "expected a date as YYYY-MM-DD",
                ),
            }
        }
        dates
    }

    fn kill_mode(&mut self, v: &Node, path: &str) -> Option<KillMode> {
        let (mode, value) = match &v.value {
            NodeValue::Str(s) => (s.clone(), None),
            NodeValue::Map(_) => {
                let mode = v.get("mode").and_then(Node::as_str).unwrap_or("");
                for (k, _) in v.entries().unwrap_or_default() {
                    if k.name != "mode" && k.name != "value" {
                        self.error(
                            k.span,
                            &format!("{path}.{}", k.name),
                            "unknown key; expected mode and value",
                        );
                    }
                }
                (mode.to_string(), v.get("value").and_then(number))
            }
            _ => (String::new(), None),
        };
        match mode_from(&mode, value) {
            Ok(m) => Some(m),
            Err(e) => {
                self.error(v.span, path, e);
                None
            }
        }
    }

    fn mapping<'n>(&mut self, item: &'n Node, path: &str, allowed: &[&str]) -> &'n [(Key, Node)] {
        let Some(entries) = item.entries() else {
            self.error(
                item.span,
                path,
                format!("expected a mapping, got {}", item.type_name()),
            );
            return &[];
        };
        for (k, _) in entries {
            if !allowed.contains(&k.name.as_str()) {
                let mut d = Diagnostic::error(
                    self.file,
                    k.span,
                    format!("{path}.{}", k.name),
                    format!("unknown key; expected {}", allowed.join(", ")),
                );
                if let Some(s) = nearest(&k.name, allowed.iter().copied()) {
                    d = d.with_suggestion(s);
                }
                self.errors.push(d);
            }
        }
        entries
    }

    fn optional_string(&mut self, item: &Node, key: &str, path: &str) -> Option<String> {
        let v = item.get(key)?;
        self.string(v, &format!("{path}.{key}"))
    }

    fn exceptions(&mut self, v: &Node, path: &str) -> Vec<Exception> {
        let mut out = Vec::new();
        for (i, item) in self.list(v, path).iter().enumerate() {
            let p = format!("{path}[{i}]");
            let allowed = ["app", "stack", "cluster", "name"];
            if self.mapping(item, &p, &allowed).is_empty() {
                self.error(
                    item.span,
                    &p,
                    "an exception needs one of app, stack, cluster or name",
                );
                continue;
            }
            out.push(Exception {
                app: self.optional_string(item, "app", &p),
                stack: self.optional_string(item, "stack", &p),
                cluster: self.optional_string(item, "cluster", &p),
                name: self.optional_string(item, "name", &p),
            });
        }
        out
    }

    fn webhooks(&mut self, v: &Node, path: &str) -> Vec<Webhook> {
        let mut out = Vec::new();
        for (i, item) in self.list(v, path).iter().enumerate() {
            let p = format!("{path}[{i}]");
            let (url, timeout_s, retries) = match &item.value {
                NodeValue::Str(url) => (Some(url.clone()), 5.0, 3),
                _ => {
                    self.mapping(item, &p, &["url", "timeout_s", "retries"]);
                    let timeout = match item.get("timeout_s") {
                        Some(t) => match number(t) {
                            Some(t) if t > 0.0 => t,
                            _ => {
                                self.error(
                                    t.span,
                                    &format!("{p}.timeout_s"),
                                    "expected seconds > 0",
                                );
                                5.0
                            }
                        },
                        None => 5.0,
                    };
                    let retries = match item.get("retries") {
                        Some(r) => match r.value {
                            NodeValue::Int(n) if (0..=10).contains(&n) => n as u32,
                            _ => {
                                self.error(r.span, &format!("{p}.retries"), "expected 0 to 10");
                                3
                            }
                        },
                        None => 3,
                    };
                    (self.optional_string(item, "url", &p), timeout, retries)
                }
            };
            match url {
                Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                    out.push(Webhook {
                        url,
                        timeout_s,
                        retries,
                    })
                }
                _ => self.error(item.span, &p, "a webhook needs an http:// or https:// url"),
            }
        }
        out
    }

    fn processes(&mut self, v: &Node, path: &str) -> Vec<ProcessEntry> {
        let mut out = Vec::new();
        for (i, item) in self.list(v, path).iter().enumerate() {
            let p = format!("{path}[{i}]");
            let allowed = ["name", "pattern", "user", "app", "stack", "cluster"];
            self.mapping(item, &p, &allowed);
            let mut selector = serde_json::Map::new();
            for key in ["name", "pattern", "user"] {
                if let Some(v) = item.get(key) {
                    selector.insert(key.into(), v.to_json());
                }
            }
            let selector = Value::Object(selector);
            let parsed = match ProcessSelector::parse(&selector) {
                Ok(s) => Some(s),
                Err(e) => {
                    self.error(item.span, &p, e.to_string());
                    None
                }
            };
            let app = self.optional_string(item, "app", &p);
            if app.is_none() && item.get("app").is_none() {
                self.error(item.span, &p, "a process entry needs an app (its group)");
            }
            let stack = self.optional_string(item, "stack", &p);
            let cluster = self.optional_string(item, "cluster", &p);
            if let (Some(selector_parsed), Some(app)) = (parsed, app) {
                out.push(ProcessEntry {
                    selector: selector_parsed,
                    text: selector.to_string(),
                    app,
                    stack,
                    cluster,
                });
            }
        }
        out
    }

    /// The gate is a list of probes as in an experiment's hypothesis: it is validated as one,
    /// with positions in this file.
    fn outage_gate(&mut self, key: &Key, v: &Node) -> Option<Experiment> {
        let span = key.span;
        let text = |s: &str| Node::new(NodeValue::Str(s.into()), span);
        let k = |s: &str| Key {
            name: s.into(),
            span,
        };
        let hypothesis = Node::new(
            NodeValue::Map(vec![
                (k("title"), text("outage gate")),
                (k("probes"), v.clone()),
            ]),
            span,
        );
        let root = Node::new(
            NodeValue::Map(vec![
                (k("title"), text("monkey outage gate")),
                (
                    k("description"),
                    text("probes that must hold before a kill"),
                ),
                (k("steady-state-hypothesis"), hypothesis),
                (k("method"), Node::new(NodeValue::Seq(Vec::new()), span)),
            ]),
            span,
        );
        let validated = validate(&root, self.file, &ValidateOptions::from_process());
        for mut d in validated
            .diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
        {
            d.path = d
                .path
                .replace("steady-state-hypothesis.probes", "outage_gate");
            self.errors.push(d);
        }
        validated.experiment
    }
}

fn number(v: &Node) -> Option<f64> {
    match v.value {
        NodeValue::Int(i) => Some(i as f64),
        NodeValue::Float(f) => Some(f),
        _ => None,
    }
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    let s = s.to_ascii_lowercase();
    let days = [
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
        ("sunday", Weekday::Sunday),
    ];
    days.iter()
        .find(|(name, _)| *name == s || (s.len() == 3 && name.starts_with(&s)))
        .map(|(_, d)| *d)
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
        assert!(KillMode::parse_label("most").is_err());
    }
}
