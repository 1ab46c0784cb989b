//! The traffic family: `traffic.surge`, HTTP load from the same engine as `monkeywrench load`,
//! run as owner-bound work (`crate::fault::owned`): a `monkeywrench load` child leased by pid +
//! start time before it sends anything, killed by pidfd on revert and halt, and by its own death
//! signal (and the guard) when the run is SIGKILLed. Its per-second figures come back on its
//! stdout and become run events.

mod act;
mod args;
mod figures;

pub use act::{Budget, Surging, Victim};
pub use args::{SurgeFault, Verb};
pub use figures::{Figures, FiguresSink};
