//! Reading the history: newest first with filters and paging, one run by id prefix, its journal
//! and its events. Listing pages over a covering index (`started_ms, id`, also per experiment and
//! per status) and only then reads the rows of the page, so a deep `--offset` walks index entries,
//! not rows.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{HistoryError, HistoryStatus, RunRecord, Trigger};
use crate::store::Store;

/// Which runs to list.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub experiment: Option<String>,
    pub status: Option<HistoryStatus>,
    /// Started at or after.
    pub since: Option<Timestamp>,
    /// Started before.
    pub before: Option<Timestamp>,
    pub limit: i64,
    pub offset: i64,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            experiment: None,
            status: None,
            since: None,
            before: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// One stored event: its place in the stream, its time and the `--events-file` line as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub at_ms: i64,
    pub event: Value,
}

const COLUMNS: &str = "id, experiment, title, file_path, file_sha256, run_trigger, trigger_detail, host, pid, started_ms, ended_ms, status, outcome, deviated, exit_code, note";

/// The history over a store.
#[derive(Debug, Clone)]
pub struct History {
    store: Store,
}

impl History {
    pub fn new(store: Store) -> History {
        History { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs matching `filter`, newest first.
    pub async fn list(&self, filter: &Filter) -> Result<Vec<RunRecord>, HistoryError> {
        let mut conditions = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if filter.experiment.is_some() {
            conditions.push(format!("experiment = {}", next()));
        }
        if filter.status.is_some() {
            conditions.push(format!("status = {}", next()));
        }
        if filter.since.is_some() {
            conditions.push(format!("started_ms >= {}", next()));
        }
        if filter.before.is_some() {
            conditions.push(format!("started_ms < {}", next()));
        }
        let filter_sql = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let (limit, offset) = (next(), next());
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE id IN (SELECT id FROM runs {filter_sql} ORDER BY started_ms DESC, id DESC LIMIT {limit} OFFSET {offset}) ORDER BY started_ms DESC, id DESC"
        );
        let mut query = sqlx::query(&sql);
        if let Some(e) = &filter.experiment {
            query = query.bind(e.clone());
        }
        if let Some(s) = filter.status {
            query = query.bind(s.name());
        }
        if let Some(t) = filter.since {
            query = query.bind(t.as_millisecond());
        }
        if let Some(t) = filter.before {
            query = query.bind(t.as_millisecond());
        }
        let rows = query
            .bind(filter.limit.max(0))
            .bind(filter.offset.max(0))
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(record).collect()
    }

    /// The full id of the one run whose id starts with `prefix`.
    pub async fn resolve(&self, prefix: &str) -> Result<String, HistoryError> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(HistoryError::BadPrefix(prefix));
        }
        // The candidates come from a range on the primary-key index over the leading hex digits
        // (up to the first dash), then LIKE keeps the exact matches. A range of hex digits means
        // the same under any collation; LIKE alone would scan the table on PostgreSQL (its
        // default collation cannot serve a prefix LIKE from the index).
        let lead: &str = prefix.split('-').next().unwrap_or("");
        let pattern = format!("{prefix}%");
        let ids: Vec<(String,)> = if lead.is_empty() {
            sqlx::query_as("SELECT id FROM runs WHERE id LIKE $1 ORDER BY id LIMIT 6")
                .bind(pattern)
                .fetch_all(self.store.pool())
                .await?
        } else {
            match hex_successor(lead) {
                Some(hi) => sqlx::query_as(
                    "SELECT id FROM runs WHERE id >= $1 AND id < $2 AND id LIKE $3 ORDER BY id LIMIT 6",
                )
                .bind(lead)
                .bind(hi)
                .bind(pattern)
                .fetch_all(self.store.pool())
                .await?,
                None => sqlx::query_as(
                    "SELECT id FROM runs WHERE id >= $1 AND id LIKE $2 ORDER BY id LIMIT 6",
                )
                .bind(lead)
                .bind(pattern)
                .fetch_all(self.store.pool())
                .await?,
            }
        };
        match ids.as_slice() {
            [] => Err(HistoryError::NotFound(prefix)),
            [(id,)] => Ok(id.clone()),
            many => Err(HistoryError::Ambiguous {
                prefix,
                matches: many.iter().take(5).map(|(id,)| id.clone()).collect(),
            }),
        }
    }

    /// The run `id`, if recorded.
    pub async fn get(&self, id: &str) -> Result<Option<RunRecord>, HistoryError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref().map(record).transpose()
    }

    /// The runs `ids` that are recorded, in the order given, in one query.
    pub async fn get_many(&self, ids: &[String]) -> Result<Vec<RunRecord>, HistoryError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let params: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE id IN ({})",
            params.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(id.clone());
        }
        let rows = query.fetch_all(self.store.pool()).await?;
        let mut records = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
        records.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
        Ok(records)
    }

    /// The run's journal (null while it runs, or when nothing of it was stored).
    pub async fn journal(&self, id: &str) -> Result<Option<Value>, HistoryError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT journal FROM runs WHERE id = $1")
                .bind(id)
                .fetch_optional(self.store.pool())
                .await?;
        Ok(row
            .and_then(|(j,)| j)
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// The run's stored events, in order.
    pub async fn events(&self, id: &str) -> Result<Vec<StoredEvent>, HistoryError> {
        let rows =
            sqlx::query("SELECT seq, at_ms, event FROM run_events WHERE run_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(self.store.pool())
                .await?;
        rows.iter()
            .map(|row| {
                let text: String = row.try_get("event")?;
                Ok(StoredEvent {
                    seq: row.try_get("seq")?,
                    at_ms: row.try_get("at_ms")?,
                    event: serde_json::from_str(&text).map_err(|_| HistoryError::Corrupt {
                        id: id.to_string(),
                        column: "run_events.event",
                        value: text.chars().take(80).collect(),
                    })?,
                })
            })
            .collect()
    }
}

/// The smallest hex string greater than every string starting with `hex` ("ab9" → "aba",
/// "af" → "b"); `None` when `hex` is all `f`.
fn hex_successor(hex: &str) -> Option<String> {
    let mut digits: Vec<char> = hex.chars().collect();
    while let Some(last) = digits.pop() {
        let next = match last {
            '0'..='8' | 'a'..='e' => char::from(last as u8 + 1),
            '9' => 'a',
            _ => continue,
        };
        digits.push(next);
        return Some(digits.into_iter().collect());
    }
    None
}

fn record(row: &AnyRow) -> Result<RunRecord, HistoryError> {
    let id: String = row.try_get("id")?;
    let corrupt = |column: &'static str, value: String| HistoryError::Corrupt {
        id: id.clone(),
        column,
        value,
    };
    let trigger: String = row.try_get("run_trigger")?;
    let status: String = row.try_get("status")?;
    let started_ms: i64 = row.try_get("started_ms")?;
    let ended_ms: Option<i64> = row.try_get("ended_ms")?;
    let time = |column, ms: i64| {
        Timestamp::from_millisecond(ms).map_err(|_| corrupt(column, ms.to_string()))
    };
    Ok(RunRecord {
        experiment: row.try_get("experiment")?,
        title: row.try_get("title")?,
        file_path: row.try_get("file_path")?,
        file_sha256: row.try_get("file_sha256")?,
        trigger: Trigger::parse(&trigger).ok_or_else(|| corrupt("run_trigger", trigger.clone()))?,
        trigger_detail: row.try_get("trigger_detail")?,
        host: row.try_get("host")?,
        pid: row.try_get("pid")?,
        started_at: time("started_ms", started_ms)?,
        ended_at: ended_ms.map(|ms| time("ended_ms", ms)).transpose()?,
        status: HistoryStatus::parse(&status).ok_or_else(|| corrupt("status", status.clone()))?,
        outcome: row.try_get("outcome")?,
        deviated: row.try_get::<i64, _>("deviated")? != 0,
        exit_code: row.try_get("exit_code")?,
        note: row.try_get("note")?,
        id,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_successors_carry() {
        let next = |s| super::hex_successor(s);
        assert_eq!(next("ab9").as_deref(), Some("aba"));
        assert_eq!(next("a0").as_deref(), Some("a1"));
        assert_eq!(next("af").as_deref(), Some("b"));
        assert_eq!(next("3fff").as_deref(), Some("4"));
        assert_eq!(next("ff"), None);
    }
}
