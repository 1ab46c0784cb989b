//! The most used `chaosk8s` (chaostoolkit-kubernetes) functions, run natively with the outputs
//! the extension returns. The actions become ledger faults, so a killed run still reverts the
//! scale and the NetworkPolicy they made — which the Python extension cannot do. chaosk8s works
//! in namespace `default` unless told `ns`; so do the mappings.

use serde_json::{Value, json};

use super::python::{PythonAlias, bound};
use super::{Action, Func, Probe};
use crate::fault::FaultFunc;
use crate::fault::k8s::Verb;

/// The policy names chaosk8s's `deny_all_*` helpers create and `remove_deny_all_*` delete.
const DENY_INGRESS: &str = "chaostoolkit-deny-all-ingress";
const DENY_EGRESS: &str = "chaostoolkit-deny-all-egress";

/// The builtin a chaosk8s function maps to, if it is one of those mapped.
pub(super) fn alias(module: &str, func: &str, arguments: &Value) -> Option<PythonAlias> {
    let arg = |name: &str| arguments.get(name).cloned().unwrap_or(Value::Null);
    let ns = || {
        arguments
            .get("ns")
            .cloned()
            .unwrap_or_else(|| json!("default"))
    };
    let raise = |key: &str| arguments.get(key).cloned().unwrap_or(json!(true));
    let bind = |f: Func, required: &[&str], optional: &[&str], mapped: Value| {
        bound(arguments, f, required, optional, mapped)
    };
    let pods_probe = Func::Probe(Probe::K8sPods);
    match (module, func) {
        ("chaosk8s.pod.actions", "terminate_pods") => bind(
            Func::Fault(FaultFunc::K8s(Verb::PodDelete)),
            &[],
            &[
                "label_selector",
                "name_pattern",
                "all",
                "rand",
                "mode",
                "qty",
                "grace_period",
                "ns",
                "order",
            ],
            json!({
                "target": without_nulls(json!({
                    "namespace": ns(),
                    "label_selector": arg("label_selector"),
                    "name_pattern": arg("name_pattern"),
                })),
                "grace_period_s": grace(arguments.get("grace_period")),
                "blast-radius": radius(arguments),
            }),
        ),
        ("chaosk8s.pod.probes", "count_pods") => bind(
            pods_probe,
            &["label_selector"],
            &["phase", "ns"],
            json!({
                "target": {"namespace": ns(), "label_selector": arg("label_selector")},
                "output": "count",
                "phase": arg("phase"),
            }),
        ),
        ("chaosk8s.pod.probes", "pods_in_phase") => bind(
            pods_probe,
            &["label_selector"],
            &["phase", "ns", "raise_on_invalid_phase"],
            json!({
                "target": {"namespace": ns(), "label_selector": arg("label_selector")},
                "output": "in-phase",
                "phase": arguments.get("phase").cloned().unwrap_or(json!("Running")),
                "raise": raise("raise_on_invalid_phase"),
            }),
        ),
        ("chaosk8s.pod.probes", "pods_in_conditions") => bind(
            pods_probe,
            &["label_selector", "conditions"],
            &["ns", "raise_on_invalid_conditions"],
            json!({
                "target": {"namespace": ns(), "label_selector": arg("label_selector")},
                "output": "in-conditions",
                "conditions": arg("conditions"),
                "raise": raise("raise_on_invalid_conditions"),
            }),
        ),
        ("chaosk8s.pod.probes", "all_pods_healthy")
        | ("chaosk8s.probes", "all_microservices_healthy") => bind(
            pods_probe,
            &[],
            &["ns", "raise_on_any_unhealthy"],
            json!({
                "target": {"namespace": ns()},
                "output": "healthy",
                "raise": raise("raise_on_any_unhealthy"),
            }),
        ),
        ("chaosk8s.pod.probes", "read_pod_logs")
        | ("chaosk8s.probes", "read_microservices_logs") => {
            // `last` is a dateparser phrase; the plain "N unit" ones are mapped, the rest left to
            // the extension.
            let since = match arguments.get("last") {
                None | Some(Value::Null) => Value::Null,
                Some(Value::String(s)) => json!(seconds_of(s)?),
                Some(_) => return None,
            };
            let name = match arguments.get("name") {
                Some(Value::String(s)) => s.clone(),
                _ => "None".to_string(),
            };
            let selector = match arguments.get("label_selector") {
                Some(Value::String(s)) => s.replace("{name}", &name),
                Some(Value::Null) | None => format!("name in ({name})"),
                Some(_) => return None,
            };
            bind(
                Func::Probe(Probe::K8sPodLogs),
                &[],
                &[
                    "name",
                    "last",
                    "ns",
                    "from_previous",
                    "label_selector",
                    "container_name",
                ],
                json!({
                    "target": {"namespace": ns(), "label_selector": selector},
                    "container": arg("container_name"),
                    "since_s": since,
                    "previous": arg("from_previous"),
                    "timestamps": true,
                    // The whole log, as the extension reads it.
                    "tail": 1_000_000,
                    "output": "logs",
                }),
            )
        }
        ("chaosk8s.deployment.probes", "deployment_available_and_healthy")
        | ("chaosk8s.probes", "microservice_available_and_healthy") => bind(
            Func::Probe(Probe::K8sDeployment),
            &["name"],
            &["ns", "label_selector", "raise_on_unavailable"],
            json!({
                "name": arg("name"),
                "namespace": ns(),
                "output": "healthy",
                "raise": raise("raise_on_unavailable"),
            }),
        ),
        ("chaosk8s.deployment.probes", "collect_deployment_status") => bind(
            Func::Probe(Probe::K8sDeployment),
            &["deployment_name"],
            &["ns", "duration", "every"],
            json!({
                "name": arg("deployment_name"),
                "namespace": ns(),
                "output": "conditions-over-time",
                "duration_s": arg("duration"),
                "every_s": arg("every"),
            }),
        ),
        ("chaosk8s.deployment.actions", "scale_deployment") => bind(
            Func::Fault(FaultFunc::K8s(Verb::DeploymentScale)),
            &["name", "replicas"],
            &["ns"],
            json!({"name": arg("name"), "replicas": arg("replicas"), "namespace": ns()}),
        ),
        // `kubectl rollout undo`: the previous revision's template; reverted (the template put
        // back) when the run ends, as every other ledger fault is.
        ("chaosk8s.deployment.actions", "rollback_deployment") => bind(
            Func::Fault(FaultFunc::K8s(Verb::DeploymentRollback)),
            &["name"],
            &["ns"],
            json!({"name": arg("name"), "namespace": ns()}),
        ),
        ("chaosk8s.networking.actions", "deny_all_ingress" | "deny_all_egress") => {
            let (direction, name) = if func == "deny_all_ingress" {
                ("ingress", DENY_INGRESS)
            } else {
                ("egress", DENY_EGRESS)
            };
            bind(
                Func::Fault(FaultFunc::K8s(Verb::NetworkDeny)),
                &[],
                &["label_selectors", "ns"],
                json!({
                    "target": without_nulls(json!({"namespace": ns(), "labels": arg("label_selectors")})),
                    "direction": direction,
                    "name": name,
                }),
            )
        }
        ("chaosk8s.networking.actions", "remove_deny_all_ingress" | "remove_deny_all_egress") => {
            let name = if func == "remove_deny_all_ingress" {
                DENY_INGRESS
            } else {
                DENY_EGRESS
            };
            bind(
                Func::Action(Action::K8sNetworkRemove),
                &[],
                &["ns"],
                json!({"name": name, "namespace": ns()}),
            )
        }
        _ => None,
    }
}

