//! The experiment engine: runs a validated experiment in Chaos Toolkit's order (spec §6.1) and
//! reports everything as `RunEvent`s; the dispatcher turns those into the journal and the views.

mod activity;
mod context;
mod faults;
mod hypothesis;
mod lifecycle;
mod provider;
mod python;
mod selection;
mod tolerance;
mod watch;

pub use context::{Interrupt, RunSettings};
pub use faults::StateConfig;
pub use lifecycle::{EngineError, RunReport, run};
pub use selection::preview;
