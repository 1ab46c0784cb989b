//! Resolving `process` provider paths (at validation and again at run time).

pub use crate::probe::process::resolve_executable;
