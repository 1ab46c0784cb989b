//! `RunEvent`: the one stream of facts about a run. The journal, the progress view, `--output json`
//! and `--events-file` are all consumers of it.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::model::ActivityKind;

/// Where in the run an activity executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Steady-state hypothesis before the method (the gate).
    HypothesisBefore,
    /// One iteration of the hypothesis while the method runs.
    HypothesisDuring,
    /// Steady-state hypothesis after the method.
    HypothesisAfter,
    /// The method.
    Method,
    /// Rollbacks.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryStatus {
    /// The provider ran (whatever its output).
    Succeeded,
    /// The provider errored, timed out or was cancelled.
    Failed,
}

/// Why a running activity was stopped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EntryExtra {
    /// The tolerance verdict of a method probe (CTK ignores it there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance_met: Option<bool>,
    /// Why the activity was cut short.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<CancelReason>,
}

impl EntryExtra {
    fn is_empty(&self) -> bool {
        self.tolerance_met.is_none() && self.cancelled.is_none()
    }
}

/// One executed activity, serialized exactly in Chaos Toolkit's key order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The activity as written (refs resolved, unsubstituted).
    pub activity: Value,
    /// Provider output (redacted), or `null`.
    pub output: Value,
    /// When the provider started (pauses excluded).
    #[serde(serialize_with = "ser_timestamp")]
    pub start: Timestamp,
    /// Succeeded or failed.
    pub status: EntryStatus,
    /// Causes first; the last reads `chaoslib.exceptions.ActivityFailed: <message>\n`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<Vec<String>>,
    /// When the provider finished.
    #[serde(serialize_with = "ser_timestamp")]
    pub end: Timestamp,
    /// Seconds between start and end, µs precision.
    pub duration: f64,
    /// The tolerance verdict (hypothesis probes and safeguards only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance_met: Option<bool>,
    /// Our additions.
    #[serde(skip_serializing_if = "EntryExtra::is_empty")]
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

/// The result of one pass over the hypothesis probes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SteadyState {
    /// `true` met, `false` unmet or errored, `null` when nothing was judged.
    pub steady_state_met: Option<bool>,
    /// The probes that ran (the pass stops at the first unmet or failed probe).
    pub probes: Vec<Entry>,
}

/// How the run was interrupted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interruption {
    /// `signal`, `safeguard`, `max-duration` or `halt`.
    pub kind: String,
    /// Signal name, safeguard name, …
    pub name: String,
    /// Human reason, e.g. `received SIGTERM`.
    pub reason: String,
}

/// Journal `status` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// The verdict of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Journal status.
    pub status: RunStatus,
    /// Whether the steady state deviated.
    pub deviated: bool,
    /// One-word outcome (`passed`, `deviated`, …).
    pub outcome: &'static str,
    /// The process exit code.
    pub exit_code: i32,
    /// Set when interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interruption: Option<Interruption>,
}

