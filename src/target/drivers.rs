//! The target platforms behind [`Driver`]: processes on this host, Docker containers, and the
//! running tasks of a Swarm service.

use serde_json::{Value, json};

use super::container_selector::ContainerSelector;
use super::docker::{ContainerInfo, Engine};
use super::process::ProcessInfo;
use super::protected::Protected;
use super::select::{Driver, FindError};
use super::selector::ProcessSelector;
use super::swarm::{self, ServiceInfo, TaskInfo};

/// Processes on this host; what `protected` protects is never matched.
#[derive(Debug, Clone)]
pub struct Processes {
    /// What is never a target.
    pub protected: Protected,
}

impl Driver for Processes {
    type Selector = ProcessSelector;
    type Target = ProcessInfo;

    async fn find(&self, selector: &ProcessSelector) -> Result<Vec<ProcessInfo>, FindError> {
        Ok(selector.find(&self.protected))
    }

    fn describe(p: &ProcessInfo) -> Value {
        json!({"pid": p.identity.pid, "name": p.name})
    }
}

/// Running containers of a Docker engine.
impl Driver for Engine {
    type Selector = ContainerSelector;
    type Target = ContainerInfo;

    async fn find(&self, selector: &ContainerSelector) -> Result<Vec<ContainerInfo>, FindError> {
        Ok(selector.find(self).await?)
    }

    fn describe(c: &ContainerInfo) -> Value {
        c.describe()
    }
}

/// The running tasks of Swarm services (never the one monkeywrench runs in).
#[derive(Debug, Clone)]
pub struct ServiceTasks {
    /// The engine (a swarm manager).
    pub engine: Engine,
    /// What is never a target.
    pub protected: Protected,
}

impl Driver for ServiceTasks {
    type Selector = ServiceInfo;
    type Target = TaskInfo;

    async fn find(&self, service: &ServiceInfo) -> Result<Vec<TaskInfo>, FindError> {
        let tasks = swarm::running_tasks(&self.engine, service).await?;
        Ok(tasks
            .into_iter()
            .filter(|t| self.protected.container(&t.container_id).is_none())
            .collect())
    }

    fn describe(t: &TaskInfo) -> Value {
        t.describe()
    }
}
