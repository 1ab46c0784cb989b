//! The argument schema of every builtin, and the checks beyond the schema (selectors, signals,
//! `http.fault`'s one-of, blast radius) run at validation.

use serde_json::Value;

use super::schema::{self, ArgSpec, ArgType, ArgumentProblem};
use super::{Func, TargetKind};

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

const RESTART_ARGS: &[ArgSpec] = &[
    TARGET_ARG,
    ArgSpec::required(
        "command",
        ArgType::Str,
        "shell command that starts the process again (run detached)",
    ),
    ArgSpec::optional(
        "signal",
        ArgType::Str,
        Some("SIGTERM"),
        "signal asking it to stop",
    ),
    ArgSpec::optional(
        "timeout_s",
        ArgType::Number { min: -1.0 },
        Some("5"),
        "seconds to wait before SIGKILL",
    ),
];

const PROXY_ARG: ArgSpec =
    ArgSpec::required("proxy", ArgType::Str, "proxy name on the fault proxy");

const API_ARG: ArgSpec = ArgSpec::optional(
    "api",
    ArgType::Str,
    Some("http://127.0.0.1:8474"),
    "the fault proxy's API (monkeywrench proxy serve, or Toxiproxy)",
);

const PROXY_ARGS: &[ArgSpec] = &[PROXY_ARG, API_ARG];

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
    API_ARG,
];

const TARGET_ARG: ArgSpec = ArgSpec::required(
    "target",
    ArgType::Target,
    "process selector: {pid}, {name} or {pattern} (regex on the command line), optional ppid, user",
);

const TARGET_ARGS: &[ArgSpec] = &[TARGET_ARG];

const KILL_ARGS: &[ArgSpec] = &[
    TARGET_ARG,
    ArgSpec::optional(
        "signal",
        ArgType::Str,
        Some("SIGKILL"),
        "signal name (SIGKILL, SIGTERM, SIGINT, SIGHUP, …)",
    ),
];

const CONTAINER_TARGET_ARG: ArgSpec = ArgSpec::required(
    "target",
    ArgType::Target,
    "container selector: {name}, {pattern} (regex on the name), {labels}, {id}, {image}, {compose_project}, {compose_service} or {service} (Swarm)",
);

const CONTAINER_TARGET_ARGS: &[ArgSpec] = &[CONTAINER_TARGET_ARG];

const CONTAINER_KILL_ARGS: &[ArgSpec] = &[
    CONTAINER_TARGET_ARG,
    ArgSpec::optional(
        "signal",
        ArgType::Str,
        Some("SIGKILL"),
        "signal sent to the container's main process",
    ),
];

const CONTAINER_GRACE_ARGS: &[ArgSpec] = &[
    CONTAINER_TARGET_ARG,
    ArgSpec::optional(
        "timeout_s",
        ArgType::Int { min: 0, max: 3600 },
        Some("10"),
        "seconds between SIGTERM and SIGKILL",
    ),
];

const DISCONNECT_ARGS: &[ArgSpec] = &[
    CONTAINER_TARGET_ARG,
    ArgSpec::required(
        "network",
        ArgType::Str,
        "network to cut the containers off (name or id)",
    ),
];

const SERVICE_ARG: ArgSpec = ArgSpec::required("service", ArgType::Str, "Swarm service name or id");

const SERVICE_ARGS: &[ArgSpec] = &[SERVICE_ARG];

const KILL_TASK_ARGS: &[ArgSpec] = &[
    SERVICE_ARG,
    ArgSpec::optional(
        "signal",
        ArgType::Str,
        Some("SIGKILL"),
        "signal sent to the task's container",
    ),
];

const SCALE_ARGS: &[ArgSpec] = &[
    SERVICE_ARG,
    ArgSpec::required(
        "replicas",
        ArgType::Int {
            min: 0,
            max: 100_000,
        },
        "replica count while the fault lasts",
    ),
];

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
        ArgType::Int { min: 0, max: 60 },
        Some("10"),
        "seconds of traffic to look at (0: since the proxy started)",
    ),
    API_ARG,
];