/// What the chaosk8s function returns, given the builtin's output: `terminate_pods` the names of
/// the pods it deleted; the other actions (and the deprecated `microservice_available_and_healthy`
/// wrapper, which drops its result) `None`.
pub(super) fn result(module: &str, func: &str, native: Value) -> Value {
    match (module, func) {
        ("chaosk8s.pod.actions", "terminate_pods") => Value::Array(
            native["faults"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| f["target"]["name"].clone())
                .collect(),
        ),
        ("chaosk8s.deployment.actions", _)
        | ("chaosk8s.networking.actions", _)
        | ("chaosk8s.probes", "microservice_available_and_healthy") => Value::Null,
        _ => native,
    }
}

/// `grace_period` ≥ 0 is the grace; the default -1 (or any negative) means the pod's own.
fn grace(given: Option<&Value>) -> Value {
    match given {
        Some(Value::Number(n)) if n.as_i64().is_some_and(|g| g < 0) => Value::Null,
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

/// `all`, else `mode` (`fixed` | `percentage`) with `qty` (1).
fn radius(arguments: &Value) -> Value {
    if arguments.get("all") == Some(&Value::Bool(true)) {
        return json!({"mode": "all"});
    }
    let qty = arguments.get("qty").cloned().unwrap_or(json!(1));
    match arguments.get("mode").and_then(Value::as_str) {
        Some("percentage") => json!({"mode": "fixed-percent", "value": qty}),
        _ => json!({"mode": "fixed", "value": qty}),
    }
}

/// `"10 minutes"`, `"30 seconds"`, `"2 hours"`, `"1 day"` as seconds.
fn seconds_of(phrase: &str) -> Option<u64> {
    let mut parts = phrase.split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    let unit = parts.next()?.trim_end_matches('s');
    if parts.next().is_some() {
        return None;
    }
    let scale = match unit {
        "second" | "sec" => 1,
        "minute" | "min" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(n * scale)
}

fn without_nulls(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.retain(|_, v| !v.is_null());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaosk8s_functions_map_with_the_extensions_defaults() {
        let t = alias(
            "chaosk8s.pod.actions",
            "terminate_pods",
            &json!({"label_selector": "app=web", "qty": 2, "grace_period": -1}),
        )
        .unwrap();
        assert_eq!(t.func, Func::parse("k8s.pod.delete").unwrap());
        assert_eq!(
            t.arguments,
            json!({"target": {"namespace": "default", "label_selector": "app=web"},
                   "blast-radius": {"mode": "fixed", "value": 2}})
        );
        let all = alias(
            "chaosk8s.pod.actions",
            "terminate_pods",
            &json!({"ns": "shop", "all": true, "grace_period": 0}),
        )
        .unwrap();
        assert_eq!(all.arguments["blast-radius"], json!({"mode": "all"}));
        assert_eq!(all.arguments["grace_period_s"], 0);
        let deny = alias(
            "chaosk8s.networking.actions",
            "deny_all_ingress",
            &json!({"label_selectors": {"app": "db"}, "ns": "shop"}),
        )
        .unwrap();
        assert_eq!(
            deny.arguments,
            json!({"target": {"namespace": "shop", "labels": {"app": "db"}},
                   "direction": "ingress", "name": "chaostoolkit-deny-all-ingress"})
        );
        let logs = alias(
            "chaosk8s.pod.probes",
            "read_pod_logs",
            &json!({"name": "web", "last": "10 minutes"}),
        )
        .unwrap();
        assert_eq!(logs.arguments["target"]["label_selector"], "name in (web)");
        assert_eq!(logs.arguments["since_s"], 600);
        assert!(
            alias(
                "chaosk8s.pod.probes",
                "read_pod_logs",
                &json!({"last": "yesterday"})
            )
            .is_none(),
            "a phrase only dateparser reads stays with the extension"
        );
        assert!(alias("chaosk8s.pod.probes", "count_pods", &json!({})).is_none());
        let rollback = alias(
            "chaosk8s.deployment.actions",
            "rollback_deployment",
            &json!({"name": "web"}),
        )
        .unwrap();
        assert_eq!(
            rollback.func,
            Func::parse("k8s.deployment.rollback").unwrap()
        );
        assert_eq!(
            rollback.arguments,
            json!({"name": "web", "namespace": "default"})
        );
        assert_eq!(
            result(
                "chaosk8s.pod.actions",
                "terminate_pods",
                json!({"faults": [{"target": {"name": "web-1"}}]})
            ),
            json!(["web-1"])
        );
        assert_eq!(
            result(
                "chaosk8s.deployment.actions",
                "scale_deployment",
                json!({"faults": []})
            ),
            Value::Null
        );
    }
}
