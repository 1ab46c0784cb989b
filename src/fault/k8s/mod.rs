//! The Kubernetes family, through the API: delete, kill (grace 0) and evict pods (irreversible:
//! their controller replaces them), scale a Deployment or StatefulSet (the recorded count
//! restored), a NetworkPolicy partition (deleted), a node cordon (uncordoned). Each revert is
//! read back from the cluster.

mod act;
mod args;
mod undo;

pub use act::{Action, Victim};
pub(crate) use args::{
    CONTEXT_ARG, KUBECONFIG_ARG, NAMESPACE_ARG, POD_TARGET_ARG, read_cluster, read_pods,
};
pub use args::{K8sFault, Target, Verb};
pub use undo::Undo;
