//! The dispatcher owns a run's journal state and fans every `RunEvent` out to its consumers.
//!
//! Executors (hypothesis loop, method, safeguards, rollbacks) only send events; they never touch the
//! journal or the terminal directly (nextest's habit). The channel is unbounded so an executor never
//! waits on a slow consumer.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::event::RunEvent;
use super::journal::JournalBuilder;

/// A consumer of run events (progress view, NDJSON file, …).
pub trait EventSink: Send {
    /// Called for every event, in order.
    fn on_event(&mut self, event: &RunEvent);
    /// Called once after the last event.
    fn finish(&mut self) {}
}

/// The sending side handed to executors; cheap to clone.
#[derive(Debug, Clone)]
pub struct Events {
    tx: mpsc::UnboundedSender<RunEvent>,
}

impl Events {
    /// Sends an event to the dispatcher (dropped silently once the dispatcher is gone).
    pub fn emit(&self, event: RunEvent) {
        let _ = self.tx.send(event);
    }

    /// Sends a warning event.
    pub fn warn(&self, message: impl Into<String>) {
        self.emit(RunEvent::Warning {
            message: message.into(),
        });
    }
}

/// A running dispatcher task; [`Dispatcher::finish`] returns the journal once every sender is gone.
#[derive(Debug)]
pub struct Dispatcher {
    handle: JoinHandle<JournalBuilder>,
}

impl Dispatcher {
    /// Starts the dispatcher with a journal and the other sinks; returns it and the sender.
    pub fn start(
        mut journal: JournalBuilder,
        mut sinks: Vec<Box<dyn EventSink>>,
    ) -> (Self, Events) {
        let (tx, mut rx) = mpsc::unbounded_channel::<RunEvent>();
        let handle = tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                journal.on_event(&event);
                for sink in sinks.iter_mut() {
                    sink.on_event(&event);
                }
                // The verdict is the last fact of a run; don't wait for stray senders to drop.
                if matches!(event, RunEvent::RunFinished { .. }) {
                    break;
                }
            }
            for sink in sinks.iter_mut() {
                sink.finish();
            }
            journal
        });
        (Dispatcher { handle }, Events { tx })
    }

    /// Waits until the run's last event (or every sender is dropped) and returns the journal.
    pub async fn finish(self) -> Option<JournalBuilder> {
        self.handle.await.ok()
    }
}
