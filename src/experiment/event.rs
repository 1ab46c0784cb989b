//! `RunEvent`: the one stream of facts about a run. Each event is [`Stamped`] with its wall-clock
//! time and its monotonic offset into the run. The journal, the verdict (see
//! [`super::run_state::RunState`]), the progress view, `--output json` and `--events-file` are all
//! folds over this stream; a stream read back from NDJSON rebuilds the journal exactly.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::journal::DuringJournal;
use super::model::ActivityKind;
use crate::builtin::Func;

/// An event with the time it happened; one line of `--events-file` and `--output json`
/// (`{"at": …, "elapsed_s": …, "event": "<kind>", …}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamped {
    /// Wall-clock time, Chaos Toolkit's format (UTC, microseconds).
    #[serde(with = "ctk_time")]
    pub at: Timestamp,
    /// Monotonic seconds since the run's event stream opened (µs precision; never decreases along
    /// the stream).
    pub elapsed_s: f64,
    #[serde(flatten)]
    pub event: RunEvent,
}

/// Where in the run an activity executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Steady-state hypothesis before the method (the gate).
    HypothesisBefore,
    /// One iteration of the hypothesis while the method runs.
    HypothesisDuring,
    /// Steady-state hypothesis after the method.
    HypothesisAfter,
    Method,
    Rollbacks,
    /// A safeguard check.
    Safeguard,
    /// Dynamic configuration.
    Configuration,
}

impl Phase {
    /// A short human label for progress output.
    pub fn label(self) -> &'static str {
        match self {
            Phase::HypothesisBefore => "steady state (before)",
            Phase::HypothesisDuring => "steady state (during)",
            Phase::HypothesisAfter => "steady state (after)",
            Phase::Method => "method",
            Phase::Rollbacks => "rollbacks",
            Phase::Safeguard => "safeguard",
            Phase::Configuration => "configuration",
        }
    }
}

/// `succeeded` or `failed`, as in Chaos Toolkit journals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryStatus {
    /// The provider ran (whatever its output).
    Succeeded,
    /// The provider errored, timed out or was cancelled.
    Failed,
}

/// Why a running activity was stopped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CancelReason {
    /// `--fail-fast` after a deviating during-iteration.
    FailFast,
    /// A safeguard tripped.
    Safeguard,
    /// A signal, `--max-duration` or halt.
    Signal,
    /// The activity's timeout.
    Timeout,
}

/// Our additions to a journal entry (under the key `monkeywrench`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryExtra {
    /// The tolerance verdict of a method probe (CTK ignores it there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_met: Option<bool>,
    /// Why the activity was cut short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<CancelReason>,
    /// A Python function that ran natively (`os.path.exists as file.exists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<String>,
    /// Why the ledger cannot undo this action (Python actions not mapped natively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<String>,
    /// The activity failed because the platform it needs (the Kubernetes API, the Docker
    /// engine) could not be used at all: the run exits 69 instead of 2.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unavailable: bool,
}

impl EntryExtra {
    fn is_empty(&self) -> bool {
        self.tolerance_met.is_none()
            && self.cancelled.is_none()
            && self.native.is_none()
            && self.undo.is_none()
            && !self.unavailable
    }
}

/// One executed activity, serialized exactly in Chaos Toolkit's key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The activity as written (refs resolved, unsubstituted).
    pub activity: Value,
    /// Provider output (redacted), or `null`.
    pub output: Value,
    /// When the provider started (pauses excluded).
    #[serde(with = "ctk_time")]
    pub start: Timestamp,
    pub status: EntryStatus,
    /// Causes first; the last reads `chaoslib.exceptions.ActivityFailed: <message>\n`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<Vec<String>>,
    /// When the provider finished.
    #[serde(with = "ctk_time")]
    pub end: Timestamp,
    /// Seconds between start and end, µs precision.
    pub duration: f64,
    /// The tolerance verdict (hypothesis probes and safeguards only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_met: Option<bool>,
    /// Our additions.
    #[serde(default, skip_serializing_if = "EntryExtra::is_empty")]
    pub monkeywrench: EntryExtra,
}

