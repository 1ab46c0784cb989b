//! What the monkey may kill: opted-in instances (containers, Swarm services and Kubernetes
//! workloads by label, processes by config entry), grouped by app / stack / cluster. Nothing without opt-in is ever a
//! candidate; `monkeywrench.skip=true`, an `exceptions` entry and monkeywrench itself always win.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::config::{Exception, Grouping, KillMode, MonkeyConfig};
use crate::target::docker::{ContainerInfo, Engine};
use crate::target::process::ProcessInfo;
use crate::target::protected::Protected;
use crate::target::swarm;

/// The opt-in label (containers and Swarm services).
pub const OPT_IN_LABEL: &str = "monkeywrench.monkey";
/// Grouping labels.
pub const APP_LABEL: &str = "monkeywrench.app";
pub const STACK_LABEL: &str = "monkeywrench.stack";
pub const CLUSTER_LABEL: &str = "monkeywrench.cluster";
/// Per-group override of the mean time between kills (work days).
pub const MEAN_LABEL: &str = "monkeywrench.mean_time_between_kills_in_work_days";
/// Per-group override of the min time between kills (work days).
pub const MIN_LABEL: &str = "monkeywrench.min_time_between_kills_in_work_days";
/// Per-group override of the kill mode (`one`, `fixed:2`, `fixed-percent:50`, …).
pub const KILL_MODE_LABEL: &str = "monkeywrench.kill_mode";

/// How an instance is killed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum InstanceRef {
    /// A container (also a Swarm task's container).
    Container { id: String },
    Process {
        /// The process as found (identity guards against pid reuse).
        #[serde(skip)]
        info: Box<ProcessInfo>,
        pid: i32,
    },
    /// A Kubernetes pod (the instance's name is the pod's).
    #[serde(rename = "k8s-pod")]
    Pod {
        namespace: String,
        /// Guards against a replacement that took the name.
        uid: String,
        #[serde(skip)]
        cluster: crate::target::k8s::ClusterRef,
    },
}

impl InstanceRef {
    /// A sort key that tells instances with the same name apart.
    fn key(&self) -> (&str, i32) {
        match self {
            InstanceRef::Container { id } => (id, 0),
            InstanceRef::Process { pid, .. } => ("", *pid),
            InstanceRef::Pod { uid, .. } => (uid, 0),
        }
    }
}

/// One candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instance {
    /// Container or process name.
    pub name: String,
    /// How to reach it.
    #[serde(flatten)]
    pub target: InstanceRef,
    pub app: String,
    pub stack: String,
    pub cluster: String,
    /// Per-group overrides carried by this instance's labels.
    #[serde(skip)]
    pub overrides: BTreeMap<String, String>,
}

impl Instance {
    /// The JSON recorded in history, webhooks and the ledger.
    pub fn describe(&self) -> Value {
        let mut v = json!({"name": self.name, "app": self.app, "stack": self.stack, "cluster": self.cluster});
        match &self.target {
            InstanceRef::Container { id } => {
                v["kind"] = json!("container");
                v["id"] = json!(id);
            }
            InstanceRef::Process { pid, .. } => {
                v["kind"] = json!("process");
                v["pid"] = json!(pid);
            }
            InstanceRef::Pod { namespace, uid, .. } => {
                v["kind"] = json!("k8s-pod");
                v["namespace"] = json!(namespace);
                v["uid"] = json!(uid);
            }
        }
        v
    }
}

/// A group and its eligible instances.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// `app`, `app/stack` or `app/stack/cluster`.
    pub key: String,
    /// Instances, by name.
    pub instances: Vec<Instance>,
    /// Mean work days between kills for this group.
    pub mean: f64,
    /// Min work days between kills for this group.
    pub min: u32,
    /// Kill mode for this group.
    pub kill_mode: KillMode,
}

/// Everything eligible now, and what could not be looked at.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Groups by key.
    pub groups: BTreeMap<String, Group>,
    /// Problems (engine unreachable, bad override labels, …).
    pub warnings: Vec<String>,
}

