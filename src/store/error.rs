//! What can go wrong opening or using the store.

/// Failures to open or use the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory could not be created.
    #[error("create the state directory {path}: {source}")]
    StateDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Connecting failed (unreachable, locked, corrupt, permission denied).
    #[error("open the store {location}: {source}")]
    Open {
        /// Where the store is (passwords removed).
        location: String,
        /// Why.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migrate the store {location}: {source}")]
    Migrate {
        /// Where the store is.
        location: String,
        /// Why.
        source: sqlx::Error,
    },
    /// A query failed.
    #[error("query the store: {0}")]
    Query(#[from] sqlx::Error),
}
