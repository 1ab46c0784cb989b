//! The `builtin` provider registry (spec §3.5, §11.1): a closed set of native probes and actions.
//!
//! Each member declares its kind and argument schema (checked at validation and again after
//! substitution) and runs cancel-safely: dropping the future stops the work.

mod probes;
pub mod schema;

use serde_json::Value;

pub use schema::{ArgSpec, ArgType, ArgumentProblem};

/// Every native function, by its `family.verb` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// `tcp.connect`: can a TCP connection be opened? → `true`/`false`.
    TcpConnect,
    /// `file.exists`: does a path exist? → `true`/`false`.
    FileExists,
    /// `http.measure`: N requests → `{requests, rps, error_rate, p50_ms, p95_ms, p99_ms}`.
    HttpMeasure,
    /// `process.kill`: send a signal (SIGKILL by default) to target processes; irreversible.
    ProcessKill,
    /// `process.stop`: SIGSTOP target processes; reverted with SIGCONT.
    ProcessStop,
    /// `process.resume`: SIGCONT target processes (an action, no lease).
    ProcessResume,
    /// `process.restart`: stop target processes and start them again with a command.
    ProcessRestart,
    /// `proxy.toxic`: add a toxic to a proxy; reverted by removing it.
    ProxyToxic,
    /// `proxy.down`: disable a proxy; reverted by enabling it.
    ProxyDown,
    /// `traffic.tcp`: a proxy's live connection and byte figures.
    TrafficTcp,
    /// `container.kill`: send a signal to target containers; irreversible.
    ContainerKill,
    /// `container.stop`: stop target containers; reverted by starting them.
    ContainerStop,
    /// `container.pause`: freeze target containers; reverted by unpausing.
    ContainerPause,
    /// `container.restart`: restart target containers.
    ContainerRestart,
    /// `container.disconnect`: cut target containers off a network; reverted by reconnecting.
    ContainerDisconnect,
    /// `swarm.kill_task`: kill running tasks of a Swarm service; the orchestrator reschedules.
    SwarmKillTask,
    /// `swarm.scale`: set a Swarm service's replicas; reverted to the former count.
    SwarmScale,
    /// `container.running`: how many running containers match a selector.
    ContainerRunning,
    /// `swarm.replicas`: a Swarm service's running and desired replicas.
    SwarmReplicas,
    /// `traffic.metrics`: an http proxy's per-request figures over a window.
    TrafficMetrics,
    /// `http.fault`: make an http proxy answer a share of requests badly; removed when reverted.
    HttpFault,
}

/// What kind of selector a function's `target` argument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Processes: `{pid}`, `{name}`, `{pattern}`, …
    Process,
    /// Containers: `{name}`, `{labels}`, `{service}`, …
    Container,
    /// The running tasks of the Swarm service named by `service`.
    SwarmTask,
}

/// What a builtin does to the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncKind {
    /// Measures only.
    Probe,
    /// Acts, without a lease.
    Action,
    /// Changes the world through the ledger (a lease before it is applied).
    Fault,
}

/// A builtin failed.
#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    /// Arguments (after substitution) do not fit the schema.
    #[error("invalid arguments: {0}")]
    Arguments(String),
    /// The function itself failed.
    #[error("{0}")]
    Failed(String),
}

const TCP_ARGS: &[ArgSpec] = &[
    ArgSpec {
        name: "host",
        ty: ArgType::Str,
        required: true,
        default: None,
        doc: "host name or IP address",
    },
    ArgSpec {
        name: "port",
        ty: ArgType::Int { min: 1, max: 65535 },
        required: true,
        default: None,
        doc: "TCP port",
    },
    ArgSpec {
        name: "timeout_s",
        ty: ArgType::Number { min: 0.0 },
        required: false,
        default: Some("3"),
        doc: "connect timeout in seconds",
    },
];

const FILE_ARGS: &[ArgSpec] = &[ArgSpec {
    name: "path",
    ty: ArgType::Str,
    required: true,
    default: None,
    doc: "file or directory path (~ expanded)",
}];