impl Inventory {
    /// What the daily draw needs of each group.
    pub fn candidates(&self) -> Vec<super::planner::Candidate> {
        self.groups
            .values()
            .map(|g| super::planner::Candidate {
                key: g.key.clone(),
                mean: g.mean,
                instances: g.instances.len(),
            })
            .collect()
    }
}

/// Finds every opted-in instance and groups it.
pub async fn discover(config: &MonkeyConfig) -> Inventory {
    let mut instances = Vec::new();
    let mut warnings = Vec::new();
    // Never monkeywrench itself: not this monkey, a guard, a run, another monkey, its container.
    let protected = Protected::current();
    for entry in &config.processes {
        for p in entry.selector.find(&protected) {
            instances.push(Instance {
                name: p.name.clone(),
                target: InstanceRef::Process {
                    pid: p.identity.pid,
                    info: Box::new(p),
                },
                app: entry.app.clone(),
                stack: entry.stack.clone().unwrap_or_default(),
                cluster: entry.cluster.clone().unwrap_or_default(),
                overrides: BTreeMap::new(),
            });
        }
    }
    if config.docker {
        match Engine::connect().await {
            Ok(engine) => {
                match containers(&engine, config, &protected).await {
                    Ok(found) => instances.extend(found),
                    Err(e) => warnings.push(e),
                }
                instances.extend(swarm_tasks(&engine, config, &protected, &mut warnings).await);
            }
            Err(e) => warnings.push(format!("containers not considered: {e}")),
        }
    }
    if let Some(scope) = &config.kubernetes {
        match super::pods::discover(scope).await {
            Ok(found) => instances.extend(found),
            Err(e) => warnings.push(e),
        }
    }
    instances.retain(|i| !config.exceptions.iter().any(|e| excepted(e, i)));
    let mut inventory = group(config, instances);
    inventory.warnings.splice(0..0, warnings);
    inventory
}

/// Opted-in running containers (Swarm task containers are handled through their service).
async fn containers(
    engine: &Engine,
    config: &MonkeyConfig,
    protected: &Protected,
) -> Result<Vec<Instance>, String> {
    let all = engine
        .containers(false)
        .await
        .map_err(|e| format!("containers not considered: {e}"))?;
    Ok(all
        .into_iter()
        .filter(|c| c.state == "running" && !c.opted_out() && protected.container(&c.id).is_none())
        .filter(|c| opted_in(c.labels.get(OPT_IN_LABEL)))
        .filter(|c| config.docker_scope.as_ref().is_none_or(|s| s.matches(c)))
        .map(|c| container_instance(&c, &c.labels, &c.name))
        .collect())
}

