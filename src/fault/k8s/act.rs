//! What a Kubernetes fault does to one victim, and what it records first.

use std::collections::BTreeMap;

use serde_json::json;

use super::Undo;
use crate::fault::{self, Act, Error, Origin, Plan};
use crate::target::k8s::network::{self, Directions};
use crate::target::k8s::pod_ops::{self, EvictError};
use crate::target::k8s::rollout;
use crate::target::k8s::workloads::{self, Scalable};
use crate::target::k8s::{Cluster, K8sError, PodInfo, nodes};

/// What happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete the pod (`grace`: seconds; `None`: the pod's own).
    Delete { grace: Option<u32> },
    /// Evict the pod through the Eviction API.
    Evict,
    /// Set the replica count; the lease restores the count it had.
    Scale { replicas: u64 },
    /// Put the previous revision's pod template on a Deployment (`kubectl rollout undo`); the
    /// lease puts back the template it had.
    Rollback,
    /// Create a NetworkPolicy denying `directions`; the lease deletes it.
    Deny {
        directions: Directions,
        name: String,
    },
    /// Mark a node unschedulable; the lease uncordons it.
    Cordon,
}

/// What a fault acts on, with the cluster it lives in.
#[derive(Debug, Clone)]
pub enum Victim {
    Pod {
        cluster: Cluster,
        pod: PodInfo,
    },
    Workload {
        cluster: Cluster,
        kind: Scalable,
        namespace: String,
        name: String,
    },
    /// The pods a NetworkPolicy selects.
    Pods {
        cluster: Cluster,
        namespace: String,
        labels: BTreeMap<String, String>,
        /// How many match now.
        pods: usize,
    },
    Node {
        cluster: Cluster,
        name: String,
    },
}

impl Victim {
    fn cluster(&self) -> &Cluster {
        match self {
            Victim::Pod { cluster, .. }
            | Victim::Workload { cluster, .. }
            | Victim::Pods { cluster, .. }
            | Victim::Node { cluster, .. } => cluster,
        }
    }

    fn what(&self) -> String {
        match self {
            Victim::Pod { pod, .. } => format!("pod {}/{}", pod.namespace, pod.name),
            Victim::Workload {
                kind,
                namespace,
                name,
                ..
            } => format!("{} in namespace {namespace}", kind.show(name)),
            Victim::Pods { namespace, .. } => format!("the pods of namespace {namespace}"),
            Victim::Node { name, .. } => format!("node {name}"),
        }
    }
}

fn k8s_error(what: String, e: K8sError) -> Error {
    match e {
        K8sError::NotFound(object) => Error::Gone(format!("{object} is gone")),
        other if other.is_unavailable() => Error::unavailable(what, other),
        other => Error::failed(what, other),
    }
}

fn mismatch(victim: &Victim) -> Error {
    Error::failed(victim.what(), "this Kubernetes fault does not apply to it")
}

/// What the plan hands the apply.
#[derive(Debug, Clone)]
pub enum Planned {
    Nothing,
    /// The NetworkPolicy's token.
    Token(String),
    /// The pod template a rollback puts on the Deployment.
    Template(serde_json::Value),
}

impl Act for Action {
    type Victim = Victim;
    type Planned = Planned;

