//! Which cluster, found as kubectl finds it: a kubeconfig named in the call, else `KUBECONFIG`
//! (a `:`-separated list, merged), else `~/.kube/config`, else the pod's service account
//! (in-cluster). The reference that was resolved is recorded with every lease, so the guard — a
//! process of its own, maybe with another environment — reverts on the same cluster and context.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::{Deserialize, Serialize};

use super::error::K8sError;

/// The Kubernetes arguments every k8s function takes (the experiment's configuration can feed
/// them with `${...}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRef {
    /// A kubeconfig file (or a `:`-separated list, as `KUBECONFIG`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// A context of the kubeconfig (else its current context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// A connected client, and what it was resolved to.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    /// The API server's URL (for messages).
    pub server: String,
    /// The context's namespace (`default` when it names none; the pod's own in-cluster).
    pub default_namespace: String,
    /// The kubeconfig paths and the context actually used (`None`s: in-cluster).
    pub resolved: ClusterRef,
    /// In a pod: its namespace and name (never a target).
    pub own_pod: Option<(String, String)>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.server)
            .field("resolved", &self.resolved)
            .finish()
    }
}

const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The kubeconfig files kubectl would read, given an explicit list (else `KUBECONFIG`, else
/// `~/.kube/config` if it exists); empty means in-cluster.
fn kubeconfig_paths(explicit: Option<&str>) -> Vec<PathBuf> {
    let list = match explicit {
        Some(s) => s.to_string(),
        None => std::env::var("KUBECONFIG").unwrap_or_default(),
    };
    let listed: Vec<PathBuf> = list
        .split(':')
        .filter(|s| !s.is_empty())
        .map(absolute)
        .collect();
    if !listed.is_empty() || explicit.is_some() {
        return listed;
    }
    match std::env::var_os("HOME") {
        Some(home) => {
            let default = Path::new(&home).join(".kube/config");
            if default.exists() {
                vec![default]
            } else {
                Vec::new()
            }
        }
        None => Vec::new(),
    }
}

/// A path the guard can read whatever its working directory.
fn absolute(s: &str) -> PathBuf {
    let p = PathBuf::from(s);
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

/// This process's pod when it runs in one: the service account's namespace and the hostname
/// (a pod's hostname is its name unless the spec overrides it).
fn own_pod() -> Option<(String, String)> {
    std::env::var_os("KUBERNETES_SERVICE_HOST")?;
    let ns = std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE).ok()?;
    let name = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| nix::unistd::gethostname().ok()?.into_string().ok())?;
    Some((ns.trim().to_string(), name))
}

