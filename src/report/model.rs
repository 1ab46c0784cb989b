//! The report's model: what a run showed, gathered from its journal (fewer details: the during
//! iterations the journal kept, no safeguard samples) or from its stored event stream (every
//! sample with its time). Outputs are the journal's and the events' own, already redacted by the
//! run.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use super::ReportError;
use super::series::{self, VALUE};
use crate::experiment::event::{
    Entry, EntryStatus, FaultRecord, Phase, ProbeVerdict, RunEvent, Stamped, seconds_between,
};
use crate::experiment::journal;

/// Where the report's facts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// A journal file: the during iterations it kept, safeguards only as their last output.
    Journal,
    /// A stored run's event stream: every sample.
    Events,
}

/// One plotted sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Seconds since the run's start.
    pub t: f64,
    pub value: f64,
    /// The tolerance verdict of the probe that read it (`None`: not judged).
    pub met: Option<bool>,
}

/// One line of a figure (a cohort, or the figure's single `value` line).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    pub points: Vec<Point>,
}

/// A timeline: one numeric figure of one probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub probe: String,
    pub field: String,
    /// The tolerance band, when the tolerance states one for this figure.
    pub band: Option<(f64, f64)>,
    pub lines: Vec<Line>,
}

impl Figure {
    /// `probe · field`, or the probe alone for a bare number.
    pub fn title(&self) -> String {
        if self.field == VALUE {
            self.probe.clone()
        } else {
            format!("{} · {}", self.probe, self.field)
        }
    }
}

/// A hypothesis pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub t: f64,
    pub phase: Phase,
    pub met: bool,
}

/// What a vertical mark on the timeline stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    SafeguardTrip,
    Interruption,
    FailFast,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub t: f64,
    pub kind: MarkKind,
    pub label: String,
}

/// A fault window: applied → reverted (or the run's end while still active).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpan {
    pub record: FaultRecord,
    pub from: f64,
    pub to: f64,
    /// `process.stop on {"pid": 42, …}`.
    pub label: String,
}

/// One row of the activities table.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    pub phase: Phase,
    pub name: String,
    pub start: Timestamp,
    pub duration: f64,
    pub status: EntryStatus,
    pub tolerance_met: Option<bool>,
    /// The output as compact JSON (as redacted by the run).
    pub output: String,
    pub failure: Option<String>,
}

/// The last `traffic.compare` result of a probe: both cohorts side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub probe: String,
    pub t: f64,
    pub output: Value,
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub detail: Detail,
    pub title: String,
    pub run_id: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The journal's status word (null while a stored run is still going).
    pub status: Option<String>,
    pub outcome: Option<String>,
    pub deviated: bool,
    pub exit_code: Option<i64>,
    pub interruption: Option<String>,
    pub figures: Vec<Figure>,
    pub checks: Vec<Check>,
    pub marks: Vec<Mark>,
    pub faults: Vec<FaultSpan>,
    pub activities: Vec<ActivityRow>,
    pub comparisons: Vec<Comparison>,
    pub warnings: Vec<String>,
}

impl Report {
    /// The run's length in seconds.
    pub fn duration_s(&self) -> f64 {
        seconds_between(&self.start, &self.end)
    }

    /// The verdict in one line, e.g. `deviated (completed, exit 1)`.
    pub fn verdict_line(&self) -> String {
        let outcome = self.outcome.as_deref().unwrap_or("running");
        match (&self.status, self.exit_code) {
            (Some(s), Some(code)) => format!("{outcome} ({s}, exit {code})"),
            (Some(s), None) => format!("{outcome} ({s})"),
            (None, _) => outcome.to_string(),
        }
    }

    /// Hypothesis passes (met, broken) in `phase`.
    pub fn checks_in(&self, phase: Phase) -> (usize, usize) {
        let of = self.checks.iter().filter(|c| c.phase == phase);
        let met = of.clone().filter(|c| c.met).count();
        (met, of.count() - met)
    }

