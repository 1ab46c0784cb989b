//! The dispatcher owns a run's state and fans every event out to its consumers.
//!
//! Executors (hypothesis loop, method, safeguards, rollbacks) only send events; they never touch the
//! journal or the terminal directly (nextest's habit). Sending stamps the event with its time and
//! folds it into the run's [`RunState`] in one step, so the engine's decisions, the verdict and the
//! stream the sinks see all follow the same sequence. The channel is unbounded so an executor never
//! waits on a slow consumer.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::event::{RunEvent, Stamped, Verdict, now_micros};
use super::journal::JournalBuilder;
use super::run_state::RunState;

/// A consumer of run events (progress view, NDJSON file, …).
pub trait EventSink: Send {
    /// Called for every event, in order.
    fn on_event(&mut self, event: &Stamped);
    /// Called once after the last event.
    fn finish(&mut self) {}
}

/// The sending side handed to executors; cheap to clone.
#[derive(Debug, Clone)]
pub struct Events {
    stream: Arc<Stream>,
}

#[derive(Debug)]
struct Stream {
    tx: mpsc::UnboundedSender<Stamped>,
    /// Held while an event is stamped, folded in and queued, so the three happen in one order.
    log: Mutex<Log>,
}

#[derive(Debug)]
struct Log {
    origin: Instant,
    state: RunState,
}

impl Events {
    /// Sends an event to the dispatcher (dropped silently once the dispatcher is gone).
    pub fn emit(&self, event: RunEvent) {
        self.emit_with(|_| vec![event]);
    }

    pub fn warn(&self, message: impl Into<String>) {
        self.emit(RunEvent::Warning {
            message: message.into(),
        });
    }

    /// Sends the events `decide` picks from the run state as it is now; no other event can come
    /// between the decision and them. Returns how many were sent.
    pub fn emit_with(&self, decide: impl FnOnce(&RunState) -> Vec<RunEvent>) -> usize {
        let mut log = self.stream.log.lock().unwrap_or_else(|e| e.into_inner());
        let events = decide(&log.state);
        let count = events.len();
        for event in events {
            log.state.apply(&event);
            let elapsed = log.origin.elapsed();
            let _ = self.stream.tx.send(Stamped {
                at: now_micros(),
                elapsed_s: elapsed.as_micros() as f64 / 1_000_000.0,
                event,
            });
        }
        count
    }

    /// Reads the run state (the fold of every event sent so far).
    pub fn state<R>(&self, read: impl FnOnce(&RunState) -> R) -> R {
        let log = self.stream.log.lock().unwrap_or_else(|e| e.into_inner());
        read(&log.state)
    }

    /// Sends the run's last event, with the verdict the events so far imply; returns the verdict.
    pub fn finish_run(&self, redactions: usize) -> Verdict {
        let mut verdict = None;
        self.emit_with(|state| {
            let v = state.verdict();
            verdict = Some(v.clone());
            vec![RunEvent::RunFinished {
                verdict: v,
                redactions,
            }]
        });
        verdict.unwrap_or_else(|| RunState::default().verdict())
    }
}

/// A running dispatcher task; [`Dispatcher::finish`] returns the journal once every sender is gone.
#[derive(Debug)]
pub struct Dispatcher {
    handle: JoinHandle<JournalBuilder>,
}

impl Dispatcher {
    /// Starts the dispatcher (it builds the journal) with the other sinks; returns it and the
    /// sender. Event times are measured from here.
    pub fn start(mut sinks: Vec<Box<dyn EventSink>>) -> (Self, Events) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Stamped>();
        let handle = tokio::spawn(async move {
            let mut journal = JournalBuilder::new();
            while let Some(event) = rx.recv().await {
                journal.on_event(&event);
                for sink in sinks.iter_mut() {
                    sink.on_event(&event);
                }
                // The verdict is the last fact of a run; don't wait for stray senders to drop.
                if matches!(event.event, RunEvent::RunFinished { .. }) {
                    break;
                }
            }
            for sink in sinks.iter_mut() {
                sink.finish();
            }
            journal
        });
        let events = Events {
            stream: Arc::new(Stream {
                tx,
                log: Mutex::new(Log {
                    origin: Instant::now(),
                    state: RunState::default(),
                }),
            }),
        };
        (Dispatcher { handle }, events)
    }

    /// Waits until the run's last event (or every sender is dropped) and returns the journal.
    pub async fn finish(self) -> Option<JournalBuilder> {
        self.handle.await.ok()
    }
}
