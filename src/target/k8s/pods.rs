//! Pods as targets: a selector (namespace, labels, fields, owner, node, name), the pods it
//! matches now in a stable order, and what is never one — a pod being deleted already, a pod
//! labelled `monkeywrench.skip=true`, the pod monkeywrench runs in, and anything in
//! `kube-system` unless the selector names that namespace.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

use super::cluster::Cluster;
use super::error::{Call, K8sError};
use crate::target::select::{Driver, FindError};

/// The namespace never targeted unless named.
pub const KUBE_SYSTEM: &str = "kube-system";

/// A workload kind that owns pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Deployment,
    StatefulSet,
    ReplicaSet,
    DaemonSet,
}

impl OwnerKind {
    fn parse(s: &str) -> Option<OwnerKind> {
        match s.to_ascii_lowercase().as_str() {
            "deployment" | "deploy" | "deployments" => Some(OwnerKind::Deployment),
            "statefulset" | "sts" | "statefulsets" => Some(OwnerKind::StatefulSet),
            "replicaset" | "rs" | "replicasets" => Some(OwnerKind::ReplicaSet),
            "daemonset" | "ds" | "daemonsets" => Some(OwnerKind::DaemonSet),
            _ => None,
        }
    }

    /// The resource as RBAC names it.
    pub fn resource(self) -> &'static str {
        match self {
            OwnerKind::Deployment => "deployments",
            OwnerKind::StatefulSet => "statefulsets",
            OwnerKind::ReplicaSet => "replicasets",
            OwnerKind::DaemonSet => "daemonsets",
        }
    }

    /// As `kubectl` writes it: `deployment/web`.
    pub fn short(self) -> &'static str {
        match self {
            OwnerKind::Deployment => "deployment",
            OwnerKind::StatefulSet => "statefulset",
            OwnerKind::ReplicaSet => "replicaset",
            OwnerKind::DaemonSet => "daemonset",
        }
    }
}

/// Which pods: every given criterion must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodSelector {
    /// Namespace (else the context's).
    pub namespace: Option<String>,
    /// Equality labels, ANDed.
    pub labels: BTreeMap<String, String>,
    /// A label selector in Kubernetes syntax (`app=web,tier in (a,b),!canary`).
    pub label_selector: Option<String>,
    /// A field selector in Kubernetes syntax (`status.phase=Running`).
    pub field_selector: Option<String>,
    /// The workload that owns them.
    pub owner: Option<(OwnerKind, String)>,
    /// The node they run on.
    pub node: Option<String>,
    /// One pod by name.
    pub name: Option<String>,
    /// Pods whose name matches this regex (chaosk8s's `name_pattern`).
    pub name_pattern: Option<String>,
}

const KEYS: &[&str] = &[
    "namespace",
    "labels",
    "label_selector",
    "field_selector",
    "owner",
    "node",
    "name",
    "name_pattern",
];

impl PodSelector {
    /// Parses `{namespace?, labels?, label_selector?, field_selector?, owner?, node?, name?,
    /// name_pattern?}`; problems are `(key, message)`.
    pub fn parse(v: &Value) -> Result<PodSelector, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let Some(map) = v.as_object() else {
            return Err(vec![(
                String::new(),
                "a pod selector must be a mapping, e.g. {\"namespace\": \"shop\", \"labels\": {\"app\": \"web\"}}".into(),
            )]);
        };
        let mut s = PodSelector::default();
        for (key, value) in map {
            let text = || value.as_str().map(str::to_string);
            let mut need_text = |slot: &mut Option<String>| match text() {
                Some(t) if !t.is_empty() => *slot = Some(t),
                _ => problems.push((key.clone(), "must be a non-empty string".to_string())),
            };
            match key.as_str() {
                "namespace" => need_text(&mut s.namespace),
                "label_selector" => need_text(&mut s.label_selector),
                "field_selector" => need_text(&mut s.field_selector),
                "node" => need_text(&mut s.node),
                "name" => need_text(&mut s.name),
                "name_pattern" => {
                    need_text(&mut s.name_pattern);
                    if let Some(p) = &s.name_pattern
                        && let Err(e) = regex::Regex::new(p)
                    {
                        problems.push((key.clone(), format!("invalid regex: {e}")));
                    }
                }
                "labels" => match value.as_object() {
                    Some(m) => {
                        for (k, v) in m {
                            match v {
                                Value::String(v) => {
                                    s.labels.insert(k.clone(), v.clone());
                                }
                                other => problems.push((
                                    format!("labels.{k}"),
                                    format!("label values are strings, not {other}"),
                                )),
                            }
                        }
                    }
                    None => problems.push((key.clone(), "must be a mapping of label to value".into())),
                },
                "owner" => match text().as_deref().and_then(|t| t.split_once('/')) {
                    Some((kind, name)) if !name.is_empty() => match OwnerKind::parse(kind) {
                        Some(kind) => s.owner = Some((kind, name.to_string())),
                        None => problems.push((
                            key.clone(),
                            format!("unknown owner kind {kind:?}; expected deployment, statefulset, replicaset or daemonset"),
                        )),
                    },
                    _ => problems.push((
                        key.clone(),
                        "must be KIND/NAME, e.g. \"deployment/web\"".to_string(),
                    )),
                },
                other => problems.push((
                    other.to_string(),
                    format!("unknown pod selector key {other:?}; expected {}", KEYS.join(", ")),
                )),
            }
        }
        if problems.is_empty() {
            Ok(s)
        } else {
            Err(problems)
        }
    }

    /// How messages name it: `pods labelled app=web in namespace shop`.
    pub fn describe(&self, namespace: &str) -> String {
        let mut parts = vec![format!("pods in namespace {namespace}")];
        if let Some(l) = self.label_selector() {
            parts.push(format!("labelled {l}"));
        }
        if let Some(f) = self.field_selector() {
            parts.push(format!("with {f}"));
        }
        if let Some((kind, name)) = &self.owner {
            parts.push(format!("owned by {}/{name}", kind.short()));
        }
        if let Some(p) = &self.name_pattern {
            parts.push(format!("named like /{p}/"));
        }
        parts.join(" ")
    }

    /// The label selector sent to the API (the `labels` and `label_selector`, ANDed).
    pub fn label_selector(&self) -> Option<String> {
        let mut parts: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.extend(self.label_selector.clone());
        (!parts.is_empty()).then(|| parts.join(","))
    }

    /// The field selector sent to the API (`name` and `node` become fields).
    pub fn field_selector(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(n) = &self.name {
            parts.push(format!("metadata.name={n}"));
        }
        if let Some(n) = &self.node {
            parts.push(format!("spec.nodeName={n}"));
        }
        parts.extend(self.field_selector.clone());
        (!parts.is_empty()).then(|| parts.join(","))
    }
}

