//! What can go wrong talking to a Kubernetes API server, said so a user can act on it: no
//! kubeconfig, an unreachable or unauthorised server, an RBAC refusal with the Role rule that
//! would allow the call, and the API's own `Status` answers (404, 409, 422, 429, …).

use std::fmt;

/// One API call, as RBAC sees it: verb, resource (with its API group), namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// RBAC verb: get, list, delete, create, patch, update.
    pub verb: &'static str,
    /// Resource (plural, with a subresource as `pods/eviction`).
    pub resource: &'static str,
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// Namespace; `None` for a cluster-scoped resource (nodes).
    pub namespace: Option<String>,
    /// The object's name, when there is one.
    pub name: Option<String>,
}

impl Call {
    /// A call on a namespaced resource.
    pub fn namespaced(
        verb: &'static str,
        group: &'static str,
        resource: &'static str,
        namespace: &str,
        name: Option<&str>,
    ) -> Call {
        Call {
            verb,
            resource,
            group,
            namespace: Some(namespace.to_string()),
            name: name.map(str::to_string),
        }
    }

    /// A call on a cluster-scoped resource.
    pub fn cluster(
        verb: &'static str,
        group: &'static str,
        resource: &'static str,
        name: &str,
    ) -> Call {
        Call {
            verb,
            resource,
            group,
            namespace: None,
            name: Some(name.to_string()),
        }
    }

    /// The object, as messages name it: `pods "web-1" in namespace shop`.
    pub fn object(&self) -> String {
        let mut s = self.resource.to_string();
        if let Some(name) = &self.name {
            s.push_str(&format!(" {name:?}"));
        }
        if let Some(ns) = &self.namespace {
            s.push_str(&format!(" in namespace {ns}"));
        }
        s
    }

    /// The RBAC rule that allows this call.
    pub fn rule(&self) -> String {
        let kind = if self.namespace.is_some() {
            "Role"
        } else {
            "ClusterRole"
        };
        format!(
            "a {kind} rule {{apiGroups: [{:?}], resources: [{:?}], verbs: [{:?}]}}",
            self.group, self.resource, self.verb
        )
    }

    /// Turns a client error into ours (`server` names the API server in messages).
    pub fn error(&self, server: &str, e: kube::Error) -> K8sError {
        match e {
            kube::Error::Api(status) => {
                self.status_error(server, status.code, &status.reason, &status.message)
            }
            kube::Error::Auth(e) => K8sError::Unauthorized {
                server: server.to_string(),
                reason: e.to_string(),
            },
            other @ (kube::Error::HyperError(_) | kube::Error::Service(_)) => {
                K8sError::Unreachable {
                    server: server.to_string(),
                    reason: chain(&other),
                }
            }
            other => K8sError::Api {
                call: self.describe(),
                code: 0,
                reason: String::new(),
                message: chain(&other),
            },
        }
    }

    /// An API `Status` answer as our error.
    pub fn status_error(&self, server: &str, code: u16, reason: &str, message: &str) -> K8sError {
        match code {
            401 => K8sError::Unauthorized {
                server: server.to_string(),
                reason: message.to_string(),
            },
            403 => K8sError::Forbidden {
                verb: self.verb.to_string(),
                object: self.object(),
                rule: self.rule(),
                message: message.to_string(),
            },
            404 => K8sError::NotFound(self.object()),
            _ => K8sError::Api {
                call: self.describe(),
                code,
                reason: reason.to_string(),
                message: message.to_string(),
            },
        }
    }

    fn describe(&self) -> String {
        format!("{} {}", self.verb, self.object())
    }
}

/// The error and its causes, one line (hyper hides the useful part in its sources).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}

/// A Kubernetes API call failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum K8sError {
    /// No kubeconfig and not in a pod: nothing says which cluster.
    #[error(
        "no Kubernetes configuration: {0} (set KUBECONFIG or write ~/.kube/config as kubectl reads them, or run in a pod with a service account)"
    )]
    NoConfig(String),
    /// The server did not answer (connection refused, DNS, TLS).
    #[error("reach the Kubernetes API at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    /// 401: the credentials were refused.
    #[error("the Kubernetes API at {server} refused the credentials (401 Unauthorized): {reason}")]
    Unauthorized { server: String, reason: String },
    /// 403: RBAC forbids the call.
    #[error("forbidden to {verb} {object}: {message}; {rule} allows it")]
    Forbidden {
        verb: String,
        object: String,
        rule: String,
        message: String,
    },
    /// The selector would reach `kube-system` without naming it.
    #[error(
        "pods in kube-system are never targets unless the selector names that namespace (it is the context's default namespace)"
    )]
    KubeSystem,
    /// 404.
    #[error("{0} not found")]
    NotFound(String),
    /// Any other API answer (409 conflict, 422 invalid, 429 too many requests, 5xx).
    #[error("{call}: {message} ({code} {reason})")]
    Api {
        call: String,
        code: u16,
        reason: String,
        message: String,
    },
}

impl K8sError {
    /// Whether the cluster itself cannot be used (no configuration, unreachable, unauthorised):
    /// the commands that only read exit 69 on these.
    pub fn is_unavailable(&self) -> bool {
        match self {
            K8sError::NoConfig(_)
            | K8sError::Unreachable { .. }
            | K8sError::Unauthorized { .. } => true,
            K8sError::Forbidden { .. }
            | K8sError::NotFound(_)
            | K8sError::Api { .. }
            | K8sError::KubeSystem => false,
        }
    }

    /// The HTTP status of an API answer (0 when there was none).
    pub fn code(&self) -> u16 {
        match self {
            K8sError::Api { code, .. } => *code,
            K8sError::NotFound(_) => 404,
            K8sError::Forbidden { .. } => 403,
            K8sError::Unauthorized { .. } => 401,
            K8sError::NoConfig(_) | K8sError::Unreachable { .. } | K8sError::KubeSystem => 0,
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forbidden_call_names_the_verb_the_object_and_the_rule_that_allows_it() {
        let call = Call::namespaced("delete", "", "pods", "shop", Some("web-1"));
        let e = call.status_error("https://k", 403, "Forbidden", "user \"ci\" cannot delete");
        let text = e.to_string();
        assert_eq!(
            text,
            "forbidden to delete pods \"web-1\" in namespace shop: user \"ci\" cannot delete; \
             a Role rule {apiGroups: [\"\"], resources: [\"pods\"], verbs: [\"delete\"]} allows it"
        );
        let node = Call::cluster("patch", "", "nodes", "n1").status_error("k", 403, "", "no");
        assert!(node.to_string().contains("a ClusterRole rule"), "{node}");
        assert!(!e.is_unavailable());
        let unauthorised = call.status_error("https://k", 401, "Unauthorized", "bad token");
        assert!(unauthorised.is_unavailable());
        assert_eq!(
            call.status_error("k", 404, "NotFound", "").to_string(),
            "pods \"web-1\" in namespace shop not found"
        );
    }
}