impl Entry {
    /// The exception list CTK-style parsers expect, for `message`.
    pub fn exception_for(message: &str) -> Vec<String> {
        vec![format!("chaoslib.exceptions.ActivityFailed: {message}\n")]
    }

    /// The failure message, if the entry failed.
    pub fn failure_message(&self) -> Option<&str> {
        let last = self.exception.as_ref()?.last()?;
        Some(
            last.trim_end()
                .strip_prefix("chaoslib.exceptions.ActivityFailed: ")
                .unwrap_or(last.trim_end()),
        )
    }
}

/// The result of one pass over the hypothesis probes, as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteadyState {
    /// `true` met, `false` unmet or errored, `null` when nothing was judged.
    pub steady_state_met: Option<bool>,
    /// The probes that ran (the pass stops at the first unmet or failed probe).
    pub probes: Vec<Entry>,
}

/// The verdict on one probe, or on a hypothesis pass (its worst probe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeVerdict {
    /// Within tolerance (or dry: not judged; or no probes).
    Met,
    /// Outside tolerance.
    Unmet,
    /// The probe or its tolerance errored.
    Errored,
}

/// What interrupted a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterruptionKind {
    /// SIGINT, SIGTERM, SIGUSR1 or SIGUSR2.
    Signal,
    /// A safeguard tripped.
    Safeguard,
    /// `--max-duration` expired.
    MaxDuration,
    /// `monkeywrench halt`.
    Halt,
    /// A control hook raised chaoslib's `InterruptExecution`.
    Control,
}

/// How the run was interrupted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interruption {
    pub kind: InterruptionKind,
    /// Signal name, safeguard name, …
    pub name: String,
    /// Human reason, e.g. `received SIGTERM`.
    pub reason: String,
}

/// Journal `status` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Ran to the end (even if deviated).
    Completed,
    /// A hypothesis probe errored, or fail-fast without an after-hypothesis.
    Failed,
    /// An unexpected error stopped the run.
    Aborted,
    /// A signal, safeguard, max-duration or halt stopped the run.
    Interrupted,
}

impl RunStatus {
    /// The journal's word for it.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Aborted => "aborted",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// The one-word outcome of a run; each maps to one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The steady state held; everything succeeded.
    Passed,
    /// The after-hypothesis or a during iteration was unmet or errored.
    Deviated,
    /// A rollback or a fault revert failed.
    RollbackFailed,
    /// A safeguard tripped.
    SafeguardBroken,
    /// An unexpected error stopped the run.
    Aborted,
    /// A signal, `--max-duration` or halt stopped the run.
    Interrupted,
    /// A before-hypothesis probe errored.
    ProbeError,
    /// The before-hypothesis was unmet.
    BaselineNotMet,
    /// A method action failed.
    ActionFailed,
}

impl Outcome {
    /// The word used in the journal and the event stream.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Deviated => "deviated",
            Outcome::RollbackFailed => "rollback-failed",
            Outcome::SafeguardBroken => "safeguard-broken",
            Outcome::Aborted => "aborted",
            Outcome::Interrupted => "interrupted",
            Outcome::ProbeError => "probe-error",
            Outcome::BaselineNotMet => "baseline-not-met",
            Outcome::ActionFailed => "action-failed",
        }
    }
}

/// The verdict of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: RunStatus,
    /// Whether the steady state deviated.
    pub deviated: bool,
    /// One-word outcome.
    pub outcome: Outcome,
    pub exit_code: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interruption: Option<Interruption>,
}

/// How a fault's revert ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevertResult {
    Reverted,
    /// The target no longer exists; nothing to undo.
    TargetGone,
    /// The fault cannot be undone (a kill).
    Irreversible,
    /// The undo failed (the guard retries).
    Failed,
}

impl RevertResult {
    /// The word used in the journal and the event stream.
    pub fn name(self) -> &'static str {
        match self {
            RevertResult::Reverted => "reverted",
            RevertResult::TargetGone => "target-gone",
            RevertResult::Irreversible => "irreversible",
            RevertResult::Failed => "failed",
        }
    }
}

