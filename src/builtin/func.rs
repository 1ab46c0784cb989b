//! The closed set of native functions: names, descriptions, argument schemas, and running probes.

use serde_json::Value;

use super::{args, k8s, probes, prometheus};
use crate::fault::FaultFunc;
use crate::schema::{self, ArgSpec, ArgumentProblem, describe_problems};

/// Every native function: a probe, a fault (by family) or an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// Measures only.
    Probe(Probe),
    /// Changes the world through the ledger (a lease before it is applied).
    Fault(FaultFunc),
    /// Acts, without a lease.
    Action(Action),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Probe {
    /// `tcp.connect`: can a TCP connection be opened? → `true`/`false`.
    TcpConnect,
    /// `file.exists`: does a path exist? → `true`/`false`.
    FileExists,
    /// `http.measure`: N requests → `{requests, rps, error_rate, p50_ms, p95_ms, p99_ms}`.
    HttpMeasure,
    /// `traffic.tcp`: a proxy's live connection and byte figures.
    TrafficTcp,
    /// `container.running`: how many running containers match a selector.
    ContainerRunning,
    /// `swarm.replicas`: a Swarm service's running and desired replicas.
    SwarmReplicas,
    /// `traffic.metrics`: an http proxy's per-request figures over a window.
    TrafficMetrics,
    /// `traffic.compare`: an http proxy's control vs experiment cohorts.
    TrafficCompare,
    /// `prometheus.query`: an instant PromQL query.
    PrometheusQuery,
    /// `prometheus.range`: a range PromQL query.
    PrometheusRange,
    /// `k8s.pods`: pods of a selector by phase and readiness.
    K8sPods,
    /// `k8s.deployment`: a Deployment's replicas and conditions.
    K8sDeployment,
    /// `k8s.pod.logs`: the logs of a selector's pods.
    K8sPodLogs,
}

/// The native actions (no lease: nothing to undo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `process.resume`: SIGCONT target processes.
    ProcessResume,
    /// `file.rename`: Python's `os.rename` (→ `null`).
    FileRename,
    /// `file.remove`: Python's `os.remove` (→ `null`).
    FileRemove,
    /// `k8s.network.remove`: delete a NetworkPolicy by name (→ `null`).
    K8sNetworkRemove,
}

#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    /// Arguments (after substitution) do not fit the schema.
    #[error("invalid arguments: {0}")]
    Arguments(String),
    /// The function itself failed.
    #[error("{0}")]
    Failed(String),
    /// The platform it asks (the Kubernetes API, the Docker engine) cannot be reached or
    /// refused the credentials: a run exits 69 on it.
    #[error("{0}")]
    Unavailable(String),
}

impl Probe {
    const ALL: [Probe; 13] = [
        Probe::TcpConnect,
        Probe::FileExists,
        Probe::HttpMeasure,
        Probe::TrafficTcp,
        Probe::ContainerRunning,
        Probe::SwarmReplicas,
        Probe::TrafficMetrics,
        Probe::TrafficCompare,
        Probe::PrometheusQuery,
        Probe::PrometheusRange,
        Probe::K8sPods,
        Probe::K8sDeployment,
        Probe::K8sPodLogs,
    ];
}

impl Func {
    /// Every member: probes, faults family by family, actions.
    pub fn all() -> impl Iterator<Item = Func> {
        Probe::ALL
            .into_iter()
            .map(Func::Probe)
            .chain(FaultFunc::all().map(Func::Fault))
            .chain([
                Func::Action(Action::ProcessResume),
                Func::Action(Action::FileRename),
                Func::Action(Action::FileRemove),
                Func::Action(Action::K8sNetworkRemove),
            ])
    }