    /// The report of a stored run (its `--events-file` lines as stored).
    pub fn from_events(run_id: &str, events: &[Value]) -> Result<Report, ReportError> {
        let stamped: Vec<Stamped> = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                // Deserialized by reference: no copy of each event's JSON.
                Stamped::deserialize(e).map_err(|err| ReportError::BadEvent {
                    run: run_id.to_string(),
                    seq: i + 1,
                    message: err.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        if stamped.is_empty() {
            return Err(ReportError::NoEvents(run_id.to_string()));
        }
        let doc = journal::from_events(&stamped);
        let mut gather = Gather::from_journal(&doc, "the run's journal")?;
        gather.report.detail = Detail::Events;
        let safeguards = safeguard_activities(&doc["experiment"]);
        let start = gather.report.start;
        for s in &stamped {
            let t = seconds_between(&gather.report.start, &s.at);
            match &s.event {
                RunEvent::ActivityFinished { phase, entry, .. } if is_hypothesis(*phase) => {
                    gather.sample(entry, &start);
                }
                RunEvent::HypothesisChecked { phase, result } => gather.report.checks.push(Check {
                    t,
                    phase: *phase,
                    met: *result == ProbeVerdict::Met,
                }),
                RunEvent::SafeguardChecked {
                    name,
                    breached,
                    tripped,
                    output,
                } => {
                    if *tripped {
                        gather.mark(
                            t,
                            MarkKind::SafeguardTrip,
                            format!("safeguard {name} tripped"),
                        );
                    } else {
                        let activity = safeguards
                            .get(name.as_str())
                            .cloned()
                            .unwrap_or(Value::Null);
                        gather.reading(name, &activity, output, t, Some(!breached));
                    }
                }
                RunEvent::Interrupted { interruption } => {
                    gather.mark(t, MarkKind::Interruption, interruption.reason.clone())
                }
                RunEvent::FailFastTripped => gather.mark(
                    t,
                    MarkKind::FailFast,
                    "fail-fast: the method is cut short".into(),
                ),
                _ => {}
            }
        }
        Ok(gather.finish())
    }

    /// The report of a journal document (`path` names it in errors).
    pub fn from_journal(path: &str, doc: &Value) -> Result<Report, ReportError> {
        let mut gather = Gather::from_journal(doc, path)?;
        let start = gather.report.start;
        for phase in ["before", "during", "after"] {
            let states: Vec<&Value> = match &doc["steady_states"][phase] {
                Value::Array(list) => list.iter().collect(),
                Value::Null => Vec::new(),
                one => vec![one],
            };
            for (i, state) in states.into_iter().enumerate() {
                let at = |field: &str| format!("steady_states.{phase}[{i}].{field}");
                let probes: Vec<Entry> =
                    serde_json::from_value(state["probes"].clone()).map_err(|e| {
                        ReportError::BadField {
                            path: path.to_string(),
                            field: at("probes"),
                            message: e.to_string(),
                        }
                    })?;
                for probe in &probes {
                    gather.sample(probe, &start);
                }
                if let (Some(last), Some(met)) =
                    (probes.last(), state["steady_state_met"].as_bool())
                {
                    gather.report.checks.push(Check {
                        t: seconds_between(&start, &last.end),
                        phase: match phase {
                            "before" => Phase::HypothesisBefore,
                            "during" => Phase::HypothesisDuring,
                            _ => Phase::HypothesisAfter,
                        },
                        met,
                    });
                }
            }
        }
        for s in doc["monkeywrench"]["safeguards"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = s["name"].as_str().unwrap_or("safeguard");
            if let Some(at) = s["broken_at"]
                .as_str()
                .and_then(|t| t.parse::<Timestamp>().ok())
            {
                gather.mark(
                    seconds_between(&start, &at),
                    MarkKind::SafeguardTrip,
                    format!("safeguard {name} tripped"),
                );
            }
            if series::is_comparison(&s["last_output"]) {
                let t = gather.report.duration_s();
                gather.comparisons.insert(
                    name.to_string(),
                    Comparison {
                        probe: name.to_string(),
                        t,
                        output: s["last_output"].clone(),
                    },
                );
            }
        }
        if let Some(reason) = gather.report.interruption.clone()
            && !gather
                .report
                .marks
                .iter()
                .any(|m| m.kind == MarkKind::SafeguardTrip)
        {
            let t = gather.report.duration_s();
            gather.mark(t, MarkKind::Interruption, reason);
        }
        Ok(gather.finish())
    }
}

fn is_hypothesis(phase: Phase) -> bool {
    matches!(
        phase,
        Phase::HypothesisBefore | Phase::HypothesisDuring | Phase::HypothesisAfter
    )
}

/// The safeguards of the experiment document, by name (their tolerance says what to plot).
fn safeguard_activities(experiment: &Value) -> BTreeMap<&str, Value> {
    experiment["safeguards"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["name"].as_str()?, s.clone())))
        .collect()
}