/// A fact about a run, in the order it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RunEvent {
    /// The run began (configuration resolved). Carries everything the journal's header holds.
    RunStarted {
        run_id: String,
        /// Substituted title.
        title: String,
        /// The experiment copy for the journal (title substituted, `dry` appended, secrets redacted).
        experiment: Value,
        /// `--seed`, if given.
        seed: Option<u64>,
        /// `--during-journal`.
        during_journal: DuringJournal,
        /// The host's platform, e.g. `Linux-6.1.0-x86_64`.
        platform: String,
        /// The host name.
        node: String,
        /// The monkeywrench version that ran it.
        version: String,
    },
    PhaseStarted {
        phase: Phase,
    },
    /// An activity began (its pause-before may still be running).
    ActivityStarted {
        phase: Phase,
        /// Start order within the phase (`run` entries are journaled in start order).
        seq: usize,
        name: String,
        #[serde(with = "activity_kind")]
        kind: ActivityKind,
        background: bool,
    },
    /// An activity finished (or was cancelled).
    ActivityFinished {
        phase: Phase,
        /// Start order within the phase.
        seq: usize,
        #[serde(with = "activity_kind")]
        kind: ActivityKind,
        entry: Box<Entry>,
    },
    /// A hypothesis pass finished; its probes are the `activity-finished` events of its phase
    /// since the previous pass.
    HypothesisChecked {
        /// Before, during or after.
        phase: Phase,
        /// The worst probe's verdict (`met` when there are no probes).
        result: ProbeVerdict,
    },
    SafeguardChecked {
        name: String,
        /// Whether this check was a breach.
        breached: bool,
        /// Whether the safeguard tripped (enough consecutive breaches).
        tripped: bool,
        output: Value,
    },
    /// A fault activity resolved its targets and picked victims.
    TargetsSelected {
        activity: String,
        /// How many targets matched.
        matched: usize,
        /// The victims (as JSON: pid, name, …).
        selected: Vec<Value>,
        /// The blast-radius mode.
        mode: String,
        /// The seed used for the pick.
        seed: u64,
    },
    /// A fault was applied (its lease is in the ledger).
    FaultApplied {
        fault: FaultRecord,
    },
    /// A fault was reverted (or found gone, or failed to revert).
    FaultReverted {
        id: String,
        revert: RevertResult,
        /// Why a revert failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// One second of a `traffic.surge`'s own load (for the report's chart).
    SurgeFigures {
        activity: String,
        /// The surge's process, as its fault's target names it.
        pid: i32,
        figures: crate::loadgen::Second,
    },
    /// A during iteration deviated under `--fail-fast`: the method is being cut short.
    FailFastTripped,
    /// Something the user should know that does not change the verdict.
    Warning {
        /// Lowercase message.
        message: String,
    },
    /// The run is being interrupted (only the first cause is reported).
    Interrupted {
        interruption: Interruption,
    },
    /// No rollbacks will play (SIGUSR2); faults are still reverted.
    RollbacksSkipped {
        /// Why, e.g. `received SIGUSR2`.
        reason: String,
    },
    /// An unexpected error stopped the run.
    Aborted {
        reason: String,
    },
    RunFinished {
        /// The verdict, as the events before this one imply it.
        verdict: Verdict,
        /// How many secret occurrences were redacted.
        redactions: usize,
    },
}

/// One applied fault as the journal records it (`monkeywrench.faults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    pub id: String,
    pub activity: String,
    pub func: Func,
    pub target: Value,
    #[serde(with = "ctk_time")]
    pub applied_at: Timestamp,
    /// When it must be reverted at the latest.
    #[serde(with = "ctk_time")]
    pub deadline: Timestamp,
    /// Filled when reverted.
    #[serde(with = "ctk_time_opt")]
    pub reverted_at: Option<Timestamp>,
    /// How its revert ended; `irreversible` from the start for a kill, null while active.
    pub revert: Option<RevertResult>,
}

/// Formats a timestamp as Chaos Toolkit does: UTC, microseconds, `+00:00`.
pub fn format_timestamp(ts: &Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// Now, truncated to what the journal can show (microseconds), so a time read back from the
/// journal or the event stream is the very value the run used.
pub fn now_micros() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now)
}

/// Seconds between two timestamps with microsecond precision.
pub fn seconds_between(start: &Timestamp, end: &Timestamp) -> f64 {
    let micros = end.as_microsecond() - start.as_microsecond();
    micros as f64 / 1_000_000.0
}

