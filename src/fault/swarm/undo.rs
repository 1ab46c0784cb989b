//! Undoing a Swarm fault: the recorded replica count restored, checked in the service's spec.

use serde::{Deserialize, Serialize};

use crate::ledger::UndoAttempt;
use crate::target::docker::{Engine, EngineError};
use crate::target::swarm;

/// How to undo a Swarm fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// Scale a service back to the replica count it had.
    ScaleService {
        id: String,
        name: String,
        /// Replicas before the fault.
        replicas: u64,
    },
}

impl Undo {
    /// Restores the count, then reads the service's desired replicas back.
    pub async fn undo(&self) -> UndoAttempt {
        let Undo::ScaleService { id, name, replicas } = self;
        let engine = match Engine::connect().await {
            Ok(e) => e,
            Err(e) => return UndoAttempt::NotYet(e.to_string()),
        };
        let checked = async {
            swarm::scale(&engine, id, *replicas).await?;
            swarm::service(&engine, id).await
        };
        match checked.await {
            Ok(s) if s.replicas == Some(*replicas) => UndoAttempt::Verified,
            Ok(s) => UndoAttempt::NotYet(format!(
                "service {name} wants {} replicas after the revert, not {replicas}",
                s.replicas
                    .map_or_else(|| "global".to_string(), |r| r.to_string())
            )),
            Err(EngineError::NotFound(_)) => UndoAttempt::Gone,
            Err(e) => UndoAttempt::NotYet(e.to_string()),
        }
    }
}