fn container_instance(
    c: &ContainerInfo,
    labels: &BTreeMap<String, String>,
    name: &str,
) -> Instance {
    let app = labels
        .get(APP_LABEL)
        .or_else(|| labels.get("com.docker.compose.service"))
        .or_else(|| labels.get("com.docker.swarm.service.name"))
        .cloned()
        .unwrap_or_else(|| name.to_string());
    Instance {
        name: name.to_string(),
        target: InstanceRef::Container { id: c.id.clone() },
        app,
        stack: labels.get(STACK_LABEL).cloned().unwrap_or_default(),
        cluster: labels.get(CLUSTER_LABEL).cloned().unwrap_or_default(),
        overrides: labels
            .iter()
            .filter(|(k, _)| [MEAN_LABEL, MIN_LABEL, KILL_MODE_LABEL].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// The running tasks of opted-in Swarm services on this node (nothing when not a swarm manager).
async fn swarm_tasks(
    engine: &Engine,
    config: &MonkeyConfig,
    protected: &Protected,
    warnings: &mut Vec<String>,
) -> Vec<Instance> {
    if swarm::require_manager(engine).await.is_err() {
        return Vec::new();
    }
    let services = match swarm::labelled_services(engine, OPT_IN_LABEL).await {
        Ok(s) => s,
        Err(e) => {
            warnings.push(format!("Swarm services not considered: {e}"));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    let in_scope = |s: &swarm::ServiceInfo| {
        config.docker_scope.as_ref().is_none_or(|scope| {
            scope.matches(&ContainerInfo {
                id: s.id.clone(),
                name: s.name.clone(),
                image: String::new(),
                labels: s.labels.clone(),
                state: "running".into(),
            })
        })
    };
    for service in services
        .into_iter()
        .filter(|s| opted_in(s.labels.get(OPT_IN_LABEL)) && !s.opted_out() && in_scope(s))
    {
        match swarm::running_tasks(engine, &service).await {
            Ok(tasks) => {
                for t in tasks.into_iter().filter(|t| {
                    !t.container_id.is_empty() && protected.container(&t.container_id).is_none()
                }) {
                    let c = ContainerInfo {
                        id: t.container_id.clone(),
                        name: String::new(),
                        image: String::new(),
                        labels: service.labels.clone(),
                        state: "running".into(),
                    };
                    let mut labels = service.labels.clone();
                    labels
                        .entry(APP_LABEL.into())
                        .or_insert_with(|| service.name.clone());
                    let name = format!("{}.{}", service.name, t.slot.unwrap_or(0));
                    out.push(container_instance(&c, &labels, &name));
                }
            }
            Err(e) => warnings.push(format!("tasks of service {}: {e}", service.name)),
        }
    }
    out
}

fn opted_in(value: Option<&String>) -> bool {
    value.is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        v == "enabled" || v == "true"
    })
}

fn excepted(e: &Exception, i: &Instance) -> bool {
    e.app.as_ref().is_none_or(|a| *a == i.app)
        && e.stack.as_ref().is_none_or(|s| *s == i.stack)
        && e.cluster.as_ref().is_none_or(|c| *c == i.cluster)
        && e.name.as_ref().is_none_or(|n| *n == i.name)
}

/// Groups instances by the configured grouping; per-group overrides come from labels.
pub fn group(config: &MonkeyConfig, instances: Vec<Instance>) -> Inventory {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut warnings = Vec::new();
    for instance in instances {
        let key = group_key(config.grouping, &instance);
        let g = groups.entry(key.clone()).or_insert_with(|| Group {
            key,
            instances: Vec::new(),
            mean: config.mean_time_between_kills,
            min: config.min_time_between_kills,
            kill_mode: config.kill_mode.clone(),
        });
        g.instances.push(instance);
    }
    for g in groups.values_mut() {
        g.instances.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| a.target.key().cmp(&b.target.key()))
        });
        let label = |k: &str| g.instances.iter().find_map(|i| i.overrides.get(k).cloned());
        if let Some(v) = label(MEAN_LABEL) {
            match v.parse::<f64>() {
                Ok(m) if m > 0.0 => g.mean = m,
                _ => warnings.push(format!(
                    "group {}: {MEAN_LABEL}={v:?} is not a number > 0; using {}",
                    g.key, g.mean
                )),
            }
        }
        if let Some(v) = label(MIN_LABEL) {
            match v.parse::<u32>() {
                Ok(m) => g.min = m,
                _ => warnings.push(format!(
                    "group {}: {MIN_LABEL}={v:?} is not a whole number ≥ 0; using {}",
                    g.key, g.min
                )),
            }
        }
        if let Some(v) = label(KILL_MODE_LABEL) {
            match KillMode::parse_label(&v) {
                Ok(m) => g.kill_mode = m,
                Err(e) => warnings.push(format!("group {}: {KILL_MODE_LABEL}: {e}", g.key)),
            }
        }
    }
    Inventory { groups, warnings }
}

/// `app`, `app/stack` or `app/stack/cluster`.
pub fn group_key(grouping: Grouping, i: &Instance) -> String {
    match grouping {
        Grouping::App => i.app.clone(),
        Grouping::Stack => format!("{}/{}", i.app, i.stack),
        Grouping::Cluster => format!("{}/{}/{}", i.app, i.stack, i.cluster),
    }
}
