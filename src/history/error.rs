//! What can go wrong reading or writing the history.

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("query the history: {0}")]
    Query(#[from] sqlx::Error),
    /// No run id starts with the prefix.
    #[error("find run {0:?}: no run has an id starting with it")]
    NotFound(String),
    /// Several run ids start with the prefix.
    #[error("find run {prefix:?}: the prefix is ambiguous, it matches {}", .matches.join(", "))]
    Ambiguous {
        prefix: String,
        /// Some of the matching ids.
        matches: Vec<String>,
    },
    /// A prefix that cannot be part of a run id.
    #[error("find run {0:?}: expected a run id or its prefix (hex digits and dashes)")]
    BadPrefix(String),
    /// A stored value we cannot read back (a row written by a newer version, or edited by hand).
    #[error("read run {id}: column {column} holds {value:?}")]
    Corrupt {
        id: String,
        column: &'static str,
        value: String,
    },
}
