//! Kubernetes through its API (kube-rs): which cluster (kubeconfig discovery as kubectl does
//! it), pods as targets with their selector and protections, and the calls the `k8s` fault
//! family and probes make — pod delete and eviction, scale, NetworkPolicies, node cordon — each
//! failing with an error that names what was refused and why.

mod cluster;
mod error;
pub mod network;
pub mod nodes;
pub mod pod_ops;
mod pods;
pub mod rollout;
pub mod workloads;

pub use cluster::{Cluster, ClusterRef};
pub use error::{Call, K8sError};
pub use pods::{
    KUBE_SYSTEM, OwnerKind, PodInfo, PodSelector, Pods, find_pods, list_pods, namespace_of,
    protection,
};
