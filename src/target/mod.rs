//! Targets faults act on: the platforms behind one [`Driver`] trait (processes, Docker
//! containers, Swarm tasks), their selectors, the one selection path with the blast radius, and
//! the one policy on what is never a target ([`protected`]).

pub mod cgroup;
pub mod container_selector;
pub mod docker;
mod drivers;
pub mod k8s;
pub mod label;
pub mod process;
pub mod protected;
mod select;
pub mod selector;
pub mod swarm;

pub use drivers::{Processes, ServiceTasks};
pub use select::{BlastRadius, Driver, FindError, Selection, select};
