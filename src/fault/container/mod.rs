//! The container family: kill (irreversible: a crash, the restart policy decides the rest), stop
//! (undone by start), pause (undone by unpause), restart (its own recovery) and disconnect from
//! a network (undone by reconnecting with the same aliases and, where possible, address).

mod act;
mod args;
mod undo;

pub use act::{Action, Victim};
pub use args::{ContainerFault, Verb};
pub(crate) use args::{TARGET_ARG, parse_running};
pub use undo::Undo;
