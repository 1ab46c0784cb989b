//! Nodes: cordon (mark unschedulable, as `kubectl cordon` does) and uncordon, and read back
//! whether a node is schedulable.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::cluster::Cluster;
use super::error::{Call, K8sError};

/// Whether the node is cordoned (`spec.unschedulable`).
pub async fn is_cordoned(cluster: &Cluster, name: &str) -> Result<bool, K8sError> {
    let call = Call::cluster("get", "", "nodes", name);
    let node = Api::<Node>::all(cluster.client.clone())
        .get(name)
        .await
        .map_err(|e| call.error(&cluster.server, e))?;
    Ok(node.spec.and_then(|s| s.unschedulable).unwrap_or(false))
}

/// Sets `spec.unschedulable` (a merge patch, as kubectl sends).
pub async fn set_cordoned(cluster: &Cluster, name: &str, cordoned: bool) -> Result<(), K8sError> {
    let call = Call::cluster("patch", "", "nodes", name);
    let patch = Patch::Merge(json!({"spec": {"unschedulable": cordoned}}));
    Api::<Node>::all(cluster.client.clone())
        .patch(name, &PatchParams::default(), &patch)
        .await
        .map(|_| ())
        .map_err(|e| call.error(&cluster.server, e))
}
