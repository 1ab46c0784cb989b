//! State shared by the executors of one run: settings, substitutions, redaction, cancellation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::experiment::dispatcher::Events;
use crate::experiment::event::{CancelReason, Interruption, RunEvent};
use crate::experiment::journal::DuringJournal;
use crate::experiment::model::{
    Activity, DryMode, Experiment, HypothesisStrategy, RollbackStrategy, Seconds,
};
use crate::experiment::redact::Redactor;
use crate::experiment::run_state::RunState;
use crate::experiment::substitute::Substitutions;

/// Command-line choices that shape a run (spec §10).
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// `--hypothesis-strategy` (beats the file's `runtime`).
    pub hypothesis_strategy: Option<HypothesisStrategy>,
    /// `--rollback-strategy` (beats the file's `runtime`).
    pub rollback_strategy: Option<RollbackStrategy>,
    /// `--hypothesis-frequency`: wait between during iterations (beats the file's `runtime`).
    pub hypothesis_frequency: Option<Duration>,
    /// `--fail-fast` (the file's `runtime.hypothesis.fail_fast` turns it on too).
    pub fail_fast: bool,
    /// `--dry`.
    pub dry: Option<DryMode>,
    /// `--during-journal`.
    pub during_journal: DuringJournal,
    /// `--max-duration`.
    pub max_duration: Option<Duration>,
    /// `--no-verify-tls` (false) for http providers.
    pub verify_tls: bool,
    /// `--seed`.
    pub seed: Option<u64>,
    /// Working directory for process paths.
    pub cwd: PathBuf,
    /// Variables from `.env` var files, passed to process providers.
    pub env_overlay: Vec<(String, String)>,
    /// Where the ledger lives (faults refuse to run without it).
    pub state: Option<super::faults::StateConfig>,
    /// The interpreter for python providers and controls (`None`: none was chosen).
    pub python: Option<crate::experiment::python::Interpreter>,
    /// The run's id (`None`: a new UUID); a server names its child runs before they start.
    pub run_id: Option<String>,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            hypothesis_strategy: None,
            rollback_strategy: None,
            hypothesis_frequency: None,
            fail_fast: false,
            dry: None,
            during_journal: DuringJournal::Full,
            max_duration: None,
            verify_tls: true,
            seed: None,
            cwd: PathBuf::from("."),
            env_overlay: Vec::new(),
            state: None,
            python: None,
            run_id: None,
        }
    }
}

/// An interruption request from outside the engine (signal handler, timer, halt).
#[derive(Debug, Clone)]
pub struct Interrupt {
    pub interruption: Interruption,
    /// SIGUSR2: play no rollbacks (faults are still reverted).
    pub skip_rollbacks: bool,
}

/// How long a fault without `duration` may last when no `--max-duration` is given.
pub(super) const DEFAULT_FAULT_DEADLINE: Duration = Duration::from_secs(3600);

/// Everything the executors of one run share.
#[derive(Debug)]
pub(super) struct RunContext {
    pub experiment: Experiment,
    pub settings: RunSettings,
    /// Substitutions from configuration and secrets.
    pub substitutions: Substitutions,
    /// Secret redaction for outputs, exceptions and events.
    pub redactor: Redactor,
    pub events: Events,
    /// Cancelled when the method must stop (fail-fast, safeguard, signal, max-duration).
    pub method_cancel: CancellationToken,
    /// Cancelled by a second signal: stops rollbacks.
    pub rollback_cancel: CancellationToken,
    /// This run's id (journal, leases).
    pub run_id: String,
    /// Deadline of faults without a `duration`: start + `--max-duration` (1 h by default).
    pub run_deadline: jiff::Timestamp,
    /// The run's faults and their ledger.
    pub faults: super::faults::FaultBook,
    /// Python providers and controls.
    pub python: super::python::PythonScope,
}

impl RunContext {
    pub(super) fn new(
        experiment: Experiment,
        settings: RunSettings,
        substitutions: Substitutions,
        redactor: Redactor,
        events: Events,
        python: super::python::PythonScope,
    ) -> Arc<Self> {
        let run_id = settings
            .run_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Arc::new(RunContext {
            run_deadline: jiff::Timestamp::now()
                + jiff::SignedDuration::try_from(
                    settings.max_duration.unwrap_or(DEFAULT_FAULT_DEADLINE),
                )
                .unwrap_or(jiff::SignedDuration::from_hours(1)),
            experiment,
            settings,
            substitutions,
            redactor,
            events,
            method_cancel: CancellationToken::new(),
            rollback_cancel: CancellationToken::new(),
            run_id,
            faults: super::faults::FaultBook::default(),
            python,
        })
    }

    /// Reads the run state: the fold of every event sent so far.
    pub(super) fn state<R>(&self, read: impl FnOnce(&RunState) -> R) -> R {
        self.events.state(read)
    }

    pub(super) fn interrupted(&self) -> bool {
        self.state(RunState::interrupted)
    }

    /// Reports `interruption` unless the run already is interrupted (the first cause counts), then
    /// stops the method. The event goes out before the cancellation, so whatever the cancellation
    /// cuts short is reported after it.
    pub(super) fn interrupt(&self, interruption: Interruption) {
        self.events.emit_with(|state| {
            if state.interrupted() {
                Vec::new()
            } else {
                vec![RunEvent::Interrupted { interruption }]
            }
        });
        self.method_cancel.cancel();
    }

    /// Why the method was cancelled, if it was.
    pub(super) fn cancel_reason(&self) -> Option<CancelReason> {
        self.state(RunState::cancel_reason)
    }

    /// The hypothesis strategy in force (CLI > file > default).
    pub(super) fn hypothesis_strategy(&self) -> HypothesisStrategy {
        self.settings
            .hypothesis_strategy
            .or(self.experiment.runtime.hypothesis)
            .unwrap_or_default()
    }

    /// The wait between during iterations (CLI > file > 1 s).
    pub(super) fn hypothesis_frequency(&self) -> Duration {
        self.settings
            .hypothesis_frequency
            .or(self
                .experiment
                .runtime
                .hypothesis_frequency
                .map(Duration::from_secs_f64))
            .unwrap_or(Duration::from_secs(1))
    }

    /// Whether the first deviating during iteration stops the method (CLI or file).
    pub(super) fn fail_fast(&self) -> bool {
        self.settings.fail_fast || self.experiment.runtime.fail_fast
    }

    /// The rollback strategy in force (CLI > file > default).
    pub(super) fn rollback_strategy(&self) -> RollbackStrategy {
        self.settings
            .rollback_strategy
            .or(self.experiment.runtime.rollbacks)
            .unwrap_or_default()
    }

    /// The dry mode that applies to `activity` (`--dry` beats the file's per-activity `dry`).
    pub(super) fn dry_for(&self, activity: &Activity) -> Option<DryMode> {
        self.settings.dry.or(activity.dry)
    }

    /// Resolves a seconds value, substituting `${var}`; a bad value gives a warning and `None`.
    pub(super) fn seconds(
        &self,
        activity: &Activity,
        what: &str,
        value: &Seconds,
    ) -> Option<Duration> {
        let secs = match value {
            Seconds::Literal(s) => Some(*s),
            Seconds::Var(name) => self
                .substitutions
                .lookup(name)
                .and_then(crate::schema::number_of),
        };
        match secs {
            Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
            _ => {
                self.events.warn(format!(
                    "activity \"{}\": {what} is not a number of seconds; ignored",
                    activity.name
                ));
                None
            }
        }
    }
}
