//! `GET /api/runs` (filters `experiment`, `status`, `since`; pages of `limit` with a keyset
//! `cursor`: the last row's `(started_ms, id)`, so a page never skips or repeats a run however
//! many are recorded meanwhile), `GET /api/runs/{id}` (status, verdict, exit code, journal) and
//! `POST /api/runs/{id}/abort`.

use std::sync::Arc;

use hyper::StatusCode;
use serde_json::{Value, json};

use super::{Call, Reply, error, json_reply, unavailable};
use crate::history::{HistoryError, HistoryStatus, RunRecord};
use crate::server::daemon::Shared;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

/// A page position: after the run started at `ms` with `id` (newest first).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cursor {
    ms: i64,
    id: String,
}

impl Cursor {
    pub(super) fn text(&self) -> String {
        format!("{}_{}", self.ms, self.id)
    }

    pub(super) fn parse(s: &str) -> Option<Cursor> {
        let (ms, id) = s.split_once('_')?;
        let ok_id = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        Some(Cursor {
            ms: ms.parse().ok()?,
            id: ok_id.then(|| id.to_string())?,
        })
    }
}

fn bad(message: &str, field: &str) -> Reply {
    error(StatusCode::BAD_REQUEST, message, Some(field))
}

pub(super) async fn list(shared: &Arc<Shared>, call: &Call) -> Reply {
    let experiment = call.query("experiment").map(str::to_string);
    let status = match call.query("status") {
        None => None,
        Some(s) => match HistoryStatus::parse(s) {
            Some(st) => Some(st),
            None => {
                return bad(
                    &format!(
                        "status: expected one of {}",
                        HistoryStatus::NAMES.join(", ")
                    ),
                    "status",
                );
            }
        },
    };
    let since = match call.query("since") {
        None => None,
        Some(s) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => Some(t),
            Err(e) => return bad(&format!("since: expected an RFC 3339 time: {e}"), "since"),
        },
    };
    let limit = match call.query("limit") {
        None => DEFAULT_LIMIT,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return bad(&format!("limit: expected 1 to {MAX_LIMIT}"), "limit"),
        },
    };
    let cursor = match call.query("cursor") {
        None => None,
        Some(s) => match Cursor::parse(s) {
            Some(c) => Some(c),
            None => return bad("cursor: not a cursor this API gave", "cursor"),
        },
    };
    let ids = match page(
        shared,
        experiment,
        status,
        since,
        cursor.as_ref(),
        limit + 1,
    )
    .await
    {
        Ok(ids) => ids,
        Err(e) => return unavailable("list the runs", e),
    };
    let more = ids.len() as i64 > limit;
    let wanted: Vec<String> = ids
        .iter()
        .take(limit as usize)
        .map(|(_, id)| id.clone())
        .collect();
    // A run deleted by retention between the two reads is simply not there.
    let runs: Vec<Value> = match shared.history.get_many(&wanted).await {
        Ok(records) => records.iter().map(|r| summary(shared, r)).collect(),
        Err(e) => return unavailable("read the runs", e),
    };
    let next = more
        .then(|| ids.get(limit as usize - 1))
        .flatten()
        .map(|(ms, id)| {
            Cursor {
                ms: *ms,
                id: id.clone(),
            }
            .text()
        });
    json_reply(StatusCode::OK, &json!({"runs": runs, "next_cursor": next}))
}

/// The ids of one page, on the `(started_ms, id)` index.
async fn page(
    shared: &Shared,
    experiment: Option<String>,
    status: Option<HistoryStatus>,
    since: Option<jiff::Timestamp>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let mut conditions = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if experiment.is_some() {
        conditions.push(format!("experiment = {}", next()));
    }
    if status.is_some() {
        conditions.push(format!("status = {}", next()));
    }
    if since.is_some() {
        conditions.push(format!("started_ms >= {}", next()));
    }
    if cursor.is_some() {
        conditions.push(format!("(started_ms, id) < ({}, {})", next(), next()));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT started_ms, id FROM runs {filter} ORDER BY started_ms DESC, id DESC LIMIT {}",
        next()
    );
    let mut q = sqlx::query_as::<_, (i64, String)>(&sql);
    if let Some(e) = experiment {
        q = q.bind(e);
    }
    if let Some(s) = status {
        q = q.bind(s.name());
    }
    if let Some(t) = since {
        q = q.bind(t.as_millisecond());
    }
    if let Some(c) = cursor {
        q = q.bind(c.ms).bind(c.id.clone());
    }
    q.bind(limit).fetch_all(shared.store.pool()).await
}

