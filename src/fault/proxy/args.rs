//! The proxy verbs, their argument schemas, and typed arguments parsed once.

use serde_json::{Map, Value, json};

use super::act::{Action, Victim};
use crate::fault::{Error, Family, Selecting, Victims};
use crate::proxy::ProxyApi;
use crate::schema::{ArgSpec, ArgType, ArgumentProblem, Reader};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `proxy.toxic`.
    Toxic,
    /// `proxy.down`.
    Down,
    /// `http.fault`.
    HttpFault,
    /// `cohort.split`.
    CohortSplit,
}

/// Toxiproxy's default API address.
pub const DEFAULT_API: &str = "http://127.0.0.1:8474";

/// The proxy a builtin acts on or reads.
pub const PROXY_ARG: ArgSpec =
    ArgSpec::required("proxy", ArgType::Str, "proxy name on the fault proxy");

/// The fault proxy's API address.
pub const API_ARG: ArgSpec = ArgSpec::optional(
    "api",
    ArgType::Str,
    Some(DEFAULT_API),
    "the fault proxy's API (monkeywrench proxy serve, or Toxiproxy)",
);

const DOWN_ARGS: &[ArgSpec] = &[PROXY_ARG, API_ARG];

const TOXIC_ARGS: &[ArgSpec] = &[
    PROXY_ARG,
    ArgSpec::required(
        "type",
        ArgType::Str,
        "latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, loss, noop",
    ),
    ArgSpec::optional(
        "stream",
        ArgType::Str,
        Some("downstream"),
        "upstream (client→server) or downstream",
    ),
    ArgSpec::optional(
        "toxicity",
        ArgType::Any,
        Some("1.0"),
        "share of connections affected, 0–1",
    ),
    ArgSpec::optional(
        "attributes",
        ArgType::Map,
        None,
        "the toxic's integer attributes, e.g. {latency: 100, jitter: 10}",
    ),
    ArgSpec::optional(
        "name",
        ArgType::Str,
        Some("monkeywrench-<random>"),
        "the toxic's name, for tools that address it by name (a rollback, toxiproxy-cli)",
    ),
    API_ARG,
];

const COHORT_ARGS: &[ArgSpec] = &[
    PROXY_ARG,
    ArgSpec::required(
        "key",
        ArgType::Str,
        "who a user is: header:NAME, cookie:NAME or client (the client's address)",
    ),
    ArgSpec::optional(
        "control",
        ArgType::Number { min: 0.0 },
        Some("1"),
        "percent of users in the control cohort (at most 50)",
    ),
    ArgSpec::optional(
        "experiment",
        ArgType::Number { min: 0.0 },
        Some("1"),
        "percent of users in the experiment cohort (at most 50)",
    ),
    ArgSpec::optional(
        "salt",
        ArgType::Str,
        Some("the run id"),
        "mixed into the user hash: the same salt draws the same users",
    ),
    API_ARG,
];

const HTTP_FAULT_ARGS: &[ArgSpec] = &[
    PROXY_ARG,
    ArgSpec::optional("route", ArgType::Str, None, "only requests of this route"),
    ArgSpec::optional(
        "cohort",
        ArgType::Str,
        None,
        "only requests of this cohort (control or experiment) of the proxy's cohort.split",
    ),
    ArgSpec::optional(
        "method",
        ArgType::Str,
        None,
        "only requests with this method",
    ),
    ArgSpec::optional(
        "share",
        ArgType::Number { min: 0.0 },
        Some("100"),
        "percent of (matching) requests hit, drawn per request",
    ),
    ArgSpec::optional(
        "status",
        ArgType::Int { min: 100, max: 599 },
        None,
        "answer with this status instead of the upstream",
    ),
    ArgSpec::optional(
        "abort",
        ArgType::Str,
        None,
        "cut the connection before the response: reset or close",
    ),
    ArgSpec::optional(
        "delay_ms",
        ArgType::Int {
            min: 0,
            max: 3_600_000,
        },
        None,
        "delay the response head by this many milliseconds",
    ),
    API_ARG,
];

impl Verb {
    pub const ALL: [Verb; 4] = [Verb::Toxic, Verb::Down, Verb::HttpFault, Verb::CohortSplit];

    /// The builtin's name.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Toxic => "proxy.toxic",
            Verb::Down => "proxy.down",
            Verb::HttpFault => "http.fault",
            Verb::CohortSplit => "cohort.split",
        }
    }

    /// One line for the catalogue.
    pub fn describe(self) -> &'static str {
        match self {
            Verb::Toxic => {
                "add a toxic to a fault-proxy proxy; removed when reverted (and by its own ttl)"
            }
            Verb::Down => "disable a fault-proxy proxy (clients refused); re-enabled when reverted",
            Verb::HttpFault => {
                "make an http proxy answer a share of requests with a status, an abort or a delay; removed when reverted"
            }
            Verb::CohortSplit => {
                "split an http proxy's users into control and experiment cohorts; cleared when reverted"
            }
        }
    }

    pub fn arguments(self) -> &'static [ArgSpec] {
        match self {
            Verb::Toxic => TOXIC_ARGS,
            Verb::Down => DOWN_ARGS,
            Verb::HttpFault => HTTP_FAULT_ARGS,
            Verb::CohortSplit => COHORT_ARGS,
        }
    }

    /// Every proxy fault can be undone.
    pub fn is_reversible(self) -> bool {
        match self {
            Verb::Toxic | Verb::Down | Verb::HttpFault | Verb::CohortSplit => true,
        }
    }

    /// Parses substituted arguments.
    pub fn parse(self, args: &Value) -> Result<ProxyFault, Vec<ArgumentProblem>> {
        let mut r = Reader::new(self.arguments(), args);
        let proxy = r.text("proxy").unwrap_or_default();
        let api = r.text("api").unwrap_or_default();
        let action = match self {
            Verb::Toxic => {
                let mut body = Map::new();
                for key in ["type", "stream", "toxicity", "attributes", "name"] {
                    if let Some(v) = r.value(key) {
                        body.insert(key.into(), v.clone());
                    }
                }
                Action::Toxic {
                    body: Value::Object(body),
                }
            }
            Verb::Down => Action::Down,
            Verb::HttpFault => Action::Toxic {
                body: http_fault_toxic(&mut r),
            },
            Verb::CohortSplit => Action::Cohorts {
                split: cohort_split(&mut r),
            },
        };
        r.finish(ProxyFault {
            action,
            api: ProxyApi::new(&api),
            proxy,
        })
    }
}

