//! Undoing a container fault through the engine, checked by inspecting the container after.

use serde::{Deserialize, Serialize};

use crate::ledger::UndoAttempt;
use crate::target::docker::{Attachment, Engine, EngineError};

/// How to undo a container fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// Start a container that was stopped.
    StartContainer {
        /// Container id.
        id: String,
        /// Its name (for messages).
        name: String,
    },
    /// Unpause a paused container.
    UnpauseContainer {
        /// Container id.
        id: String,
        /// Its name.
        name: String,
    },
    /// Reconnect a container to the network it was cut off, with its former aliases and address.
    ReconnectContainer {
        /// Container id.
        id: String,
        /// Its name.
        name: String,
        /// Network name.
        network: String,
        /// Aliases and address it had.
        attachment: Attachment,
    },
}

impl Undo {
    /// Undoes once, then inspects the container: running, not paused, attached again.
    pub async fn undo(&self) -> UndoAttempt {
        let engine = match Engine::connect().await {
            Ok(e) => e,
            Err(e) => return UndoAttempt::NotYet(e.to_string()),
        };
        let (id, name, done) = match self {
            Undo::StartContainer { id, name } => (id, name, engine.start(id).await),
            Undo::UnpauseContainer { id, name } => (id, name, engine.unpause(id).await),
            Undo::ReconnectContainer {
                id,
                name,
                network,
                attachment,
            } => (id, name, engine.reconnect(id, network, attachment).await),
        };
        match done {
            Ok(()) => {}
            Err(EngineError::NotFound(_)) => return UndoAttempt::Gone,
            Err(e) => return UndoAttempt::NotYet(e.to_string()),
        }
        match self.check(&engine, id).await {
            Ok(None) => UndoAttempt::Verified,
            Ok(Some(state)) => {
                UndoAttempt::NotYet(format!("container {name} is {state} after the revert"))
            }
            Err(EngineError::NotFound(_)) => UndoAttempt::Gone,
            Err(e) => UndoAttempt::NotYet(e.to_string()),
        }
    }

    /// What is still wrong with the container, if anything.
    async fn check(&self, engine: &Engine, id: &str) -> Result<Option<String>, EngineError> {
        let container = engine.container(id).await?;
        Ok(match self {
            Undo::StartContainer { .. } => {
                (container.state != "running").then(|| container.state.clone())
            }
            Undo::UnpauseContainer { .. } => {
                (container.state == "paused").then(|| container.state.clone())
            }
            Undo::ReconnectContainer { network, .. } => engine
                .attachment(id, network)
                .await?
                .is_none()
                .then(|| format!("not attached to network {network}")),
        })
    }
}
