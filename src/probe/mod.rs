//! Providers that measure or act (process, http) and the tolerances that judge them.

pub mod http;
pub mod process;
pub mod tolerance;
