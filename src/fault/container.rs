//! Container faults: kill (irreversible), stop (undone by start), pause (undone by unpause),
//! restart (its own recovery) and disconnect from a network (undone by reconnecting with the
//! same aliases and, where possible, the same address).

use serde_json::Value;

use super::process::FaultOrigin;
use crate::ledger::{Lease, Ledger, LedgerError, Undo};
use crate::target::docker::{ContainerInfo, Engine, EngineError};

/// A container fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerFault {
    /// Send a signal to the main process as a crash would (SIGKILL by default); the restart
    /// policy decides the rest.
    Kill {
        /// Signal name.
        signal: String,
    },
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

/// Applying a container fault failed.
#[derive(Debug, thiserror::Error)]
pub enum ContainerFaultError {
    /// The ledger refused (halted) or failed; nothing was applied.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The engine refused or failed; the lease is closed as apply-failed.
    #[error("container {name}: {source}")]
    Engine {
        /// Container name.
        name: String,
        /// Why.
        source: EngineError,
    },
}

impl ContainerFault {
    /// Records the lease, applies the fault, marks the lease; returns it.
    pub async fn apply(
        &self,
        ledger: &Ledger,
        engine: &Engine,
        victim: &ContainerInfo,
        origin: &FaultOrigin,
    ) -> Result<Lease, ContainerFaultError> {
        let fail = |source| ContainerFaultError::Engine {
            name: victim.name.clone(),
            source,
        };
        let (id, name) = (victim.id.clone(), victim.name.clone());
        let mut target = victim.describe();
        let undo = match self {
            ContainerFault::Kill { .. } | ContainerFault::Restart { .. } => Undo::Irreversible,
            ContainerFault::Stop { .. } => Undo::StartContainer { id, name },
            ContainerFault::Pause => Undo::UnpauseContainer { id, name },
            ContainerFault::Disconnect { network } => {
                // Read the attachment first: it is what the undo restores.
                let attachment = engine
                    .attachment(&victim.id, network)
                    .await
                    .map_err(fail)?
                    .ok_or_else(|| {
                        fail(EngineError::NotFound(format!(
                            "network {network} on container {}",
                            victim.name
                        )))
                    })?;
                target["network"] = Value::String(network.clone());
                Undo::ReconnectContainer {
                    id,
                    name,
                    network: network.clone(),
                    attachment,
                }
            }
        };
        let applied = async {
            match self {
                ContainerFault::Kill { signal } => engine.crash(&victim.id, signal).await,
                ContainerFault::Stop { timeout_s } => engine.stop(&victim.id, *timeout_s).await,
                ContainerFault::Pause => engine.pause(&victim.id).await,
                ContainerFault::Restart { timeout_s } => {
                    engine.restart(&victim.id, *timeout_s).await
                }
                ContainerFault::Disconnect { network } => {
                    engine.disconnect(&victim.id, network).await
                }
            }
        };
        ledger
            .apply(&origin.lease(target, undo), applied)
            .await?
            .map_err(fail)
    }
}