/// A run without its journal.
fn summary(shared: &Shared, r: &RunRecord) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("duration_s".into(), json!(r.duration_s()));
        o.insert("live".into(), json!(shared.children.get(&r.id).is_some()));
    }
    v
}

/// The full id of `call`'s `{id}`, or the answer to give instead.
async fn resolve(shared: &Shared, call: &Call) -> Result<String, Box<Reply>> {
    let given = call.params.first().map(String::as_str).unwrap_or("");
    if shared.children.is_live(given) {
        return Ok(given.to_string());
    }
    match shared.history.resolve(given).await {
        Ok(id) => Ok(id),
        Err(e @ (HistoryError::NotFound(_) | HistoryError::BadPrefix(_))) => Err(Box::new(error(
            StatusCode::NOT_FOUND,
            &e.to_string(),
            Some("id"),
        ))),
        Err(e @ HistoryError::Ambiguous { .. }) => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            &e.to_string(),
            Some("id"),
        ))),
        Err(
            e @ (HistoryError::Store(_) | HistoryError::Query(_) | HistoryError::Corrupt { .. }),
        ) => Err(Box::new(unavailable("find the run", e))),
    }
}

pub(super) async fn get(shared: &Arc<Shared>, call: &Call) -> Reply {
    let id = match resolve(shared, call).await {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let record = match shared.history.get(&id).await {
        Ok(r) => r,
        Err(e) => return unavailable("read the run", e),
    };
    let Some(record) = record else {
        // Launched by this server, its process not recorded yet.
        return json_reply(
            StatusCode::OK,
            &json!({"id": id, "status": "starting", "live": true, "journal": null}),
        );
    };
    let journal = match shared.history.journal(&id).await {
        Ok(j) => j,
        Err(e) => return unavailable("read the journal", e),
    };
    let mut v = summary(shared, &record);
    if let Some(o) = v.as_object_mut() {
        o.insert("journal".into(), journal.unwrap_or(Value::Null));
    }
    json_reply(StatusCode::OK, &v)
}

pub(super) async fn abort(shared: &Arc<Shared>, call: &Call) -> Reply {
    if let Err(r) = call.object(&[]) {
        return *r;
    }
    let id = match resolve(shared, call).await {
        Ok(id) => id,
        Err(r) => return *r,
    };
    // A run whose end is recorded may still have its process for a moment (it is exiting):
    // that is an ended run, not one to abort again. A store that cannot answer does not block
    // an abort.
    let recorded = shared.history.get(&id).await;
    let ended = matches!(&recorded, Ok(Some(r)) if r.status != HistoryStatus::Running);
    if !ended {
        if shared.children.interrupt(&id) {
            return json_reply(
                StatusCode::ACCEPTED,
                &json!({"run_id": id, "aborting": true}),
            );
        }
        if shared.children.is_live(&id) {
            return error(
                StatusCode::CONFLICT,
                "the run's process is starting; abort again in a moment",
                None,
            );
        }
    }
    match recorded {
        Ok(Some(r)) if r.status == HistoryStatus::Running => error(
            StatusCode::CONFLICT,
            &format!(
                "run {id} is not run by this server (process {} on {}): stop it there",
                r.pid, r.host
            ),
            None,
        ),
        Ok(Some(r)) => error(
            StatusCode::CONFLICT,
            &format!("run {id} has ended ({})", r.status.name()),
            None,
        ),
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no run {id}"), Some("id")),
        Err(e) => unavailable("read the run", e),
    }
}
