//! The stress family: `stress.cpu`, `stress.memory`, `stress.disk` and `stress.io`, on the host,
//! in a process's or a container's cgroups. Each stressor is our own code (`stressor`), run as
//! owner-bound work (`crate::fault::owned`): leased by pid + start time before it starts, joined
//! to the target's cgroups before the go, killed by pidfd on revert (and by the guard after a
//! SIGKILL of the run), with the files it wrote removed and checked gone.

mod act;
mod args;
mod stressor;
mod undo;

pub use act::{Load, Size, Stressing, Victim};
pub use args::{StressFault, Verb};
pub use stressor::{IoMode, Job, StressorError};
pub use undo::{InContainer, Undo};
