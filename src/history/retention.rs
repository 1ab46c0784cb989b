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
    /// Deletes what falls outside the retention, as of `now`.
    pub async fn apply(&self, store: &Store, now: Timestamp) -> Result<Pruned, HistoryError> {
        // Runs older than this go (i64::MIN: none by age).
        let age_ms = self
            .keep_days
            .map_or(i64::MIN, |d| now.as_millisecond() - i64::from(d) * DAY_MS);
        // The newest run beyond the kept N: it and every older one go.
        let beyond: Option<(i64, String)> = match self.keep_runs {
            None => None,
            Some(n) => {
                sqlx::query_as(
                    "SELECT started_ms, id FROM runs ORDER BY started_ms DESC, id DESC LIMIT 1 OFFSET $1",
                )
                .bind(i64::try_from(n).unwrap_or(i64::MAX))
                .fetch_optional(store.pool())
                .await?
            }
        };
        if age_ms == i64::MIN && beyond.is_none() {
            return Ok(Pruned::default());
        }
        // No run is beyond N: a condition no row meets.
        let (count_ms, count_id) = beyond.unwrap_or((i64::MIN, String::new()));
        let doomed = "status <> 'running' AND (started_ms < $1 OR started_ms < $2 OR (started_ms = $3 AND id <= $4))";
        let mut tx = store.pool().begin().await?;
        let events = sqlx::query(&format!(
            "DELETE FROM run_events WHERE run_id IN (SELECT id FROM runs WHERE {doomed})"
        ))
        .bind(age_ms)
        .bind(count_ms)
        .bind(count_ms)
        .bind(&count_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let runs = sqlx::query(&format!("DELETE FROM runs WHERE {doomed}"))
            .bind(age_ms)
            .bind(count_ms)
            .bind(count_ms)
            .bind(&count_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Pruned { runs, events })
    }
}
