//! Providers that measure or act (process, http, Prometheus) and the tolerances that judge them.

pub mod http;
pub mod process;
pub mod prometheus;
pub mod tolerance;
