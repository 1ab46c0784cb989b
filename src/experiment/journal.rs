//! The journal: Chaos Toolkit's document (same keys, order and status values) plus our additions
//! under `monkeywrench` keys. Built from `RunEvent`s and written atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::event::{
    Entry, FaultRecord, Interruption, Phase, RunEvent, SteadyState, Verdict, format_timestamp,
    seconds_between,
};

/// The chaoslib version whose behaviour the journal reproduces.
pub const CHAOSLIB_VERSION: &str = "1.44.0";

/// How much of the during-loop history the journal keeps (`--during-journal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

/// Accumulates a run's events into the journal document.
#[derive(Debug, Default)]
pub struct JournalBuilder {
    during_mode: DuringJournal,
    run_id: String,
    experiment: Value,
    start: Option<Timestamp>,
    before: Option<SteadyState>,
    after: Option<SteadyState>,
    during: Vec<SteadyState>,
    run: BTreeMap<usize, Entry>,
    rollbacks: BTreeMap<usize, Entry>,
    warnings: Vec<String>,
    safeguards: BTreeMap<String, SafeguardRecord>,
    interruption: Option<Interruption>,
    faults: Vec<FaultRecord>,
    targets: Vec<Value>,
    end: Option<Timestamp>,
    verdict: Option<Verdict>,
}

/// Values known only to the caller that go under the journal's `monkeywrench` key.
#[derive(Debug, Clone, Default)]
pub struct JournalExtras {
    /// Number of secret values replaced by `***`.
    pub redactions: usize,
    /// The target-selection seed.
    pub seed: Option<u64>,
}

impl JournalBuilder {
    /// A builder keeping during iterations per `during_mode`.
    pub fn new(during_mode: DuringJournal) -> Self {
        JournalBuilder {
            during_mode,
            ..Default::default()
        }
    }

    /// Whether the run started (a journal is written only then).
    pub fn started(&self) -> bool {
        self.start.is_some()
    }

    /// Records one event.
    pub fn on_event(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted {
                run_id,
                experiment,
                start,
                ..
            } => {
                self.run_id = run_id.clone();
                self.experiment = experiment.clone();
                self.start = Some(*start);
            }
            RunEvent::ActivityFinished { phase, seq, entry } => match phase {
                Phase::Method => {
                    self.run.insert(*seq, (**entry).clone());
                }
                Phase::Rollbacks => {
                    self.rollbacks.insert(*seq, (**entry).clone());
                }
                _ => {}
            },
            RunEvent::HypothesisChecked { phase, state, .. } => match phase {
                Phase::HypothesisBefore => self.before = Some(state.clone()),
                Phase::HypothesisAfter => self.after = Some(state.clone()),
                Phase::HypothesisDuring => self.during.push(state.clone()),
                _ => {}
            },
            RunEvent::SafeguardChecked {
                name,
                tripped,
                output,
                ..
            } => {
                let record = self.safeguards.entry(name.clone()).or_default();
                if *tripped {
                    record.broken_at.get_or_insert_with(Timestamp::now);
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
            RunEvent::FaultReverted { id, revert, at, .. } => {
                if let Some(f) = self.faults.iter_mut().find(|f| f.id == *id) {
                    f.revert = Some(revert.clone());
                    f.reverted_at = Some(*at);
                }
            }
            RunEvent::Interrupted { interruption } => {
                if self.interruption.is_none() {
                    self.interruption = Some(interruption.clone());
                }
            }
            RunEvent::RunFinished { end, verdict } => {
                self.end = Some(*end);
                self.verdict = Some(verdict.clone());
            }
            RunEvent::PhaseStarted { .. } | RunEvent::ActivityStarted { .. } => {}
        }
    }

    /// The during iterations the journal keeps.
    fn kept_during(&self) -> Vec<&SteadyState> {
        match self.during_mode {
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

    /// The journal document, top-level keys in Chaos Toolkit's order, ours last.
    pub fn to_json(&self, extras: &JournalExtras) -> Value {
        let start = self.start.unwrap_or_else(Timestamp::now);
        let end = self.end.unwrap_or_else(Timestamp::now);
        let verdict = self.verdict.clone();
        let mut doc = Map::new();
        doc.insert("chaoslib-version".into(), json!(CHAOSLIB_VERSION));
        doc.insert("platform".into(), json!(platform()));
        doc.insert("node".into(), json!(node()));
        doc.insert("experiment".into(), self.experiment.clone());
        doc.insert("start".into(), json!(format_timestamp(&start)));
        doc.insert(
            "status".into(),
            serde_json::to_value(verdict.as_ref().map(|v| v.status)).unwrap_or(Value::Null),
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
        if let Some(interruption) = &self.interruption {
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
                "version": env!("CARGO_PKG_VERSION"),
                "run_id": self.run_id,
                "outcome": verdict.as_ref().map(|v| v.outcome),
                "exit_code": verdict.as_ref().map(|v| v.exit_code),
                "warnings": self.warnings,
                "redactions": extras.redactions,
                "seed": extras.seed,
                "faults": self.faults,
                "targets": self.targets,
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

/// A CTK-shaped platform string, e.g. `Linux-6.1.0-x86_64`.
fn platform() -> String {
    match nix::sys::utsname::uname() {
        Ok(u) => format!(
            "{}-{}-{}",
            u.sysname().to_string_lossy(),
            u.release().to_string_lossy(),
            u.machine().to_string_lossy()
        ),
        Err(_) => std::env::consts::OS.to_string(),
    }
}

/// The host name.
fn node() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}
