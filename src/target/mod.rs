//! Targets faults act on and the selectors that find them.

pub mod process;
pub mod selector;
