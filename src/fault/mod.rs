//! Faults: changes to the world that go through the ledger with a lease before they are applied.
//!
//! A fault family is one folder: its verbs and their argument schemas ([`FaultFunc`]), typed
//! arguments parsed once after substitution (defaults from the schema), target selection through
//! [`crate::target::select`], what it records before acting (target, undo recipe), the apply, and
//! the undo with its check against the world ([`Reverter`]). Adding a family is: add a folder
//! here, a variant to [`FaultFunc`], [`Fault`] and [`Undo`], and its tests — every `match` below
//! then fails to compile until it is handled.

mod apply;
pub mod container;
mod error;
mod func;
pub mod k8s;
pub mod owned;
pub mod process;
pub mod proxy;
pub mod stress;
pub mod surge;
pub mod swarm;
mod undo;

pub use apply::{Act, Family, Origin, Plan, Selecting, Victims, apply};
pub use error::Error;
pub use func::{Fault, FaultFunc};
pub use undo::{Reverter, Undo, reverter};
