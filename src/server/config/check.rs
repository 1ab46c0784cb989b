//! Walking `server.yaml`: every key, type and range checked with the shared [`Reader`], every
//! problem collected with its position. Experiment files are read afterwards (`load`).

use std::collections::BTreeSet;
use std::net::SocketAddr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::Value;

use super::model::{
    DEFAULT_LISTEN, EXPERIMENT_KEYS, HOOK_KEYS, Hook, HookEvent, HookFormat, KEYS, RETENTION_KEYS,
    Retention,
};
use crate::experiment::diagnostic::Span;
use crate::experiment::source::{Key, Node, NodeValue, Reader, join, number};
use crate::server::schedule::Schedule;
use crate::store::StoreLocation;

/// An experiment entry before its file is read.
#[derive(Debug, Clone)]
pub(super) struct Draft {
    pub name: String,
    pub file_text: String,
    pub file_span: Span,
    pub path: String,
    /// None when the schedule is invalid (the file is still checked).
    pub schedule: Option<Schedule>,
    pub targets: BTreeSet<String>,
    /// Overrides with the positions of their keys.
    pub variables: Vec<(Key, Value)>,
}

/// The config's top level, experiments still drafts.
#[derive(Debug, Clone)]
pub(super) struct Top {
    pub listen: String,
    pub store: Option<StoreLocation>,
    pub seed: u64,
    pub time_zone_name: String,
    pub drafts: Vec<Draft>,
    pub notifications: Vec<Hook>,
    pub retention: Retention,
    /// The monkey's config file as written, and where.
    pub monkey: Option<(String, Span)>,
    pub proxies: Vec<super::model::ProxySource>,
}

/// What the walk needs from outside.
pub(super) struct Context<'a> {
    /// The directory relative paths (the store, experiment files) are read against.
    pub dir: &'a std::path::Path,
    /// Whether an auth token was given (flag or environment) for a listen address.
    pub token_given: bool,
    /// Now, for the "never fires" check.
    pub now: Timestamp,
}

pub(super) struct Check<'a> {
    pub r: Reader<'a>,
    pub cx: Context<'a>,
}

