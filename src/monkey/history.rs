//! The monkey's memory in the store: every termination and skipped kill (history), and each day's
//! plan with absolute times. The min-time check and the new history record are one transaction,
//! serialised by the group's lock row (and SERIALIZABLE on PostgreSQL), so monkeys sharing a store
//! never kill the same group twice.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The store failed (unreachable, locked, …).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for HistoryError {
    fn from(e: sqlx::Error) -> Self {
        HistoryError::Store(StoreError::Query(e))
    }
}

/// What happened to one planned kill (or one of its victims).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Recorded, kill not yet done.
    Pending,
    Killed,
    /// The kill failed.
    Failed,
    /// The instance was gone at kill time.
    TargetGone,
    /// Leashed: everything ran, the kill was skipped on purpose.
    Leashed,
    /// The kill was skipped (see the reason).
    Skipped,
}

impl Outcome {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Killed => "killed",
            Outcome::Failed => "failed",
            Outcome::TargetGone => "target-gone",
            Outcome::Leashed => "leashed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One history row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub id: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    pub group: String,
    /// The instance (null for a skip).
    pub instance: Value,
    pub mode: String,
    /// Whether the monkey was leashed.
    pub leashed: bool,
    /// `pending`, `killed`, `failed`, `target-gone`, `leashed` or `skipped`.
    pub outcome: String,
    /// Why (skips, failures).
    pub reason: Option<String>,
    /// The planned time this attempt came from.
    pub planned_at: Option<String>,
}

/// The context of an attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Now.
    pub at: Timestamp,
    /// The local day.
    pub day: Date,
    pub group: String,
    pub mode: String,
    pub leashed: bool,
    pub planned_at: Option<Timestamp>,
}

/// The answer of [`claim`].
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Recorded as pending: one row id per victim, in order.
    Granted(Vec<String>),
    /// Not allowed now, with the reason (nothing recorded).
    Denied(String),
}

/// Rules checked inside the claim transaction.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// A real kill of the group at or after this time blocks the kill.
    pub not_since: Option<Timestamp>,
    /// Most real terminations per local day.
    pub max_per_day: Option<u32>,
}

/// In one transaction: take the lock, check the limits against the history, and record one
/// pending row per victim.
pub async fn claim(
    store: &Store,
    attempt: &Attempt,
    victims: &[Value],
    limits: &Limits,
) -> Result<Claim, HistoryError> {
    // Two claims on one group serialise on its lock row; on PostgreSQL the later one fails with
    // SQLSTATE 40001 once the first commits, and is retried: it then sees the first one's record.
    for retry in 0..4u64 {
        match claim_once(store, attempt, victims, limits).await {
            Err(HistoryError::Store(StoreError::Query(sqlx::Error::Database(e))))
                if e.code().as_deref() == Some("40001") =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(10 * (retry + 1))).await;
            }
            other => return other,
        }
    }
    Ok(Claim::Denied(format!(
        "concurrent-kill: group {} kept conflicting with another monkey's claim",
        attempt.group
    )))
}

