//! `monkeywrench report`: a run as a picture. [`model`] gathers what a run showed from its journal
//! or its stored event stream; [`series`] reads the numbers out of probe outputs; [`chart`] is the
//! geometry of the timelines; [`html`] renders one self-contained file (inline CSS and SVG, no
//! script, no fetch) and [`markdown`] a CI comment.

pub mod chart;
pub mod html;
pub mod markdown;
pub mod model;
pub mod series;

pub use model::{Detail, Report};

use crate::history::{History, HistoryError};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file is JSON but not a journal.
    #[error(
        "{path}: not a monkeywrench journal: expected a JSON object with \"experiment\", \"start\", \"end\" and \"steady_states\" (the file `run --journal-path` writes), but {found}"
    )]
    NotAJournal { path: String, found: String },
    /// The file is not JSON at all.
    #[error("{path}:{line}:{column}: not a journal: invalid JSON: {message}")]
    BadJson {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A journal field of the wrong shape.
    #[error("{path}: field {field}: {message}")]
    BadField {
        path: String,
        field: String,
        message: String,
    },
    /// A stored event that does not read back.
    #[error("run {run}: stored event {seq} cannot be read: {message}")]
    BadEvent {
        run: String,
        seq: usize,
        message: String,
    },
    /// The run is recorded but has neither events nor a journal.
    #[error("run {0}: nothing of it was recorded (no events, no journal)")]
    NoEvents(String),
    #[error("{0}")]
    History(#[from] HistoryError),
}

impl Report {
    /// The report of a journal file's text (`path` names it in errors).
    pub fn from_journal_text(path: &str, text: &str) -> Result<Report, ReportError> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ReportError::BadJson {
                path: path.to_string(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        Report::from_journal(path, &doc)
    }

    /// The report of a recorded run (`id` or a unique prefix of it): from its full event stream,
    /// or from its journal when no events were kept.
    pub async fn from_history(history: &History, id: &str) -> Result<Report, ReportError> {
        let id = history.resolve(id).await?;
        let events: Vec<serde_json::Value> = history
            .events(&id)
            .await?
            .into_iter()
            .map(|e| e.event)
            .collect();
        if !events.is_empty() {
            return Report::from_events(&id, &events);
        }
        match history.journal(&id).await? {
            Some(doc) => Report::from_journal(&format!("run {id}"), &doc),
            None => Err(ReportError::NoEvents(id)),
        }
    }
}

#[cfg(test)]
mod tests;
