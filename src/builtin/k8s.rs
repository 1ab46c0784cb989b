//! The Kubernetes probes — `k8s.pods` (counts by phase and readiness), `k8s.deployment`
//! (desired / ready / available / updated replicas and conditions), `k8s.pod.logs` (tail, regex)
//! — and the `k8s.network.remove` action; each has the output shapes the chaosk8s functions
//! mapped onto it return.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::BuiltinError;
use crate::fault::k8s::{
    CONTEXT_ARG, KUBECONFIG_ARG, NAMESPACE_ARG, POD_TARGET_ARG, read_cluster, read_pods,
};
use crate::schema::{ArgSpec, ArgType, Reader};
use crate::target::k8s::{Cluster, K8sError, PodInfo, list_pods, network, pod_ops, workloads};

const RAISE_ARG: ArgSpec = ArgSpec::optional(
    "raise",
    ArgType::Bool,
    Some("false"),
    "fail the probe (instead of answering false) when the check does not hold, as chaosk8s's raise_on_* do",
);

pub(super) const PODS_ARGS: &[ArgSpec] = &[
    POD_TARGET_ARG,
    ArgSpec::optional(
        "output",
        ArgType::Str,
        Some("summary"),
        "summary ({total, ready, not_ready, terminating, phases, pods}), count (pods, or pods in `phase`), in-phase (all in `phase`), in-conditions (all meet `conditions`), healthy (none Failed, all Running or Succeeded)",
    ),
    ArgSpec::optional(
        "phase",
        ArgType::Str,
        None,
        "a pod phase: Pending, Running, Succeeded, Failed, Unknown",
    ),
    ArgSpec::optional(
        "conditions",
        ArgType::Any,
        None,
        "[{type, status}] every pod must show (in-conditions)",
    ),
    RAISE_ARG,
    CONTEXT_ARG,
    KUBECONFIG_ARG,
];

pub(super) const DEPLOYMENT_ARGS: &[ArgSpec] = &[
    ArgSpec::required("name", ArgType::Str, "the Deployment's name"),
    NAMESPACE_ARG,
    ArgSpec::optional(
        "output",
        ArgType::Str,
        Some("status"),
        "status ({desired, ready, available, updated, unavailable, observed, healthy, conditions}), healthy (available == desired), conditions-over-time ([[type, status, reason], …] every `every_s` for `duration_s`)",
    ),
    ArgSpec::optional(
        "duration_s",
        ArgType::Number { min: 0.0 },
        Some("60"),
        "conditions-over-time: how long",
    ),
    ArgSpec::optional(
        "every_s",
        ArgType::Number { min: 0.0 },
        Some("1"),
        "conditions-over-time: how often",
    ),
    RAISE_ARG,
    CONTEXT_ARG,
    KUBECONFIG_ARG,
];

pub(super) const LOGS_ARGS: &[ArgSpec] = &[
    POD_TARGET_ARG,
    ArgSpec::optional(
        "container",
        ArgType::Str,
        None,
        "container name (needed when a pod has several)",
    ),
    ArgSpec::optional(
        "tail",
        ArgType::Int {
            min: 1,
            max: 1_000_000,
        },
        Some("100"),
        "last N lines of each pod",
    ),
    ArgSpec::optional(
        "since_s",
        ArgType::Int {
            min: 1,
            max: 31_536_000,
        },
        None,
        "only the last N seconds",
    ),
    ArgSpec::optional(
        "previous",
        ArgType::Bool,
        Some("false"),
        "the previous (crashed) container's log",
    ),
    ArgSpec::optional(
        "timestamps",
        ArgType::Bool,
        Some("false"),
        "prefix each line with its RFC 3339 time",
    ),
    ArgSpec::optional(
        "regex",
        ArgType::Str,
        None,
        "count and return the lines that match",
    ),
    ArgSpec::optional(
        "output",
        ArgType::Str,
        Some("summary"),
        "summary ({pods: {name: text}, lines, matches, matched}) or logs ({name: text}, as chaosk8s's read_pod_logs)",
    ),
    CONTEXT_ARG,
    KUBECONFIG_ARG,
];

pub(super) const NETWORK_REMOVE_ARGS: &[ArgSpec] = &[
    ArgSpec::required("name", ArgType::Str, "the NetworkPolicy's name"),
    NAMESPACE_ARG,
    CONTEXT_ARG,
    KUBECONFIG_ARG,
];

fn failed(e: K8sError) -> BuiltinError {
    if e.is_unavailable() {
        return BuiltinError::Unavailable(e.to_string());
    }
    BuiltinError::Failed(e.to_string())
}

fn bad(problems: Vec<crate::schema::ArgumentProblem>) -> BuiltinError {
    BuiltinError::Arguments(crate::schema::describe_problems(&problems))
}