/// The report under construction.
struct Gather {
    report: Report,
    /// Figures by (probe, field), lines by name, in first-seen order.
    figures: Vec<Figure>,
    comparisons: BTreeMap<String, Comparison>,
}

impl Gather {
    /// The header, verdict, faults, activities and warnings of a journal document.
    fn from_journal(doc: &Value, path: &str) -> Result<Gather, ReportError> {
        let not_a_journal = |found: String| ReportError::NotAJournal {
            path: path.to_string(),
            found,
        };
        let Some(map) = doc.as_object() else {
            return Err(not_a_journal(format!(
                "found {}",
                crate::probe::tolerance::type_name(doc)
            )));
        };
        for key in ["experiment", "start", "end", "steady_states"] {
            if !map.contains_key(key) {
                return Err(not_a_journal(format!("it has no \"{key}\" key")));
            }
        }
        let time = |key: &str| -> Result<Timestamp, ReportError> {
            let text = doc[key].as_str().unwrap_or_default();
            text.parse().map_err(|e| ReportError::BadField {
                path: path.to_string(),
                field: key.to_string(),
                message: format!("expected a timestamp, got {:?}: {e}", doc[key]),
            })
        };
        let (start, end) = (time("start")?, time("end")?);
        let mw = &doc["monkeywrench"];
        let faults: Vec<FaultRecord> = match &mw["faults"] {
            Value::Null => Vec::new(),
            list => serde_json::from_value(list.clone()).map_err(|e| ReportError::BadField {
                path: path.to_string(),
                field: "monkeywrench.faults".into(),
                message: e.to_string(),
            })?,
        };
        let faults = faults
            .into_iter()
            .map(|record| FaultSpan {
                from: seconds_between(&start, &record.applied_at),
                to: seconds_between(&start, record.reverted_at.as_ref().unwrap_or(&end)),
                label: format!(
                    "{} on {}",
                    record.func.name(),
                    short_json(&record.target, 60)
                ),
                record,
            })
            .collect();
        let mut activities = Vec::new();
        let sections = [
            (
                "steady_states.before.probes",
                &doc["steady_states"]["before"]["probes"],
                Phase::HypothesisBefore,
            ),
            ("run", &doc["run"], Phase::Method),
            (
                "steady_states.after.probes",
                &doc["steady_states"]["after"]["probes"],
                Phase::HypothesisAfter,
            ),
            ("rollbacks", &doc["rollbacks"], Phase::Rollbacks),
        ];
        for (field, list, phase) in sections {
            if list.is_null() {
                continue;
            }
            let entries: Vec<Entry> =
                serde_json::from_value(list.clone()).map_err(|e| ReportError::BadField {
                    path: path.to_string(),
                    field: field.to_string(),
                    message: e.to_string(),
                })?;
            activities.extend(entries.into_iter().map(|e| ActivityRow {
                phase,
                name: e.activity["name"].as_str().unwrap_or("?").to_string(),
                start: e.start,
                duration: e.duration,
                status: e.status,
                tolerance_met: e.tolerance_met.or(e.monkeywrench.tolerance_met),
                output: short_json(&e.output, 300),
                failure: e.failure_message().map(str::to_string),
            }));
        }
        activities.sort_by_key(|a| a.start);
        let text = |v: &Value| v.as_str().map(str::to_string);
        Ok(Gather {
            report: Report {
                detail: Detail::Journal,
                title: text(&doc["experiment"]["title"]).unwrap_or_else(|| "(untitled)".into()),
                run_id: text(&mw["run_id"]).unwrap_or_default(),
                start,
                end,
                status: text(&doc["status"]),
                outcome: text(&mw["outcome"]),
                deviated: doc["deviated"].as_bool().unwrap_or(false),
                exit_code: mw["exit_code"].as_i64(),
                interruption: text(&doc["interruption"]["reason"]),
                figures: Vec::new(),
                checks: Vec::new(),
                marks: Vec::new(),
                faults,
                activities,
                comparisons: Vec::new(),
                warnings: mw["warnings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(text)
                    .collect(),
            },
            figures: Vec::new(),
            comparisons: BTreeMap::new(),
        })
    }

    /// A hypothesis probe's entry: its numbers at the time it finished.
    fn sample(&mut self, entry: &Entry, start: &Timestamp) {
        let name = entry.activity["name"]
            .as_str()
            .unwrap_or("probe")
            .to_string();
        let met = entry.tolerance_met;
        let t = seconds_between(start, &entry.end);
        let activity = entry.activity.clone();
        self.reading(&name, &activity, &entry.output, t, met);
    }

    fn reading(
        &mut self,
        probe: &str,
        activity: &Value,
        output: &Value,
        t: f64,
        met: Option<bool>,
    ) {
        if series::is_comparison(output) {
            self.comparisons.insert(
                probe.to_string(),
                Comparison {
                    probe: probe.to_string(),
                    t,
                    output: output.clone(),
                },
            );
        }
        let comparison = series::is_comparison(output);
        for r in series::readings(activity, output) {
            // A verdict colours only the figure the tolerance judged (or a comparison's cohorts):
            // a probe broken by its error rate did not break its p95.
            let judged = comparison
                || r.field == VALUE
                || series::judged_field(activity) == Some(r.field.as_str());
            let met = if judged { met } else { None };
            let at = self
                .figures
                .iter()
                .position(|f| f.probe == probe && f.field == r.field)
                .unwrap_or_else(|| {
                    self.figures.push(Figure {
                        probe: probe.to_string(),
                        band: series::band(activity, &r.field),
                        field: r.field.clone(),
                        lines: Vec::new(),
                    });
                    self.figures.len() - 1
                });
            let figure = &mut self.figures[at];
            let point = Point {
                t,
                value: r.value,
                met,
            };
            match figure.lines.iter_mut().find(|l| l.name == r.line) {
                Some(line) => line.points.push(point),
                None => figure.lines.push(Line {
                    name: r.line,
                    points: vec![point],
                }),
            }
        }
    }

    fn mark(&mut self, t: f64, kind: MarkKind, label: String) {
        self.report.marks.push(Mark { t, kind, label });
    }

    fn finish(mut self) -> Report {
        for f in &mut self.figures {
            for l in &mut f.lines {
                l.points.sort_by(|a, b| a.t.total_cmp(&b.t));
            }
        }
        self.report.figures = self.figures;
        self.report.comparisons = self.comparisons.into_values().collect();
        self.report
    }
}

/// Compact JSON cut to `max` characters (with an ellipsis).
pub fn short_json(v: &Value, max: usize) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