/// A fact about a run, in the order it happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RunEvent {
    /// The run began (configuration resolved, journal opened).
    RunStarted {
        /// Unique id of this run.
        run_id: String,
        /// Substituted title.
        title: String,
        /// The experiment copy for the journal (title substituted, `dry` appended, secrets redacted).
        #[serde(skip)]
        experiment: Value,
        /// Start time.
        #[serde(serialize_with = "ser_timestamp")]
        start: Timestamp,
    },
    /// A phase began.
    PhaseStarted {
        /// Which phase.
        phase: Phase,
    },
    /// An activity began (its pause-before may still be running).
    ActivityStarted {
        /// Where it runs.
        phase: Phase,
        /// Start order within the phase (`run` entries are journaled in start order).
        seq: usize,
        /// Activity name.
        name: String,
        /// Probe or action.
        #[serde(serialize_with = "ser_kind")]
        kind: ActivityKind,
        /// Runs in the background.
        background: bool,
    },
    /// An activity finished (or was cancelled).
    ActivityFinished {
        /// Where it ran.
        phase: Phase,
        /// Start order within the phase.
        seq: usize,
        /// The journal entry.
        entry: Box<Entry>,
    },
    /// A hypothesis pass finished.
    HypothesisChecked {
        /// Before, during or after.
        phase: Phase,
        /// The state (its probes were already reported one by one).
        #[serde(skip)]
        state: SteadyState,
        /// Met, unmet or not judged.
        met: Option<bool>,
    },
    /// A safeguard was checked.
    SafeguardChecked {
        /// Safeguard name.
        name: String,
        /// Whether this check was a breach.
        breached: bool,
        /// Whether the safeguard tripped (enough consecutive breaches).
        tripped: bool,
        /// The probe's output.
        output: Value,
    },
    /// A fault activity resolved its targets and picked victims.
    TargetsSelected {
        /// The activity.
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
        /// The fault's record.
        fault: FaultRecord,
    },
    /// A fault was reverted (or found gone, or failed to revert).
    FaultReverted {
        /// The lease id.
        id: String,
        /// `reverted`, `target-gone`, `irreversible` or `failed`.
        revert: String,
        /// Why a revert failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// When.
        #[serde(serialize_with = "ser_timestamp")]
        at: Timestamp,
    },
    /// Something the user should know that does not change the verdict.
    Warning {
        /// Lowercase message.
        message: String,
    },
    /// The run is being interrupted.
    Interrupted {
        /// What interrupted it.
        interruption: Interruption,
    },
    /// The run ended.
    RunFinished {
        /// End time.
        #[serde(serialize_with = "ser_timestamp")]
        end: Timestamp,
        /// The verdict.
        verdict: Verdict,
    },
}

/// One applied fault as the journal records it (`monkeywrench.faults`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultRecord {
    /// Lease id.
    pub id: String,
    /// Activity name.
    pub activity: String,
    /// Builtin function.
    pub func: String,
    /// The target.
    pub target: Value,
    /// When it was applied.
    #[serde(serialize_with = "ser_timestamp")]
    pub applied_at: Timestamp,
    /// When it must be reverted at the latest.
    #[serde(serialize_with = "ser_timestamp")]
    pub deadline: Timestamp,
    /// Filled when reverted.
    #[serde(serialize_with = "ser_opt_timestamp")]
    pub reverted_at: Option<Timestamp>,
    /// `reverted`, `failed`, `irreversible`, `target-gone`, or null while active.
    pub revert: Option<String>,
}

fn ser_opt_timestamp<S: serde::Serializer>(
    ts: &Option<Timestamp>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match ts {
        Some(t) => s.serialize_str(&format_timestamp(t)),
        None => s.serialize_none(),
    }
}

/// Formats a timestamp as Chaos Toolkit does: UTC, microseconds, `+00:00`.
pub fn format_timestamp(ts: &Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

fn ser_timestamp<S: serde::Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(ts))
}

fn ser_kind<S: serde::Serializer>(kind: &ActivityKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match kind {
        ActivityKind::Probe => "probe",
        ActivityKind::Action => "action",
    })
}

/// Seconds between two timestamps with microsecond precision.
pub fn seconds_between(start: &Timestamp, end: &Timestamp) -> f64 {
    let micros = end.as_microsecond() - start.as_microsecond();
    micros as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_look_like_ctk() {
        let ts: Timestamp = "2026-11-24T22:22:14.108647Z".parse().unwrap();
        assert_eq!(format_timestamp(&ts), "2026-11-24T22:22:14.108647+00:00");
        let whole: Timestamp = "2026-11-24T22:22:14Z".parse().unwrap();
        assert_eq!(format_timestamp(&whole), "2026-11-24T22:22:14.000000+00:00");
    }

    #[test]
    fn entries_serialize_in_ctk_key_order() {
        let ts: Timestamp = "2026-11-24T22:22:14Z".parse().unwrap();
        let entry = Entry {
            activity: serde_json::json!({"name": "x"}),
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
            },
        };
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
}
