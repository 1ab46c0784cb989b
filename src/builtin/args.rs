//! The argument schemas of the probes and actions (each fault family holds its own), and the
//! checks run at validation: a fault's literal arguments go through the family's own parser, the
//! same one that reads them at run time.

use serde_json::Value;

use super::{Action, Func, Probe, k8s, prometheus};
use crate::fault::proxy::{API_ARG, PROXY_ARG};
use crate::fault::{container, process, swarm};
use crate::schema::{self, ArgSpec, ArgType, ArgumentProblem, is_placeholder};

const TCP_ARGS: &[ArgSpec] = &[
    ArgSpec::required("host", ArgType::Str, "host name or IP address"),
    ArgSpec::required("port", ArgType::Int { min: 1, max: 65535 }, "TCP port"),
    ArgSpec::optional(
        "timeout_s",
        ArgType::Number { min: 0.0 },
        Some("3"),
        "connect timeout in seconds",
    ),
];

const FILE_ARGS: &[ArgSpec] = &[ArgSpec::required(
    "path",
    ArgType::Str,
    "file or directory path (~ expanded)",
)];

const RENAME_ARGS: &[ArgSpec] = &[
    ArgSpec::required(
        "src",
        ArgType::Str,
        "path to rename (no ~ expansion, as in Python)",
    ),
    ArgSpec::required("dst", ArgType::Str, "new path (replaced if it is a file)"),
];

const REMOVE_ARGS: &[ArgSpec] = &[ArgSpec::required(
    "path",
    ArgType::Str,
    "file to remove (no ~ expansion, as in Python)",
)];

const MEASURE_ARGS: &[ArgSpec] = &[
    ArgSpec::required("url", ArgType::Str, "http:// URL to send requests to"),
    ArgSpec::optional(
        "requests",
        ArgType::Int {
            min: 1,
            max: 10_000_000,
        },
        Some("100"),
        "number of requests",
    ),
    ArgSpec::optional(
        "concurrency",
        ArgType::Int {
            min: 1,
            max: 10_000,
        },
        Some("4"),
        "concurrent connections",
    ),
    ArgSpec::optional("method", ArgType::Str, Some("GET"), "HTTP method"),
    ArgSpec::optional(
        "timeout_s",
        ArgType::Number { min: 0.0 },
        Some("5"),
        "per-request timeout in seconds",
    ),
    ArgSpec::optional("headers", ArgType::Map, None, "request headers"),
    ArgSpec::optional("body", ArgType::Str, None, "request body"),
    ArgSpec::optional(
        "rate",
        ArgType::Number { min: 0.0 },
        None,
        "requests per second (open model, latency from the intended send time); default: as fast as possible",
    ),
];

const PROXY_ARGS: &[ArgSpec] = &[PROXY_ARG, API_ARG];

const CONTAINER_RUNNING_ARGS: &[ArgSpec] = &[container::TARGET_ARG];

const SERVICE_ARGS: &[ArgSpec] = &[swarm::SERVICE_ARG];

const TRAFFIC_METRICS_ARGS: &[ArgSpec] = &[
    PROXY_ARG,
    ArgSpec::optional(
        "route",
        ArgType::Str,
        None,
        "a route name of the proxy (or other); default: all requests",
    ),
    ArgSpec::optional(
        "window_s",
        ArgType::Int { min: 0, max: 900 },
        Some("10"),
        "seconds of traffic to look at, up to 15 minutes (0: since the proxy started)",
    ),
    API_ARG,
];

const TRAFFIC_COMPARE_ARGS: &[ArgSpec] = &[
    PROXY_ARG,
    ArgSpec::optional(
        "route",
        ArgType::Str,
        None,
        "one route of the proxy (or other); default: all requests",
    ),
    ArgSpec::optional(
        "window_s",
        ArgType::Int { min: 1, max: 900 },
        None,
        "compare only the last N seconds, one fixed-horizon look; default: everything since the split, with an always-valid sequential test (look as often as you like)",
    ),
    ArgSpec::optional(
        "max_error_rate_increase",
        ArgType::Any,
        Some("0"),
        "error-rate difference tolerated (experiment minus control; 0.005 = half a percentage point)",
    ),
    ArgSpec::optional(
        "max_latency_increase_ms",
        ArgType::Any,
        None,
        "latency shift tolerated (Hodges-Lehmann, tested with Mann-Whitney); default: latency reported, not judged",
    ),
    ArgSpec::optional(
        "max_p99_increase_ms",
        ArgType::Any,
        None,
        "p99 increase tolerated: worse when significantly more than 1 % of the experiment's requests are slower than control's p99 plus this; default: the tail reported, not judged",
    ),
    ArgSpec::optional(
        "alpha",
        ArgType::Any,
        Some("0.05"),
        "false-alarm rate the verdict allows",
    ),
    ArgSpec::optional(
        "min_requests",
        ArgType::Int {
            min: 1,
            max: 1_000_000_000,
        },
        Some("50"),
        "fewer requests in either cohort: not-enough-data",
    ),
    API_ARG,
];