const MEASURE_ARGS: &[ArgSpec] = &[
    ArgSpec {
        name: "url",
        ty: ArgType::Str,
        required: true,
        default: None,
        doc: "http:// URL to send requests to",
    },
    ArgSpec {
        name: "requests",
        ty: ArgType::Int {
            min: 1,
            max: 10_000_000,
        },
        required: false,
        default: Some("100"),
        doc: "number of requests",
    },
    ArgSpec {
        name: "concurrency",
        ty: ArgType::Int {
            min: 1,
            max: 10_000,
        },
        required: false,
        default: Some("4"),
        doc: "concurrent connections",
    },
    ArgSpec {
        name: "method",
        ty: ArgType::Str,
        required: false,
        default: Some("GET"),
        doc: "HTTP method",
    },
    ArgSpec {
        name: "timeout_s",
        ty: ArgType::Number { min: 0.0 },
        required: false,
        default: Some("5"),
        doc: "per-request timeout in seconds",
    },
    ArgSpec {
        name: "headers",
        ty: ArgType::Map,
        required: false,
        default: None,
        doc: "request headers",
    },
    ArgSpec {
        name: "body",
        ty: ArgType::Str,
        required: false,
        default: None,
        doc: "request body",
    },
    ArgSpec {
        name: "rate",
        ty: ArgType::Number { min: 0.0 },
        required: false,
        default: None,
        doc: "requests per second (open model, latency from the intended send time); default: as fast as possible",
    },
];

const RESTART_ARGS: &[ArgSpec] = &[
    TARGET_ARG,
    ArgSpec {
        name: "command",
        ty: ArgType::Str,
        required: true,
        default: None,
        doc: "shell command that starts the process again (run detached)",
    },
    ArgSpec {
        name: "signal",
        ty: ArgType::Str,
        required: false,
        default: Some("SIGTERM"),
        doc: "signal asking it to stop",
    },
    ArgSpec {
        name: "timeout_s",
        ty: ArgType::Number { min: -1.0 },
        required: false,
        default: Some("5"),
        doc: "seconds to wait before SIGKILL",
    },
];

const PROXY_ARG: ArgSpec = ArgSpec {
    name: "proxy",
    ty: ArgType::Str,
    required: true,
    default: None,
    doc: "proxy name on the fault proxy",
};

const API_ARG: ArgSpec = ArgSpec {
    name: "api",
    ty: ArgType::Str,
    required: false,
    default: Some("http://127.0.0.1:8474"),
    doc: "the fault proxy's API (monkeywrench proxy serve, or Toxiproxy)",
};

const PROXY_ARGS: &[ArgSpec] = &[PROXY_ARG, API_ARG];

const TOXIC_ARGS: &[ArgSpec] = &[
    PROXY_ARG,
    ArgSpec {
        name: "type",
        ty: ArgType::Str,
        required: true,
        default: None,
        doc: "latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, loss, noop",
    },
    ArgSpec {
        name: "stream",
        ty: ArgType::Str,
        required: false,
        default: Some("downstream"),
        doc: "upstream (client→server) or downstream",
    },
    ArgSpec {
        name: "toxicity",
        ty: ArgType::Any,
        required: false,
        default: Some("1.0"),
        doc: "share of connections affected, 0–1",
    },
    ArgSpec {
        name: "attributes",
        ty: ArgType::Map,
        required: false,
        default: None,
        doc: "the toxic's integer attributes, e.g. {latency: 100, jitter: 10}",
    },
    API_ARG,
];

const TARGET_ARG: ArgSpec = ArgSpec {
    name: "target",
    ty: ArgType::Target,
    required: true,
    default: None,
    doc: "process selector: {pid}, {name} or {pattern} (regex on the command line), optional ppid, user",
};

const TARGET_ARGS: &[ArgSpec] = &[TARGET_ARG];

const KILL_ARGS: &[ArgSpec] = &[
    TARGET_ARG,
    ArgSpec {
        name: "signal",
        ty: ArgType::Str,
        required: false,
        default: Some("SIGKILL"),
        doc: "signal name (SIGKILL, SIGTERM, SIGINT, SIGHUP, …)",
    },
];

const CONTAINER_TARGET_ARG: ArgSpec = ArgSpec {
    name: "target",
    ty: ArgType::Target,
    required: true,
    default: None,
    doc: "container selector: {name}, {pattern} (regex on the name), {labels}, {id}, {image}, {compose_project}, {compose_service} or {service} (Swarm)",
};

const CONTAINER_TARGET_ARGS: &[ArgSpec] = &[CONTAINER_TARGET_ARG];

const CONTAINER_KILL_ARGS: &[ArgSpec] = &[
    CONTAINER_TARGET_ARG,
    ArgSpec {
        name: "signal",
        ty: ArgType::Str,
        required: false,
        default: Some("SIGKILL"),
        doc: "signal sent to the container's main process",
    },
];

const CONTAINER_GRACE_ARGS: &[ArgSpec] = &[
    CONTAINER_TARGET_ARG,
    ArgSpec {
        name: "timeout_s",
        ty: ArgType::Int { min: 0, max: 3600 },
        required: false,
        default: Some("10"),
        doc: "seconds between SIGTERM and SIGKILL",
    },
];

