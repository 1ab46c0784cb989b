//! Deployments and StatefulSets: their replica count through the `scale` subresource (what
//! `kubectl scale` uses), the HorizontalPodAutoscaler that may own that count, and a
//! Deployment's rollout status.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::cluster::Cluster;
use super::error::{Call, K8sError};
use super::pods::OwnerKind;

/// A workload with a `scale` subresource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scalable {
    Deployment,
    StatefulSet,
}

impl Scalable {
    /// As the API names it (`Deployment`), as HPAs refer to it.
    pub fn kind(self) -> &'static str {
        match self {
            Scalable::Deployment => "Deployment",
            Scalable::StatefulSet => "StatefulSet",
        }
    }

    /// Its scale subresource, as RBAC names it.
    fn scale_resource(self) -> &'static str {
        match self {
            Scalable::Deployment => "deployments/scale",
            Scalable::StatefulSet => "statefulsets/scale",
        }
    }

    /// As `kubectl` writes it: `deployment/web`.
    pub fn show(self, name: &str) -> String {
        format!("{}/{name}", self.kind().to_ascii_lowercase())
    }
}

/// The replica count a workload asks for (`spec.replicas` of its scale).
pub async fn replicas(
    cluster: &Cluster,
    kind: Scalable,
    ns: &str,
    name: &str,
) -> Result<u64, K8sError> {
    let call = Call::namespaced("get", "apps", kind.scale_resource(), ns, Some(name));
    let client = cluster.client.clone();
    let scale = match kind {
        Scalable::Deployment => {
            Api::<Deployment>::namespaced(client, ns)
                .get_scale(name)
                .await
        }
        Scalable::StatefulSet => {
            Api::<StatefulSet>::namespaced(client, ns)
                .get_scale(name)
                .await
        }
    }
    .map_err(|e| call.error(&cluster.server, e))?;
    Ok(scale.spec.and_then(|s| s.replicas).unwrap_or(0).max(0) as u64)
}

/// Sets the replica count through the scale subresource.
pub async fn scale(
    cluster: &Cluster,
    kind: Scalable,
    ns: &str,
    name: &str,
    replicas: u64,
) -> Result<(), K8sError> {
    let call = Call::namespaced("patch", "apps", kind.scale_resource(), ns, Some(name));
    let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
    let params = PatchParams::default();
    let client = cluster.client.clone();
    match kind {
        Scalable::Deployment => Api::<Deployment>::namespaced(client, ns)
            .patch_scale(name, &params, &patch)
            .await
            .map(|_| ()),
        Scalable::StatefulSet => Api::<StatefulSet>::namespaced(client, ns)
            .patch_scale(name, &params, &patch)
            .await
            .map(|_| ()),
    }
    .map_err(|e| call.error(&cluster.server, e))
}

/// The HorizontalPodAutoscaler that scales this workload, if one does (and we may list them).
pub async fn autoscaler(cluster: &Cluster, kind: Scalable, ns: &str, name: &str) -> Option<String> {
    let list = Api::<HorizontalPodAutoscaler>::namespaced(cluster.client.clone(), ns)
        .list(&ListParams::default())
        .await
        .ok()?;
    list.items
        .into_iter()
        .find(|h| {
            h.spec.as_ref().is_some_and(|s| {
                s.scale_target_ref.kind == kind.kind() && s.scale_target_ref.name == name
            })
        })
        .and_then(|h| h.metadata.name)
}

/// A Deployment's rollout: `{name, namespace, desired, ready, available, updated, unavailable,
/// observed, healthy, conditions: [{type, status, reason, message}]}`.
pub async fn deployment_status(cluster: &Cluster, ns: &str, name: &str) -> Result<Value, K8sError> {
    let call = Call::namespaced("get", "apps", "deployments", ns, Some(name));
    let d = Api::<Deployment>::namespaced(cluster.client.clone(), ns)
        .get(name)
        .await
        .map_err(|e| call.error(&cluster.server, e))?;
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0);
    let status = d.status.unwrap_or_default();
    let count = |v: Option<i32>| v.unwrap_or(0).max(0);
    let (ready, available, updated) = (
        count(status.ready_replicas),
        count(status.available_replicas),
        count(status.updated_replicas),
    );
    // The controller has seen the latest spec: its figures describe it.
    let observed = status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
    let conditions: Vec<Value> = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .map(|c| json!({"type": c.type_, "status": c.status, "reason": c.reason, "message": c.message}))
        .collect();
    Ok(json!({
        "name": name,
        "namespace": ns,
        "desired": desired,
        "ready": ready,
        "available": available,
        "updated": updated,
        "unavailable": count(status.unavailable_replicas),
        "observed": observed,
        "healthy": observed && available >= desired && updated >= desired,
        "conditions": conditions,
    }))
}

/// A workload whose pods a controller replaces (what the monkey opts in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub kind: OwnerKind,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// The Deployments, StatefulSets and DaemonSets of `namespace` (`None`: every namespace) that
/// `wanted` accepts by their labels.
pub async fn labelled(
    cluster: &Cluster,
    namespace: Option<&str>,
    wanted: impl Fn(&BTreeMap<String, String>) -> bool,
) -> Result<Vec<Workload>, K8sError> {
    fn api<K>(cluster: &Cluster, namespace: Option<&str>) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        match namespace {
            Some(ns) => Api::namespaced(cluster.client.clone(), ns),
            None => Api::all(cluster.client.clone()),
        }
    }
    let call = |resource: &'static str| match namespace {
        Some(ns) => Call::namespaced("list", "apps", resource, ns, None),
        None => Call {
            verb: "list",
            resource,
            group: "apps",
            namespace: None,
            name: None,
        },
    };
    let params = ListParams::default();
    let mut metas = Vec::new();
    let deployments = api::<Deployment>(cluster, namespace)
        .list(&params)
        .await
        .map_err(|e| call("deployments").error(&cluster.server, e))?;
    metas.extend(
        deployments
            .items
            .into_iter()
            .map(|d| (OwnerKind::Deployment, d.metadata)),
    );
    let sets = api::<StatefulSet>(cluster, namespace)
        .list(&params)
        .await
        .map_err(|e| call("statefulsets").error(&cluster.server, e))?;
    metas.extend(
        sets.items
            .into_iter()
            .map(|d| (OwnerKind::StatefulSet, d.metadata)),
    );
    let daemons = api::<DaemonSet>(cluster, namespace)
        .list(&params)
        .await
        .map_err(|e| call("daemonsets").error(&cluster.server, e))?;
    metas.extend(
        daemons
            .items
            .into_iter()
            .map(|d| (OwnerKind::DaemonSet, d.metadata)),
    );
    let mut found: Vec<Workload> = metas
        .into_iter()
        .map(|(kind, m)| Workload {
            kind,
            namespace: m.namespace.unwrap_or_default(),
            name: m.name.unwrap_or_default(),
            labels: m.labels.unwrap_or_default(),
        })
        .filter(|w| wanted(&w.labels))
        .collect();
    found.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(found)
}
