//! Docker Swarm services and their tasks as targets: find a service, list its running tasks,
//! scale it (optimistic update with the service's version, retried when another update won).

use std::collections::{BTreeMap, HashMap};

use bollard::models::{ServiceSpecMode, ServiceSpecModeReplicated, TaskState};
use bollard::query_parameters as q;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::docker::{Engine, EngineError, api_error, object_error, skip_labelled};

/// A Swarm service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// Full id.
    pub id: String,
    pub name: String,
    /// Desired replicas; `None` for a global service.
    pub replicas: Option<u64>,
    /// Service labels.
    pub labels: BTreeMap<String, String>,
}

impl ServiceInfo {
    /// The JSON recorded in the ledger and the journal.
    pub fn describe(&self) -> Value {
        json!({
            "kind": "swarm-service",
            "id": self.id,
            "name": self.name,
            "replicas": self.replicas,
            "labels": self.labels,
        })
    }

    /// Whether `monkeywrench.skip=true` opts it out.
    pub fn opted_out(&self) -> bool {
        skip_labelled(&self.labels)
    }
}

/// A running task of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: String,
    /// Service name.
    pub service: String,
    /// Replica slot (replicated services).
    pub slot: Option<i64>,
    /// The node it runs on.
    pub node_id: String,
    /// The container that runs it.
    pub container_id: String,
}

impl TaskInfo {
    /// The JSON recorded in the ledger and the journal.
    pub fn describe(&self) -> Value {
        json!({
            "kind": "swarm-task",
            "id": self.id,
            "service": self.service,
            "slot": self.slot,
            "node": self.node_id,
            "container": self.container_id,
        })
    }
}

/// Fails with `SwarmInactive` unless this engine is a swarm manager.
pub async fn require_manager(engine: &Engine) -> Result<(), EngineError> {
    engine
        .docker()
        .inspect_swarm()
        .await
        .map(|_| ())
        .map_err(|e| match api_error("inspect swarm", &e) {
            // Not in a swarm at all (503) or a worker node (also 503): either way, no Swarm API.
            EngineError::Api {
                status: Some(503), ..
            } => EngineError::SwarmInactive,
            other => other,
        })
}

/// A service by name or id.
pub async fn service(engine: &Engine, name: &str) -> Result<ServiceInfo, EngineError> {
    require_manager(engine).await?;
    let s = engine
        .docker()
        .inspect_service(name, None::<q::InspectServiceOptions>)
        .await
        .map_err(|e| object_error(&format!("service {name}"), "inspect service", &e))?;
    Ok(service_info(s))
}

fn service_info(s: bollard::models::Service) -> ServiceInfo {
    let spec = s.spec.unwrap_or_default();
    ServiceInfo {
        id: s.id.unwrap_or_default(),
        name: spec.name.unwrap_or_default(),
        replicas: spec
            .mode
            .and_then(|m| m.replicated)
            .map(|r| r.replicas.unwrap_or(1).max(0) as u64),
        labels: spec.labels.unwrap_or_default().into_iter().collect(),
    }
}

/// Services that carry the label `label` (any value: the caller judges it), by name.
pub async fn labelled_services(
    engine: &Engine,
    label: &str,
) -> Result<Vec<ServiceInfo>, EngineError> {
    let filters: HashMap<String, Vec<String>> =
        HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let services = engine
        .docker()
        .list_services(Some(q::ListServicesOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| api_error("list services", &e))?;
    let mut out: Vec<ServiceInfo> = services.into_iter().map(service_info).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The running tasks of a service, by slot.
pub async fn running_tasks(
    engine: &Engine,
    service: &ServiceInfo,
) -> Result<Vec<TaskInfo>, EngineError> {
    let filters: HashMap<String, Vec<String>> = HashMap::from([
        ("service".to_string(), vec![service.id.clone()]),
        ("desired-state".to_string(), vec!["running".to_string()]),
    ]);
    let tasks = engine
        .docker()
        .list_tasks(Some(q::ListTasksOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(|e| api_error("list tasks", &e))?;
    let mut running: Vec<TaskInfo> = tasks
        .into_iter()
        .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING))
        .map(|t| TaskInfo {
            id: t.id.unwrap_or_default(),
            service: service.name.clone(),
            slot: t.slot,
            node_id: t.node_id.unwrap_or_default(),
            container_id: t
                .status
                .and_then(|s| s.container_status)
                .and_then(|c| c.container_id)
                .unwrap_or_default(),
        })
        .collect();
    running.sort_by(|a, b| a.slot.cmp(&b.slot).then(a.id.cmp(&b.id)));
    Ok(running)
}

/// Sets a replicated service's desired replica count; returns the count it had.
pub async fn scale(engine: &Engine, name: &str, replicas: u64) -> Result<u64, EngineError> {
    let mut last = None;
    // Another client may update the service between our read and write: re-read and retry.
    for _ in 0..5 {
        let s = engine
            .docker()
            .inspect_service(name, None::<q::InspectServiceOptions>)
            .await
            .map_err(|e| object_error(&format!("service {name}"), "inspect service", &e))?;
        let version = s.version.and_then(|v| v.index).unwrap_or(0);
        let mut spec = s.spec.unwrap_or_default();
        let before = match spec.mode.as_ref().and_then(|m| m.replicated.as_ref()) {
            Some(r) => r.replicas.unwrap_or(1).max(0) as u64,
            None => {
                return Err(EngineError::Api {
                    action: format!("scale service {name}"),
                    message: "only replicated services can be scaled (this one is global)".into(),
                    status: None,
                });
            }
        };
        spec.mode = Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(replicas as i64),
            }),
            ..Default::default()
        });
        let options = q::UpdateServiceOptions {
            version: version as i32,
            ..Default::default()
        };
        match engine
            .docker()
            .update_service(name, spec, options, None)
            .await
        {
            Ok(_) => return Ok(before),
            Err(e) if e.to_string().contains("out of sequence") => last = Some(e),
            Err(e) => {
                return Err(object_error(
                    &format!("service {name}"),
                    "scale service",
                    &e,
                ));
            }
        }
    }
    Err(last
        .map(|e| api_error(&format!("scale service {name}"), &e))
        .unwrap_or(EngineError::NotFound(format!("service {name}"))))
}

/// `(running, desired)` replicas of a service (`desired` = running nodes' share for global ones).
pub async fn replicas(engine: &Engine, name: &str) -> Result<(u64, Option<u64>), EngineError> {
    let s = service(engine, name).await?;
    let running = running_tasks(engine, &s).await?.len() as u64;
    Ok((running, s.replicas))
}
