//! Undo recipes: one variant per family, stored as JSON in the ledger before the fault is applied
//! (the shapes are those earlier versions stored, so their leases still revert), and the
//! [`Reverter`] the ledger calls to undo one and check the world.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{container, k8s, owned, process, proxy, stress, swarm};
use crate::ledger::{UndoAttempt, UndoFuture, Undoer};

/// How to undo a fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Undo {
    /// Nothing can undo it (a SIGKILL, a restart).
    Irreversible(Irreversible),
    /// A process family recipe.
    Process(process::Undo),
    /// Owner-bound work to stop.
    Owned(owned::Undo),
    /// A container family recipe.
    Container(container::Undo),
    /// A Swarm family recipe.
    Swarm(swarm::Undo),
    /// A proxy family recipe.
    Proxy(proxy::Undo),
    /// A stress family recipe.
    Stress(stress::Undo),
    /// A Kubernetes family recipe.
    K8s(k8s::Undo),
}

/// The recipe of an irreversible fault: `{"kind": "irreversible"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Irreversible {
    /// Nothing to undo.
    Irreversible,
}

impl Undo {
    /// The recipe of an irreversible fault.
    pub const NOTHING: Undo = Undo::Irreversible(Irreversible::Irreversible);

    /// Whether there is anything to undo.
    pub fn is_reversible(&self) -> bool {
        !matches!(self, Undo::Irreversible(_))
    }

    /// The recipe as the ledger stores it.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Undoes once and checks the target's real state.
    pub async fn undo(&self) -> UndoAttempt {
        match self {
            Undo::Irreversible(_) => UndoAttempt::Nothing,
            Undo::Process(u) => u.undo().await,
            Undo::Owned(u) => u.undo().await,
            Undo::Container(u) => u.undo().await,
            Undo::Swarm(u) => u.undo().await,
            Undo::Proxy(u) => u.undo().await,
            Undo::Stress(u) => u.undo().await,
            Undo::K8s(u) => u.undo().await,
        }
    }
}

/// The families' undoer, as the ledger calls it.
#[derive(Debug, Default)]
pub struct Reverter;

/// The undoer every ledger of monkeywrench uses.
pub fn reverter() -> Arc<dyn Undoer> {
    Arc::new(Reverter)
}

impl Undoer for Reverter {
    fn is_reversible(&self, recipe: &Value) -> bool {
        // A recipe this version cannot read is treated as reversible: its revert then fails
        // visibly (revert-failed) instead of the lease being closed as if nothing were left.
        serde_json::from_value::<Undo>(recipe.clone()).map_or(true, |u| u.is_reversible())
    }

    fn undo<'a>(&'a self, recipe: &'a Value) -> UndoFuture<'a> {
        Box::pin(async move {
            match serde_json::from_value::<Undo>(recipe.clone()) {
                Ok(undo) => undo.undo().await,
                Err(e) => UndoAttempt::NotYet(format!("read the undo recipe {recipe}: {e}")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recipes_keep_the_stored_shapes_of_earlier_versions() {
        let stored = [
            json!({"kind": "irreversible"}),
            json!({"kind": "signal", "process": {"pid": 42, "start_time": 7}, "signal": "SIGCONT"}),
            json!({"kind": "remove-toxic", "api": "http://127.0.0.1:8474", "proxy": "p", "toxic": "t"}),
            json!({"kind": "enable-proxy", "api": "http://127.0.0.1:8474", "proxy": "p"}),
            json!({"kind": "start-container", "id": "abc", "name": "web"}),
            json!({"kind": "unpause-container", "id": "abc", "name": "web"}),
            json!({"kind": "reconnect-container", "id": "abc", "name": "web", "network": "n",
                   "attachment": {"aliases": ["web"], "ipv4": "10.0.0.2", "fixed_ip": false}}),
            json!({"kind": "scale-service", "id": "s1", "name": "api", "replicas": 3}),
            json!({"kind": "stop-work", "process": {"pid": 42, "start_time": 7}}),
            json!({"kind": "stop-stressor", "process": {"pid": 42, "start_time": 7},
                   "files": ["/proc/9/root/tmp/f"], "root_of": {"pid": 9, "start_time": 3}}),
            json!({"kind": "stop-stressor", "process": {"pid": 42, "start_time": 7},
                   "files": ["/proc/9/root/f"], "root_of": {"pid": 9, "start_time": 3},
                   "container": {"id": "abc", "paths": ["/f"]}}),
            json!({"kind": "k8s-scale", "cluster": {"kubeconfig": "/k", "context": "c"},
                   "workload": "deployment", "namespace": "shop", "name": "web", "replicas": 3}),
            json!({"kind": "k8s-delete-network-policy", "cluster": {},
                   "namespace": "shop", "name": "deny", "token": "t"}),
            json!({"kind": "k8s-uncordon-node", "cluster": {"context": "c"}, "node": "n1"}),
        ];
        for recipe in stored {
            let undo: Undo =
                serde_json::from_value(recipe.clone()).unwrap_or_else(|e| panic!("{recipe}: {e}"));
            assert_eq!(undo.to_value(), recipe);
            assert_eq!(
                Reverter.is_reversible(&recipe),
                recipe["kind"] != "irreversible"
            );
        }
        assert!(Reverter.is_reversible(&json!({"kind": "from-the-future"})));
    }
}
