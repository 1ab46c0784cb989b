//! The run history in the store: every run (CLI, schedule, API) with its verdict, journal and full
//! event stream. `record` consumes a run's `RunEvent`s as they come; `reap` marks runs whose
//! process died as interrupted; `query` lists and shows; `retention` prunes; `junit` turns a
//! journal into JUnit XML for CI.

mod error;
pub mod junit;
mod model;
mod query;
mod reap;
mod record;
mod retention;

pub use error::HistoryError;
pub use model::{HistoryStatus, RunMeta, RunRecord, Trigger};
pub use query::{Filter, History, StoredEvent};
pub use reap::{HostIdentity, reap_interrupted};
pub use record::{Recorder, RecorderSink};
pub use retention::{Pruned, Retention};

#[cfg(test)]
mod tests;
