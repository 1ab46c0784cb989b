//! An in-process Kubernetes API server for tests: hyper on `127.0.0.1:0`, plain HTTP (a
//! kubeconfig's `cluster.server` may be `http://`), with the documented semantics the driver
//! relies on — list with label and field selectors, graceful delete (the ReplicaSet controller
//! replaces the pod; the kubelet removes it when its grace ends), the eviction subresource with
//! PodDisruptionBudgets (429), the scale subresource (get/patch/put), NetworkPolicies, node
//! patches, pod logs, `Status` bodies for 400/401/403/404/409/422/429, and an RBAC mode that
//! forbids chosen verbs on chosen resources. Tests seed it and read it back through
//! [`FakeCluster`]; the binary under test reaches it through the kubeconfig it writes.

mod routes;
mod selector;
mod status;
mod store;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub(crate) use routes::USER;
use status::{Answer, Body};
use store::State;

/// A running fake API server; stopped when dropped.
pub(crate) struct FakeCluster {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

async fn serve(state: Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let (answer, terminating) = {
        let mut s = lock(&state);
        s.requests.push(store::Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
        });
        let answer = routes::handle(&mut s, &method, &path, &query, &content_type, &body);
        (answer, std::mem::take(&mut s.terminating))
    };
    // The kubelet: a graceful deletion ends when its grace period has passed.
    for t in terminating {
        let state = state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(t.grace)).await;
            lock(&state).finish_termination(&t);
        });
    }
    respond(answer)
}

fn respond(answer: Answer) -> Response<Full<Bytes>> {
    let (content_type, bytes) = match answer.body {
        Body::Json(v) => (
            "application/json",
            serde_json::to_vec(&v).unwrap_or_default(),
        ),
        Body::Text(t) => ("text/plain", t.into_bytes()),
    };
    Response::builder()
        .status(answer.code)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(bytes)))
        .unwrap_or_default()
}

