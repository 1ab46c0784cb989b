//! A Deployment's revisions as `kubectl rollout undo` reads them: its ReplicaSets, each with the
//! `deployment.kubernetes.io/revision` annotation and the pod template of that revision.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Map, Value};

use super::cluster::Cluster;
use super::error::{Call, K8sError};

const REVISION: &str = "deployment.kubernetes.io/revision";
/// The label the Deployment controller adds to each ReplicaSet's template (never ours to set).
const TEMPLATE_HASH: &str = "pod-template-hash";

/// The step `rollout undo` would take.
#[derive(Debug, Clone, PartialEq)]
pub struct Undo {
    /// The template the Deployment has now.
    pub current: Value,
    /// The template of the revision before it.
    pub previous: Value,
    pub from_revision: u64,
    pub to_revision: u64,
}

/// The Deployment's pod template as it is now.
pub async fn template(cluster: &Cluster, ns: &str, name: &str) -> Result<Value, K8sError> {
    let call = Call::namespaced("get", "apps", "deployments", ns, Some(name));
    let d = Api::<Deployment>::namespaced(cluster.client.clone(), ns)
        .get(name)
        .await
        .map_err(|e| call.error(&cluster.server, e))?;
    Ok(serde_json::to_value(d.spec.map(|s| s.template)).unwrap_or(Value::Null))
}

/// The current revision and the one before it; `None` when there is no earlier revision.
pub async fn previous(cluster: &Cluster, ns: &str, name: &str) -> Result<Option<Undo>, K8sError> {
    let get = Call::namespaced("get", "apps", "deployments", ns, Some(name));
    let d = Api::<Deployment>::namespaced(cluster.client.clone(), ns)
        .get(name)
        .await
        .map_err(|e| get.error(&cluster.server, e))?;
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let current = serde_json::to_value(d.spec.map(|s| s.template)).unwrap_or(Value::Null);
    let list = Call::namespaced("list", "apps", "replicasets", ns, None);
    let sets = Api::<ReplicaSet>::namespaced(cluster.client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(|e| list.error(&cluster.server, e))?;
    let mut revisions: Vec<(u64, Value)> = sets
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
        .filter_map(|rs| {
            let revision = rs
                .metadata
                .annotations
                .as_ref()?
                .get(REVISION)?
                .parse()
                .ok()?;
            let template = serde_json::to_value(rs.spec?.template?).ok()?;
            Some((revision, without_hash(template)))
        })
        .collect();
    revisions.sort_by_key(|(r, _)| std::cmp::Reverse(*r));
    // The current revision is the one whose template the Deployment has; `rollout undo` goes to
    // the newest revision older than it.
    let Some(at) = revisions.iter().position(|(_, t)| *t == current) else {
        return Ok(None);
    };
    Ok(revisions.get(at + 1).map(|(to, previous)| Undo {
        current: current.clone(),
        previous: previous.clone(),
        from_revision: revisions[at].0,
        to_revision: *to,
    }))
}

/// Puts `template` on the Deployment (a merge patch that also removes what `template` lacks).
pub async fn set_template(
    cluster: &Cluster,
    ns: &str,
    name: &str,
    template: &Value,
) -> Result<(), K8sError> {
    let call = Call::namespaced("patch", "apps", "deployments", ns, Some(name));
    let now = self::template(cluster, ns, name).await?;
    let mut patch = Map::new();
    patch.insert(
        "spec".into(),
        Value::Object(Map::from_iter([(
            "template".to_string(),
            merge_diff(&now, template),
        )])),
    );
    Api::<Deployment>::namespaced(cluster.client.clone(), ns)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(Value::Object(patch)),
        )
        .await
        .map(|_| ())
        .map_err(|e| call.error(&cluster.server, e))
}

fn without_hash(mut template: Value) -> Value {
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(TEMPLATE_HASH);
    }
    template
}

/// The JSON merge patch (RFC 7386) that turns `from` into `to`.
fn merge_diff(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut patch = Map::new();
            for (k, v) in b {
                match a.get(k) {
                    Some(old) if old == v => {}
                    Some(old) => {
                        patch.insert(k.clone(), merge_diff(old, v));
                    }
                    None => {
                        patch.insert(k.clone(), v.clone());
                    }
                }
            }
            for k in a.keys().filter(|k| !b.contains_key(*k)) {
                patch.insert(k.clone(), Value::Null);
            }
            Value::Object(patch)
        }
        _ => to.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_merge_patch_sets_changes_and_removes_what_the_target_lacks() {
        let from = json!({"metadata": {"labels": {"app": "web", "v": "2"}},
                          "spec": {"containers": [{"name": "app", "image": "nginx:2"}]}});
        let to = json!({"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}});
        assert_eq!(
            merge_diff(&from, &to),
            json!({"metadata": {"labels": {"v": null}},
                   "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}})
        );
        assert_eq!(merge_diff(&to, &to), json!({}));
    }
}
