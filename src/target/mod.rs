//! Targets faults act on, the selectors that find them, and the one policy on what is never a
//! target ([`protected`]).

pub mod container_selector;
pub mod docker;
pub mod label;
pub mod process;
pub mod protected;
pub mod selector;
pub mod swarm;
