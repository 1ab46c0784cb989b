//! NetworkPolicies that cut selected pods off: one policy selecting the pods by label, with the
//! chosen policy types and no rule, denies all traffic of those types (the network plugin must
//! enforce NetworkPolicies for it to take effect).

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, DeleteParams, PostParams};

use super::cluster::Cluster;
use super::error::{Call, K8sError};

/// The label on every policy monkeywrench creates (so a person can find them).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "monkeywrench");

/// The label holding the lease's token: a revert deletes a policy only when it carries the
/// token its lease recorded, never another one that has (or took) the same name.
pub const TOKEN_LABEL: &str = "monkeywrench.io/token";

/// Which traffic is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directions {
    pub ingress: bool,
    pub egress: bool,
}

impl Directions {
    fn policy_types(self) -> Vec<String> {
        let mut t = Vec::new();
        if self.ingress {
            t.push("Ingress".to_string());
        }
        if self.egress {
            t.push("Egress".to_string());
        }
        t
    }
}

/// Creates a policy `name` in `ns` denying `directions` for the pods labelled `labels` (all pods
/// of the namespace when empty), labelled with `token`; returns its uid.
pub async fn deny(
    cluster: &Cluster,
    ns: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    directions: Directions,
    token: &str,
) -> Result<String, K8sError> {
    let call = Call::namespaced(
        "create",
        "networking.k8s.io",
        "networkpolicies",
        ns,
        Some(name),
    );
    let policy = NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
                (TOKEN_LABEL.to_string(), token.to_string()),
            ])),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: (!labels.is_empty()).then(|| labels.clone()),
                match_expressions: None,
            }),
            policy_types: Some(directions.policy_types()),
            ingress: directions.ingress.then(Vec::new),
            egress: directions.egress.then(Vec::new),
        }),
    };
    let created = Api::<NetworkPolicy>::namespaced(cluster.client.clone(), ns)
        .create(&PostParams::default(), &policy)
        .await
        .map_err(|e| call.error(&cluster.server, e))?;
    Ok(created.metadata.uid.unwrap_or_default())
}

/// A policy as it is now: its uid and token label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub uid: String,
    pub token: Option<String>,
}

/// The policy `name` now, if there is one.
pub async fn current(
    cluster: &Cluster,
    ns: &str,
    name: &str,
) -> Result<Option<Existing>, K8sError> {
    let call = Call::namespaced(
        "get",
        "networking.k8s.io",
        "networkpolicies",
        ns,
        Some(name),
    );
    Api::<NetworkPolicy>::namespaced(cluster.client.clone(), ns)
        .get_opt(name)
        .await
        .map(|p| {
            p.map(|p| Existing {
                uid: p.metadata.uid.unwrap_or_default(),
                token: p.metadata.labels.and_then(|mut l| l.remove(TOKEN_LABEL)),
            })
        })
        .map_err(|e| call.error(&cluster.server, e))
}

/// Deletes the policy with this uid; `Ok(false)` when it was gone already.
pub async fn remove(cluster: &Cluster, ns: &str, name: &str, uid: &str) -> Result<bool, K8sError> {
    let call = Call::namespaced(
        "delete",
        "networking.k8s.io",
        "networkpolicies",
        ns,
        Some(name),
    );
    let params = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match Api::<NetworkPolicy>::namespaced(cluster.client.clone(), ns)
        .delete(name, &params)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(call.error(&cluster.server, e)),
    }
}