/// A check's answer: `true`, else `false` — or a failure when `raise`.
fn verdict(ok: bool, raise: bool, why: String) -> Result<Value, BuiltinError> {
    match (ok, raise) {
        (true, _) => Ok(Value::Bool(true)),
        (false, false) => Ok(Value::Bool(false)),
        (false, true) => Err(BuiltinError::Failed(why)),
    }
}

/// `k8s.pods`.
pub(super) async fn pods(args: &Value) -> Result<Value, BuiltinError> {
    let mut r = Reader::new(PODS_ARGS, args);
    let selector = read_pods(&mut r);
    let cluster_ref = read_cluster(&r);
    let output = r.text("output").unwrap_or_default();
    let phase = r.text("phase");
    let raise = r.flag("raise").unwrap_or(false);
    let wanted = r.value("conditions").cloned();
    let conditions = match &wanted {
        None => Vec::new(),
        Some(v) => match conditions_of(v) {
            Some(c) => c,
            None => {
                r.problem("conditions", "must be a list of {type, status}");
                Vec::new()
            }
        },
    };
    if !matches!(
        output.as_str(),
        "summary" | "count" | "in-phase" | "in-conditions" | "healthy"
    ) {
        r.problem(
            "output",
            format!("{output:?} is not one of summary, count, in-phase, in-conditions, healthy"),
        );
    }
    r.finish(()).map_err(bad)?;
    let cluster = Cluster::connect(&cluster_ref).await.map_err(failed)?;
    let ns = cluster.namespace(selector.namespace.as_deref());
    let what = selector.describe(&ns);
    let found = list_pods(&cluster, &selector).await.map_err(failed)?;
    match output.as_str() {
        "count" => Ok(json!(
            found
                .iter()
                .filter(|p| phase.as_ref().is_none_or(|ph| p.phase == *ph))
                .count()
        )),
        "in-phase" => {
            let phase = phase.unwrap_or_else(|| "Running".into());
            if found.is_empty() {
                return verdict(false, raise, format!("no {what} were found"));
            }
            let off = found.iter().find(|p| p.phase != phase);
            verdict(
                off.is_none(),
                raise,
                off.map(|p| {
                    format!(
                        "pod {} is in phase {} but should be {phase}",
                        p.name, p.phase
                    )
                })
                .unwrap_or_default(),
            )
        }
        "in-conditions" => {
            if found.is_empty() {
                return verdict(false, raise, format!("no {what} were found"));
            }
            let missing = found.iter().find_map(|p| {
                conditions
                    .iter()
                    .find(|c| !p.conditions.contains(c))
                    .map(|(t, s)| (p, t, s))
            });
            verdict(
                missing.is_none(),
                raise,
                missing
                    .map(|(p, t, s)| {
                        format!(
                            "pod {} does not match the condition {{type: {t}, status: {s}}}",
                            p.name
                        )
                    })
                    .unwrap_or_default(),
            )
        }
        "healthy" => {
            let failed = found.iter().filter(|p| p.phase == "Failed").count();
            let not_ready = found
                .iter()
                .filter(|p| !matches!(p.phase.as_str(), "Running" | "Succeeded" | "Failed"))
                .count();
            verdict(
                failed == 0 && not_ready == 0,
                raise,
                format!(
                    "the system is unhealthy: {failed} failed and {not_ready} not running pods in namespace {ns}"
                ),
            )
        }
        _ => Ok(summary(&found)),
    }
}

fn conditions_of(v: &Value) -> Option<Vec<(String, String)>> {
    v.as_array()?
        .iter()
        .map(|c| {
            Some((
                c.get("type")?.as_str()?.to_string(),
                c.get("status")?.as_str()?.to_string(),
            ))
        })
        .collect()
}

/// `{total, ready, not_ready, terminating, phases: {Running: n, …}, pods: [{name, phase, ready}]}`.
fn summary(found: &[PodInfo]) -> Value {
    let mut phases: BTreeMap<&str, usize> = BTreeMap::new();
    for p in found {
        *phases.entry(p.phase.as_str()).or_default() += 1;
    }
    let ready = found.iter().filter(|p| p.ready && !p.terminating).count();
    json!({
        "total": found.len(),
        "ready": ready,
        "not_ready": found.len() - ready,
        "terminating": found.iter().filter(|p| p.terminating).count(),
        "phases": phases,
        "pods": found.iter().map(|p| json!({"name": p.name, "phase": p.phase, "ready": p.ready, "node": p.node})).collect::<Vec<_>>(),
    })
}

