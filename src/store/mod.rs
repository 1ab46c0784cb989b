//! The durable store: SQLite (a file in the state directory, WAL mode, shared safely by several
//! monkeywrench processes on a host) by default, PostgreSQL when given a `postgres://` URL. One set
//! of migrations serves both, applied at open.

mod error;
mod location;
mod migrate;
mod pool;
#[cfg(test)]
pub(crate) mod testing;

pub use error::StoreError;
pub use location::{StoreLocation, default_state_dir};
pub use pool::Store;
