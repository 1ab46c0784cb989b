//! The Swarm verbs, their argument schemas, and typed arguments parsed once.

use serde_json::Value;

use super::act::{Action, Victim};
use crate::fault::process::{parse_radius, read_signal};
use crate::fault::{Error, Family, Selecting, Victims};
use crate::schema::{ArgSpec, ArgType, ArgumentProblem, Reader};
use crate::target::docker::Engine;
use crate::target::swarm::{self, ServiceInfo};
use crate::target::{BlastRadius, Driver, FindError, ServiceTasks, select};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `swarm.kill_task`.
    KillTask,
    /// `swarm.scale`.
    Scale,
}

pub(crate) const SERVICE_ARG: ArgSpec =
    ArgSpec::required("service", ArgType::Str, "Swarm service name or id");

const KILL_TASK_ARGS: &[ArgSpec] = &[
    SERVICE_ARG,
    ArgSpec::optional(
        "signal",
        ArgType::Str,
        Some("SIGKILL"),
        "signal sent to the task's container",
    ),
];

const SCALE_ARGS: &[ArgSpec] = &[
    SERVICE_ARG,
    ArgSpec::required(
        "replicas",
        ArgType::Int {
            min: 0,
            max: 100_000,
        },
        "replica count while the fault lasts",
    ),
];

impl Verb {
    pub const ALL: [Verb; 2] = [Verb::KillTask, Verb::Scale];

    /// The builtin's name.
    pub fn name(self) -> &'static str {
        match self {
            Verb::KillTask => "swarm.kill_task",
            Verb::Scale => "swarm.scale",
        }
    }

    /// One line for the catalogue.
    pub fn describe(self) -> &'static str {
        match self {
            Verb::KillTask => {
                "kill running tasks of a Swarm service (their containers); the orchestrator replaces them"
            }
            Verb::Scale => {
                "scale a Swarm service to a replica count; the former count is restored when reverted"
            }
        }
    }

    pub fn arguments(self) -> &'static [ArgSpec] {
        match self {
            Verb::KillTask => KILL_TASK_ARGS,
            Verb::Scale => SCALE_ARGS,
        }
    }

    /// Whether its effect can be undone (so `duration` applies).
    pub fn is_reversible(self) -> bool {
        match self {
            Verb::Scale => true,
            Verb::KillTask => false,
        }
    }

    /// Whether it picks victims with a blast radius.
    pub fn takes_targets(self) -> bool {
        match self {
            Verb::KillTask => true,
            Verb::Scale => false,
        }
    }

    /// Parses substituted arguments.
    pub fn parse(self, args: &Value) -> Result<SwarmFault, Vec<ArgumentProblem>> {
        let mut r = Reader::new(self.arguments(), args);
        let service = r.text("service").unwrap_or_default();
        let radius = parse_radius(&mut r);
        let action = match self {
            Verb::KillTask => {
                let signal = read_signal(&mut r);
                Action::KillTask { signal }
            }
            Verb::Scale => Action::Scale {
                replicas: r.int("replicas").unwrap_or_default().max(0) as u64,
            },
        };
        r.finish(SwarmFault {
            action,
            service,
            radius,
        })
    }
}

/// A parsed Swarm fault call.
#[derive(Debug, Clone)]
pub struct SwarmFault {
    pub action: Action,
    service: String,
    radius: Option<BlastRadius>,
}

/// The service `name` names, unless it opted out.
async fn service_target(engine: &Engine, name: &str) -> Result<ServiceInfo, Error> {
    let service = swarm::service(engine, name)
        .await
        .map_err(FindError::from)?;
    if service.opted_out() {
        return Err(Error::failed(
            format!("service {name}"),
            "it is labelled monkeywrench.skip=true and is never a target",
        ));
    }
    Ok(service)
}

impl Family for SwarmFault {
    type Act = Action;

    async fn victims(&self, selecting: &Selecting) -> Result<Victims<Victim>, Error> {
        let engine = Engine::connect().await.map_err(FindError::from)?;
        let service = service_target(&engine, &self.service).await?;
        match &self.action {
            Action::Scale { .. } => Ok(Victims::named(Victim::Service { engine, service })),
            Action::KillTask { .. } => {
                let tasks = ServiceTasks {
                    engine: engine.clone(),
                    protected: selecting.protected.clone(),
                };
                let radius = self.radius.as_ref().unwrap_or(&selecting.radius);
                let what = format!("a running task of service {}", service.name);
                let selection = select(&tasks, &service, &what, radius, selecting.seed).await?;
                Ok(Victims::picked(selection, ServiceTasks::describe, |task| {
                    Victim::Task {
                        engine: engine.clone(),
                        task,
                    }
                }))
            }
        }
    }

    fn act(&self) -> &Action {
        &self.action
    }
}
