//! The Kubernetes verbs, their argument schemas, and typed arguments parsed once.

use std::collections::BTreeMap;

use serde_json::Value;

use super::act::{Action, Victim};
use crate::fault::process::parse_radius;
use crate::fault::{Error, Family, Selecting, Victims};
use crate::schema::{ArgSpec, ArgType, ArgumentProblem, Reader};
use crate::target::k8s::network::Directions;
use crate::target::k8s::workloads::{self, Scalable};
use crate::target::k8s::{Cluster, ClusterRef, PodSelector, Pods, find_pods, namespace_of};
use crate::target::{BlastRadius, Driver, FindError, Selection, select};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `k8s.pod.delete`.
    PodDelete,
    /// `k8s.pod.kill`.
    PodKill,
    /// `k8s.pod.evict`.
    PodEvict,
    /// `k8s.deployment.scale`.
    DeploymentScale,
    /// `k8s.statefulset.scale`.
    StatefulSetScale,
    /// `k8s.deployment.rollback`.
    DeploymentRollback,
    /// `k8s.network.deny`.
    NetworkDeny,
    /// `k8s.node.cordon`.
    NodeCordon,
}

/// Which cluster: every k8s function takes these two.
pub(crate) const CONTEXT_ARG: ArgSpec = ArgSpec::optional(
    "context",
    ArgType::Str,
    None,
    "kubeconfig context; default: its current-context",
);
pub(crate) const KUBECONFIG_ARG: ArgSpec = ArgSpec::optional(
    "kubeconfig",
    ArgType::Str,
    None,
    "kubeconfig file(s), `:`-separated; default: KUBECONFIG, ~/.kube/config, else in-cluster",
);
/// The pods a call acts on.
pub(crate) const POD_TARGET_ARG: ArgSpec = ArgSpec::required(
    "target",
    ArgType::Map,
    "pod selector: {namespace, labels, label_selector, field_selector, owner: KIND/NAME, node, name, name_pattern}",
);
pub(crate) const NAMESPACE_ARG: ArgSpec = ArgSpec::optional(
    "namespace",
    ArgType::Str,
    None,
    "namespace; default: the context's",
);

const GRACE_ARG: ArgSpec = ArgSpec::optional(
    "grace_period_s",
    ArgType::Int {
        min: 0,
        max: 86_400,
    },
    None,
    "seconds the pod gets to stop; default: its own terminationGracePeriodSeconds",
);

const DELETE_ARGS: &[ArgSpec] = &[POD_TARGET_ARG, GRACE_ARG, CONTEXT_ARG, KUBECONFIG_ARG];
const POD_ARGS: &[ArgSpec] = &[POD_TARGET_ARG, CONTEXT_ARG, KUBECONFIG_ARG];
const ROLLBACK_ARGS: &[ArgSpec] = &[
    ArgSpec::required("name", ArgType::Str, "the Deployment's name"),
    NAMESPACE_ARG,
    CONTEXT_ARG,
    KUBECONFIG_ARG,
];

const SCALE_ARGS: &[ArgSpec] = &[
    ArgSpec::required("name", ArgType::Str, "the workload's name"),
    NAMESPACE_ARG,
    ArgSpec::required(
        "replicas",
        ArgType::Int {
            min: 0,
            max: 100_000,
        },
        "replica count while the fault lasts",
    ),
    CONTEXT_ARG,
    KUBECONFIG_ARG,
];
const DENY_ARGS: &[ArgSpec] = &[
    ArgSpec::required(
        "target",
        ArgType::Map,
        "the pods cut off: {namespace, labels} (a NetworkPolicy selects by labels; no labels: every pod of the namespace)",
    ),
    ArgSpec::optional(
        "direction",
        ArgType::Str,
        Some("both"),
        "ingress, egress or both",
    ),
    ArgSpec::optional(
        "name",
        ArgType::Str,
        None,
        "the NetworkPolicy's name; default: monkeywrench-deny-<random>",
    ),
    CONTEXT_ARG,
    KUBECONFIG_ARG,
];
const CORDON_ARGS: &[ArgSpec] = &[
    ArgSpec::required("node", ArgType::Str, "the node's name"),
    CONTEXT_ARG,
    KUBECONFIG_ARG,
];