    /// The `family.verb` name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Func::Probe(p) => match p {
                Probe::TcpConnect => "tcp.connect",
                Probe::FileExists => "file.exists",
                Probe::HttpMeasure => "http.measure",
                Probe::TrafficTcp => "traffic.tcp",
                Probe::ContainerRunning => "container.running",
                Probe::SwarmReplicas => "swarm.replicas",
                Probe::TrafficMetrics => "traffic.metrics",
                Probe::TrafficCompare => "traffic.compare",
                Probe::PrometheusQuery => "prometheus.query",
                Probe::PrometheusRange => "prometheus.range",
                Probe::K8sPods => "k8s.pods",
                Probe::K8sDeployment => "k8s.deployment",
                Probe::K8sPodLogs => "k8s.pod.logs",
            },
            Func::Fault(f) => f.name(),
            Func::Action(Action::ProcessResume) => "process.resume",
            Func::Action(Action::FileRename) => "file.rename",
            Func::Action(Action::FileRemove) => "file.remove",
            Func::Action(Action::K8sNetworkRemove) => "k8s.network.remove",
        }
    }

    /// Looks a function up by its `family.verb` name.
    pub fn parse(name: &str) -> Option<Func> {
        Func::all().find(|f| f.name() == name)
    }

    /// Whether it changes the world through the ledger (a lease before it is applied).
    pub fn is_fault(self) -> bool {
        matches!(self, Func::Fault(_))
    }

    /// The fault function, if it is one.
    pub fn fault(self) -> Option<FaultFunc> {
        match self {
            Func::Fault(f) => Some(f),
            Func::Probe(_) | Func::Action(_) => None,
        }
    }

    /// Whether it acts on targets chosen by a selector and a blast radius.
    pub fn takes_targets(self) -> bool {
        match self {
            Func::Fault(f) => f.takes_targets(),
            Func::Action(Action::ProcessResume) => true,
            Func::Action(Action::FileRename | Action::FileRemove | Action::K8sNetworkRemove)
            | Func::Probe(_) => false,
        }
    }

    /// Whether it is a fault whose effect can be undone (so `duration` applies).
    pub fn is_reversible(self) -> bool {
        self.fault().is_some_and(FaultFunc::is_reversible)
    }

    /// One line describing it.
    pub fn describe(self) -> &'static str {
        match self {
            Func::Probe(p) => match p {
                Probe::TcpConnect => "whether a TCP connection to host:port can be opened",
                Probe::FileExists => "whether a path exists",
                Probe::HttpMeasure => {
                    "throughput, error rate and latency percentiles of N real requests"
                }
                Probe::TrafficTcp => {
                    "a fault-proxy proxy's live figures: connections and bytes each way"
                }
                Probe::ContainerRunning => "how many running containers match a selector",
                Probe::SwarmReplicas => "a Swarm service's {running, desired} replicas",
                Probe::TrafficMetrics => {
                    "an http proxy's requests, rps, error rate and latency percentiles over a window"
                }
                Probe::TrafficCompare => {
                    "an http proxy's experiment cohort vs its control cohort: error rate and latency, tested, with a verdict"
                }
                Probe::PrometheusQuery => {
                    "a PromQL instant query: one number for a tolerance, the series, or the API's answer"
                }
                Probe::PrometheusRange => {
                    "a PromQL range query: the series, the API's answer, or their min/max/mean/last"
                }
                Probe::K8sPods => {
                    "Kubernetes pods of a selector: counts by phase and readiness, or a phase / condition / health check"
                }
                Probe::K8sDeployment => {
                    "a Kubernetes Deployment's desired, ready, available and updated replicas and its conditions"
                }
                Probe::K8sPodLogs => {
                    "the last lines of a selector's pods' logs, with regex matches"
                }
            },
            Func::Fault(f) => f.describe(),
            Func::Action(Action::ProcessResume) => "resume (SIGCONT) target processes",
            Func::Action(Action::FileRename) => {
                "rename a file or directory, as Python's os.rename (output null)"
            }
            Func::Action(Action::FileRemove) => {
                "remove a file, as Python's os.remove (output null)"
            }
            Func::Action(Action::K8sNetworkRemove) => {
                "delete a Kubernetes NetworkPolicy by name, if it is there (output null)"
            }
        }
    }

    pub fn arguments(self) -> &'static [ArgSpec] {
        args::schema_of(self)
    }

    /// Checks literal arguments: all of them at once, placeholders pass (they are checked again
    /// at run time, by the same parser).
    pub fn check_arguments(self, arguments: &Value) -> Vec<ArgumentProblem> {
        args::check(self, arguments)
    }

    /// Whether it can serve as a `type: probe` tolerance (it receives `arguments.value`).
    pub fn accepts_value(self) -> bool {
        false
    }

    /// Runs a probe with substituted arguments (faults and actions run through the engine,
    /// which holds the run's ledger and targets).
    pub async fn run(self, arguments: &Value) -> Result<Value, BuiltinError> {
        let problems = schema::check(self.arguments(), arguments, false);
        if !problems.is_empty() {
            return Err(BuiltinError::Arguments(describe_problems(&problems)));
        }
        let probe = match self {
            Func::Probe(p) => p,
            Func::Action(Action::FileRename) => return super::python::os_rename(arguments),
            Func::Action(Action::FileRemove) => return super::python::os_remove(arguments),
            Func::Action(Action::K8sNetworkRemove) => return k8s::network_remove(arguments).await,
            Func::Fault(_) | Func::Action(Action::ProcessResume) => {
                return Err(BuiltinError::Failed(format!(
                    "{} runs through the experiment engine's fault path",
                    self.name()
                )));
            }
        };
        match probe {
            Probe::TcpConnect => probes::tcp_connect(arguments).await,
            Probe::FileExists => Ok(probes::file_exists(arguments)),
            Probe::HttpMeasure => probes::http_measure(arguments).await,
            Probe::TrafficTcp => probes::traffic_tcp(arguments).await,
            Probe::ContainerRunning => probes::container_running(arguments).await,
            Probe::SwarmReplicas => probes::swarm_replicas(arguments).await,
            Probe::TrafficMetrics => probes::traffic_metrics(arguments).await,
            Probe::TrafficCompare => probes::traffic_compare(arguments).await,
            Probe::PrometheusQuery => prometheus::query(arguments).await,
            Probe::PrometheusRange => prometheus::range(arguments).await,
            Probe::K8sPods => k8s::pods(arguments).await,
            Probe::K8sDeployment => k8s::deployment(arguments).await,
            Probe::K8sPodLogs => k8s::logs(arguments).await,
        }
    }
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
        assert_eq!(Func::all().count(), 44);
        for f in Func::all() {
            assert_eq!(Func::parse(f.name()), Some(f));
            assert!(!f.describe().is_empty());
        }
        assert_eq!(Func::parse("tcp.conect"), None);
    }

    #[test]
    fn validation_reports_every_literal_problem_and_leaves_placeholders_for_later() {
        let kill = Func::parse("process.kill").unwrap();
        let paths = |args: Value| -> Vec<String> {
            kill.check_arguments(&args)
                .into_iter()
                .map(|p| p.path)
                .collect()
        };
        assert_eq!(
            paths(json!({"target": {"pattern": "${svc}"}, "signal": "SIGNOPE"})),
            ["signal"],
            "the signal is wrong whatever ${{svc}} turns out to be"
        );
        assert_eq!(
            paths(json!({"target": {"nmae": "x"}, "signal": 9, "blast-radius": {"mode": "few"}})),
            ["signal", "target", "blast-radius"],
            "all at once"
        );
        assert!(paths(json!({"target": "${t}", "signal": "${s}"})).is_empty());
        let http_fault = Func::parse("http.fault").unwrap();
        assert!(
            http_fault
                .check_arguments(&json!({"proxy": "shop", "abort": "${how}"}))
                .is_empty(),
            "the one-of may be met once ${{how}} is substituted"
        );
    }

    #[tokio::test]
    async fn run_rechecks_substituted_arguments() {
        let err = Func::Probe(Probe::TcpConnect)
            .run(&json!({"host": "127.0.0.1", "port": "${p}"}))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
    }
}