impl FakeCluster {
    /// Starts the server on its own thread and runtime (tests stay synchronous).
    pub(crate) fn start() -> FakeCluster {
        let state: Shared = Arc::new(Mutex::new(State::default()));
        let stop = CancellationToken::new();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake API");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (s, st) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let stream = tokio::select! {
                        _ = st.cancelled() => break,
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => stream,
                            Err(_) => continue,
                        },
                    };
                    let s = s.clone();
                    let conn_stop = st.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let s = s.clone();
                            async move { Ok::<_, Infallible>(serve(s, req).await) }
                        });
                        let conn = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service);
                        tokio::select! {
                            _ = conn => {}
                            _ = conn_stop.cancelled() => {}
                        }
                    });
                }
            });
        });
        FakeCluster { addr, state, stop }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig whose current context `fake` reaches this server, with `namespace`
    /// as its default namespace; returns its path.
    pub(crate) fn kubeconfig(&self, dir: &std::path::Path, namespace: &str) -> String {
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: monkeywrench\n    namespace: {namespace}\n\
             users:\n- name: monkeywrench\n  user:\n    token: fake-token\n",
            self.url()
        );
        crate::harness::write(dir, &format!("kubeconfig-{namespace}"), &text)
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut lock(&self.state))
    }

    /// A node (schedulable).
    pub(crate) fn node(&self, name: &str) {
        self.with(|s| {
            s.insert(
                "nodes",
                "",
                json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name,
                    "labels": {"kubernetes.io/hostname": name}}, "spec": {},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            );
        });
    }

    /// No kubelet: pods created from now on stay Pending (a bare control plane).
    pub(crate) fn bare(&self) {
        self.with(|s| s.bare = true);
    }

    fn template(labels: &Value) -> Value {
        json!({"metadata": {"labels": labels},
               "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}],
                        "terminationGracePeriodSeconds": 30}})
    }

    /// A Deployment with `replicas` pods (through its ReplicaSet) labelled `labels`.
    pub(crate) fn deployment(&self, ns: &str, name: &str, replicas: i64, labels: Value) {
        self.with(|s| {
            s.insert(
                "deployments",
                ns,
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                             "template": Self::template(&labels)}}),
            );
            s.reconcile();
        });
    }

    /// A new revision of a Deployment: its first container runs `image` (as `kubectl set image`).
    pub(crate) fn set_image(&self, ns: &str, name: &str, image: &str) {
        self.with(|s| {
            if let Some(mut d) = s.get("deployments", ns, name).cloned() {
                d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
                s.update("deployments", ns, d);
            }
            s.reconcile();
        });
    }

    /// The image of a Deployment's first container.
    pub(crate) fn image(&self, ns: &str, name: &str) -> Option<String> {
        self.get("deployments", ns, name).and_then(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .map(str::to_string)
        })
    }

    /// A StatefulSet `name-0 …`.
    pub(crate) fn statefulset(&self, ns: &str, name: &str, replicas: i64, labels: Value) {
        self.with(|s| {
            s.insert(
                "statefulsets",
                ns,
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"replicas": replicas, "serviceName": name,
                             "selector": {"matchLabels": labels}, "template": Self::template(&labels)}}),
            );
            s.reconcile();
        });
    }

    /// A PodDisruptionBudget over the pods labelled `labels`.
    pub(crate) fn pdb(&self, ns: &str, name: &str, labels: Value, min_available: i64) {
        self.with(|s| {
            s.insert(
                "poddisruptionbudgets",
                ns,
                json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                    "metadata": {"name": name},
                    "spec": {"minAvailable": min_available, "selector": {"matchLabels": labels}}}),
            );
        });
    }

    /// A HorizontalPodAutoscaler scaling `kind/target`.
    pub(crate) fn hpa(&self, ns: &str, name: &str, kind: &str, target: &str) {
        self.with(|s| {
            s.insert(
                "horizontalpodautoscalers",
                ns,
                json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": name},
                    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
                             "minReplicas": 1, "maxReplicas": 10}}),
            );
        });
    }

    /// RBAC refuses `verb` on `resource` (`pods/eviction` for a subresource), in every namespace.
    pub(crate) fn forbid(&self, verb: &str, resource: &str) {
        self.with(|s| s.forbidden.push((verb.into(), resource.into())));
    }

    /// Every request answers 401.
    pub(crate) fn refuse_credentials(&self) {
        self.with(|s| s.refuse_credentials = true);
    }

    /// The log of a pod's `app` container.
    pub(crate) fn set_log(&self, ns: &str, pod: &str, text: &str) {
        self.with(|s| {
            s.logs
                .entry((ns.into(), pod.into()))
                .or_default()
                .insert("app".into(), text.into());
        });
    }

    /// An object now (`ns` empty for cluster-scoped ones).
    pub(crate) fn get(&self, resource: &str, ns: &str, name: &str) -> Option<Value> {
        self.with(|s| s.get(resource, ns, name).cloned())
    }

    /// Every object of a resource in a namespace, by name.
    pub(crate) fn list(&self, resource: &str, ns: &str) -> Vec<Value> {
        self.with(|s| s.list(resource, Some(ns)))
    }

    /// Names of the pods in `ns` that are not terminating.
    pub(crate) fn live_pods(&self, ns: &str) -> Vec<String> {
        self.list("pods", ns)
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
            .collect()
    }

    /// A Deployment's or StatefulSet's `spec.replicas`.
    pub(crate) fn replicas(&self, resource: &str, ns: &str, name: &str) -> Option<i64> {
        self.get(resource, ns, name)
            .and_then(|o| o["spec"]["replicas"].as_i64())
    }

    /// Whether a node is cordoned.
    pub(crate) fn unschedulable(&self, node: &str) -> bool {
        self.get("nodes", "", node)
            .is_some_and(|n| n["spec"]["unschedulable"] == true)
    }

    /// Deletes an object behind the test's back (grace 0).
    pub(crate) fn remove(&self, resource: &str, ns: &str, name: &str) {
        self.with(|s| {
            s.remove(resource, ns, name);
            s.reconcile();
        });
    }

    /// The requests received: `(method, path, query, body)`.
    pub(crate) fn requests(&self) -> Vec<(String, String, String, Value)> {
        self.with(|s| {
            s.requests
                .iter()
                .map(|r| {
                    (
                        r.method.clone(),
                        r.path.clone(),
                        r.query.clone(),
                        r.body.clone(),
                    )
                })
                .collect()
        })
    }

    /// Polls `check` every 20 ms until it holds or `within` passes.
    pub(crate) fn wait_for(&self, within: Duration, mut check: impl FnMut() -> bool) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if check() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        check()
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
