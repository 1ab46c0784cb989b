//! Swarm faults: kill a service task's container (the orchestrator reschedules it; irreversible)
//! and scale a service (undone by restoring the replica count recorded before the change).

use serde_json::json;

use super::process::FaultOrigin;
use crate::ledger::{Lease, Ledger, LedgerError, Undo};
use crate::target::docker::{Engine, EngineError};
use crate::target::swarm::{ServiceInfo, TaskInfo, scale};

/// Applying a Swarm fault failed.
#[derive(Debug, thiserror::Error)]
pub enum SwarmFaultError {
    /// The ledger refused (halted) or failed; nothing was applied.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The engine refused or failed; the lease is closed as apply-failed.
    #[error("{what}: {source}")]
    Engine {
        /// The task or service.
        what: String,
        /// Why.
        source: EngineError,
    },
}

/// Kills the container of a running task (it must run on this engine's node).
pub async fn kill_task(
    ledger: &Ledger,
    engine: &Engine,
    task: &TaskInfo,
    signal: &str,
    origin: &FaultOrigin,
) -> Result<Lease, SwarmFaultError> {
    let what = format!("task {} of service {}", task.id, task.service);
    let applied = async {
        if task.container_id.is_empty() {
            Err(EngineError::NotFound(format!(
                "the container of {what} (it runs on node {}, not on this engine)",
                task.node_id
            )))
        } else {
            engine.crash(&task.container_id, signal).await
        }
    };
    ledger
        .apply(&origin.lease(task.describe(), Undo::Irreversible), applied)
        .await?
        .map_err(|source| SwarmFaultError::Engine {
            what: what.clone(),
            source,
        })
}

/// Sets a service's replica count; the lease restores the count it had.
pub async fn scale_service(
    ledger: &Ledger,
    engine: &Engine,
    service: &ServiceInfo,
    replicas: u64,
    origin: &FaultOrigin,
) -> Result<Lease, SwarmFaultError> {
    let what = format!("service {}", service.name);
    let Some(before) = service.replicas else {
        return Err(SwarmFaultError::Engine {
            what,
            source: EngineError::Api {
                action: "scale".into(),
                message: "only replicated services can be scaled (this one is global)".into(),
                status: None,
            },
        });
    };
    let mut target = service.describe();
    target["scaled_to"] = json!(replicas);
    let undo = Undo::ScaleService {
        id: service.id.clone(),
        name: service.name.clone(),
        replicas: before,
    };
    let applied = async { scale(engine, &service.id, replicas).await.map(|_| ()) };
    ledger
        .apply(&origin.lease(target, undo), applied)
        .await?
        .map_err(|source| SwarmFaultError::Engine { what, source })
}
