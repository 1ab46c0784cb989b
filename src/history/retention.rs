//! Keeping the history bounded: runs older than N days, and runs beyond the newest N, are deleted
//! with their events. Applied after every recorded run, so each pass deletes a handful of rows;
//! both cut-offs are found on the `started_ms, id` index. Running runs are never deleted.

use jiff::Timestamp;
use serde::Serialize;

use super::HistoryError;
use crate::store::Store;

/// How much history to keep; `None` keeps everything on that axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub keep_days: Option<u32>,
    pub keep_runs: Option<u64>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_days: Some(90),
            keep_runs: Some(10_000),
        }
    }
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub runs: u64,
    pub events: u64,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

impl Retention {
    /// Deletes what falls outside the retention, as of `now`. Each statement is a range on the
    /// `(started_ms, id)` index (row-value comparisons, which both SQLite and PostgreSQL serve
    /// from it), so a pass with nothing to delete reads a few index entries.
    pub async fn apply(&self, store: &Store, now: Timestamp) -> Result<Pruned, HistoryError> {
        let mut pruned = Pruned::default();
        if let Some(days) = self.keep_days {
            let age_ms = now.as_millisecond() - i64::from(days) * DAY_MS;
            // `(started_ms, id) < (age_ms, '')` is `started_ms < age_ms`, said on the index.
            delete(
                store,
                "(started_ms, id) < ($1, $2)",
                age_ms,
                "",
                &mut pruned,
            )
            .await?;
        }
        if let Some(n) = self.keep_runs {
            // The newest run beyond the kept N: it and every older one go.
            let beyond: Option<(i64, String)> = sqlx::query_as(
                "SELECT started_ms, id FROM runs ORDER BY started_ms DESC, id DESC LIMIT 1 OFFSET $1",
            )
            .bind(i64::try_from(n).unwrap_or(i64::MAX))
            .fetch_optional(store.pool())
            .await?;
            if let Some((ms, id)) = beyond {
                delete(store, "(started_ms, id) <= ($1, $2)", ms, &id, &mut pruned).await?;
            }
        }
        Ok(pruned)
    }
}

/// Deletes the finished runs matching `range` (binding `ms`, `id`) and their events.
async fn delete(
    store: &Store,
    range: &str,
    ms: i64,
    id: &str,
    pruned: &mut Pruned,
) -> Result<(), HistoryError> {
    let mut tx = store.pool().begin().await?;
    pruned.events += sqlx::query(&format!(
        "DELETE FROM run_events WHERE run_id IN (SELECT id FROM runs WHERE {range} AND status <> 'running')"
    ))
    .bind(ms)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    pruned.runs += sqlx::query(&format!(
        "DELETE FROM runs WHERE {range} AND status <> 'running'"
    ))
    .bind(ms)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(())
}
