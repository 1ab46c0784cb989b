//! The `builtin` provider registry (spec §3.5, §11.1): a closed set of native probes and actions.
//!
//! Each member declares its kind and argument schema (checked at validation and again after
//! substitution) and runs cancel-safely: dropping the future stops the work.

mod args;
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
        args::schema_of(self)
    }

    /// Checks literal arguments (placeholders pass; they are checked again at run time).
    pub fn check_arguments(self, arguments: &Value) -> Vec<ArgumentProblem> {
        args::check(self, arguments)
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

/// The fault proxy's API base URL of a proxy builtin: its `api` argument, or Toxiproxy's default
/// address.
pub fn proxy_api(args: &Value) -> &str {
    args.get("api")
        .and_then(Value::as_str)
        .unwrap_or("http://127.0.0.1:8474")
        .trim_end_matches('/')
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

// Journals and run events name a function by its `family.verb` name.
impl serde::Serialize for Func {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Func {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Func, D::Error> {
        let name = String::deserialize(d)?;
        Func::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown builtin function {name:?}")))
    }
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