const HTTP_FAULT_ARGS: &[ArgSpec] = &[
    PROXY_ARG,
    ArgSpec::optional("route", ArgType::Str, None, "only requests of this route"),
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

/// The argument schema of `func`.
pub(super) fn schema_of(func: Func) -> &'static [ArgSpec] {
    match func {
        Func::TcpConnect => TCP_ARGS,
        Func::FileExists => FILE_ARGS,
        Func::HttpMeasure => MEASURE_ARGS,
        Func::ProcessKill => KILL_ARGS,
        Func::ProcessStop | Func::ProcessResume => TARGET_ARGS,
        Func::ProcessRestart => RESTART_ARGS,
        Func::ProxyToxic => TOXIC_ARGS,
        Func::ProxyDown | Func::TrafficTcp => PROXY_ARGS,
        Func::ContainerKill => CONTAINER_KILL_ARGS,
        Func::ContainerStop | Func::ContainerRestart => CONTAINER_GRACE_ARGS,
        Func::ContainerPause | Func::ContainerRunning => CONTAINER_TARGET_ARGS,
        Func::ContainerDisconnect => DISCONNECT_ARGS,
        Func::SwarmKillTask => KILL_TASK_ARGS,
        Func::SwarmScale => SCALE_ARGS,
        Func::SwarmReplicas => SERVICE_ARGS,
        Func::TrafficMetrics => TRAFFIC_METRICS_ARGS,
        Func::HttpFault => HTTP_FAULT_ARGS,
    }
}

/// Checks literal arguments of `func` (placeholders pass; they are checked again at run time).
pub(super) fn check(func: Func, arguments: &Value) -> Vec<ArgumentProblem> {
    let mut problems = schema::check(schema_of(func), arguments, true);
    let literal = |v: &Value| !v.to_string().contains("${");
    let target = arguments
        .get("target")
        .filter(|t| t.is_object() && literal(t));
    let parsed = match (func.target_kind(), target) {
        (Some(TargetKind::Process), Some(t)) => {
            crate::target::selector::ProcessSelector::parse(t).map(|_| ())
        }
        (Some(TargetKind::Container), Some(t)) => {
            crate::target::container_selector::ContainerSelector::parse(t).map(|_| ())
        }
        _ => Ok(()),
    };
    if let Err(e) = parsed {
        problems.push(ArgumentProblem {
            path: "target".into(),
            message: e.to_string(),
            suggestion: None,
        });
    }
    if let Some(signal) = arguments
        .get("signal")
        .and_then(Value::as_str)
        .filter(|s| !s.contains("${"))
        && let Err(e) = crate::target::process::parse_signal(signal)
    {
        problems.push(ArgumentProblem {
            path: "signal".into(),
            message: e.to_string(),
            suggestion: None,
        });
    }
    if func == Func::HttpFault {
        let given: Vec<&str> = ["status", "abort", "delay_ms"]
            .into_iter()
            .filter(|k| arguments.get(*k).is_some())
            .collect();
        if given.len() != 1 {
            problems.push(ArgumentProblem {
                path: "status".into(),
                message: format!(
                    "http.fault needs exactly one of status, abort or delay_ms (got {})",
                    if given.is_empty() {
                        "none".to_string()
                    } else {
                        given.join(", ")
                    }
                ),
                suggestion: None,
            });
        }
        if let Some(a) = arguments.get("abort").and_then(Value::as_str)
            && !a.contains("${")
            && a != "reset"
            && a != "close"
        {
            problems.push(ArgumentProblem {
                path: "abort".into(),
                message: format!("abort {a:?}: expected reset or close"),
                suggestion: None,
            });
        }
        if let Some(share) = arguments.get("share").and_then(Value::as_f64)
            && share > 100.0
        {
            problems.push(ArgumentProblem {
                path: "share".into(),
                message: "share is a percentage from 0 to 100".into(),
                suggestion: None,
            });
        }
    }
    if let Some(radius) = arguments.get("blast-radius").filter(|r| literal(r))
        && let Err(e) = crate::target::selector::parse_pick(radius)
    {
        problems.push(ArgumentProblem {
            path: "blast-radius".into(),
            message: e,
            suggestion: None,
        });
    }
    problems
}