impl Verb {
    pub const ALL: [Verb; 8] = [
        Verb::PodDelete,
        Verb::PodKill,
        Verb::PodEvict,
        Verb::DeploymentScale,
        Verb::StatefulSetScale,
        Verb::DeploymentRollback,
        Verb::NetworkDeny,
        Verb::NodeCordon,
    ];

    /// The builtin's name.
    pub fn name(self) -> &'static str {
        match self {
            Verb::PodDelete => "k8s.pod.delete",
            Verb::PodKill => "k8s.pod.kill",
            Verb::PodEvict => "k8s.pod.evict",
            Verb::DeploymentScale => "k8s.deployment.scale",
            Verb::StatefulSetScale => "k8s.statefulset.scale",
            Verb::DeploymentRollback => "k8s.deployment.rollback",
            Verb::NetworkDeny => "k8s.network.deny",
            Verb::NodeCordon => "k8s.node.cordon",
        }
    }

    /// One line for the catalogue.
    pub fn describe(self) -> &'static str {
        match self {
            Verb::PodDelete => {
                "delete pods (with a grace period); their controller replaces them — irreversible"
            }
            Verb::PodKill => "delete pods with no grace period (grace 0) — irreversible",
            Verb::PodEvict => {
                "evict pods through the Eviction API, so PodDisruptionBudgets are honoured — irreversible"
            }
            Verb::DeploymentScale => {
                "scale a Deployment through its scale subresource; the former count is restored when reverted"
            }
            Verb::StatefulSetScale => {
                "scale a StatefulSet through its scale subresource; the former count is restored when reverted"
            }
            Verb::DeploymentRollback => {
                "roll a Deployment back to its previous revision's pod template, as `kubectl rollout undo`; the template it had is put back when reverted"
            }
            Verb::NetworkDeny => {
                "a NetworkPolicy denying ingress and/or egress of the selected pods; deleted when reverted"
            }
            Verb::NodeCordon => "cordon a node (unschedulable); uncordoned when reverted",
        }
    }

    pub fn arguments(self) -> &'static [ArgSpec] {
        match self {
            Verb::PodDelete => DELETE_ARGS,
            Verb::PodKill | Verb::PodEvict => POD_ARGS,
            Verb::DeploymentScale | Verb::StatefulSetScale => SCALE_ARGS,
            Verb::DeploymentRollback => ROLLBACK_ARGS,
            Verb::NetworkDeny => DENY_ARGS,
            Verb::NodeCordon => CORDON_ARGS,
        }
    }

    /// Whether its effect can be undone (so `duration` applies).
    pub fn is_reversible(self) -> bool {
        match self {
            Verb::PodDelete | Verb::PodKill | Verb::PodEvict => false,
            Verb::DeploymentScale
            | Verb::StatefulSetScale
            | Verb::DeploymentRollback
            | Verb::NetworkDeny
            | Verb::NodeCordon => true,
        }
    }

    /// Whether it picks pods with a selector (previewed by `--dry-run`).
    pub fn takes_targets(self) -> bool {
        match self {
            Verb::PodDelete | Verb::PodKill | Verb::PodEvict | Verb::NetworkDeny => true,
            Verb::DeploymentScale
            | Verb::StatefulSetScale
            | Verb::DeploymentRollback
            | Verb::NodeCordon => false,
        }
    }

    /// Parses substituted arguments.
    pub fn parse(self, args: &Value) -> Result<K8sFault, Vec<ArgumentProblem>> {
        let mut r = Reader::new(self.arguments(), args);
        let cluster = read_cluster(&r);
        let (action, target) = match self {
            Verb::PodDelete | Verb::PodKill | Verb::PodEvict => {
                let selector = read_pods(&mut r);
                let radius = parse_radius(&mut r);
                let action = match self {
                    Verb::PodDelete => Action::Delete {
                        grace: r.int("grace_period_s").map(|g| g.clamp(0, 86_400) as u32),
                    },
                    Verb::PodKill => Action::Delete { grace: Some(0) },
                    _ => Action::Evict,
                };
                (action, Target::Pods { selector, radius })
            }
            Verb::DeploymentScale | Verb::StatefulSetScale => {
                let kind = if self == Verb::DeploymentScale {
                    Scalable::Deployment
                } else {
                    Scalable::StatefulSet
                };
                let replicas = r.int("replicas").unwrap_or_default().max(0) as u64;
                (
                    Action::Scale { replicas },
                    Target::Workload {
                        kind,
                        namespace: r.text("namespace"),
                        name: r.text("name").unwrap_or_default(),
                    },
                )
            }
            Verb::DeploymentRollback => (
                Action::Rollback,
                Target::Workload {
                    kind: Scalable::Deployment,
                    namespace: r.text("namespace"),
                    name: r.text("name").unwrap_or_default(),
                },
            ),
            Verb::NetworkDeny => {
                let directions = match r.text("direction").as_deref() {
                    Some("ingress") => Directions {
                        ingress: true,
                        egress: false,
                    },
                    Some("egress") => Directions {
                        ingress: false,
                        egress: true,
                    },
                    Some("both") | None => Directions {
                        ingress: true,
                        egress: true,
                    },
                    Some(other) => {
                        r.problem(
                            "direction",
                            format!("{other:?} is not one of ingress, egress, both"),
                        );
                        Directions {
                            ingress: true,
                            egress: true,
                        }
                    }
                };
                let selector = read_pods(&mut r);
                let labelled_only = PodSelector {
                    namespace: selector.namespace.clone(),
                    labels: selector.labels.clone(),
                    ..PodSelector::default()
                };
                if selector != labelled_only {
                    r.problem(
                        "target",
                        "k8s.network.deny selects pods by namespace and labels only (what a NetworkPolicy's podSelector can say)",
                    );
                }
                let name = r.text("name").unwrap_or_else(|| {
                    format!(
                        "monkeywrench-deny-{}",
                        &uuid::Uuid::new_v4().simple().to_string()[..8]
                    )
                });
                if !is_dns_label(&name) {
                    r.problem("name", format!("{name:?} is not a valid object name (lowercase letters, digits and '-', at most 63)"));
                }
                (
                    Action::Deny { directions, name },
                    Target::Labels {
                        namespace: selector.namespace.clone(),
                        labels: selector.labels,
                        selector: labelled_only,
                    },
                )
            }
            Verb::NodeCordon => (
                Action::Cordon,
                Target::Node {
                    name: r.text("node").unwrap_or_default(),
                },
            ),
        };
        r.finish(K8sFault {
            action,
            cluster,
            target,
        })
    }
}