    async fn plan(&self, victim: &Victim, _: &Origin) -> Result<(Plan, Planned), Error> {
        let cluster = victim.cluster();
        let context = json!(cluster.resolved.context);
        let plan = |target: serde_json::Value, undo| Plan {
            target,
            undo,
            settles_within: None,
        };
        Ok(match (self, victim) {
            (Action::Delete { .. } | Action::Evict, Victim::Pod { pod, .. }) => {
                let mut target = pod.describe();
                target["context"] = context;
                (plan(target, fault::Undo::NOTHING), Planned::Nothing)
            }
            (
                Action::Scale { replicas },
                Victim::Workload {
                    kind,
                    namespace,
                    name,
                    ..
                },
            ) => {
                let before = workloads::replicas(cluster, *kind, namespace, name)
                    .await
                    .map_err(|e| k8s_error(victim.what(), e))?;
                let mut target = json!({
                    "kind": format!("k8s-{}", kind.kind().to_ascii_lowercase()),
                    "namespace": namespace,
                    "name": name,
                    "replicas": before,
                    "scaled_to": replicas,
                    "context": context,
                });
                if let Some(hpa) = workloads::autoscaler(cluster, *kind, namespace, name).await {
                    target["warning"] = json!(format!(
                        "HorizontalPodAutoscaler {hpa} scales {}: it will fight this fault",
                        kind.show(name)
                    ));
                }
                let undo = Undo::Scale {
                    cluster: cluster.resolved.clone(),
                    workload: *kind,
                    namespace: namespace.clone(),
                    name: name.clone(),
                    replicas: before,
                };
                (plan(target, fault::Undo::K8s(undo)), Planned::Nothing)
            }
            (
                Action::Rollback,
                Victim::Workload {
                    kind: Scalable::Deployment,
                    namespace,
                    name,
                    ..
                },
            ) => {
                let Some(step) = rollout::previous(cluster, namespace, name)
                    .await
                    .map_err(|e| k8s_error(victim.what(), e))?
                else {
                    return Err(Error::failed(
                        victim.what(),
                        "it has no earlier revision to roll back to",
                    ));
                };
                let target = json!({
                    "kind": "k8s-deployment",
                    "namespace": namespace,
                    "name": name,
                    "from_revision": step.from_revision,
                    "to_revision": step.to_revision,
                    "context": context,
                });
                let undo = Undo::Template {
                    cluster: cluster.resolved.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                    template: step.current,
                };
                (
                    plan(target, fault::Undo::K8s(undo)),
                    Planned::Template(step.previous),
                )
            }
            (
                Action::Deny { directions, name },
                Victim::Pods {
                    namespace,
                    labels,
                    pods,
                    ..
                },
            ) => {
                if network::current(cluster, namespace, name)
                    .await
                    .map_err(|e| k8s_error(victim.what(), e))?
                    .is_some()
                {
                    return Err(Error::failed(
                        format!("networkpolicy {name} in namespace {namespace}"),
                        "it exists already; give the fault another name",
                    ));
                }
                let token = uuid::Uuid::new_v4().simple().to_string();
                let target = json!({
                    "kind": "k8s-network-policy",
                    "namespace": namespace,
                    "name": name,
                    "pod_selector": labels,
                    "pods": pods,
                    "ingress": directions.ingress,
                    "egress": directions.egress,
                    "context": context,
                });
                let undo = Undo::DeleteNetworkPolicy {
                    cluster: cluster.resolved.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                    token: token.clone(),
                };
                (plan(target, fault::Undo::K8s(undo)), Planned::Token(token))
            }
            (Action::Cordon, Victim::Node { name, .. }) => {
                if nodes::is_cordoned(cluster, name)
                    .await
                    .map_err(|e| k8s_error(victim.what(), e))?
                {
                    return Err(Error::failed(
                        format!("node {name}"),
                        "it is cordoned already (uncordoning it on revert would change more than the fault did)",
                    ));
                }
                let target = json!({"kind": "k8s-node", "name": name, "context": context});
                let undo = Undo::UncordonNode {
                    cluster: cluster.resolved.clone(),
                    node: name.clone(),
                };
                (plan(target, fault::Undo::K8s(undo)), Planned::Nothing)
            }
            (
                Action::Delete { .. }
                | Action::Evict
                | Action::Scale { .. }
                | Action::Rollback
                | Action::Deny { .. }
                | Action::Cordon,
                _,
            ) => return Err(mismatch(victim)),
        })
    }

    async fn apply(self, victim: Victim, planned: Planned) -> Result<(), Error> {
        let what = victim.what();
        match (&self, &victim) {
            (Action::Delete { grace }, Victim::Pod { cluster, pod }) => {
                pod_ops::delete(cluster, pod, *grace)
                    .await
                    .map_err(|e| k8s_error(what, e))
            }
            (Action::Evict, Victim::Pod { cluster, pod }) => {
                match pod_ops::evict(cluster, pod).await {
                    Ok(()) => Ok(()),
                    Err(EvictError::Budget(message)) => Err(Error::failed(
                        what,
                        format!("a PodDisruptionBudget refuses the eviction: {message}"),
                    )),
                    Err(EvictError::Other(e)) => Err(k8s_error(what, e)),
                }
            }
            (
                Action::Scale { replicas },
                Victim::Workload {
                    cluster,
                    kind,
                    namespace,
                    name,
                },
            ) => workloads::scale(cluster, *kind, namespace, name, *replicas)
                .await
                .map_err(|e| k8s_error(what, e)),
            (
                Action::Deny { directions, name },
                Victim::Pods {
                    cluster,
                    namespace,
                    labels,
                    ..
                },
            ) => {
                let Planned::Token(token) = &planned else {
                    return Err(mismatch(&victim));
                };
                network::deny(cluster, namespace, name, labels, *directions, token)
                    .await
                    .map(|_| ())
                    .map_err(|e| k8s_error(what, e))
            }
            (
                Action::Rollback,
                Victim::Workload {
                    cluster,
                    kind: Scalable::Deployment,
                    namespace,
                    name,
                },
            ) => {
                let Planned::Template(template) = &planned else {
                    return Err(mismatch(&victim));
                };
                rollout::set_template(cluster, namespace, name, template)
                    .await
                    .map_err(|e| k8s_error(what, e))
            }
            (Action::Cordon, Victim::Node { cluster, name }) => {
                nodes::set_cordoned(cluster, name, true)
                    .await
                    .map_err(|e| k8s_error(what, e))
            }
            (
                Action::Delete { .. }
                | Action::Evict
                | Action::Scale { .. }
                | Action::Rollback
                | Action::Deny { .. }
                | Action::Cordon,
                _,
            ) => Err(mismatch(&victim)),
        }
    }
}
