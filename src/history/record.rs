//! Recording a run as it goes. [`RecorderSink`] is one more consumer of the `RunEvent` stream: it
//! serializes each event and hands it to a background task over an unbounded channel, so the run
//! never waits for the store. The task opens the store (marking dead runs interrupted), inserts
//! the run as `running`, and writes events in batches of whatever has queued up. When the store
//! fails — at open or mid-run — it warns once and drops the rest: the run goes on, its journal file
//! is written as always. [`Recorder::finish`] stores the verdict and journal and applies retention.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{HistoryError, HostIdentity, Pruned, Retention, RunMeta, reap_interrupted};
use crate::experiment::dispatcher::EventSink;
use crate::experiment::event::{Stamped, Verdict};
use crate::store::{Store, StoreLocation};

/// Events written in one statement at most.
const BATCH: usize = 200;

/// How long the end of a run waits for the store (queued events and the final row) at most.
const FINISH_TIMEOUT: Duration = Duration::from_secs(15);

/// One serialized event.
#[derive(Debug)]
struct Row {
    seq: i64,
    at_ms: i64,
    json: String,
}

/// The event consumer handed to the dispatcher.
#[derive(Debug)]
pub struct RecorderSink {
    tx: mpsc::UnboundedSender<Row>,
    seq: i64,
}

impl EventSink for RecorderSink {
    fn on_event(&mut self, event: &Stamped) {
        let Ok(json) = serde_json::to_string(event) else {
            return;
        };
        self.seq += 1;
        let _ = self.tx.send(Row {
            seq: self.seq,
            at_ms: event.at.as_millisecond(),
            json,
        });
    }
}

/// What the writer task ends with: the store (if it opened) and whether events were lost.
type Written = Option<(Store, bool)>;

/// Warnings, the first of which is printed (when printing).
#[derive(Debug, Clone, Default)]
struct Warnings {
    list: Arc<Mutex<Vec<String>>>,
    print: bool,
}

impl Warnings {
    fn warn(&self, message: String) {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        if list.is_empty() && self.print {
            eprintln!(
                "monkeywrench: warning: history: failed to {message}; the run goes on without being recorded (its journal file is written as usual)"
            );
        }
        list.push(message);
    }
}

/// A run being recorded.
#[derive(Debug)]
pub struct Recorder {
    id: String,
    handle: JoinHandle<Written>,
    warnings: Warnings,
}

impl Recorder {
    /// Starts recording `meta` into the store at `location` in the background. With `print`, the
    /// first problem is reported on stderr.
    pub fn start(
        location: StoreLocation,
        meta: RunMeta,
        me: HostIdentity,
        print: bool,
    ) -> (Recorder, RecorderSink) {
        let (tx, rx) = mpsc::unbounded_channel();
        let warnings = Warnings {
            list: Arc::default(),
            print,
        };
        let started = Timestamp::now();
        let id = meta.id.clone();
        let handle = tokio::spawn(write(location, meta, me, started, rx, warnings.clone()));
        (
            Recorder {
                id,
                handle,
                warnings,
            },
            RecorderSink { tx, seq: 0 },
        )
    }

    /// The problems met so far.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// When the run could not start (its configuration failed to resolve): records it as aborted
    /// with `reason`.
    pub async fn abandon(self, reason: &str) {
        let Ok(Ok(Some((store, _)))) = tokio::time::timeout(FINISH_TIMEOUT, self.handle).await
        else {
            return;
        };
        let ended = Timestamp::now();
        let update = sqlx::query(
            "UPDATE runs SET ended_ms = $1, ended_at = $2, status = 'aborted', outcome = 'aborted', note = $3 WHERE id = $4",
        )
        .bind(ended.as_millisecond())
        .bind(ended.to_string())
        .bind(reason)
        .bind(&self.id)
        .execute(store.pool());
        if let Ok(Err(e)) = tokio::time::timeout(FINISH_TIMEOUT, update).await {
            self.warnings.warn(format!("store the run's end: {e}"));
        }
        store.close().await;
    }