/// A DNS-1123 label, as NetworkPolicy names must be.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The `context` and `kubeconfig` arguments.
pub(crate) fn read_cluster(r: &Reader) -> ClusterRef {
    ClusterRef {
        kubeconfig: r.text("kubeconfig"),
        context: r.text("context"),
    }
}

/// The `target` pod selector (problems reported under `target.<key>`).
pub(crate) fn read_pods(r: &mut Reader) -> PodSelector {
    let Some(raw) = r.value("target") else {
        return PodSelector::default();
    };
    match PodSelector::parse(raw) {
        Ok(s) => s,
        Err(problems) => {
            for (key, message) in problems {
                let path = if key.is_empty() {
                    "target".to_string()
                } else {
                    format!("target.{key}")
                };
                r.problem(&path, message);
            }
            PodSelector::default()
        }
    }
}

/// What a call acts on.
#[derive(Debug, Clone)]
pub enum Target {
    /// Pods picked by a selector and a blast radius.
    Pods {
        selector: PodSelector,
        radius: Option<BlastRadius>,
    },
    /// A Deployment or StatefulSet.
    Workload {
        kind: Scalable,
        namespace: Option<String>,
        name: String,
    },
    /// Every pod with these labels (a NetworkPolicy's selector).
    Labels {
        namespace: Option<String>,
        labels: BTreeMap<String, String>,
        selector: PodSelector,
    },
    Node {
        name: String,
    },
}

/// A parsed Kubernetes fault call.
#[derive(Debug, Clone)]
pub struct K8sFault {
    pub action: Action,
    pub cluster: ClusterRef,
    pub target: Target,
}

impl Family for K8sFault {
    type Act = Action;