/// `k8s.deployment`.
pub(super) async fn deployment(args: &Value) -> Result<Value, BuiltinError> {
    let mut r = Reader::new(DEPLOYMENT_ARGS, args);
    let cluster_ref = read_cluster(&r);
    let name = r.text("name").unwrap_or_default();
    let namespace = r.text("namespace");
    let output = r.text("output").unwrap_or_default();
    let raise = r.flag("raise").unwrap_or(false);
    let duration = r.number("duration_s").unwrap_or(60.0);
    let every = r.number("every_s").unwrap_or(1.0);
    if !matches!(
        output.as_str(),
        "status" | "healthy" | "conditions-over-time"
    ) {
        r.problem(
            "output",
            format!("{output:?} is not one of status, healthy, conditions-over-time"),
        );
    }
    r.finish(()).map_err(bad)?;
    let cluster = Cluster::connect(&cluster_ref).await.map_err(failed)?;
    let ns = cluster.namespace(namespace.as_deref());
    match output.as_str() {
        "healthy" => match workloads::deployment_status(&cluster, &ns, &name).await {
            Ok(s) => verdict(
                s["available"] == s["desired"],
                raise,
                format!(
                    "deployment {name} is not healthy: {} of {} replicas available",
                    s["available"], s["desired"]
                ),
            ),
            Err(K8sError::NotFound(_)) => verdict(
                false,
                raise,
                format!("deployment {name} was not found in namespace {ns}"),
            ),
            Err(e) => Err(failed(e)),
        },
        "conditions-over-time" => {
            // chaosk8s's collect_deployment_status: sleep, read, for the duration.
            let end = tokio::time::Instant::now() + Duration::from_secs_f64(duration);
            let mut samples = Vec::new();
            while tokio::time::Instant::now() < end {
                tokio::time::sleep(Duration::from_secs_f64(every)).await;
                let s = workloads::deployment_status(&cluster, &ns, &name)
                    .await
                    .map_err(failed)?;
                let conditions: Vec<Value> = s["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| json!([c["type"], c["status"], c["reason"]]))
                    .collect();
                samples.push(Value::Array(conditions));
            }
            Ok(Value::Array(samples))
        }
        _ => workloads::deployment_status(&cluster, &ns, &name)
            .await
            .map_err(failed),
    }
}

/// `k8s.pod.logs`.
pub(super) async fn logs(args: &Value) -> Result<Value, BuiltinError> {
    let mut r = Reader::new(LOGS_ARGS, args);
    let selector = read_pods(&mut r);
    let cluster_ref = read_cluster(&r);
    let container = r.text("container");
    let tail = r.int("tail");
    let since = r.int("since_s");
    let output = r.text("output").unwrap_or_default();
    let regex = match r.text("regex").map(|p| regex::Regex::new(&p)) {
        None => None,
        Some(Ok(re)) => Some(re),
        Some(Err(e)) => {
            r.problem("regex", format!("invalid regex: {e}"));
            None
        }
    };
    if !matches!(output.as_str(), "summary" | "logs") {
        r.problem("output", format!("{output:?} is not one of summary, logs"));
    }
    let previous = r.flag("previous").unwrap_or(false);
    let timestamps = r.flag("timestamps").unwrap_or(false);
    r.finish(()).map_err(bad)?;
    let cluster = Cluster::connect(&cluster_ref).await.map_err(failed)?;
    let found = list_pods(&cluster, &selector).await.map_err(failed)?;
    let options = pod_ops::LogOptions {
        container,
        tail,
        since_seconds: since,
        previous,
        timestamps,
    };
    let mut texts = serde_json::Map::new();
    let (mut lines, mut matched) = (0usize, Vec::new());
    for pod in &found {
        let text = pod_ops::logs(&cluster, pod, &options)
            .await
            .map_err(failed)?;
        lines += text.lines().count();
        if let Some(re) = &regex {
            matched.extend(
                text.lines()
                    .filter(|l| re.is_match(l))
                    .map(|l| json!({"pod": pod.name, "line": l})),
            );
        }
        texts.insert(pod.name.clone(), Value::String(text));
    }
    if output == "logs" {
        return Ok(Value::Object(texts));
    }
    Ok(json!({
        "pods": texts,
        "lines": lines,
        "matches": matched.len(),
        "matched": matched,
    }))
}

/// `k8s.network.remove`: deletes a NetworkPolicy by name (`null`; one already gone is no error:
/// the lease of the fault that created it may have deleted it first).
pub(super) async fn network_remove(args: &Value) -> Result<Value, BuiltinError> {
    let r = Reader::new(NETWORK_REMOVE_ARGS, args);
    let cluster_ref = read_cluster(&r);
    let name = r.text("name").unwrap_or_default();
    let namespace = r.text("namespace");
    r.finish(()).map_err(bad)?;
    let cluster = Cluster::connect(&cluster_ref).await.map_err(failed)?;
    let ns = cluster.namespace(namespace.as_deref());
    if let Some(existing) = network::current(&cluster, &ns, &name)
        .await
        .map_err(failed)?
    {
        network::remove(&cluster, &ns, &name, &existing.uid)
            .await
            .map_err(failed)?;
    }
    Ok(Value::Null)
}
