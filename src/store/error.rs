//! What can go wrong opening or using the store.

/// Failures to open or use the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory could not be created.
    #[error("create the state directory {path}: {source}")]
    StateDir {
        path: String,
        source: std::io::Error,
    },
    /// Connecting failed (unreachable, locked, corrupt, permission denied).
    #[error("open the store {location}: {source}")]
    Open {
        /// Where the store is (passwords removed).
        location: String,
        source: sqlx::Error,
    },
    #[error("migrate the store {location}: {source}")]
    Migrate {
        location: String,
        source: sqlx::Error,
    },
    #[error("query the store: {0}")]
    Query(#[from] sqlx::Error),
}