const DISCONNECT_ARGS: &[ArgSpec] = &[
    CONTAINER_TARGET_ARG,
    ArgSpec {
        name: "network",
        ty: ArgType::Str,
        required: true,
        default: None,
        doc: "network to cut the containers off (name or id)",
    },
];

const SERVICE_ARG: ArgSpec = ArgSpec {
    name: "service",
    ty: ArgType::Str,
    required: true,
    default: None,
    doc: "Swarm service name or id",
};

const SERVICE_ARGS: &[ArgSpec] = &[SERVICE_ARG];

const KILL_TASK_ARGS: &[ArgSpec] = &[
    SERVICE_ARG,
    ArgSpec {
        name: "signal",
        ty: ArgType::Str,
        required: false,
        default: Some("SIGKILL"),
        doc: "signal sent to the task's container",
    },
];

const SCALE_ARGS: &[ArgSpec] = &[
    SERVICE_ARG,
    ArgSpec {
        name: "replicas",
        ty: ArgType::Int {
            min: 0,
            max: 100_000,
        },
        required: true,
        default: None,
        doc: "replica count while the fault lasts",
    },
];

const TRAFFIC_METRICS_ARGS: &[ArgSpec] = &[
    PROXY_ARG,
    ArgSpec {
        name: "route",
        ty: ArgType::Str,
        required: false,
        default: None,
        doc: "a route name of the proxy (or other); default: all requests",
    },
    ArgSpec {
        name: "window_s",
        ty: ArgType::Int { min: 0, max: 60 },
        required: false,
        default: Some("10"),
        doc: "seconds of traffic to look at (0: since the proxy started)",
    },
    API_ARG,
];

const HTTP_FAULT_ARGS: &[ArgSpec] = &[
    PROXY_ARG,
    ArgSpec {
        name: "route",
        ty: ArgType::Str,
        required: false,
        default: None,
        doc: "only requests of this route",
    },
    ArgSpec {
        name: "method",
        ty: ArgType::Str,
        required: false,
        default: None,
        doc: "only requests with this method",
    },
    ArgSpec {
        name: "share",
        ty: ArgType::Number { min: 0.0 },
        required: false,
        default: Some("100"),
        doc: "percent of (matching) requests hit, drawn per request",
    },
    ArgSpec {
        name: "status",
        ty: ArgType::Int { min: 100, max: 599 },
        required: false,
        default: None,
        doc: "answer with this status instead of the upstream",
    },
    ArgSpec {
        name: "abort",
        ty: ArgType::Str,
        required: false,
        default: None,
        doc: "cut the connection before the response: reset or close",
    },
    ArgSpec {
        name: "delay_ms",
        ty: ArgType::Int {
            min: 0,
            max: 3_600_000,
        },
        required: false,
        default: None,
        doc: "delay the response head by this many milliseconds",
    },
    API_ARG,
];

impl Func {
    /// Every member, in catalogue order.
    pub const ALL: [Func; 21] = [
        Func::TcpConnect,
        Func::FileExists,
        Func::HttpMeasure,
        Func::ProcessKill,
        Func::ProcessStop,
        Func::ProcessResume,
        Func::ProcessRestart,
        Func::ProxyToxic,
        Func::ProxyDown,
        Func::TrafficTcp,
        Func::ContainerKill,
        Func::ContainerStop,
        Func::ContainerPause,
        Func::ContainerRestart,
        Func::ContainerDisconnect,
        Func::SwarmKillTask,
        Func::SwarmScale,
        Func::ContainerRunning,
        Func::SwarmReplicas,
        Func::TrafficMetrics,
        Func::HttpFault,
    ];

