//! What a container fault does to one victim.

use std::time::Duration;

use serde_json::Value;

use super::Undo;
use crate::fault::{self, Act, Error, Origin, Plan};
use crate::target::docker::{ContainerInfo, Engine, EngineError};

/// What happens to one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a signal to the main process as a crash would (SIGKILL by default).
    Kill { signal: String },
    /// Stop (SIGTERM, SIGKILL after `timeout_s`); reverted by starting it.
    Stop {
        /// Grace period in seconds.
        timeout_s: i32,
    },
    /// Freeze every process; reverted by unpausing.
    Pause,
    /// Restart (stop, then start); nothing left to undo.
    Restart {
        /// Grace period in seconds.
        timeout_s: i32,
    },
    /// Cut it off a network (a partition); reverted by reconnecting.
    Disconnect {
        /// Network name or id.
        network: String,
    },
}

/// A container and the engine it runs on.
#[derive(Debug, Clone)]
pub struct Victim {
    pub engine: Engine,
    pub container: ContainerInfo,
}

/// How long after the engine was asked a stop may still take effect: the grace period, plus
/// time for the engine to kill and reap.
fn settles_within(timeout_s: i32) -> Duration {
    Duration::from_secs(timeout_s.max(0) as u64 + 5)
}

/// An engine failure on `victim` as a fault error: a vanished container is `Gone`.
fn engine_error(victim: &ContainerInfo, e: EngineError) -> Error {
    match e {
        EngineError::NotFound(what) => Error::Gone(format!("{what} is gone")),
        // 409: the container is not running (any more).
        EngineError::Api {
            status: Some(409),
            message,
            ..
        } => Error::Gone(message),
        other if other.is_unavailable() => {
            Error::unavailable(format!("container {}", victim.name), other)
        }
        other => Error::failed(format!("container {}", victim.name), other),
    }
}

impl Act for Action {
    type Victim = Victim;
    type Planned = ();

    async fn plan(&self, v: &Victim, _: &Origin) -> Result<(Plan, ()), Error> {
        let (id, name) = (v.container.id.clone(), v.container.name.clone());
        let mut target = v.container.describe();
        let (undo, settles) = match self {
            Action::Kill { .. } => (fault::Undo::NOTHING, None),
            Action::Restart { timeout_s } => {
                (fault::Undo::NOTHING, Some(settles_within(*timeout_s)))
            }
            Action::Stop { timeout_s } => (
                fault::Undo::Container(Undo::StartContainer { id, name }),
                Some(settles_within(*timeout_s)),
            ),
            Action::Pause => (
                fault::Undo::Container(Undo::UnpauseContainer { id, name }),
                None,
            ),
            Action::Disconnect { network } => {
                let fail = |e| engine_error(&v.container, e);
                let network = v.engine.network(network).await.map_err(fail)?;
                // Read the attachment first: it is what the undo restores.
                let attachment = v
                    .engine
                    .attachment(&v.container.id, &network)
                    .await
                    .map_err(fail)?
                    .ok_or_else(|| {
                        Error::failed(
                            format!("container {}", v.container.name),
                            format!("it is not attached to network {network}"),
                        )
                    })?;
                target["network"] = Value::String(network.clone());
                let undo = Undo::ReconnectContainer {
                    id,
                    name,
                    network,
                    attachment,
                };
                (fault::Undo::Container(undo), None)
            }
        };
        let plan = Plan {
            target,
            undo,
            settles_within: settles,
        };
        Ok((plan, ()))
    }

    async fn apply(self, v: Victim, (): ()) -> Result<(), Error> {
        let (engine, id) = (&v.engine, v.container.id.as_str());
        let done = match &self {
            Action::Kill { signal } => engine.crash(id, signal).await,
            Action::Stop { timeout_s } => engine.stop(id, *timeout_s).await,
            Action::Pause => engine.pause(id).await,
            Action::Restart { timeout_s } => engine.restart(id, *timeout_s).await,
            Action::Disconnect { network } => engine.disconnect(id, network).await,
        };
        done.map_err(|e| engine_error(&v.container, e))
    }
}
