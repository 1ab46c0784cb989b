//! Undoing a Kubernetes fault, each checked against the cluster: the recorded replica count read
//! back from the scale subresource, the NetworkPolicy seen gone, the node seen schedulable. The
//! recipe carries the kubeconfig and context that were used, so the guard reverts on the same
//! cluster whatever its own environment.

use serde::{Deserialize, Serialize};

use crate::ledger::UndoAttempt;
use crate::target::k8s::workloads::{self, Scalable};
use crate::target::k8s::{Cluster, ClusterRef, K8sError, nodes};
use crate::target::k8s::{network, rollout};

/// How to undo a Kubernetes fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// Scale a Deployment or StatefulSet back to the count it had.
    #[serde(rename = "k8s-scale")]
    Scale {
        cluster: ClusterRef,
        workload: Scalable,
        namespace: String,
        name: String,
        /// Replicas before the fault.
        replicas: u64,
    },
    /// Delete the NetworkPolicy the fault created (only the one carrying `token`).
    #[serde(rename = "k8s-delete-network-policy")]
    DeleteNetworkPolicy {
        cluster: ClusterRef,
        namespace: String,
        name: String,
        token: String,
    },
    /// Put back the pod template a Deployment had before a rollback.
    #[serde(rename = "k8s-deployment-template")]
    Template {
        cluster: ClusterRef,
        namespace: String,
        name: String,
        template: serde_json::Value,
    },
    /// Uncordon the node.
    #[serde(rename = "k8s-uncordon-node")]
    UncordonNode { cluster: ClusterRef, node: String },
}

fn not_yet(e: K8sError) -> UndoAttempt {
    UndoAttempt::NotYet(e.to_string())
}

impl Undo {
    /// Undoes once, then reads the cluster back.
    pub async fn undo(&self) -> UndoAttempt {
        let cluster = match self {
            Undo::Scale { cluster, .. }
            | Undo::DeleteNetworkPolicy { cluster, .. }
            | Undo::Template { cluster, .. }
            | Undo::UncordonNode { cluster, .. } => cluster,
        };
        let cluster = match Cluster::connect(cluster).await {
            Ok(c) => c,
            Err(e) => return not_yet(e),
        };
        match self {
            Undo::Scale {
                workload,
                namespace,
                name,
                replicas,
                ..
            } => restore_scale(&cluster, *workload, namespace, name, *replicas).await,
            Undo::DeleteNetworkPolicy {
                namespace,
                name,
                token,
                ..
            } => delete_policy(&cluster, namespace, name, token).await,
            Undo::Template {
                namespace,
                name,
                template,
                ..
            } => restore_template(&cluster, namespace, name, template).await,
            Undo::UncordonNode { node, .. } => {
                // Read first: a cordon whose apply was refused left nothing to undo (and the
                // patch may be refused too).
                let checked = async {
                    if !nodes::is_cordoned(&cluster, node).await? {
                        return Ok(false);
                    }
                    nodes::set_cordoned(&cluster, node, false).await?;
                    nodes::is_cordoned(&cluster, node).await
                };
                match checked.await {
                    Ok(false) => UndoAttempt::Verified,
                    Ok(true) => UndoAttempt::NotYet(format!("node {node} is still cordoned")),
                    Err(K8sError::NotFound(_)) => UndoAttempt::Gone,
                    Err(e) => not_yet(e),
                }
            }
        }
    }
}

async fn restore_scale(
    cluster: &Cluster,
    kind: Scalable,
    ns: &str,
    name: &str,
    replicas: u64,
) -> UndoAttempt {
    // Read first: a scale whose apply was refused left nothing to undo.
    let checked = async {
        if workloads::replicas(cluster, kind, ns, name).await? == replicas {
            return Ok(replicas);
        }
        workloads::scale(cluster, kind, ns, name, replicas).await?;
        workloads::replicas(cluster, kind, ns, name).await
    };
    match checked.await {
        Ok(now) if now == replicas => UndoAttempt::Verified,
        Ok(now) => UndoAttempt::NotYet(format!(
            "{} in namespace {ns} wants {now} replicas after the revert, not {replicas}",
            kind.show(name)
        )),
        Err(K8sError::NotFound(_)) => UndoAttempt::Gone,
        Err(e) => not_yet(e),
    }
}

async fn restore_template(
    cluster: &Cluster,
    ns: &str,
    name: &str,
    template: &serde_json::Value,
) -> UndoAttempt {
    // Read first: a rollback whose apply was refused left nothing to undo.
    let checked = async {
        if rollout::template(cluster, ns, name).await? == *template {
            return Ok(true);
        }
        rollout::set_template(cluster, ns, name, template).await?;
        Ok(rollout::template(cluster, ns, name).await? == *template)
    };
    match checked.await {
        Ok(true) => UndoAttempt::Verified,
        Ok(false) => UndoAttempt::NotYet(format!(
            "deployment/{name} in namespace {ns} does not have its former pod template after the revert"
        )),
        Err(K8sError::NotFound(_)) => UndoAttempt::Gone,
        Err(e) => not_yet(e),
    }
}

async fn delete_policy(cluster: &Cluster, ns: &str, name: &str, token: &str) -> UndoAttempt {
    let existing = match network::current(cluster, ns, name).await {
        Ok(e) => e,
        Err(e) => return not_yet(e),
    };
    match existing {
        // Never created (the apply failed) or deleted already: the partition is over.
        None => UndoAttempt::Verified,
        // Another policy of that name (the create lost a race): not ours to delete.
        Some(p) if p.token.as_deref() != Some(token) => UndoAttempt::Gone,
        Some(p) => match network::remove(cluster, ns, name, &p.uid).await {
            Err(e) => not_yet(e),
            Ok(_) => match network::current(cluster, ns, name).await {
                Ok(None) => UndoAttempt::Verified,
                Ok(Some(still)) if still.uid == p.uid => UndoAttempt::NotYet(format!(
                    "networkpolicy {name} in namespace {ns} is still there after its delete"
                )),
                Ok(Some(_)) => UndoAttempt::Verified,
                Err(e) => not_yet(e),
            },
        },
    }
}