/// The toxic an `http.fault` adds: `http_status`, `http_abort` or `http_delay` for `share` % of
/// the requests that match `route` / `method`.
fn http_fault_toxic(r: &mut Reader) -> Value {
    let mut matcher = Map::new();
    for key in ["route", "method"] {
        if let Some(v) = r.text(key) {
            matcher.insert(key.into(), json!(v));
        }
    }
    let cohort = r.text("cohort");
    if let Some(c) = &cohort
        && c != "control"
        && c != "experiment"
    {
        r.problem(
            "cohort",
            format!("cohort {c:?}: expected control or experiment"),
        );
    }
    let given: Vec<&str> = ["status", "abort", "delay_ms"]
        .into_iter()
        .filter(|k| r.value(k).is_some())
        .collect();
    if given.len() != 1 {
        let got = if given.is_empty() {
            "none".to_string()
        } else {
            given.join(", ")
        };
        r.problem(
            "status",
            format!("http.fault needs exactly one of status, abort or delay_ms (got {got})"),
        );
    }
    let (kind, mut attributes) = if let Some(status) = r.int("status") {
        ("http_status", json!({"status": status}))
    } else if let Some(mode) = r.text("abort") {
        if mode != "reset" && mode != "close" {
            r.problem("abort", format!("abort {mode:?}: expected reset or close"));
        }
        ("http_abort", json!({"mode": mode, "when": "headers"}))
    } else {
        let delay = r.int("delay_ms").unwrap_or_default();
        ("http_delay", json!({"delay_ms": delay}))
    };
    if !matcher.is_empty() {
        attributes["match"] = Value::Object(matcher);
    }
    if let Some(c) = cohort {
        attributes["cohort"] = json!(c);
    }
    let share = r.number("share").unwrap_or(100.0);
    if share > 100.0 {
        r.problem("share", "share is a percentage from 0 to 100");
    }
    json!({
        "type": kind,
        "toxicity": (share / 100.0).clamp(0.0, 1.0),
        "attributes": attributes,
    })
}

/// The split `cohort.split` puts in force (without its salt unless one is given: the run's id
/// is added when planned).
fn cohort_split(r: &mut Reader) -> Value {
    let key = r.text("key").unwrap_or_default();
    let key_ok = key == "client"
        || key
            .split_once(':')
            .is_some_and(|(kind, name)| (kind == "header" || kind == "cookie") && !name.is_empty());
    if !key_ok {
        r.problem(
            "key",
            format!("key {key:?}: expected header:NAME, cookie:NAME or client"),
        );
    }
    let control = r.number("control").unwrap_or(1.0);
    let experiment = r.number("experiment").unwrap_or(1.0);
    for (name, share) in [("control", control), ("experiment", experiment)] {
        if share > 50.0 {
            r.problem(
                name,
                format!("{name} is {share}: at most 50 percent of users"),
            );
        }
    }
    let mut split = json!({"key": key, "control": control, "experiment": experiment});
    if let Some(salt) = r.value("salt").and_then(Value::as_str) {
        split["salt"] = json!(salt);
    }
    split
}

/// A parsed proxy fault call: one proxy, no selection.
#[derive(Debug, Clone)]
pub struct ProxyFault {
    /// What happens to the proxy.
    pub action: Action,
    api: ProxyApi,
    proxy: String,
}

impl Family for ProxyFault {
    type Act = Action;

    async fn victims(&self, _: &Selecting) -> Result<Victims<Victim>, Error> {
        Ok(Victims::named(Victim {
            api: self.api.clone(),
            proxy: self.proxy.clone(),
        }))
    }

    fn act(&self) -> &Action {
        &self.action
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_fault_builds_one_toxic_and_names_every_problem() {
        let f = Verb::HttpFault
            .parse(&json!({"proxy": "shop", "route": "user", "status": 503, "share": 20}))
            .unwrap();
        let Action::Toxic { body } = f.action else {
            panic!("a toxic")
        };
        assert_eq!(
            body,
            json!({"type": "http_status", "toxicity": 0.2,
                   "attributes": {"status": 503, "match": {"route": "user"}}})
        );
        let problems = Verb::HttpFault
            .parse(&json!({"proxy": "shop", "abort": "explode", "delay_ms": 5, "share": 120}))
            .unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["status", "abort", "share"], "{problems:?}");
    }
}
