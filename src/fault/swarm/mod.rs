//! The Swarm family: kill a service task's container (the orchestrator reschedules it;
//! irreversible) and scale a service (undone by restoring the replica count it had).

mod act;
mod args;
mod undo;

pub use act::{Action, Victim};
pub(crate) use args::SERVICE_ARG;
pub use args::{SwarmFault, Verb};
pub use undo::Undo;
