//! What is done to one pod: delete it (with a grace period, or the pod's own), evict it through
//! the Eviction API (which honours PodDisruptionBudgets), read its logs, and look it up by uid.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, EvictParams, LogParams};

use super::cluster::Cluster;
use super::error::{Call, K8sError};
use super::pods::PodInfo;

/// Deletes the pod (`grace`: seconds, else the pod's own terminationGracePeriodSeconds). The
/// delete is bound to the pod's uid, so a replacement that took its name is never hit.
pub async fn delete(cluster: &Cluster, pod: &PodInfo, grace: Option<u32>) -> Result<(), K8sError> {
    let call = Call::namespaced("delete", "", "pods", &pod.namespace, Some(&pod.name));
    let mut params = DeleteParams::default();
    if let Some(g) = grace {
        params = params.grace_period(g);
    }
    params.preconditions = Some(kube::api::Preconditions {
        uid: Some(pod.uid.clone()),
        resource_version: None,
    });
    Api::<Pod>::namespaced(cluster.client.clone(), &pod.namespace)
        .delete(&pod.name, &params)
        .await
        .map(|_| ())
        .map_err(|e| call.error(&cluster.server, e))
}

/// Why an eviction was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvictError {
    /// 429: a PodDisruptionBudget allows no disruption now.
    Budget(String),
    Other(K8sError),
}

/// Evicts the pod (the API checks its PodDisruptionBudgets first).
pub async fn evict(cluster: &Cluster, pod: &PodInfo) -> Result<(), EvictError> {
    let call = Call::namespaced(
        "create",
        "",
        "pods/eviction",
        &pod.namespace,
        Some(&pod.name),
    );
    let params = EvictParams {
        delete_options: Some(DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: Some(pod.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    match Api::<Pod>::namespaced(cluster.client.clone(), &pod.namespace)
        .evict(&pod.name, &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 429 => {
            Err(EvictError::Budget(status.message.clone()))
        }
        Err(e) => Err(EvictError::Other(call.error(&cluster.server, e))),
    }
}

/// The pod with this name now, if there is one (`None`: gone).
pub async fn get(cluster: &Cluster, ns: &str, name: &str) -> Result<Option<Pod>, K8sError> {
    let call = Call::namespaced("get", "", "pods", ns, Some(name));
    Api::<Pod>::namespaced(cluster.client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| call.error(&cluster.server, e))
}

/// Which log lines.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// The container (else the pod's only one).
    pub container: Option<String>,
    /// The last N lines.
    pub tail: Option<i64>,
    /// Only the last N seconds.
    pub since_seconds: Option<i64>,
    /// The previous container's log.
    pub previous: bool,
    /// Each line prefixed with its time.
    pub timestamps: bool,
}

/// A pod's log.
pub async fn logs(
    cluster: &Cluster,
    pod: &PodInfo,
    options: &LogOptions,
) -> Result<String, K8sError> {
    let call = Call::namespaced("get", "", "pods/log", &pod.namespace, Some(&pod.name));
    let params = LogParams {
        container: options.container.clone(),
        tail_lines: options.tail,
        since_seconds: options.since_seconds,
        previous: options.previous,
        timestamps: options.timestamps,
        ..Default::default()
    };
    Api::<Pod>::namespaced(cluster.client.clone(), &pod.namespace)
        .logs(&pod.name, &params)
        .await
        .map_err(|e| call.error(&cluster.server, e))
}
