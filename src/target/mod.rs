//! Targets faults act on and the selectors that find them.

pub mod container_selector;
pub mod docker;
pub mod label;
pub mod process;
pub mod selector;
pub mod swarm;
