//! The fake cluster's objects and the controllers a bare control plane runs: a Deployment owns a
//! ReplicaSet whose pods are recreated when deleted, a StatefulSet owns `name-0 … name-N-1`, the
//! scheduler places new pods on schedulable nodes, and (unless the cluster is "bare") a kubelet
//! reports them Running and Ready. Deployment and StatefulSet status follow their pods.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::selector::{LabelSelector, labels_of};

/// `(resource, namespace, name)`; cluster-scoped objects have an empty namespace.
pub(crate) type Key = (String, String, String);

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) body: Value,
}

/// A pod whose graceful deletion the kubelet finishes after `grace` seconds.
#[derive(Debug, Clone)]
pub(crate) struct Terminating {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
    pub(crate) grace: u64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) objects: BTreeMap<Key, Value>,
    resource_version: u64,
    /// Pod logs by `(namespace, pod)`, then container.
    pub(crate) logs: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// `(verb, resource)` pairs RBAC refuses (`resource` with its subresource: `pods/eviction`).
    pub(crate) forbidden: Vec<(String, String)>,
    /// Answer 401 to everything (the credentials are refused).
    pub(crate) refuse_credentials: bool,
    /// No kubelet: pods stay Pending (a bare control plane).
    pub(crate) bare: bool,
    pub(crate) requests: Vec<Recorded>,
    /// Graceful deletions for the server to finish.
    pub(crate) terminating: Vec<Terminating>,
}

pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn suffix(len: usize) -> String {
    // The alphabet of the API server's generateName (no vowels, no confusable digits).
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes
        .iter()
        .take(len)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

impl State {
    pub(crate) fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    pub(crate) fn version(&self) -> String {
        self.resource_version.to_string()
    }

    /// Stores a new object: uid, resourceVersion, creationTimestamp, generation.
    pub(crate) fn insert(&mut self, resource: &str, namespace: &str, mut object: Value) -> Value {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let meta = &mut object["metadata"];
        meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
        meta["creationTimestamp"] = json!(now());
        meta["generation"] = json!(1);
        if !namespace.is_empty() {
            meta["namespace"] = json!(namespace);
        }
        object["metadata"]["resourceVersion"] = json!(self.next_version());
        self.objects
            .insert((resource.into(), namespace.into(), name), object.clone());
        object
    }

    pub(crate) fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(resource.into(), namespace.into(), name.into()))
    }

    /// Every object of a resource in a namespace (`None`: all namespaces), by name.
    pub(crate) fn list(&self, resource: &str, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((r, ns, _), _)| r == resource && namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Writes a changed object back (a new resourceVersion; a new generation when `spec`
    /// changed).
    pub(crate) fn update(&mut self, resource: &str, namespace: &str, mut object: Value) -> Value {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let key = (resource.to_string(), namespace.to_string(), name);
        if let Some(old) = self.objects.get(&key)
            && old["spec"] != object["spec"]
        {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            object["metadata"]["generation"] = json!(generation);
        }
        object["metadata"]["resourceVersion"] = json!(self.next_version());
        self.objects.insert(key, object.clone());
        object
    }

    pub(crate) fn remove(&mut self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.objects
            .remove(&(resource.into(), namespace.into(), name.into()))
    }

    /// Deletes a pod as the API server does: grace 0 removes it now, else it is marked
    /// terminating and the kubelet removes it when the grace period ends.
    pub(crate) fn delete_pod(&mut self, namespace: &str, name: &str, grace: u64) -> Option<Value> {
        if grace == 0 {
            let gone = self.remove("pods", namespace, name)?;
            self.reconcile();
            return Some(gone);
        }
        let mut pod = self.get("pods", namespace, name)?.clone();
        if pod["metadata"]["deletionTimestamp"].is_null() {
            pod["metadata"]["deletionTimestamp"] = json!(now());
            pod["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            self.terminating.push(Terminating {
                namespace: namespace.into(),
                name: name.into(),
                uid: pod["metadata"]["uid"].as_str().unwrap_or_default().into(),
                grace,
            });
        }
        let pod = self.update("pods", namespace, pod);
        self.reconcile();
        Some(pod)
    }

    /// The kubelet finished a graceful deletion.
    pub(crate) fn finish_termination(&mut self, t: &Terminating) {
        if self
            .get("pods", &t.namespace, &t.name)
            .is_some_and(|p| p["metadata"]["uid"] == t.uid.as_str())
        {
            self.remove("pods", &t.namespace, &t.name);
            self.reconcile();
        }
    }

    /// The pods whose controller is `uid`, terminating ones too.
    fn owned_pods(&self, uid: &str) -> Vec<Value> {
        self.list("pods", None)
            .into_iter()
            .filter(|p| controller_uid(p).as_deref() == Some(uid))
            .collect()
    }

    /// Where the scheduler puts a new pod: the schedulable node with the fewest pods.
    fn schedule(&self) -> Option<String> {
        let nodes: Vec<Value> = self.list("nodes", None);
        let count = |n: &str| {
            self.list("pods", None)
                .iter()
                .filter(|p| p["spec"]["nodeName"] == n)
                .count()
        };
        nodes
            .iter()
            .filter(|n| n["spec"]["unschedulable"] != true)
            .filter_map(|n| n["metadata"]["name"].as_str())
            .min_by_key(|n| count(n))
            .map(str::to_string)
    }

    /// A pod of `template`, owned by `owner` (kind, name, uid).
    fn create_pod(
        &mut self,
        namespace: &str,
        name: &str,
        template: &Value,
        owner: (&str, &str, &str),
    ) {
        let node = self.schedule();
        let mut spec = template["spec"].clone();
        let containers = spec["containers"].clone();
        let (phase, conditions) = match (&node, self.bare) {
            (Some(n), false) => {
                spec["nodeName"] = json!(n);
                (
                    "Running",
                    json!([
                        {"type": "Initialized", "status": "True"},
                        {"type": "Ready", "status": "True"},
                        {"type": "ContainersReady", "status": "True"},
                        {"type": "PodScheduled", "status": "True"}
                    ]),
                )
            }
            (Some(n), true) => {
                spec["nodeName"] = json!(n);
                (
                    "Pending",
                    json!([{"type": "PodScheduled", "status": "True"}]),
                )
            }
            (None, _) => (
                "Pending",
                json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]),
            ),
        };
        let api_version = if owner.0 == "ReplicaSet" || owner.0 == "StatefulSet" {
            "apps/v1"
        } else {
            "v1"
        };
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "labels": template["metadata"]["labels"],
                "ownerReferences": [{"apiVersion": api_version, "kind": owner.0, "name": owner.1,
                    "uid": owner.2, "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": spec,
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": containers.as_array().into_iter().flatten().map(|c| json!({"name": c["name"], "ready": phase == "Running", "restartCount": 0, "image": c["image"], "imageID": ""})).collect::<Vec<_>>()},
        });
        self.insert("pods", namespace, pod);
    }

    /// Runs every controller until nothing changes.
    pub(crate) fn reconcile(&mut self) {
        self.deployments();
        for resource in ["replicasets", "statefulsets"] {
            for owner in self.list(resource, None) {
                self.replicas_of(resource, &owner);
            }
        }
        self.statuses();
    }

    /// Each Deployment has a ReplicaSet per pod template it has had (annotated with the
    /// revision, as the Deployment itself is): the one with the current template asks for the
    /// replica count, the others for none. A template put back (a rollback) reuses its
    /// ReplicaSet, which becomes the newest revision.
    fn deployments(&mut self) {
        for mut d in self.list("deployments", None) {
            let ns = d["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let uid = d["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let name = d["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
            let owned: Vec<Value> = self
                .list("replicasets", Some(&ns))
                .into_iter()
                .filter(|rs| controller_uid(rs).as_deref() == Some(uid.as_str()))
                .collect();
            let newest = owned.iter().filter_map(revision).max().unwrap_or(0);
            let current = d["spec"]["template"].clone();
            let matching = owned
                .iter()
                .find(|rs| without_hash(&rs["spec"]["template"]) == current)
                .cloned();
            let (current_name, current_revision) = match matching {
                Some(mut rs) => {
                    let mut rev = revision(&rs).unwrap_or(newest);
                    if rev < newest {
                        rev = newest + 1;
                        rs["metadata"]["annotations"][REVISION] = json!(rev.to_string());
                    }
                    rs["spec"]["replicas"] = json!(replicas);
                    let name = rs["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    if self.get("replicasets", &ns, &name) != Some(&rs) {
                        self.update("replicasets", &ns, rs);
                    }
                    (name, rev)
                }
                None => {
                    // The first revision's hash from the uid, later ones from the revision too.
                    let hash = if newest == 0 {
                        uid.replace('-', "")[..10].to_string()
                    } else {
                        format!("{:010x}", fnv(&format!("{uid}{newest}")))[..10].to_string()
                    };
                    let hash = hash.as_str();
                    let mut template = current.clone();
                    template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                    let mut selector = d["spec"]["selector"].clone();
                    selector["matchLabels"]["pod-template-hash"] = json!(hash);
                    let rs_name = format!("{name}-{hash}");
                    let rs = json!({
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "metadata": {
                            "name": rs_name,
                            "labels": template["metadata"]["labels"],
                            "annotations": {REVISION: (newest + 1).to_string()},
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}],
                        },
                        "spec": {"replicas": replicas, "selector": selector, "template": template},
                    });
                    self.insert("replicasets", &ns, rs);
                    (rs_name, newest + 1)
                }
            };
            for mut old in owned {
                if old["metadata"]["name"].as_str() != Some(current_name.as_str())
                    && old["spec"]["replicas"] != json!(0)
                {
                    old["spec"]["replicas"] = json!(0);
                    self.update("replicasets", &ns, old);
                }
            }
            let annotation = json!(current_revision.to_string());
            if d["metadata"]["annotations"][REVISION] != annotation {
                d["metadata"]["annotations"][REVISION] = annotation;
                self.update("deployments", &ns, d);
            }
        }
    }

    /// A ReplicaSet or StatefulSet creates or removes pods until its active ones match.
    fn replicas_of(&mut self, resource: &str, owner: &Value) {
        let ns = owner["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let uid = owner["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = owner["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let want = owner["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
        let pods = self.owned_pods(&uid);
        let mut active: Vec<Value> = pods
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .cloned()
            .collect();
        let kind = if resource == "replicasets" {
            "ReplicaSet"
        } else {
            "StatefulSet"
        };
        let template = owner["spec"]["template"].clone();
        while active.len() < want {
            let pod_name = if kind == "StatefulSet" {
                // The lowest ordinal with no pod at all (a terminating one keeps its name).
                let taken: Vec<String> = pods
                    .iter()
                    .chain(active.iter())
                    .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
                    .collect();
                match (0..want)
                    .map(|i| format!("{name}-{i}"))
                    .find(|n| !taken.contains(n))
                {
                    Some(n) => n,
                    None => break,
                }
            } else {
                format!("{name}-{}", suffix(5))
            };
            self.create_pod(&ns, &pod_name, &template, (kind, &name, &uid));
            active.push(
                self.get("pods", &ns, &pod_name)
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        // Scale down: the newest go first (names sort as a stand-in for age).
        active.sort_by(|a, b| {
            a["metadata"]["name"]
                .as_str()
                .cmp(&b["metadata"]["name"].as_str())
        });
        while active.len() > want {
            if let Some(p) = active.pop() {
                self.remove(
                    "pods",
                    &ns,
                    p["metadata"]["name"].as_str().unwrap_or_default(),
                );
            }
        }
    }

    /// Status of ReplicaSets, StatefulSets and Deployments from their pods.
    fn statuses(&mut self) {
        for resource in ["replicasets", "statefulsets"] {
            for mut owner in self.list(resource, None) {
                let uid = owner["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let (count, ready) = self.counts(&[uid]);
                let status = json!({"replicas": count, "readyReplicas": ready, "availableReplicas": ready,
                    "currentReplicas": count, "updatedReplicas": count, "fullyLabeledReplicas": count,
                    "observedGeneration": owner["metadata"]["generation"]});
                if owner["status"] != status {
                    owner["status"] = status;
                    let ns = owner["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    self.update(resource, &ns, owner);
                }
            }
        }
        for mut d in self.list("deployments", None) {
            let uid = d["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let ns = d["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let sets: Vec<String> = self
                .list("replicasets", Some(&ns))
                .iter()
                .filter(|rs| controller_uid(rs).as_deref() == Some(uid.as_str()))
                .filter_map(|rs| rs["metadata"]["uid"].as_str().map(str::to_string))
                .collect();
            let (count, ready) = self.counts(&sets);
            let desired = d["spec"]["replicas"].as_i64().unwrap_or(1);
            let available = ready as i64 >= desired;
            let status = json!({
                "observedGeneration": d["metadata"]["generation"],
                "replicas": count, "updatedReplicas": count, "readyReplicas": ready,
                "availableReplicas": ready, "unavailableReplicas": (desired - ready as i64).max(0),
                "conditions": [
                    {"type": "Available", "status": if available { "True" } else { "False" },
                     "reason": if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                     "message": if available { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." }},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                     "message": format!("ReplicaSet \"{}\" has successfully progressed.", d["metadata"]["name"].as_str().unwrap_or_default())}
                ],
            });
            if d["status"] != status {
                d["status"] = status;
                self.update("deployments", &ns, d);
            }
        }
    }

    /// Active and ready pods of these controllers.
    fn counts(&self, owners: &[String]) -> (usize, usize) {
        let pods: Vec<Value> = owners
            .iter()
            .flat_map(|u| self.owned_pods(u))
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .collect();
        let ready = pods.iter().filter(|p| is_ready(p)).count();
        (pods.len(), ready)
    }

    /// The PodDisruptionBudget that would be violated by evicting `pod`: `(name, needs, healthy)`.
    pub(crate) fn budget_refusing(&self, pod: &Value) -> Option<(String, i64, i64)> {
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
        let labels = labels_of(pod);
        for pdb in self.list("poddisruptionbudgets", Some(ns)) {
            let selector = LabelSelector::of_object(&pdb["spec"]["selector"]);
            if !selector.matches(&labels) {
                continue;
            }
            let covered: Vec<Value> = self
                .list("pods", Some(ns))
                .into_iter()
                .filter(|p| selector.matches(&labels_of(p)))
                .collect();
            let healthy = covered
                .iter()
                .filter(|p| p["metadata"]["deletionTimestamp"].is_null() && is_ready(p))
                .count() as i64;
            let needs = match (
                pdb["spec"]["minAvailable"].as_i64(),
                pdb["spec"]["maxUnavailable"].as_i64(),
            ) {
                (Some(min), _) => min,
                (None, Some(max)) => covered.len() as i64 - max,
                (None, None) => 0,
            };
            if healthy - 1 < needs || !is_ready(pod) && healthy < needs {
                return Some((
                    pdb["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    needs,
                    healthy,
                ));
            }
        }
        None
    }
}

pub(crate) fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

pub(crate) fn controller_uid(object: &Value) -> Option<String> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["controller"] == true)
        .and_then(|o| o["uid"].as_str().map(str::to_string))
}

const REVISION: &str = "deployment.kubernetes.io/revision";

fn revision(rs: &Value) -> Option<u64> {
    rs["metadata"]["annotations"][REVISION]
        .as_str()?
        .parse()
        .ok()
}

/// A ReplicaSet's template as the Deployment wrote it (without the controller's hash label).
fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove("pod-template-hash");
    }
    t
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
