//! The config's retention, applied by the server every few minutes: runs older than `days` go
//! (the history's own age cut), and of each experiment only the newest `runs` are kept (a cut
//! per experiment, so a chatty schedule cannot push a nightly one out of the history).

use jiff::Timestamp;

use super::daemon::Shared;
use crate::history::{HistoryError, Pruned, Retention};

pub async fn apply(shared: &Shared, now: Timestamp) -> Result<Pruned, HistoryError> {
    let mut pruned = Pruned::default();
    let r = shared.config.retention;
    if let Some(days) = r.days {
        let by_age = Retention {
            keep_days: Some(days),
            keep_runs: None,
        };
        let p = by_age.apply(&shared.store, now).await?;
        pruned.runs += p.runs;
        pruned.events += p.events;
    }
    if let Some(keep) = r.runs {
        for e in &shared.config.experiments {
            keep_newest(shared, &e.name, keep, &mut pruned).await?;
        }
    }
    Ok(pruned)
}

/// Deletes the finished runs of `experiment` beyond its newest `keep`, with their events.
async fn keep_newest(
    shared: &Shared,
    experiment: &str,
    keep: u32,
    pruned: &mut Pruned,
) -> Result<(), HistoryError> {
    let pool = shared.store.pool();
    let beyond: Option<(i64, String)> = sqlx::query_as(
        "SELECT started_ms, id FROM runs WHERE experiment = $1 ORDER BY started_ms DESC, id DESC LIMIT 1 OFFSET $2",
    )
    .bind(experiment)
    .bind(i64::from(keep))
    .fetch_optional(pool)
    .await?;
    let Some((ms, id)) = beyond else {
        return Ok(());
    };
    let range = "experiment = $1 AND (started_ms, id) <= ($2, $3) AND status <> 'running'";
    let mut tx = pool.begin().await?;
    pruned.events += sqlx::query(&format!(
        "DELETE FROM run_events WHERE run_id IN (SELECT id FROM runs WHERE {range})"
    ))
    .bind(experiment)
    .bind(ms)
    .bind(&id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    pruned.runs += sqlx::query(&format!("DELETE FROM runs WHERE {range}"))
        .bind(experiment)
        .bind(ms)
        .bind(&id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(())
}
