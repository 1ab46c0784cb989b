//! Validating the config tree: every key, type and range checked, every problem collected with
//! its position; the outage gate validated as an experiment's hypothesis.

use jiff::tz::TimeZone;
use serde_json::Value;

use super::model::{KEYS, mode_from};
use super::{Exception, Grouping, K8sScope, KillMode, MonkeyConfig, ProcessEntry, Webhook};
use crate::experiment::diagnostic::{Diagnostic, nearest};
use crate::experiment::model::Experiment;
use crate::experiment::source::{Key, Node, NodeValue, Reader, number};
use crate::experiment::validate::{ValidateOptions, validate};
use crate::target::selector::ProcessSelector;

/// The monkey's config walk on top of the shared [`Reader`] (its typed accessors and errors).
pub(super) struct Check<'a>(pub(super) Reader<'a>);

impl<'a> std::ops::Deref for Check<'a> {
    type Target = Reader<'a>;
    fn deref(&self) -> &Reader<'a> {
        &self.0
    }
}

impl std::ops::DerefMut for Check<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Check<'_> {
    pub(super) fn config(&mut self, root: &Node) -> MonkeyConfig {
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
                "docker" => match &value.value {
                    NodeValue::Bool(b) => config.docker = *b,
                    NodeValue::Map(_) => {
                        match crate::target::container_selector::ContainerSelector::parse(
                            &value.to_json(),
                        ) {
                            Ok(scope) => config.docker_scope = Some(scope),
                            Err(e) => self.error(value.span, path, e.to_string()),
                        }
                    }
                    _ => self.error(
                        value.span,
                        path,
                        "expected true, false or a container selector such as {labels: {team: shop}}",
                    ),
                },
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
                "kubernetes" => config.kubernetes = self.kubernetes(value, path),
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

    /// `kubernetes: true` (the cluster kubectl would use, every namespace but kube-system) or
    /// `{context, kubeconfig, namespace}`.
    fn kubernetes(&mut self, v: &Node, path: &str) -> Option<K8sScope> {
        match &v.value {
            NodeValue::Bool(false) => None,
            NodeValue::Bool(true) => Some(K8sScope::default()),
            NodeValue::Map(_) => {
                self.mapping(v, path, &["context", "kubeconfig", "namespace"]);
                Some(K8sScope {
                    cluster: crate::target::k8s::ClusterRef {
                        kubeconfig: self.optional_string(v, "kubeconfig", path),
                        context: self.optional_string(v, "context", path),
                    },
                    namespace: self.optional_string(v, "namespace", path),
                })
            }
            _ => {
                self.error(
                    v.span,
                    path,
                    "expected true, false or {context, kubeconfig, namespace}",
                );
                None
            }
        }
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
