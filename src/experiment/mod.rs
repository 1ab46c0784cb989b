//! Experiment files: load, validate, run, journal.
//!
//! Pipeline: [`source`] parses JSON/YAML into a span-carrying [`source::Node`] tree (the raw mirror of
//! the file), [`validate`] checks it and builds the [`model`], and the engine runs the model while the
//! dispatcher fans `RunEvent`s out to the journal, the progress view and the event file. The events
//! are the only record of a run: [`run_state`] folds them into the verdict the engine and the journal
//! both read.

pub mod configure;
pub mod diagnostic;
pub mod dispatcher;
pub mod engine;
pub mod event;
pub mod executable;
pub mod journal;
pub mod load;
pub mod model;
pub mod overrides;
pub mod progress;
pub mod python;
pub mod redact;
pub mod run_state;
pub mod source;
pub mod substitute;
pub mod validate;