/// A CTK-shaped platform string for this host, e.g. `Linux-6.1.0-x86_64`.
pub fn host_platform() -> String {
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

pub fn host_name() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

mod ctk_time {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_timestamp(ts))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e| D::Error::custom(format!("bad timestamp {text:?}: {e}")))
    }
}

mod ctk_time_opt {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(
        ts: &Option<Timestamp>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match ts {
            Some(t) => s.serialize_str(&super::format_timestamp(t)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e| D::Error::custom(format!("bad timestamp {text:?}: {e}"))),
        }
    }
}

mod activity_kind {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::experiment::model::ActivityKind;

    pub(super) fn serialize<S: Serializer>(kind: &ActivityKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match kind {
            ActivityKind::Probe => "probe",
            ActivityKind::Action => "action",
        })
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ActivityKind, D::Error> {
        match String::deserialize(d)?.as_str() {
            "probe" => Ok(ActivityKind::Probe),
            "action" => Ok(ActivityKind::Action),
            other => Err(D::Error::custom(format!(
                "unknown activity kind {other:?}; expected probe or action"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(ts: Timestamp) -> Entry {
        Entry {
            activity: json!({"name": "x"}),
            output: Value::Null,
            start: ts,
            status: EntryStatus::Failed,
            exception: Some(Entry::exception_for("timed out after 1 s")),
            end: ts,
            duration: 0.0,
            tolerance_met: Some(false),
            monkeywrench: EntryExtra {
                tolerance_met: None,
                cancelled: Some(CancelReason::Timeout),
                native: None,
                undo: None,
                unavailable: false,
            },
        }
    }

    #[test]
    fn timestamps_look_like_ctk() {
        let ts: Timestamp = "2026-11-24T22:22:14.108647Z".parse().unwrap();
        assert_eq!(format_timestamp(&ts), "2026-11-24T22:22:14.108647+00:00");
        let whole: Timestamp = "2026-11-24T22:22:14Z".parse().unwrap();
        assert_eq!(format_timestamp(&whole), "2026-11-24T22:22:14.000000+00:00");
        let back: Timestamp = format_timestamp(&ts).parse().unwrap();
        assert_eq!(back, ts);
    }

    #[test]
    fn entries_serialize_in_ctk_key_order() {
        let ts: Timestamp = "2026-11-24T22:22:14Z".parse().unwrap();
        let entry = entry(ts);
        let text = serde_json::to_string(&entry).unwrap();
        let keys: Vec<&str> = [
            "activity",
            "output",
            "start",
            "status",
            "exception",
            "end",
            "duration",
            "tolerance_met",
            "monkeywrench",
        ]
        .to_vec();
        let mut last = 0;
        for k in keys {
            let at = text.find(&format!("\"{k}\"")).unwrap();
            assert!(at >= last, "{k} out of order in {text}");
            last = at;
        }
        assert_eq!(entry.failure_message(), Some("timed out after 1 s"));
        assert!(text.contains("\"cancelled\":\"timeout\""));
    }

    #[test]
    fn every_event_round_trips_through_its_ndjson_line() {
        let ts: Timestamp = "2026-11-24T22:22:14.108647Z".parse().unwrap();
        let interruption = Interruption {
            kind: InterruptionKind::MaxDuration,
            name: "max-duration".into(),
            reason: "r".into(),
        };
        let events = vec![
            RunEvent::RunStarted {
                run_id: "id".into(),
                title: "t".into(),
                experiment: json!({"title": "t", "dry": null}),
                seed: Some(7),
                during_journal: DuringJournal::Changes,
                platform: "Linux".into(),
                node: "n".into(),
                version: "0.1.0".into(),
            },
            RunEvent::PhaseStarted {
                phase: Phase::Method,
            },
            RunEvent::ActivityStarted {
                phase: Phase::Method,
                seq: 1,
                name: "a".into(),
                kind: ActivityKind::Action,
                background: true,
            },
            RunEvent::ActivityFinished {
                phase: Phase::Rollbacks,
                seq: 0,
                kind: ActivityKind::Probe,
                entry: Box::new(entry(ts)),
            },
            RunEvent::HypothesisChecked {
                phase: Phase::HypothesisDuring,
                result: ProbeVerdict::Errored,
            },
            RunEvent::SafeguardChecked {
                name: "s".into(),
                breached: true,
                tripped: false,
                output: json!({"status": 503}),
            },
            RunEvent::TargetsSelected {
                activity: "a".into(),
                matched: 3,
                selected: vec![json!({"pid": 1})],
                mode: "one".into(),
                seed: 42,
            },
            RunEvent::FaultApplied {
                fault: FaultRecord {
                    id: "lease".into(),
                    activity: "a".into(),
                    func: Func::Fault(crate::fault::FaultFunc::Process(
                        crate::fault::process::Verb::Stop,
                    )),
                    target: json!({"pid": 1}),
                    applied_at: ts,
                    deadline: ts,
                    reverted_at: None,
                    revert: None,
                },
            },
            RunEvent::FaultReverted {
                id: "lease".into(),
                revert: RevertResult::Failed,
                error: Some("gone wrong".into()),
            },
            RunEvent::SurgeFigures {
                activity: "a".into(),
                pid: 42,
                figures: crate::loadgen::Second {
                    second: 1,
                    target_rps: Some(100.0),
                    requests: 99,
                    errors: 1,
                    p50_ms: 1.5,
                    p99_ms: 9.0,
                    max_ms: 12.0,
                },
            },
            RunEvent::FailFastTripped,
            RunEvent::Warning {
                message: "w".into(),
            },
            RunEvent::Interrupted {
                interruption: interruption.clone(),
            },
            RunEvent::RollbacksSkipped {
                reason: "received SIGUSR2".into(),
            },
            RunEvent::Aborted {
                reason: "boom".into(),
            },
            RunEvent::RunFinished {
                verdict: Verdict {
                    status: RunStatus::Interrupted,
                    deviated: false,
                    outcome: Outcome::Interrupted,
                    exit_code: 4,
                    interruption: Some(interruption),
                },
                redactions: 2,
            },
        ];
        for (i, event) in events.into_iter().enumerate() {
            let stamped = Stamped {
                at: ts,
                elapsed_s: i as f64 * 0.125,
                event,
            };
            let line = serde_json::to_string(&stamped).unwrap();
            assert!(
                line.starts_with("{\"at\":\"2026-11-24T22:22:14.108647+00:00\",\"elapsed_s\":")
            );
            assert!(line.contains("\"event\":\""), "{line}");
            let back: Stamped = serde_json::from_str(&line).unwrap();
            assert_eq!(back, stamped, "{line}");
        }
    }

    #[test]
    fn closed_sets_keep_their_journal_words() {
        let word = |v: Value| v.as_str().unwrap().to_string();
        for r in [
            RevertResult::Reverted,
            RevertResult::TargetGone,
            RevertResult::Irreversible,
            RevertResult::Failed,
        ] {
            assert_eq!(word(serde_json::to_value(r).unwrap()), r.name());
        }
        let names: Vec<String> = [
            InterruptionKind::Signal,
            InterruptionKind::Safeguard,
            InterruptionKind::MaxDuration,
            InterruptionKind::Halt,
        ]
        .into_iter()
        .map(|k| word(serde_json::to_value(k).unwrap()))
        .collect();
        assert_eq!(names, ["signal", "safeguard", "max-duration", "halt"]);
        for o in [
            Outcome::Passed,
            Outcome::Deviated,
            Outcome::RollbackFailed,
            Outcome::SafeguardBroken,
            Outcome::Aborted,
            Outcome::Interrupted,
            Outcome::ProbeError,
            Outcome::BaselineNotMet,
            Outcome::ActionFailed,
        ] {
            assert_eq!(word(serde_json::to_value(o).unwrap()), o.name());
        }
        for s in [
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Aborted,
            RunStatus::Interrupted,
        ] {
            assert_eq!(word(serde_json::to_value(s).unwrap()), s.name());
        }
        assert_eq!(
            serde_json::to_value(Func::Fault(crate::fault::FaultFunc::Container(
                crate::fault::container::Verb::Disconnect
            )))
            .unwrap(),
            json!("container.disconnect")
        );
        assert!(serde_json::from_value::<Func>(json!("container.disconect")).is_err());
    }
}