    /// Once the event stream has ended: stores the verdict and the journal, then applies
    /// `retention`. Returns whether the run is recorded, and what retention removed.
    pub async fn finish(
        self,
        journal: &Value,
        verdict: &Verdict,
        retention: Retention,
    ) -> (bool, Option<Pruned>) {
        let written = match tokio::time::timeout(FINISH_TIMEOUT, self.handle).await {
            Ok(Ok(written)) => written,
            Ok(Err(e)) => {
                self.warnings.warn(format!("write events: {e}"));
                None
            }
            Err(_) => {
                self.warnings.warn(format!(
                    "write events: the store did not answer within {} s",
                    FINISH_TIMEOUT.as_secs()
                ));
                None
            }
        };
        let Some((store, lost)) = written else {
            return (false, None);
        };
        let note = lost.then_some("some events were not stored: the store failed during the run");
        let ended = Timestamp::now();
        let update = sqlx::query(
            "UPDATE runs SET ended_ms = $1, ended_at = $2, status = $3, outcome = $4, deviated = $5, exit_code = $6, note = $7, journal = $8 WHERE id = $9",
        )
        .bind(ended.as_millisecond())
        .bind(ended.to_string())
        .bind(super::HistoryStatus::from(verdict.status).name())
        .bind(verdict.outcome.name())
        .bind(i64::from(verdict.deviated))
        .bind(i64::from(verdict.exit_code))
        .bind(note)
        .bind(journal.to_string())
        .bind(&self.id)
        .execute(store.pool());
        match tokio::time::timeout(FINISH_TIMEOUT, update).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                self.warnings.warn(format!("store the run's verdict: {e}"));
                return (false, None);
            }
            Err(_) => {
                self.warnings
                    .warn("store the run's verdict: the store did not answer".to_string());
                return (false, None);
            }
        }
        let pruned =
            match tokio::time::timeout(FINISH_TIMEOUT, retention.apply(&store, ended)).await {
                Ok(Ok(p)) => Some(p),
                Ok(Err(e)) => {
                    self.warnings
                        .warn(format!("apply the history retention: {e}"));
                    None
                }
                Err(_) => None,
            };
        store.close().await;
        (!lost, pruned)
    }
}

#[cfg(test)]
impl Recorder {
    /// Waits for the writer to store what was queued, and never ends the run: as when its
    /// process dies.
    pub(super) async fn vanish(self) {
        let _ = self.handle.await;
    }

    pub(super) fn warnings_handle(&self) -> Arc<Mutex<Vec<String>>> {
        self.warnings.list.clone()
    }
}

/// The writer task.
async fn write(
    location: StoreLocation,
    meta: RunMeta,
    me: HostIdentity,
    started: Timestamp,
    mut rx: mpsc::UnboundedReceiver<Row>,
    warnings: Warnings,
) -> Written {
    let opened = async {
        let store = Store::open(&location).await?;
        // Every opener of the history reaps the runs of processes that died (SIGKILL, reboot).
        reap_interrupted(&store, &me).await?;
        insert_run(&store, &meta, &me, started).await?;
        Ok::<Store, HistoryError>(store)
    }
    .await;
    let store = match opened {
        Ok(store) => store,
        Err(e) => {
            warnings.warn(e.to_string());
            // Keep the sink's sends cheap and the channel from growing without a reader.
            while rx.recv().await.is_some() {}
            return None;
        }
    };
    let mut lost = false;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        batch.clear();
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(row) => batch.push(row),
                Err(_) => break,
            }
        }
        if lost {
            continue;
        }
        if let Err(e) = insert_events(&store, &meta.id, &batch).await {
            warnings.warn(format!("store run events: {e}"));
            lost = true;
        }
    }
    Some((store, lost))
}

async fn insert_run(
    store: &Store,
    meta: &RunMeta,
    me: &HostIdentity,
    started: Timestamp,
) -> Result<(), HistoryError> {
    sqlx::query(
        "INSERT INTO runs (id, experiment, title, file_path, file_sha256, run_trigger, trigger_detail, host, boot_id, pid, pid_start, started_ms, started_at, status, deviated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'running', 0)",
    )
    .bind(&meta.id)
    .bind(&meta.experiment)
    .bind(&meta.title)
    .bind(&meta.file_path)
    .bind(&meta.file_sha256)
    .bind(meta.trigger.name())
    .bind(meta.trigger_detail.clone())
    .bind(&me.host)
    .bind(&me.boot_id)
    .bind(i64::from(me.process.pid))
    .bind(me.process.start_time as i64)
    .bind(started.as_millisecond())
    .bind(started.to_string())
    .execute(store.pool())
    .await?;
    Ok(())
}

async fn insert_events(store: &Store, run_id: &str, rows: &[Row]) -> Result<(), sqlx::Error> {
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let b = i * 4;
            format!("(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4)
        })
        .collect();
    let sql = format!(
        "INSERT INTO run_events (run_id, seq, at_ms, event) VALUES {}",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for row in rows {
        query = query
            .bind(run_id)
            .bind(row.seq)
            .bind(row.at_ms)
            .bind(row.json.as_str());
    }
    query.execute(store.pool()).await?;
    Ok(())
}