/// One pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The node it is scheduled on (empty while Pending unscheduled).
    pub node: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    pub phase: String,
    /// Its `Ready` condition is `True`.
    pub ready: bool,
    /// Its controller, as `ReplicaSet/web-5d9c`.
    pub owner: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Its `status.conditions` as `{type, status}`.
    pub conditions: Vec<(String, String)>,
    /// Being deleted (a deletion timestamp is set): never a target, still counted by probes.
    pub terminating: bool,
}

impl PodInfo {
    /// The JSON recorded in the ledger and the journal.
    pub fn describe(&self) -> Value {
        json!({
            "kind": "k8s-pod",
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
            "node": self.node,
            "phase": self.phase,
            "owner": self.owner,
        })
    }

    fn of(p: Pod) -> PodInfo {
        let meta = p.metadata;
        let status = p.status.unwrap_or_default();
        let conditions: Vec<(String, String)> = status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.type_, c.status))
            .collect();
        PodInfo {
            terminating: meta.deletion_timestamp.is_some(),
            namespace: meta.namespace.unwrap_or_default(),
            name: meta.name.unwrap_or_default(),
            uid: meta.uid.unwrap_or_default(),
            node: p.spec.and_then(|s| s.node_name).unwrap_or_default(),
            phase: status.phase.unwrap_or_else(|| "Unknown".into()),
            ready: conditions.iter().any(|(t, s)| t == "Ready" && s == "True"),
            owner: meta
                .owner_references
                .unwrap_or_default()
                .into_iter()
                .find(|o| o.controller == Some(true))
                .map(|o| format!("{}/{}", o.kind, o.name)),
            labels: meta.labels.unwrap_or_default(),
            conditions,
        }
    }
}

/// The uids of the objects whose pods the owner stands for: a Deployment's ReplicaSets, or the
/// StatefulSet / ReplicaSet / DaemonSet itself.
async fn owner_uids(
    cluster: &Cluster,
    ns: &str,
    kind: OwnerKind,
    name: &str,
) -> Result<Vec<String>, K8sError> {
    let call = Call::namespaced("get", "apps", kind.resource(), ns, Some(name));
    let client = cluster.client.clone();
    let uid = match kind {
        OwnerKind::Deployment => Api::<Deployment>::namespaced(client, ns)
            .get(name)
            .await
            .map(|o| o.metadata.uid),
        OwnerKind::StatefulSet => Api::<StatefulSet>::namespaced(client, ns)
            .get(name)
            .await
            .map(|o| o.metadata.uid),
        OwnerKind::ReplicaSet => Api::<ReplicaSet>::namespaced(client, ns)
            .get(name)
            .await
            .map(|o| o.metadata.uid),
        OwnerKind::DaemonSet => Api::<DaemonSet>::namespaced(client, ns)
            .get(name)
            .await
            .map(|o| o.metadata.uid),
    }
    .map_err(|e| call.error(&cluster.server, e))?
    .unwrap_or_default();
    if kind != OwnerKind::Deployment {
        return Ok(vec![uid]);
    }
    let list_call = Call::namespaced("list", "apps", "replicasets", ns, None);
    let sets = Api::<ReplicaSet>::namespaced(cluster.client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(|e| list_call.error(&cluster.server, e))?;
    Ok(sets
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
        })
        .filter_map(|rs| rs.metadata.uid)
        .collect())
}

