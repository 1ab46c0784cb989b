//! `GET /api/runs/{id}/events`: the run's event stream as Server-Sent Events, read from the store
//! — replayed from the start (or after `Last-Event-ID`), then followed live while the run goes
//! (the child process writes its events there as they happen), ending with an `end` event
//! once the run has ended. The same path serves a run of another server on the same store.
//! Each event's SSE id is its sequence number, its SSE type the event's name.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Call, Reply, error};
use crate::history::HistoryStatus;
use crate::server::daemon::Shared;

/// How often the store is read for new events while the run goes.
const POLL: Duration = Duration::from_millis(200);
/// A comment line this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events read per query.
const BATCH: i64 = 500;

/// A body fed by a task.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

pub(super) async fn stream(shared: &Arc<Shared>, call: &Call) -> Reply {
    let given = call.params.first().cloned().unwrap_or_default();
    let id = if shared.children.is_live(&given) {
        given
    } else {
        match shared.history.resolve(&given).await {
            Ok(id) => id,
            Err(e) => return error(StatusCode::NOT_FOUND, &e.to_string(), Some("id")),
        }
    };
    let after = match call
        .headers
        .get("last-event-id")
        .map(|v| v.to_str().map(str::parse::<i64>))
    {
        None => 0,
        Some(Ok(Ok(n))) if n >= 0 => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Last-Event-ID: expected an event number this stream gave",
                Some("Last-Event-ID"),
            );
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(follow(shared.clone(), id, after, tx));
    let mut r = Response::new(ChannelBody(rx).boxed());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// One SSE message.
fn message(id: Option<i64>, event: &str, data: &Value) -> Bytes {
    let mut out = String::new();
    if let Some(id) = id {
        out.push_str(&format!("id: {id}\n"));
    }
    out.push_str(&format!("event: {event}\ndata: {data}\n\n"));
    Bytes::from(out)
}

/// Sends the events after `seq` until the run has ended and everything is sent, or the client
/// went away.
async fn follow(shared: Arc<Shared>, id: String, mut seq: i64, tx: mpsc::Sender<Bytes>) {
    let mut quiet = tokio::time::Instant::now();
    loop {
        // Read before the events: whatever the run stored before it ended is then read below.
        let ended = match shared.history.get(&id).await {
            Ok(Some(r)) if r.status != HistoryStatus::Running => Some(json!({
                "status": r.status.name(),
                "outcome": r.outcome,
                "exit_code": r.exit_code,
            })),
            Ok(Some(_)) => None,
            Ok(None) if shared.children.is_live(&id) => None,
            Ok(None) => Some(json!({"status": "not-recorded"})),
            Err(e) => {
                let _ = tx
                    .send(message(None, "error", &json!({"error": e.to_string()})))
                    .await;
                return;
            }
        };
        let rows: Result<Vec<(i64, String)>, _> = sqlx::query_as(
            "SELECT seq, event FROM run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(&id)
        .bind(seq)
        .bind(BATCH)
        .fetch_all(shared.store.pool())
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                let _ = tx
                    .send(message(None, "error", &json!({"error": e.to_string()})))
                    .await;
                return;
            }
        };
        let full = rows.len() as i64 == BATCH;
        for (n, text) in rows {
            let event: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            let name = event
                .get("event")
                .and_then(Value::as_str)
                .unwrap_or("event")
                .to_string();
            if tx.send(message(Some(n), &name, &event)).await.is_err() {
                return;
            }
            seq = n;
            quiet = tokio::time::Instant::now();
        }
        if full {
            continue;
        }
        if let Some(end) = ended {
            let _ = tx.send(message(None, "end", &end)).await;
            return;
        }
        if quiet.elapsed() >= KEEP_ALIVE {
            if tx
                .send(Bytes::from_static(b": keep-alive\n\n"))
                .await
                .is_err()
            {
                return;
            }
            quiet = tokio::time::Instant::now();
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = tx.closed() => return,
        }
    }
}
