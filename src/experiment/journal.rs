//! The journal: Chaos Toolkit's document (same keys, order and status values) plus our additions
//! under `monkeywrench` keys. Built from the run's events alone ([`from_events`] rebuilds it from an
//! `--events-file`) and written atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::event::{
    Entry, FaultRecord, Phase, ProbeVerdict, RunEvent, Stamped, SteadyState, format_timestamp,
    seconds_between,
};
use super::run_state::RunState;

/// The chaoslib version whose behaviour the journal reproduces.
pub const CHAOSLIB_VERSION: &str = "1.44.0";

/// How much of the during-loop history the journal keeps (`--during-journal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuringJournal {
    /// Every iteration (CTK).
    #[default]
    Full,
    /// First, last, and iterations whose result changed.
    Changes,
}

/// What the journal records about one safeguard.
#[derive(Debug, Clone, Default)]
struct SafeguardRecord {
    checks: u64,
    broken_at: Option<Timestamp>,
    last_output: Value,
}

/// The journal header, as `run-started` reports it.
#[derive(Debug, Clone, Default)]
struct Header {
    run_id: String,
    experiment: Value,
    seed: Option<u64>,
    during_mode: DuringJournal,
    platform: String,
    node: String,
    version: String,
}

/// Accumulates a run's events into the journal document.
#[derive(Debug, Default)]
pub struct JournalBuilder {
    state: RunState,
    header: Header,
    first_at: Option<Timestamp>,
    last_at: Option<Timestamp>,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    redactions: usize,
    /// Probes reported in each hypothesis phase since its last pass.
    pending_probes: BTreeMap<Phase, Vec<Entry>>,
    before: Option<SteadyState>,
    after: Option<SteadyState>,
    during: Vec<SteadyState>,
    run: BTreeMap<usize, Entry>,
    rollbacks: BTreeMap<usize, Entry>,
    warnings: Vec<String>,
    safeguards: BTreeMap<String, SafeguardRecord>,
    faults: Vec<FaultRecord>,
    targets: Vec<Value>,
    /// Per-second figures of each surge, by activity and process.
    surges: Vec<Value>,
}

/// The journal of a run rebuilt from its events (e.g. the lines of an `--events-file`): the very
/// document the run wrote.
pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Stamped>) -> Value {
    let mut builder = JournalBuilder::new();
    for event in events {
        builder.on_event(event);
    }
    builder.to_json()
}

impl JournalBuilder {
    pub fn new() -> Self {
        JournalBuilder::default()
    }

    /// Records one event; events after `run-finished` are ignored, as the dispatcher stops there.
    pub fn on_event(&mut self, stamped: &Stamped) {
        if self.end.is_some() {
            return;
        }
        let at = stamped.at;
        self.first_at.get_or_insert(at);
        self.last_at = Some(at);
        let event = &stamped.event;
        self.state.apply(event);
        match event {
            RunEvent::RunStarted {
                run_id,
                experiment,
                seed,
                during_journal,
                platform,
                node,
                version,
                ..
            } => {
                self.header = Header {
                    run_id: run_id.clone(),
                    experiment: experiment.clone(),
                    seed: *seed,
                    during_mode: *during_journal,
                    platform: platform.clone(),
                    node: node.clone(),
                    version: version.clone(),
                };
                self.start = Some(at);
            }
            RunEvent::ActivityFinished {
                phase, seq, entry, ..
            } => {
                let entry = (**entry).clone();
                match phase {
                    Phase::HypothesisBefore | Phase::HypothesisDuring | Phase::HypothesisAfter => {
                        self.pending_probes.entry(*phase).or_default().push(entry);
                    }
                    Phase::Method => {
                        self.run.insert(*seq, entry);
                    }
                    Phase::Rollbacks => {
                        self.rollbacks.insert(*seq, entry);
                    }
                    Phase::Safeguard | Phase::Configuration => {}
                }
            }
            RunEvent::HypothesisChecked { phase, result } => {
                let state = SteadyState {
                    steady_state_met: Some(*result == ProbeVerdict::Met),
                    probes: self.pending_probes.remove(phase).unwrap_or_default(),
                };
                match phase {
                    Phase::HypothesisBefore => self.before = Some(state),
                    Phase::HypothesisAfter => self.after = Some(state),
                    Phase::HypothesisDuring => self.during.push(state),
                    Phase::Method | Phase::Rollbacks | Phase::Safeguard | Phase::Configuration => {}
                }
            }
            RunEvent::SafeguardChecked {
                name,
                tripped,
                output,
                ..
            } => {
                let record = self.safeguards.entry(name.clone()).or_default();
                if *tripped {
                    record.broken_at.get_or_insert(at);
                } else {
                    record.checks += 1;
                    record.last_output = output.clone();
                }
            }
            RunEvent::Warning { message } => self.warnings.push(message.clone()),
            RunEvent::TargetsSelected {
                activity,
                matched,
                selected,
                mode,
                seed,
            } => self.targets.push(json!({
                "activity": activity,
                "matched": matched,
                "selected": selected,
                "mode": mode,
                "seed": seed,
            })),
            RunEvent::FaultApplied { fault } => self.faults.push(fault.clone()),
            RunEvent::SurgeFigures {
                activity,
                pid,
                figures,
            } => {
                let figures = json!(figures);
                match self
                    .surges
                    .iter_mut()
                    .find(|s| s["activity"] == *activity && s["pid"] == *pid)
                {
                    Some(s) => s["seconds"]
                        .as_array_mut()
                        .expect("built with an array")
                        .push(figures),
                    None => self
                        .surges
                        .push(json!({"activity": activity, "pid": pid, "seconds": [figures]})),
                }
            }
            RunEvent::FaultReverted { id, revert, .. } => {
                if let Some(f) = self.faults.iter_mut().find(|f| f.id == *id) {
                    f.revert = Some(*revert);
                    f.reverted_at = Some(at);
                }
            }
            RunEvent::RunFinished { redactions, .. } => {
                self.end = Some(at);
                self.redactions = *redactions;
            }
            RunEvent::PhaseStarted { .. }
            | RunEvent::ActivityStarted { .. }
            | RunEvent::FailFastTripped
            | RunEvent::Interrupted { .. }
            | RunEvent::RollbacksSkipped { .. }
            | RunEvent::Aborted { .. } => {}
        }
    }