async fn claim_once(
    store: &Store,
    attempt: &Attempt,
    victims: &[Value],
    limits: &Limits,
) -> Result<Claim, HistoryError> {
    let mut tx = store.pool().begin().await?;
    if !store.location().is_sqlite() {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            .execute(&mut *tx)
            .await?;
    }
    // A write first: SQLite takes its write lock here (waiting on others), PostgreSQL the group's
    // row lock (claims on other groups do not wait).
    sqlx::query(
        "INSERT INTO monkey_lock (group_key, n) VALUES ($1, 1) \
         ON CONFLICT (group_key) DO UPDATE SET n = monkey_lock.n + 1",
    )
    .bind(&attempt.group)
    .execute(&mut *tx)
    .await?;
    if let Some(since) = limits.not_since {
        let last: Option<(String,)> = sqlx::query_as(
            "SELECT at FROM monkey_events WHERE group_key = $1 AND at_ms >= $2 AND leashed = 0 \
             AND outcome <> 'skipped' ORDER BY at_ms DESC LIMIT 1",
        )
        .bind(&attempt.group)
        .bind(since.as_millisecond())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((at,)) = last {
            tx.rollback().await?;
            return Ok(Claim::Denied(format!(
                "min-time-between-kills: group {} was killed at {at} (limit: none since {})",
                attempt.group,
                format_time(&since)
            )));
        }
    }
    if let (Some(max), false) = (limits.max_per_day, attempt.leashed) {
        let (today,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM monkey_events WHERE day = $1 AND leashed = 0 \
             AND outcome IN ('pending', 'killed', 'failed', 'target-gone')",
        )
        .bind(attempt.day.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if today as u64 + victims.len() as u64 > u64::from(max) {
            tx.rollback().await?;
            return Ok(Claim::Denied(format!(
                "max-kills-per-day: {today} of {max} done today, this kill takes {}",
                victims.len()
            )));
        }
    }
    let mut ids = Vec::new();
    for victim in victims {
        let id = uuid::Uuid::new_v4().to_string();
        insert(&mut tx, &id, attempt, Some(victim), Outcome::Pending, None).await?;
        ids.push(id);
    }
    tx.commit().await?;
    Ok(Claim::Granted(ids))
}

/// Records a skipped kill with its reason.
pub async fn record_skip(
    store: &Store,
    attempt: &Attempt,
    reason: &str,
) -> Result<(), HistoryError> {
    let mut conn = store.pool().acquire().await?;
    let id = uuid::Uuid::new_v4().to_string();
    insert(
        &mut conn,
        &id,
        attempt,
        None,
        Outcome::Skipped,
        Some(reason),
    )
    .await?;
    Ok(())
}

async fn insert(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    attempt: &Attempt,
    instance: Option<&Value>,
    outcome: Outcome,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO monkey_events (id, at, at_ms, day, group_key, instance, mode, leashed, outcome, reason, planned_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(format_time(&attempt.at))
    .bind(attempt.at.as_millisecond())
    .bind(attempt.day.to_string())
    .bind(&attempt.group)
    .bind(instance.map(Value::to_string))
    .bind(&attempt.mode)
    .bind(i64::from(attempt.leashed))
    .bind(outcome.as_str())
    .bind(reason.map(str::to_string))
    .bind(attempt.planned_at.as_ref().map(format_time))
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the outcome of a pending row.
pub async fn set_outcome(
    store: &Store,
    id: &str,
    outcome: Outcome,
    reason: Option<&str>,
) -> Result<(), HistoryError> {
    sqlx::query("UPDATE monkey_events SET outcome = $1, reason = $2 WHERE id = $3")
        .bind(outcome.as_str())
        .bind(reason.map(str::to_string))
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Which history rows to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this group.
    pub group: Option<String>,
    /// Only at or after.
    pub since: Option<Timestamp>,
    /// Only this outcome.
    pub outcome: Option<String>,
    /// At most this many.
    pub limit: Option<i64>,
}

/// History rows, newest first.
pub async fn list(store: &Store, filter: &Filter) -> Result<Vec<Entry>, HistoryError> {
    let rows = sqlx::query(
        "SELECT id, at, group_key, instance, mode, leashed, outcome, reason, planned_at FROM monkey_events \
         WHERE ($1 = '' OR group_key = $1) AND at_ms >= $2 AND ($3 = '' OR outcome = $3) \
         ORDER BY at_ms DESC, id LIMIT $4",
    )
    .bind(filter.group.clone().unwrap_or_default())
    .bind(filter.since.map(|t| t.as_millisecond()).unwrap_or(i64::MIN))
    .bind(filter.outcome.clone().unwrap_or_default())
    .bind(filter.limit.unwrap_or(i64::MAX))
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let instance: Option<String> = r.try_get("instance")?;
            Ok(Entry {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                group: r.try_get("group_key")?,
                instance: instance
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or(Value::Null),
                mode: r.try_get("mode")?,
                leashed: r.try_get::<i64, _>("leashed")? != 0,
                outcome: r.try_get("outcome")?,
                reason: r.try_get("reason")?,
                planned_at: r.try_get("planned_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(HistoryError::from)
}

/// One group's draw for a day, as stored (a draw without a kill is stored too, so the day's
/// decision is made once).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRow {
    pub group: String,
    /// When it is killed; None when the draw said "not today".
    pub at: Option<Timestamp>,
    /// The seed of the draw.
    pub seed: u64,
    /// Whether the kill was attempted.
    pub done: bool,
}

/// The stored draws of monkey `name` for `day`, by time.
pub async fn load_plan(store: &Store, name: &str, day: Date) -> Result<Vec<PlanRow>, HistoryError> {
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT group_key, at_ms, seed, done FROM monkey_plans WHERE monkey = $1 AND day = $2 \
         ORDER BY at_ms, group_key",
    )
    .bind(name)
    .bind(day.to_string())
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(group, ms, seed, done)| PlanRow {
            group,
            at: (ms >= 0)
                .then(|| Timestamp::from_millisecond(ms).ok())
                .flatten(),
            seed: seed as u64,
            done: done != 0,
        })
        .collect())
}

/// Stores the draws of groups that have none for `day` yet (the first of the monkeys called
/// `name` to draw a group's day wins) and returns every stored draw of that day.
pub async fn save_plan(
    store: &Store,
    name: &str,
    day: Date,
    made_at: Timestamp,
    draws: &[(String, Option<Timestamp>, u64)],
) -> Result<Vec<PlanRow>, HistoryError> {
    let mut tx = store.pool().begin().await?;
    for (group, at, seed) in draws {
        sqlx::query(
            "INSERT INTO monkey_plans (monkey, day, group_key, at_ms, seed, made_at, done) \
             VALUES ($1, $2, $3, $4, $5, $6, 0) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(day.to_string())
        .bind(group)
        .bind(at.map_or(-1, |t| t.as_millisecond()))
        .bind(*seed as i64)
        .bind(format_time(&made_at))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    load_plan(store, name, day).await
}

/// Marks a planned kill as attempted; false when another monkey already did.
pub async fn mark_done(
    store: &Store,
    name: &str,
    day: Date,
    group: &str,
) -> Result<bool, HistoryError> {
    let n = sqlx::query(
        "UPDATE monkey_plans SET done = 1 WHERE monkey = $1 AND day = $2 AND group_key = $3 AND done = 0",
    )
    .bind(name)
    .bind(day.to_string())
    .bind(group)
    .execute(store.pool())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// RFC 3339 in UTC with a fixed width (sorts as text).
pub fn format_time(t: &Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