    async fn victims(&self, selecting: &Selecting) -> Result<Victims<Victim>, Error> {
        let cluster = Cluster::connect(&self.cluster)
            .await
            .map_err(FindError::from)?;
        match &self.target {
            Target::Pods { selector, radius } => {
                let ns = namespace_of(&cluster, selector).map_err(FindError::from)?;
                let pods = Pods {
                    cluster: cluster.clone(),
                };
                let radius = radius.as_ref().unwrap_or(&selecting.radius);
                let what = selector.describe(&ns);
                let selection = select(&pods, selector, &what, radius, selecting.seed).await?;
                Ok(Victims::picked(selection, Pods::describe, |pod| {
                    Victim::Pod {
                        cluster: cluster.clone(),
                        pod,
                    }
                }))
            }
            Target::Workload {
                kind,
                namespace,
                name,
            } => {
                let namespace = cluster.namespace(namespace.as_deref());
                // An autoscaler owning the count will undo the fault: say so before applying.
                let warning = workloads::autoscaler(&cluster, *kind, &namespace, name)
                    .await
                    .map(|hpa| {
                        format!(
                            "HorizontalPodAutoscaler {hpa} scales {} in namespace {namespace}: it will fight this fault",
                            kind.show(name)
                        )
                    });
                let selection = warning.map(|warning| Selection {
                    matched: 1,
                    victims: vec![serde_json::json!({
                        "kind": format!("k8s-{}", kind.kind().to_ascii_lowercase()),
                        "namespace": namespace,
                        "name": name,
                    })],
                    mode: "named",
                    seed: selecting.seed.unwrap_or(0),
                    warning: Some(warning),
                });
                Ok(Victims {
                    list: vec![Victim::Workload {
                        namespace,
                        cluster,
                        kind: *kind,
                        name: name.clone(),
                    }],
                    selection,
                })
            }
            Target::Labels {
                namespace,
                labels,
                selector,
            } => {
                let ns = cluster.namespace(namespace.as_deref());
                let matched = find_pods(&cluster, selector)
                    .await
                    .map_err(FindError::from)?;
                if matched.is_empty() {
                    return Err(FindError::NoMatch(selector.describe(&ns)).into());
                }
                // The policy covers every matching pod: all of them are its victims.
                let selection = Selection {
                    matched: matched.len(),
                    victims: matched.iter().map(Pods::describe).collect(),
                    mode: "all",
                    seed: selecting.seed.unwrap_or(0),
                    warning: None,
                };
                Ok(Victims {
                    list: vec![Victim::Pods {
                        cluster,
                        namespace: ns,
                        labels: labels.clone(),
                        pods: matched.len(),
                    }],
                    selection: Some(selection),
                })
            }
            Target::Node { name } => Ok(Victims::named(Victim::Node {
                cluster,
                name: name.clone(),
            })),
        }
    }

    fn act(&self) -> &Action {
        &self.action
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_problem_is_reported_at_once_and_defaults_apply() {
        let problems = Verb::NetworkDeny
            .parse(&json!({"target": {"owner": "deployment/web"}, "direction": "sideways", "name": "Bad_Name"}))
            .unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["direction", "target", "name"], "{problems:?}");
        let kill = Verb::PodKill
            .parse(&json!({"target": {"labels": {"app": "web"}}, "context": "kind"}))
            .unwrap();
        assert!(matches!(kill.action, Action::Delete { grace: Some(0) }));
        assert_eq!(kill.cluster.context.as_deref(), Some("kind"));
        let delete = Verb::PodDelete
            .parse(&json!({"target": {"namespace": "shop"}}))
            .unwrap();
        assert!(
            matches!(delete.action, Action::Delete { grace: None }),
            "the pod's own grace"
        );
        let bad = Verb::PodDelete
            .parse(&json!({"target": {"nmae": "x"}}))
            .unwrap_err();
        assert_eq!(bad[0].path, "target.nmae");
        let deny = Verb::NetworkDeny
            .parse(&json!({"target": {"labels": {"app": "db"}}}))
            .unwrap();
        match deny.action {
            Action::Deny { name, directions } => {
                assert!(
                    name.starts_with("monkeywrench-deny-") && is_dns_label(&name),
                    "{name}"
                );
                assert_eq!(
                    directions,
                    Directions {
                        ingress: true,
                        egress: true
                    }
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