impl Cluster {
    /// Connects as kubectl would; nothing is asked of the server yet.
    pub async fn connect(wanted: &ClusterRef) -> Result<Cluster, K8sError> {
        let paths = kubeconfig_paths(wanted.kubeconfig.as_deref());
        let (mut config, resolved) = if paths.is_empty() {
            if wanted.context.is_some() {
                return Err(K8sError::NoConfig(format!(
                    "context {:?} was asked for, but no kubeconfig was found",
                    wanted.context.as_deref().unwrap_or_default()
                )));
            }
            let config = kube::Config::incluster().map_err(|e| {
                K8sError::NoConfig(format!(
                    "no kubeconfig (KUBECONFIG unset, no ~/.kube/config) and not in a pod ({e})"
                ))
            })?;
            (config, ClusterRef::default())
        } else {
            let mut merged: Option<Kubeconfig> = None;
            for p in &paths {
                let one = Kubeconfig::read_from(p).map_err(|e| {
                    K8sError::NoConfig(format!("read kubeconfig {}: {e}", p.display()))
                })?;
                merged = Some(match merged {
                    None => one,
                    Some(m) => m
                        .merge(one)
                        .map_err(|e| K8sError::NoConfig(format!("merge kubeconfigs: {e}")))?,
                });
            }
            let kubeconfig = merged.unwrap_or_default();
            let context = wanted
                .context
                .clone()
                .or_else(|| kubeconfig.current_context.clone());
            let Some(context) = context else {
                return Err(K8sError::NoConfig(format!(
                    "kubeconfig {} sets no current-context; name one with the `context` argument",
                    show(&paths)
                )));
            };
            if !kubeconfig.contexts.iter().any(|c| c.name == context) {
                let known: Vec<&str> = kubeconfig
                    .contexts
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                return Err(K8sError::NoConfig(format!(
                    "kubeconfig {} has no context {context:?} (it has: {})",
                    show(&paths),
                    known.join(", ")
                )));
            }
            let options = KubeConfigOptions {
                context: Some(context.clone()),
                ..Default::default()
            };
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| {
                    K8sError::NoConfig(format!(
                        "kubeconfig {} context {context:?}: {e}",
                        show(&paths)
                    ))
                })?;
            let resolved = ClusterRef {
                kubeconfig: Some(show(&paths)),
                context: Some(context),
            };
            (config, resolved)
        };
        // A 429 is an answer to report (a PodDisruptionBudget refusing an eviction), not a reason
        // to back off for minutes inside the client.
        config.default_retry = false;
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let default_namespace = config.default_namespace.clone();
        let client = kube::Client::try_from(config).map_err(|e| K8sError::Unreachable {
            server: server.clone(),
            reason: e.to_string(),
        })?;
        Ok(Cluster {
            client,
            server,
            default_namespace,
            resolved,
            own_pod: own_pod(),
        })
    }

    /// The namespace a call names, else the context's.
    pub fn namespace(&self, given: Option<&str>) -> String {
        given.map_or_else(|| self.default_namespace.clone(), str::to_string)
    }
}

fn show(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(dir: &Path, current: Option<&str>) -> String {
        let current = current
            .map(|c| format!("current-context: {c}\n"))
            .unwrap_or_default();
        let text = format!(
            "apiVersion: v1\nkind: Config\n{current}clusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\n\
             contexts:\n- name: fake\n  context:\n    cluster: c\n    user: u\n    namespace: shop\n\
             users:\n- name: u\n  user:\n    token: t\n"
        );
        let path = dir.join(format!("kubeconfig-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn the_context_and_its_namespace_are_resolved_and_recorded() {
        let dir = std::env::temp_dir();
        let path = kubeconfig(&dir, Some("fake"));
        let c = Cluster::connect(&ClusterRef {
            kubeconfig: Some(path.clone()),
            context: None,
        })
        .await
        .unwrap();
        assert_eq!(c.default_namespace, "shop");
        assert_eq!(c.server, "http://127.0.0.1:1");
        assert_eq!(c.resolved.context.as_deref(), Some("fake"));
        assert_eq!(c.resolved.kubeconfig.as_deref(), Some(path.as_str()));
        assert_eq!(c.namespace(Some("other")), "other");
        let none = kubeconfig(&dir, None);
        let err = Cluster::connect(&ClusterRef {
            kubeconfig: Some(none.clone()),
            context: None,
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("sets no current-context"), "{err}");
        let wrong = Cluster::connect(&ClusterRef {
            kubeconfig: Some(none.clone()),
            context: Some("prod".into()),
        })
        .await
        .unwrap_err();
        assert!(
            wrong
                .to_string()
                .contains("has no context \"prod\" (it has: fake)"),
            "{wrong}"
        );
        let missing = Cluster::connect(&ClusterRef {
            kubeconfig: Some("/nonexistent/kubeconfig".into()),
            context: None,
        })
        .await
        .unwrap_err();
        assert!(missing.is_unavailable());
        assert!(
            missing.to_string().contains("/nonexistent/kubeconfig"),
            "{missing}"
        );
        for p in [path, none] {
            let _ = std::fs::remove_file(p);
        }
    }
}
