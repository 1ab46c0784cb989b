//! What a Swarm fault does to one victim.

use serde_json::json;

use super::Undo;
use crate::fault::{self, Act, Error, Origin, Plan};
use crate::target::docker::{Engine, EngineError};
use crate::target::swarm::{ServiceInfo, TaskInfo, scale};

/// What happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Kill the container of a running task (it must run on this engine's node).
    KillTask { signal: String },
    /// Set the service's replica count; the lease restores the count it had.
    Scale {
        /// Replicas while the fault lasts.
        replicas: u64,
    },
}

/// A task or a service, and the engine that manages it.
#[derive(Debug, Clone)]
pub enum Victim {
    /// A running task.
    Task { engine: Engine, task: TaskInfo },
    Service {
        engine: Engine,
        service: ServiceInfo,
    },
}

fn engine_error(what: String, e: EngineError) -> Error {
    match e {
        EngineError::NotFound(what) => Error::Gone(format!("{what} is gone")),
        other if other.is_unavailable() => Error::unavailable(what, other),
        other => Error::failed(what, other),
    }
}

impl Act for Action {
    type Victim = Victim;
    type Planned = ();

    async fn plan(&self, victim: &Victim, _: &Origin) -> Result<(Plan, ()), Error> {
        let plan = match (self, victim) {
            (Action::KillTask { .. }, Victim::Task { task, .. }) => Plan {
                target: task.describe(),
                undo: fault::Undo::NOTHING,
                settles_within: None,
            },
            (Action::Scale { replicas }, Victim::Service { service, .. }) => {
                let Some(before) = service.replicas else {
                    return Err(Error::failed(
                        format!("service {}", service.name),
                        "only replicated services can be scaled (this one is global)",
                    ));
                };
                let mut target = service.describe();
                target["scaled_to"] = json!(replicas);
                Plan {
                    target,
                    undo: fault::Undo::Swarm(Undo::ScaleService {
                        id: service.id.clone(),
                        name: service.name.clone(),
                        replicas: before,
                    }),
                    settles_within: None,
                }
            }
            (Action::KillTask { .. }, Victim::Service { service, .. }) => {
                return Err(mismatch(&format!("service {}", service.name)));
            }
            (Action::Scale { .. }, Victim::Task { task, .. }) => {
                return Err(mismatch(&format!("task {}", task.id)));
            }
        };
        Ok((plan, ()))
    }

    async fn apply(self, victim: Victim, (): ()) -> Result<(), Error> {
        match (&self, &victim) {
            (Action::KillTask { signal }, Victim::Task { engine, task }) => {
                let what = format!("task {} of service {}", task.id, task.service);
                if task.container_id.is_empty() {
                    return Err(Error::failed(
                        what,
                        format!(
                            "its container runs on node {}, not on this engine",
                            task.node_id
                        ),
                    ));
                }
                engine
                    .crash(&task.container_id, signal)
                    .await
                    .map_err(|e| engine_error(what, e))
            }
            (Action::Scale { replicas }, Victim::Service { engine, service }) => {
                scale(engine, &service.id, *replicas)
                    .await
                    .map(|_| ())
                    .map_err(|e| engine_error(format!("service {}", service.name), e))
            }
            (Action::KillTask { .. }, Victim::Service { service, .. }) => {
                Err(mismatch(&format!("service {}", service.name)))
            }
            (Action::Scale { .. }, Victim::Task { task, .. }) => {
                Err(mismatch(&format!("task {}", task.id)))
            }
        }
    }
}

fn mismatch(what: &str) -> Error {
    Error::failed(what, "this Swarm fault does not apply to it")
}
