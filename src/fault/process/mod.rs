//! The process family: `process.kill` (irreversible, recorded as such), `process.stop` (SIGSTOP,
//! undone by SIGCONT), `process.restart` (its own recovery), and the `process.resume` action.

mod act;
mod args;
mod undo;

pub use act::{Action, resume};
pub use args::{ProcessFault, Verb};
pub(crate) use args::{RESUME_ARGS, parse_radius, parse_resume, read_signal};
pub use undo::Undo;