impl Check<'_> {
    pub(super) fn top(&mut self, root: &Node) -> Top {
        let mut top = Top {
            listen: DEFAULT_LISTEN.into(),
            store: None,
            seed: 0,
            time_zone_name: "UTC".into(),
            drafts: Vec::new(),
            notifications: Vec::new(),
            retention: Retention::default(),
            monkey: None,
            proxies: Vec::new(),
        };
        let entries = self.r.mapping(root, "", &KEYS);
        if root.entries().is_none() {
            return top;
        }
        // The zone first: schedules without their own read it.
        if let Some(v) = root.get("time_zone")
            && let Some((name, _)) = self.zone(v, "time_zone")
        {
            top.time_zone_name = name;
        }
        let mut experiments = None;
        for (key, value) in entries {
            let path = key.name.as_str();
            match path {
                "listen" => {
                    if let Some(addr) = self.r.string(value, path) {
                        self.listen(&addr, value.span);
                        top.listen = addr;
                    }
                }
                "store" => top.store = self.store(value),
                "seed" => match value.value {
                    NodeValue::Int(n) if n >= 0 => top.seed = n as u64,
                    _ => self
                        .r
                        .error(value.span, path, "expected a whole number ≥ 0"),
                },
                "experiments" => experiments = Some(value),
                "notifications" => top.notifications = self.hooks(value),
                "retention" => top.retention = self.retention(value),
                "monkey" => top.monkey = self.r.string(value, path).map(|file| (file, value.span)),
                "proxies" => top.proxies = self.proxies(value),
                // Read above; other keys were reported by `mapping`.
                _ => {}
            }
        }
        match experiments {
            Some(v) => top.drafts = self.experiments(v, &top.time_zone_name),
            None => self.r.error(
                root.span,
                "experiments",
                "missing required key \"experiments\" (a list of {name, file, schedule})",
            ),
        }
        top
    }

    fn listen(&mut self, addr: &str, span: Span) {
        let loopback = match addr.parse::<SocketAddr>() {
            Ok(a) => a.ip().to_canonical().is_loopback(),
            Err(_) => match addr.rsplit_once(':') {
                Some((host, port)) if port.parse::<u16>().is_ok() && !host.is_empty() => {
                    host.eq_ignore_ascii_case("localhost")
                }
                _ => {
                    self.r.error(
                        span,
                        "listen",
                        format!("{addr:?} is not an address; expected host:port such as {DEFAULT_LISTEN}"),
                    );
                    return;
                }
            },
        };
        if !loopback && !self.cx.token_given {
            self.r.error(
                span,
                "listen",
                format!("{addr} is beyond loopback: an auth token is required (--auth-token or MONKEYWRENCH_AUTH_TOKEN)"),
            );
        }
    }

    fn store(&mut self, v: &Node) -> Option<StoreLocation> {
        let text = self.r.string(v, "store")?;
        if text.trim().is_empty() {
            self.r.error(
                v.span,
                "store",
                "expected a SQLite file path or a postgres:// URL",
            );
            return None;
        }
        if let Some((scheme, _)) = text.split_once("://")
            && !matches!(scheme, "postgres" | "postgresql" | "sqlite")
        {
            self.r.error(
                v.span,
                "store",
                format!("unsupported store scheme {scheme:?}; expected a SQLite file path or a postgres:// URL"),
            );
            return None;
        }
        Some(match StoreLocation::resolve(Some(&text), self.cx.dir) {
            StoreLocation::Sqlite(p) if p.is_relative() => {
                StoreLocation::Sqlite(self.cx.dir.join(p))
            }
            other => other,
        })
    }

    pub(super) fn zone(&mut self, v: &Node, path: &str) -> Option<(String, TimeZone)> {
        let name = self.r.string(v, path)?;
        match TimeZone::get(&name) {
            Ok(tz) => Some((name, tz)),
            Err(_) => {
                self.r.error(
                    v.span,
                    path,
                    format!(
                        "unknown time zone {name:?}; expected an IANA name such as Europe/Berlin"
                    ),
                );
                None
            }
        }
    }

    fn experiments(&mut self, v: &Node, default_zone: &str) -> Vec<Draft> {
        let mut out: Vec<Draft> = Vec::new();
        let mut names: Vec<(String, Span)> = Vec::new();
        for (i, item) in self.r.list(v, "experiments").iter().enumerate() {
            let p = format!("experiments[{i}]");
            self.r.mapping(item, &p, &EXPERIMENT_KEYS);
            if item.entries().is_none() {
                continue;
            }
            let name = self.name(item, &p);
            if let Some(name) = &name {
                if let Some((_, first)) = names.iter().find(|(n, _)| n == name) {
                    let at = item.get("name").map_or(item.span, |n| n.span);
                    self.r.error(
                        at,
                        &join(&p, "name"),
                        format!(
                            "duplicate experiment name {name:?} (first at line {})",
                            first.line
                        ),
                    );
                } else {
                    names.push((name.clone(), item.get("name").map_or(item.span, |n| n.span)));
                }
            }
            let file = match item.get("file") {
                Some(f) => self.r.string(f, &join(&p, "file")).filter(|s| {
                    let ok = !s.trim().is_empty();
                    if !ok {
                        self.r.error(f.span, &join(&p, "file"), "must not be empty");
                    }
                    ok
                }),
                None => {
                    self.r.error(
                        item.span,
                        &p,
                        "missing required key \"file\" (the experiment file)",
                    );
                    None
                }
            };
            let schedule = match item.get("schedule") {
                Some(s) => self.schedule(s, &join(&p, "schedule"), default_zone),
                None => {
                    self.r.error(
                        item.span,
                        &p,
                        "missing required key \"schedule\" (cron or every)",
                    );
                    None
                }
            };
            let targets = item
                .get("targets")
                .map(|t| self.targets(t, &join(&p, "targets")))
                .unwrap_or_default();
            let variables = item
                .get("variables")
                .map(|v| self.variables(v, &join(&p, "variables")))
                .unwrap_or_default();
            if let (Some(name), Some(file_text)) = (name, file) {
                out.push(Draft {
                    name,
                    file_span: item.get("file").map_or(item.span, |f| f.span),
                    file_text,
                    path: p,
                    schedule,
                    targets,
                    variables,
                });
            }
        }
        out
    }

    fn name(&mut self, item: &Node, p: &str) -> Option<String> {
        let Some(v) = item.get("name") else {
            self.r.error(item.span, p, "missing required key \"name\"");
            return None;
        };
        let name = self.r.string(v, &join(p, "name"))?;
        let ok = !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            self.r.error(
                v.span,
                &join(p, "name"),
                format!("{name:?} is not a valid name; expected letters, digits, '-', '_' or '.' (it appears in API paths)"),
            );
            return None;
        }
        Some(name)
    }

    fn targets(&mut self, v: &Node, p: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (i, item) in self.r.list(v, p).iter().enumerate() {
            match item.as_str().filter(|s| !s.trim().is_empty()) {
                Some(s) => {
                    out.insert(s.to_string());
                }
                None => self.r.error(
                    item.span,
                    &format!("{p}[{i}]"),
                    "expected a target key (a non-empty string)",
                ),
            }
        }
        out
    }

    fn variables(&mut self, v: &Node, p: &str) -> Vec<(Key, Value)> {
        match v.entries() {
            Some(entries) => entries
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
            None => {
                self.r.error(
                    v.span,
                    p,
                    format!(
                        "expected a mapping of configuration keys to values, got {}",
                        v.type_name()
                    ),
                );
                Vec::new()
            }
        }
    }

    fn hooks(&mut self, v: &Node) -> Vec<Hook> {
        let mut out = Vec::new();
        for (i, item) in self.r.list(v, "notifications").iter().enumerate() {
            let p = format!("notifications[{i}]");
            let entries = self.r.mapping(item, &p, &HOOK_KEYS);
            if item.entries().is_none() {
                continue;
            }
            let mut hook = Hook {
                url: String::new(),
                events: HookEvent::ALL.into_iter().collect(),
                format: HookFormat::Json,
                timeout_s: 5.0,
                retries: 3,
            };
            for (key, value) in entries {
                let kp = join(&p, &key.name);
                match key.name.as_str() {
                    "url" => match self.r.string(value, &kp) {
                        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                            hook.url = u
                        }
                        Some(u) => self.r.error(
                            value.span,
                            &kp,
                            format!("{u:?} is not an http:// or https:// URL"),
                        ),
                        None => {}
                    },
                    "events" => hook.events = self.events(value, &kp),
                    "format" => match value.as_str() {
                        Some("json") => hook.format = HookFormat::Json,
                        Some("slack") => hook.format = HookFormat::Slack,
                        _ => self.r.error(value.span, &kp, "expected json or slack"),
                    },
                    "timeout_s" => match number(value) {
                        Some(t) if t > 0.0 && t <= 300.0 => hook.timeout_s = t,
                        _ => self
                            .r
                            .error(value.span, &kp, "expected seconds > 0 (at most 300)"),
                    },
                    "retries" => match value.value {
                        NodeValue::Int(n) if (0..=10).contains(&n) => hook.retries = n as u32,
                        _ => self.r.error(value.span, &kp, "expected 0 to 10"),
                    },
                    _ => {}
                }
            }
            if item.get("url").is_none() {
                self.r.error(item.span, &p, "missing required key \"url\"");
            } else if !hook.url.is_empty() {
                out.push(hook);
            }
        }
        out
    }

    fn events(&mut self, v: &Node, p: &str) -> BTreeSet<HookEvent> {
        let names: Vec<&str> = HookEvent::ALL.iter().map(|e| e.as_str()).collect();
        let mut out = BTreeSet::new();
        for (i, item) in self.r.list(v, p).iter().enumerate() {
            let found = item
                .as_str()
                .and_then(|s| HookEvent::ALL.into_iter().find(|e| e.as_str() == s));
            match found {
                Some(e) => {
                    out.insert(e);
                }
                None => {
                    let text = item.as_str().unwrap_or_default();
                    let key = Key {
                        name: text.to_string(),
                        span: item.span,
                    };
                    self.r.unknown_key(
                        &key,
                        &format!("{p}[{i}]"),
                        format!("unknown event {text:?}; expected {}", names.join(", ")),
                        names.iter().copied(),
                    );
                }
            }
        }
        out
    }

    fn retention(&mut self, v: &Node) -> Retention {
        let mut r = Retention::default();
        for (key, value) in self.r.mapping(v, "retention", &RETENTION_KEYS) {
            let kp = join("retention", &key.name);
            let n = match value.value {
                NodeValue::Int(n) if (1..=i64::from(u32::MAX)).contains(&n) => Some(n as u32),
                _ => {
                    self.r.error(value.span, &kp, "expected a whole number ≥ 1");
                    None
                }
            };
            match key.name.as_str() {
                "days" => r.days = n,
                "runs" => r.runs = n,
                _ => {}
            }
        }
        r
    }
}