    /// The during iterations the journal keeps.
    fn kept_during(&self) -> Vec<&SteadyState> {
        match self.header.during_mode {
            DuringJournal::Full => self.during.iter().collect(),
            DuringJournal::Changes => {
                let last = self.during.len().saturating_sub(1);
                self.during
                    .iter()
                    .enumerate()
                    .filter(|(i, s)| {
                        *i == 0
                            || *i == last
                            || self.during[i - 1].steady_state_met != s.steady_state_met
                    })
                    .map(|(_, s)| s)
                    .collect()
            }
        }
    }

    /// The journal document, top-level keys in Chaos Toolkit's order, ours last. The verdict is
    /// derived from the events; it is null until `run-finished` was seen.
    pub fn to_json(&self) -> Value {
        let start = self.start.or(self.first_at).unwrap_or_default();
        let end = self.end.or(self.last_at).unwrap_or(start);
        let verdict = self.end.is_some().then(|| self.state.verdict());
        let header = &self.header;
        let mut doc = Map::new();
        doc.insert("chaoslib-version".into(), json!(CHAOSLIB_VERSION));
        doc.insert("platform".into(), json!(header.platform));
        doc.insert("node".into(), json!(header.node));
        doc.insert("experiment".into(), header.experiment.clone());
        doc.insert("start".into(), json!(format_timestamp(&start)));
        doc.insert(
            "status".into(),
            json!(verdict.as_ref().map(|v| v.status.name())),
        );
        doc.insert(
            "deviated".into(),
            json!(verdict.as_ref().is_some_and(|v| v.deviated)),
        );
        doc.insert(
            "steady_states".into(),
            json!({
                "before": self.before,
                "after": self.after,
                "during": self.kept_during(),
            }),
        );
        doc.insert("run".into(), json!(self.run.values().collect::<Vec<_>>()));
        doc.insert(
            "rollbacks".into(),
            json!(self.rollbacks.values().collect::<Vec<_>>()),
        );
        doc.insert("end".into(), json!(format_timestamp(&end)));
        doc.insert("duration".into(), json!(seconds_between(&start, &end)));
        if let Some(interruption) = self.state.interruption() {
            doc.insert("interruption".into(), json!(interruption));
        }
        let safeguards: Vec<Value> = self
            .safeguards
            .iter()
            .map(|(name, r)| {
                json!({
                    "name": name,
                    "checks": r.checks,
                    "broken_at": r.broken_at.as_ref().map(format_timestamp),
                    "last_output": r.last_output,
                })
            })
            .collect();
        doc.insert(
            "monkeywrench".into(),
            json!({
                "version": header.version,
                "run_id": header.run_id,
                "outcome": verdict.as_ref().map(|v| v.outcome),
                "exit_code": verdict.as_ref().map(|v| v.exit_code),
                "warnings": self.warnings,
                "redactions": self.redactions,
                "seed": header.seed,
                "faults": self.faults,
                "targets": self.targets,
                "surges": self.surges,
                "safeguards": safeguards,
            }),
        );
        Value::Object(doc)
    }
}

/// Writes `doc` to `path` atomically (temp file in the same directory, then rename), 2-space indent.
pub fn write_atomic(path: &Path, doc: &Value) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "journal.json".into());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        let text = serde_json::to_string_pretty(doc).map_err(std::io::Error::other)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
