//! Undoing a container fault through the engine, checked by inspecting the container after.

use serde::{Deserialize, Serialize};

use crate::ledger::UndoAttempt;
use crate::target::docker::{Attachment, Engine, EngineError};

/// How long a started container must stay up to count as back.
const START_SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// How to undo a container fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// Start a container that was stopped.
    StartContainer {
        id: String,
        /// Its name (for messages).
        name: String,
    },
    /// Unpause a paused container.
    UnpauseContainer { id: String, name: String },
    /// Reconnect a container to the network it was cut off, with its former aliases and address.
    ReconnectContainer {
        id: String,
        name: String,
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
        Ok(match self {
            Undo::StartContainer { .. } => {
                let (state, started) = engine.run_state(id).await?;
                if state == "running" {
                    // A container that crashes on start is "running" for an instant: it must
                    // still be up a moment later, in the same run (not started again meanwhile).
                    tokio::time::sleep(START_SETTLE).await;
                    let (again, restarted) = engine.run_state(id).await?;
                    if again != "running" {
                        Some(again)
                    } else if restarted != started {
                        Some("not staying up (it was started again meanwhile)".to_string())
                    } else {
                        None
                    }
                } else {
                    Some(state)
                }
            }
            Undo::UnpauseContainer { .. } => {
                let container = engine.container(id).await?;
                (container.state == "paused").then_some(container.state)
            }
            Undo::ReconnectContainer { network, .. } => engine
                .attachment(id, network)
                .await?
                .is_none()
                .then(|| format!("not attached to network {network}")),
        })
    }
}