pub(super) fn schema_of(func: Func) -> &'static [ArgSpec] {
    match func {
        Func::Probe(p) => match p {
            Probe::TcpConnect => TCP_ARGS,
            Probe::FileExists => FILE_ARGS,
            Probe::HttpMeasure => MEASURE_ARGS,
            Probe::TrafficTcp => PROXY_ARGS,
            Probe::ContainerRunning => CONTAINER_RUNNING_ARGS,
            Probe::SwarmReplicas => SERVICE_ARGS,
            Probe::TrafficMetrics => TRAFFIC_METRICS_ARGS,
            Probe::TrafficCompare => TRAFFIC_COMPARE_ARGS,
            Probe::PrometheusQuery => prometheus::QUERY_ARGS,
            Probe::PrometheusRange => prometheus::RANGE_ARGS,
            Probe::K8sPods => k8s::PODS_ARGS,
            Probe::K8sDeployment => k8s::DEPLOYMENT_ARGS,
            Probe::K8sPodLogs => k8s::LOGS_ARGS,
        },
        Func::Fault(f) => f.arguments(),
        Func::Action(Action::ProcessResume) => process::RESUME_ARGS,
        Func::Action(Action::FileRename) => RENAME_ARGS,
        Func::Action(Action::FileRemove) => REMOVE_ARGS,
        Func::Action(Action::K8sNetworkRemove) => k8s::NETWORK_REMOVE_ARGS,
    }
}

/// Checks literal arguments of `func` (placeholders pass; they are checked again at run time).
pub(super) fn check(func: Func, arguments: &Value) -> Vec<ArgumentProblem> {
    let mut problems = schema::check(schema_of(func), arguments, true);
    let Value::Object(map) = arguments else {
        return problems;
    };
    // The run-time parser finds the rest (selectors, signals, one-ofs) in the literal arguments;
    // those holding a placeholder are checked again after substitution.
    let unknown: Vec<&str> = map
        .iter()
        .filter(|(_, v)| is_placeholder(v))
        .map(|(k, _)| k.as_str())
        .collect();
    let literal: serde_json::Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !unknown.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let literal = Value::Object(literal);
    let parsed = match func {
        Func::Fault(f) => f.parse(&literal).map(|_| ()),
        Func::Action(Action::ProcessResume) => process::parse_resume(&literal).map(|_| ()),
        Func::Probe(Probe::ContainerRunning) => container::parse_running(&literal).map(|_| ()),
        Func::Action(Action::FileRename | Action::FileRemove | Action::K8sNetworkRemove) => Ok(()),
        Func::Probe(p @ (Probe::PrometheusQuery | Probe::PrometheusRange)) => {
            let found = prometheus::check(p == Probe::PrometheusRange, &literal);
            if found.is_empty() { Ok(()) } else { Err(found) }
        }
        Func::Probe(
            Probe::TcpConnect
            | Probe::FileExists
            | Probe::HttpMeasure
            | Probe::TrafficTcp
            | Probe::SwarmReplicas
            | Probe::TrafficMetrics
            | Probe::TrafficCompare
            | Probe::K8sPods
            | Probe::K8sDeployment
            | Probe::K8sPodLogs,
        ) => Ok(()),
    };
    if let Err(found) = parsed {
        // A problem that involves an argument still to be substituted may not be one.
        let involves_unknown = |p: &ArgumentProblem| {
            unknown.iter().any(|k| {
                p.path.split('.').next() == Some(*k)
                    || p.message
                        .split(|c: char| !c.is_alphanumeric() && c != '_')
                        .any(|w| w == *k)
            })
        };
        for p in found {
            if !involves_unknown(&p) && !problems.contains(&p) {
                problems.push(p);
            }
        }
    }
    problems
}
