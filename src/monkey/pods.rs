//! Kubernetes candidates: the pods of Deployments, StatefulSets and DaemonSets labelled
//! `monkeywrench.io/monkey: enabled` (kube-monkey's `kube-monkey/enabled: enabled` too). The
//! workload's labels carry the group (`monkeywrench.app`, else kube-monkey's
//! `kube-monkey/identifier`, else its name; the stack is its namespace unless
//! `monkeywrench.stack` says otherwise) and the same per-group overrides as containers
//! (kube-monkey's `kube-monkey/mtbf` and `kube-monkey/kill-mode` are read as theirs). kube-system
//! is looked at only when the config names it; terminating pods, `monkeywrench.skip=true` and
//! monkeywrench's own pod never are.

use std::collections::BTreeMap;

use super::config::K8sScope;
use super::inventory::{
    APP_LABEL, CLUSTER_LABEL, Instance, InstanceRef, KILL_MODE_LABEL, MEAN_LABEL, MIN_LABEL,
    STACK_LABEL,
};
use crate::target::k8s::workloads::{Workload, labelled};
use crate::target::k8s::{Cluster, KUBE_SYSTEM, PodSelector, find_pods};

/// The opt-in label on a workload.
pub const OPT_IN_LABEL: &str = "monkeywrench.io/monkey";
/// kube-monkey's opt-in label, accepted too.
pub const KUBE_MONKEY_LABEL: &str = "kube-monkey/enabled";

fn opted_in(labels: &BTreeMap<String, String>) -> bool {
    [OPT_IN_LABEL, KUBE_MONKEY_LABEL].iter().any(|k| {
        labels
            .get(*k)
            .is_some_and(|v| v.eq_ignore_ascii_case("enabled") || v.eq_ignore_ascii_case("true"))
    })
}

/// Our override labels, with kube-monkey's mapped onto them.
fn overrides(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = labels
        .iter()
        .filter(|(k, _)| [MEAN_LABEL, MIN_LABEL, KILL_MODE_LABEL].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(mtbf) = labels.get("kube-monkey/mtbf") {
        out.entry(MEAN_LABEL.into()).or_insert_with(|| mtbf.clone());
    }
    if let Some(mode) = labels.get("kube-monkey/kill-mode") {
        let value = labels
            .get("kube-monkey/kill-value")
            .cloned()
            .unwrap_or_default();
        let ours = match mode.as_str() {
            "kill-all" => "fixed-percent:100".to_string(),
            "fixed" | "fixed-percent" | "random-max-percent" => format!("{mode}:{value}"),
            other => other.to_string(),
        };
        out.entry(KILL_MODE_LABEL.into()).or_insert(ours);
    }
    out
}

fn instance(scope: &K8sScope, w: &Workload, pod: crate::target::k8s::PodInfo) -> Instance {
    let label = |k: &str| w.labels.get(k).cloned();
    Instance {
        name: pod.name.clone(),
        target: InstanceRef::Pod {
            namespace: pod.namespace.clone(),
            uid: pod.uid.clone(),
            cluster: scope.cluster.clone(),
        },
        app: label(APP_LABEL)
            .or_else(|| label("kube-monkey/identifier"))
            .unwrap_or_else(|| w.name.clone()),
        stack: label(STACK_LABEL).unwrap_or_else(|| w.namespace.clone()),
        cluster: label(CLUSTER_LABEL).unwrap_or_default(),
        overrides: overrides(&w.labels),
    }
}

/// The pods of opted-in workloads in the scope.
pub(super) async fn discover(scope: &K8sScope) -> Result<Vec<Instance>, String> {
    let cluster = Cluster::connect(&scope.cluster)
        .await
        .map_err(|e| format!("Kubernetes pods not considered: {e}"))?;
    let workloads = labelled(&cluster, scope.namespace.as_deref(), opted_in)
        .await
        .map_err(|e| format!("Kubernetes pods not considered: {e}"))?;
    let mut out = Vec::new();
    for w in workloads {
        if w.namespace == KUBE_SYSTEM && scope.namespace.as_deref() != Some(KUBE_SYSTEM) {
            continue;
        }
        let selector = PodSelector {
            namespace: Some(w.namespace.clone()),
            owner: Some((w.kind, w.name.clone())),
            ..PodSelector::default()
        };
        let pods = find_pods(&cluster, &selector)
            .await
            .map_err(|e| format!("pods of {}/{}: {e}", w.namespace, w.name))?;
        out.extend(pods.into_iter().map(|p| instance(scope, &w, p)));
    }
    Ok(out)
}