    /// The `family.verb` name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Func::TcpConnect => "tcp.connect",
            Func::FileExists => "file.exists",
            Func::HttpMeasure => "http.measure",
            Func::ProcessKill => "process.kill",
            Func::ProcessStop => "process.stop",
            Func::ProcessResume => "process.resume",
            Func::ProcessRestart => "process.restart",
            Func::ProxyToxic => "proxy.toxic",
            Func::ProxyDown => "proxy.down",
            Func::TrafficTcp => "traffic.tcp",
            Func::ContainerKill => "container.kill",
            Func::ContainerStop => "container.stop",
            Func::ContainerPause => "container.pause",
            Func::ContainerRestart => "container.restart",
            Func::ContainerDisconnect => "container.disconnect",
            Func::SwarmKillTask => "swarm.kill_task",
            Func::SwarmScale => "swarm.scale",
            Func::ContainerRunning => "container.running",
            Func::SwarmReplicas => "swarm.replicas",
            Func::TrafficMetrics => "traffic.metrics",
            Func::HttpFault => "http.fault",
        }
    }

    /// Whether it changes the world through the ledger (a lease before it is applied).
    pub fn is_fault(self) -> bool {
        self.kind() == FuncKind::Fault
    }

    /// Whether it acts on targets chosen by a selector (and a blast radius).
    pub fn takes_targets(self) -> bool {
        self.is_fault_or_action() && self.target_kind().is_some()
    }

    fn is_fault_or_action(self) -> bool {
        self.kind() != FuncKind::Probe
    }

    /// The kind of selector its `target` (or `service`) argument is.
    pub fn target_kind(self) -> Option<TargetKind> {
        match self {
            Func::ProcessKill | Func::ProcessStop | Func::ProcessResume | Func::ProcessRestart => {
                Some(TargetKind::Process)
            }
            Func::ContainerKill
            | Func::ContainerStop
            | Func::ContainerPause
            | Func::ContainerRestart
            | Func::ContainerDisconnect
            | Func::ContainerRunning => Some(TargetKind::Container),
            Func::SwarmKillTask => Some(TargetKind::SwarmTask),
            _ => None,
        }
    }

    /// Looks a function up by its `family.verb` name.
    pub fn parse(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Probe, action or fault.
    pub fn kind(self) -> FuncKind {
        match self {
            Func::TcpConnect
            | Func::FileExists
            | Func::HttpMeasure
            | Func::TrafficTcp
            | Func::ContainerRunning
            | Func::SwarmReplicas
            | Func::TrafficMetrics => FuncKind::Probe,
            Func::ProcessResume => FuncKind::Action,
            Func::ProcessKill
            | Func::ProcessStop
            | Func::ProcessRestart
            | Func::ProxyToxic
            | Func::ProxyDown
            | Func::ContainerKill
            | Func::ContainerStop
            | Func::ContainerPause
            | Func::ContainerRestart
            | Func::ContainerDisconnect
            | Func::SwarmKillTask
            | Func::SwarmScale
            | Func::HttpFault => FuncKind::Fault,
        }
    }

    /// Whether it is a fault whose effect can be undone (so `duration` applies).
    pub fn is_reversible(self) -> bool {
        matches!(
            self,
            Func::ProcessStop
                | Func::ProxyToxic
                | Func::ProxyDown
                | Func::ContainerStop
                | Func::ContainerPause
                | Func::ContainerDisconnect
                | Func::SwarmScale
                | Func::HttpFault
        )
    }

    /// One line describing it.
    pub fn describe(self) -> &'static str {
        match self {
            Func::TcpConnect => "whether a TCP connection to host:port can be opened",
            Func::FileExists => "whether a path exists",
            Func::HttpMeasure => {
                "throughput, error rate and latency percentiles of N real requests"
            }
            Func::ProcessKill => {
                "send a signal (SIGKILL by default) to target processes; irreversible"
            }
            Func::ProcessStop => "freeze target processes with SIGSTOP; reverted with SIGCONT",
            Func::ProcessResume => "resume (SIGCONT) target processes",
            Func::ProcessRestart => {
                "stop target processes (signal, then SIGKILL after timeout_s) and run the restart command"
            }
            Func::ProxyToxic => {
                "add a toxic to a fault-proxy proxy; removed when reverted (and by its own ttl)"
            }
            Func::ProxyDown => {
                "disable a fault-proxy proxy (clients refused); re-enabled when reverted"
            }
            Func::TrafficTcp => {
                "a fault-proxy proxy's live figures: connections and bytes each way"
            }
            Func::ContainerKill => {
                "send a signal (SIGKILL by default) to target containers; irreversible (the restart policy applies)"
            }
            Func::ContainerStop => "stop target containers; started again when reverted",
            Func::ContainerPause => "freeze target containers; unpaused when reverted",
            Func::ContainerRestart => "restart target containers",
            Func::ContainerDisconnect => {
                "cut target containers off a network (a partition); reconnected with the same aliases when reverted"
            }
            Func::SwarmKillTask => {
                "kill running tasks of a Swarm service (their containers); the orchestrator replaces them"
            }
            Func::SwarmScale => {
                "scale a Swarm service to a replica count; the former count is restored when reverted"
            }
            Func::ContainerRunning => "how many running containers match a selector",
            Func::SwarmReplicas => "a Swarm service's {running, desired} replicas",
            Func::TrafficMetrics => {
                "an http proxy's requests, rps, error rate and latency percentiles over a window"
            }
            Func::HttpFault => {
                "make an http proxy answer a share of requests with a status, an abort or a delay; removed when reverted"
            }
        }
    }

    /// Its argument schema.
    pub fn arguments(self) -> &'static [ArgSpec] {
        match self {
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

    /// Checks literal arguments (placeholders pass; they are checked again at run time).
    pub fn check_arguments(self, arguments: &Value) -> Vec<ArgumentProblem> {
        let mut problems = schema::check(self.arguments(), arguments, true);
        let literal = |v: &Value| !v.to_string().contains("${");
        let target = arguments
            .get("target")
            .filter(|t| t.is_object() && literal(t));
        let parsed = match (self.target_kind(), target) {
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
        if self == Func::HttpFault {
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

    /// Whether it can serve as a `type: probe` tolerance (it receives `arguments.value`).
    pub fn accepts_value(self) -> bool {
        false
    }

    /// Runs it with substituted arguments.
    pub async fn run(self, arguments: &Value) -> Result<Value, BuiltinError> {
        let problems = schema::check(self.arguments(), arguments, false);
        if !problems.is_empty() {
            return Err(BuiltinError::Arguments(
                problems
                    .iter()
                    .map(|p| format!("{}: {}", p.path, p.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ));
        }
        match self {
            Func::TcpConnect => probes::tcp_connect(arguments).await,
            Func::FileExists => Ok(probes::file_exists(arguments)),
            Func::HttpMeasure => probes::http_measure(arguments).await,
            Func::TrafficTcp => probes::traffic_tcp(arguments).await,
            Func::ContainerRunning => probes::container_running(arguments).await,
            Func::SwarmReplicas => probes::swarm_replicas(arguments).await,
            Func::TrafficMetrics => probes::traffic_metrics(arguments).await,
            // Targets, blast radius and leases need the run's ledger: the engine's fault path runs these.
            Func::ProcessKill
            | Func::ProcessStop
            | Func::ProcessResume
            | Func::ProcessRestart
            | Func::ProxyToxic
            | Func::ProxyDown
            | Func::ContainerKill
            | Func::ContainerStop
            | Func::ContainerPause
            | Func::ContainerRestart
            | Func::ContainerDisconnect
            | Func::SwarmKillTask
            | Func::SwarmScale
            | Func::HttpFault => Err(BuiltinError::Failed(format!(
                "{} runs through the experiment engine's fault path",
                self.name()
            ))),
        }
    }
}

/// A Python function mapped to a builtin with identical output.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonAlias {
    /// The builtin.
    pub func: Func,
    /// Its arguments, mapped from the Python ones.
    pub arguments: Value,
}

/// The builtin a well-known Python function maps to (Chaos Toolkit files often use these).
pub fn python_alias(module: &str, func: &str, arguments: &Value) -> Option<PythonAlias> {
    match (module, func) {
        ("os.path", "exists") => Some(PythonAlias {
            func: Func::FileExists,
            arguments: serde_json::json!({"path": arguments.get("path").cloned().unwrap_or(Value::Null)}),
        }),
        _ => None,
    }
}

/// The builtin to suggest for a Python function that cannot run (a hint, by keyword).
pub fn python_suggestion(module: &str, func: &str) -> Option<&'static str> {
    let text = format!("{module}.{func}").to_ascii_lowercase();
    let table: [(&[&str], &str); 4] = [
        (
            &["kill", "terminate", "stop", "delete_pod"],
            "process.kill (processes) or container.kill (containers)",
        ),
        (&["port", "connect", "socket", "tcp"], "tcp.connect"),
        (
            &["http", "request", "latency", "response", "url"],
            "http.measure",
        ),
        (&["file", "path", "exists"], "file.exists"),
    ];
    table
        .iter()
        .find(|(words, _)| words.iter().any(|w| text.contains(w)))
        .map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip() {
        for f in Func::ALL {
            assert_eq!(Func::parse(f.name()), Some(f));
            assert!(!f.describe().is_empty());
        }
        assert_eq!(Func::parse("tcp.conect"), None);
    }

    #[test]
    fn python_aliases_and_suggestions() {
        let a = python_alias("os.path", "exists", &json!({"path": "/tmp"})).unwrap();
        assert_eq!(a.func, Func::FileExists);
        assert_eq!(a.arguments, json!({"path": "/tmp"}));
        assert!(python_alias("os", "system", &json!({})).is_none());
        assert!(
            python_suggestion("chaosk8s.pod.actions", "terminate_pods")
                .unwrap()
                .contains("kill")
        );
    }

    #[tokio::test]
    async fn run_rechecks_substituted_arguments() {
        let err = Func::TcpConnect
            .run(&json!({"host": "127.0.0.1", "port": "${p}"}))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
    }
}