/// The namespace a selector reaches, unless that would be `kube-system` without naming it.
pub fn namespace_of(cluster: &Cluster, selector: &PodSelector) -> Result<String, K8sError> {
    let ns = cluster.namespace(selector.namespace.as_deref());
    if ns == KUBE_SYSTEM && selector.namespace.is_none() {
        return Err(K8sError::KubeSystem);
    }
    Ok(ns)
}

/// Every pod `selector` matches now (never a protected or terminating one), by name.
pub async fn find_pods(
    cluster: &Cluster,
    selector: &PodSelector,
) -> Result<Vec<PodInfo>, K8sError> {
    Ok(list_pods(cluster, selector)
        .await?
        .into_iter()
        .filter(|p| !p.terminating && protection(cluster, p).is_none())
        .collect())
}

/// Every pod `selector` matches now, protected or not, terminating or not (for probes that
/// count what is there), by name.
pub async fn list_pods(
    cluster: &Cluster,
    selector: &PodSelector,
) -> Result<Vec<PodInfo>, K8sError> {
    let ns = namespace_of(cluster, selector)?;
    let owners = match &selector.owner {
        Some((kind, name)) => Some(owner_uids(cluster, &ns, *kind, name).await?),
        None => None,
    };
    let mut params = ListParams::default();
    if let Some(l) = selector.label_selector() {
        params = params.labels(&l);
    }
    if let Some(f) = selector.field_selector() {
        params = params.fields(&f);
    }
    let call = Call::namespaced("list", "", "pods", &ns, None);
    let list = Api::<Pod>::namespaced(cluster.client.clone(), &ns)
        .list(&params)
        .await
        .map_err(|e| call.error(&cluster.server, e))?;
    let pattern = selector
        .name_pattern
        .as_deref()
        .and_then(|p| regex::Regex::new(p).ok());
    let mut pods: Vec<PodInfo> = list
        .items
        .into_iter()
        .filter(|p| {
            owners.as_ref().is_none_or(|uids| {
                p.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| uids.contains(&o.uid))
            })
        })
        .map(PodInfo::of)
        .filter(|p| pattern.as_ref().is_none_or(|re| re.is_match(&p.name)))
        .collect();
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pods)
}

/// Why a pod is never a target.
pub fn protection(cluster: &Cluster, p: &PodInfo) -> Option<&'static str> {
    if cluster
        .own_pod
        .as_ref()
        .is_some_and(|(ns, name)| *ns == p.namespace && *name == p.name)
    {
        Some("monkeywrench never targets the pod it runs in")
    } else if p
        .labels
        .get("monkeywrench.skip")
        .is_some_and(|v| v == "true")
    {
        Some("it is labelled monkeywrench.skip=true")
    } else {
        None
    }
}

/// The pods of a cluster as a target platform.
#[derive(Debug, Clone)]
pub struct Pods {
    pub cluster: Cluster,
}

impl Driver for Pods {
    type Selector = PodSelector;
    type Target = PodInfo;

    async fn find(&self, selector: &PodSelector) -> Result<Vec<PodInfo>, FindError> {
        Ok(find_pods(&self.cluster, selector).await?)
    }

    fn describe(p: &PodInfo) -> Value {
        p.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_say_what_they_send() {
        let s = PodSelector::parse(&json!({
            "namespace": "shop", "labels": {"app": "web"}, "label_selector": "tier!=db",
            "owner": "deployment/web", "node": "n1", "name_pattern": "^web-"
        }))
        .unwrap();
        assert_eq!(s.label_selector().as_deref(), Some("app=web,tier!=db"));
        assert_eq!(s.field_selector().as_deref(), Some("spec.nodeName=n1"));
        assert_eq!(s.owner, Some((OwnerKind::Deployment, "web".into())));
        assert_eq!(
            s.describe("shop"),
            "pods in namespace shop labelled app=web,tier!=db with spec.nodeName=n1 owned by deployment/web named like /^web-/"
        );
        let bad = PodSelector::parse(
            &json!({"owner": "job/x", "labels": {"a": 1}, "nmae": "x", "name_pattern": "("}),
        )
        .unwrap_err();
        let keys: Vec<&str> = bad.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys.len(), 4, "{bad:?}");
        assert!(keys.contains(&"owner") && keys.contains(&"labels.a") && keys.contains(&"nmae"));
        assert!(PodSelector::parse(&json!("app=web")).is_err());
    }
}
