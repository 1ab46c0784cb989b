//! A run's facts as one fold over its events (`RunState::apply`). The verdict, the exit code and
//! the engine's own questions (was the run interrupted, do rollbacks play, why was the method
//! cancelled) are all read from this projection, so the stream alone decides them (spec §6, §8).

use std::collections::BTreeMap;

use super::event::{
    CancelReason, Entry, EntryStatus, Interruption, InterruptionKind, Outcome, Phase, ProbeVerdict,
    RevertResult, RunEvent, RunStatus, Verdict,
};
use super::model::ActivityKind;
use crate::exit_code;

/// What the events of a run so far imply.
#[derive(Debug, Clone, Default)]
pub struct RunState {
    before: Option<ProbeVerdict>,
    after: Option<ProbeVerdict>,
    during_deviated: bool,
    action_started: bool,
    action_failed: bool,
    /// A before-hypothesis probe or a method action failed because the platform it needs could
    /// not be used at all (unreachable, credentials refused).
    unavailable: bool,
    rollback_failed: bool,
    /// The last revert result of every lease that has one.
    reverts: BTreeMap<String, RevertResult>,
    /// Reversible faults applied: each must end with a revert that did not fail.
    reversible: std::collections::BTreeSet<String>,
    fail_fast_tripped: bool,
    interruption: Option<Interruption>,
    cancel_reason: Option<CancelReason>,
    skip_rollbacks: bool,
    aborted: bool,
}

impl RunState {
    /// Folds one event in.
    pub fn apply(&mut self, event: &RunEvent) {
        match event {
            RunEvent::HypothesisChecked { phase, result } => match phase {
                Phase::HypothesisBefore => self.before = Some(*result),
                Phase::HypothesisAfter => self.after = Some(*result),
                Phase::HypothesisDuring => {
                    // Probes cut short by an interruption say nothing about the system.
                    if *result != ProbeVerdict::Met && self.interruption.is_none() {
                        self.during_deviated = true;
                    }
                }
                Phase::Method | Phase::Rollbacks | Phase::Safeguard | Phase::Configuration => {}
            },
            RunEvent::ActivityStarted { phase, kind, .. } => {
                if *phase == Phase::Method && *kind == ActivityKind::Action {
                    self.action_started = true;
                }
            }
            RunEvent::ActivityFinished {
                phase, kind, entry, ..
            } => match phase {
                Phase::Method => {
                    if *kind == ActivityKind::Action
                        && entry.status == EntryStatus::Failed
                        && !cut_short(entry)
                    {
                        self.action_failed = true;
                        self.unavailable |= entry.monkeywrench.unavailable;
                    }
                }
                Phase::HypothesisBefore => {
                    if entry.status == EntryStatus::Failed {
                        self.unavailable |= entry.monkeywrench.unavailable;
                    }
                }
                Phase::Rollbacks => {
                    if entry.status == EntryStatus::Failed {
                        self.rollback_failed = true;
                    }
                }
                Phase::HypothesisDuring
                | Phase::HypothesisAfter
                | Phase::Safeguard
                | Phase::Configuration => {}
            },
            RunEvent::FaultReverted { id, revert, .. } => {
                self.reverts.insert(id.clone(), *revert);
            }
            RunEvent::FaultApplied { fault } => {
                if fault.revert != Some(RevertResult::Irreversible) {
                    self.reversible.insert(fault.id.clone());
                }
            }
            RunEvent::FailFastTripped => {
                self.fail_fast_tripped = true;
                self.cancel_reason.get_or_insert(CancelReason::FailFast);
            }
            RunEvent::Interrupted { interruption } => {
                if self.interruption.is_none() {
                    self.interruption = Some(interruption.clone());
                    self.cancel_reason.get_or_insert(match interruption.kind {
                        InterruptionKind::Safeguard => CancelReason::Safeguard,
                        InterruptionKind::Signal
                        | InterruptionKind::MaxDuration
                        | InterruptionKind::Halt
                        | InterruptionKind::Control => CancelReason::Signal,
                    });
                }
            }
            RunEvent::RollbacksSkipped { .. } => self.skip_rollbacks = true,
            RunEvent::Aborted { .. } => self.aborted = true,
            RunEvent::RunStarted { .. }
            | RunEvent::PhaseStarted { .. }
            | RunEvent::SafeguardChecked { .. }
            | RunEvent::TargetsSelected { .. }
            | RunEvent::SurgeFigures { .. }
            | RunEvent::Warning { .. }
            | RunEvent::RunFinished { .. } => {}
        }
    }

    /// What interrupted the run (the first cause), if anything did.
    pub fn interruption(&self) -> Option<&Interruption> {
        self.interruption.as_ref()
    }

    /// Whether a signal, safeguard, `--max-duration` or halt interrupted the run.
    pub fn interrupted(&self) -> bool {
        self.interruption.is_some()
    }

    /// Why the method was cut short: the first of fail-fast and the interruption.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.cancel_reason
    }

    /// Whether the before-hypothesis (if it ran) was met: the method may run.
    pub fn gate_passed(&self) -> bool {
        self.before.is_none_or(|v| v == ProbeVerdict::Met)
    }

    /// Whether the after-hypothesis or a during iteration was unmet or errored.
    pub fn deviated(&self) -> bool {
        self.during_deviated
            || matches!(
                self.after,
                Some(ProbeVerdict::Unmet | ProbeVerdict::Errored)
            )
    }

    /// Whether a method action started (rollbacks then play under the `default` strategy).
    pub fn action_started(&self) -> bool {
        self.action_started
    }

    /// The last reported revert of this fault.
    pub fn last_revert(&self, id: &str) -> Option<RevertResult> {
        self.reverts.get(id).copied()
    }

    /// Whether the events tell of this fault at all (applied or reverted).
    pub fn knows_fault(&self, id: &str) -> bool {
        self.reversible.contains(id) || self.reverts.contains_key(id)
    }

    /// Whether a reversible fault was applied and no revert of it has been reported yet.
    pub fn awaits_revert(&self, id: &str) -> bool {
        self.reversible.contains(id) && !self.reverts.contains_key(id)
    }

    /// Whether SIGUSR2 asked for no rollbacks.
    pub fn skip_rollbacks(&self) -> bool {
        self.skip_rollbacks
    }

    /// A rollback failed, a revert's last attempt failed, or a reversible fault was never
    /// reverted (the run could not even read the ledger): the system may be degraded.
    fn rollback_failed(&self) -> bool {
        self.rollback_failed
            || self.reverts.values().any(|r| *r == RevertResult::Failed)
            || self
                .reversible
                .iter()
                .any(|id| !self.reverts.contains_key(id))
    }

    /// The verdict the events so far imply.
    pub fn verdict(&self) -> Verdict {
        let before_unmet = self.before == Some(ProbeVerdict::Unmet);
        let before_errored = self.before == Some(ProbeVerdict::Errored);
        let after_errored = self.after == Some(ProbeVerdict::Errored);
        let after_ran = self.after.is_some();
        let deviated = self.deviated();
        let rollback_failed = self.rollback_failed();
        let status = if self.aborted {
            RunStatus::Aborted
        } else if self.interrupted() {
            RunStatus::Interrupted
        } else if before_errored || after_errored || (self.fail_fast_tripped && !after_ran) {
            RunStatus::Failed
        } else {
            RunStatus::Completed
        };
        let safeguard = self
            .interruption
            .as_ref()
            .is_some_and(|i| i.kind == InterruptionKind::Safeguard);
        let mut codes = Vec::new();
        if rollback_failed {
            codes.push(exit_code::ROLLBACK_FAILED);
        }
        if safeguard {
            codes.push(exit_code::SAFEGUARD);
        } else if self.interrupted() || self.aborted {
            codes.push(exit_code::INTERRUPTED);
        }
        if deviated {
            codes.push(exit_code::DEVIATED);
        }
        if before_unmet || before_errored || self.action_failed {
            codes.push(exit_code::NOT_INJECTED);
        }
        let mut code = exit_code::most_severe(codes);
        let outcome = match code {
            exit_code::ROLLBACK_FAILED => Outcome::RollbackFailed,
            exit_code::SAFEGUARD => Outcome::SafeguardBroken,
            exit_code::INTERRUPTED if self.aborted => Outcome::Aborted,
            exit_code::INTERRUPTED => Outcome::Interrupted,
            exit_code::DEVIATED => Outcome::Deviated,
            exit_code::NOT_INJECTED if before_errored => Outcome::ProbeError,
            exit_code::NOT_INJECTED if before_unmet => Outcome::BaselineNotMet,
            exit_code::NOT_INJECTED => Outcome::ActionFailed,
            _ => Outcome::Passed,
        };
        // Nothing was injected because a platform could not be used: 69 says so (the outcome
        // keeps its word, which names the phase that failed).
        if code == exit_code::NOT_INJECTED && self.unavailable {
            code = exit_code::UNAVAILABLE;
        }
        Verdict {
            status,
            deviated,
            outcome,
            exit_code: code,
            interruption: self.interruption.clone(),
        }
    }
}

/// An action cancelled by fail-fast, a safeguard or an interruption did not fail on its own.
fn cut_short(entry: &Entry) -> bool {
    match entry.monkeywrench.cancelled {
        Some(CancelReason::FailFast | CancelReason::Safeguard | CancelReason::Signal) => true,
        Some(CancelReason::Timeout) | None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::event::EntryExtra;

    fn fold(events: &[RunEvent]) -> Verdict {
        state(events).verdict()
    }

    fn state(events: &[RunEvent]) -> RunState {
        let mut state = RunState::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    fn checked(phase: Phase, result: ProbeVerdict) -> RunEvent {
        RunEvent::HypothesisChecked { phase, result }
    }

    fn finished(
        phase: Phase,
        kind: ActivityKind,
        status: EntryStatus,
        cancelled: Option<CancelReason>,
    ) -> RunEvent {
        let ts = jiff::Timestamp::UNIX_EPOCH;
        RunEvent::ActivityFinished {
            phase,
            seq: 0,
            kind,
            entry: Box::new(Entry {
                activity: serde_json::json!({"name": "a"}),
                output: serde_json::Value::Null,
                start: ts,
                status,
                exception: None,
                end: ts,
                duration: 0.0,
                tolerance_met: None,
                monkeywrench: EntryExtra {
                    tolerance_met: None,
                    cancelled,
                    ..EntryExtra::default()
                },
            }),
        }
    }

    fn interrupted(kind: InterruptionKind) -> RunEvent {
        RunEvent::Interrupted {
            interruption: Interruption {
                kind,
                name: "n".into(),
                reason: "r".into(),
            },
        }
    }

    fn reverted(id: &str, revert: RevertResult) -> RunEvent {
        RunEvent::FaultReverted {
            id: id.into(),
            revert,
            error: None,
        }
    }

    fn applied(id: &str, revert: Option<RevertResult>) -> RunEvent {
        let at: jiff::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        RunEvent::FaultApplied {
            fault: crate::experiment::event::FaultRecord {
                id: id.into(),
                activity: "a".into(),
                func: crate::builtin::Func::parse("process.stop").unwrap(),
                target: serde_json::Value::Null,
                applied_at: at,
                deadline: at,
                reverted_at: None,
                revert,
            },
        }
    }

    #[test]
    fn a_reversible_fault_never_reverted_is_a_failed_revert() {
        let v = fold(&[
            applied("a", None),
            applied("k", Some(RevertResult::Irreversible)),
        ]);
        assert_eq!((v.exit_code, v.outcome), (3, Outcome::RollbackFailed));
        let v = fold(&[
            applied("a", None),
            applied("k", Some(RevertResult::Irreversible)),
            reverted("a", RevertResult::Reverted),
        ]);
        assert_eq!(v.exit_code, 0);
    }

    fn unavailable(phase: Phase, kind: ActivityKind) -> RunEvent {
        let mut event = finished(phase, kind, EntryStatus::Failed, None);
        if let RunEvent::ActivityFinished { entry, .. } = &mut event {
            entry.monkeywrench.unavailable = true;
        }
        event
    }

    #[test]
    fn an_unavailable_platform_turns_not_injected_into_69_and_nothing_else() {
        let v = fold(&[unavailable(Phase::Method, ActivityKind::Action)]);
        assert_eq!((v.exit_code, v.outcome), (69, Outcome::ActionFailed));
        let v = fold(&[
            unavailable(Phase::HypothesisBefore, ActivityKind::Probe),
            checked(Phase::HypothesisBefore, ProbeVerdict::Errored),
        ]);
        assert_eq!((v.exit_code, v.outcome), (69, Outcome::ProbeError));
        // A platform failing a rollback, or the hypothesis after it, keeps the stronger code.
        let v = fold(&[
            unavailable(Phase::Method, ActivityKind::Action),
            checked(Phase::HypothesisAfter, ProbeVerdict::Unmet),
        ]);
        assert_eq!(v.exit_code, 1);
        let v = fold(&[
            unavailable(Phase::Method, ActivityKind::Action),
            finished(
                Phase::Rollbacks,
                ActivityKind::Action,
                EntryStatus::Failed,
                None,
            ),
        ]);
        assert_eq!(v.exit_code, 3);
        let v = fold(&[unavailable(Phase::HypothesisAfter, ActivityKind::Probe)]);
        assert_eq!(
            v.exit_code, 0,
            "only the before-hypothesis and the method count"
        );
    }

    #[test]
    fn verdicts_follow_the_spec_table() {
        let v = fold(&[]);
        assert_eq!(
            (v.status, v.exit_code, v.outcome),
            (RunStatus::Completed, 0, Outcome::Passed)
        );

        let v = fold(&[checked(Phase::HypothesisBefore, ProbeVerdict::Unmet)]);
        assert_eq!(
            (v.status, v.deviated, v.exit_code, v.outcome),
            (RunStatus::Completed, false, 2, Outcome::BaselineNotMet)
        );

        let v = fold(&[checked(Phase::HypothesisBefore, ProbeVerdict::Errored)]);
        assert_eq!(
            (v.status, v.exit_code, v.outcome),
            (RunStatus::Failed, 2, Outcome::ProbeError)
        );

        let v = fold(&[checked(Phase::HypothesisAfter, ProbeVerdict::Unmet)]);
        assert_eq!(
            (v.status, v.deviated, v.exit_code),
            (RunStatus::Completed, true, 1)
        );

        let v = fold(&[checked(Phase::HypothesisAfter, ProbeVerdict::Errored)]);
        assert_eq!(
            (v.status, v.deviated, v.exit_code),
            (RunStatus::Failed, true, 1)
        );

        let v = fold(&[
            checked(Phase::HypothesisDuring, ProbeVerdict::Unmet),
            finished(
                Phase::Rollbacks,
                ActivityKind::Action,
                EntryStatus::Failed,
                None,
            ),
        ]);
        assert_eq!((v.exit_code, v.outcome), (3, Outcome::RollbackFailed));

        let v = fold(&[
            finished(
                Phase::Method,
                ActivityKind::Action,
                EntryStatus::Failed,
                None,
            ),
            interrupted(InterruptionKind::Signal),
        ]);
        assert_eq!(
            (v.status, v.exit_code, v.outcome),
            (RunStatus::Interrupted, 4, Outcome::Interrupted)
        );

        let v = fold(&[
            checked(Phase::HypothesisDuring, ProbeVerdict::Unmet),
            interrupted(InterruptionKind::Safeguard),
        ]);
        assert_eq!(
            (v.status, v.exit_code, v.outcome),
            (RunStatus::Interrupted, 5, Outcome::SafeguardBroken)
        );

        let v = fold(&[
            checked(Phase::HypothesisDuring, ProbeVerdict::Unmet),
            RunEvent::FailFastTripped,
        ]);
        assert_eq!((v.status, v.exit_code), (RunStatus::Failed, 1));

        let v = fold(&[
            checked(Phase::HypothesisDuring, ProbeVerdict::Unmet),
            RunEvent::FailFastTripped,
            checked(Phase::HypothesisAfter, ProbeVerdict::Met),
        ]);
        assert_eq!(
            (v.status, v.exit_code),
            (RunStatus::Completed, 1),
            "an after-hypothesis that ran settles the status"
        );
    }

    #[test]
    fn aborts_and_action_failures() {
        let v = fold(&[RunEvent::Aborted {
            reason: "panicked".into(),
        }]);
        assert_eq!(
            (v.status, v.exit_code, v.outcome),
            (RunStatus::Aborted, 4, Outcome::Aborted)
        );

        let v = fold(&[finished(
            Phase::Method,
            ActivityKind::Action,
            EntryStatus::Failed,
            Some(CancelReason::Timeout),
        )]);
        assert_eq!((v.exit_code, v.outcome), (2, Outcome::ActionFailed));

        for reason in [
            CancelReason::FailFast,
            CancelReason::Safeguard,
            CancelReason::Signal,
        ] {
            let v = fold(&[finished(
                Phase::Method,
                ActivityKind::Action,
                EntryStatus::Failed,
                Some(reason),
            )]);
            assert_eq!(
                v.exit_code, 0,
                "an action cancelled by {reason:?} did not fail"
            );
        }
        let v = fold(&[finished(
            Phase::Method,
            ActivityKind::Probe,
            EntryStatus::Failed,
            None,
        )]);
        assert_eq!(v.exit_code, 0, "a failed method probe changes nothing");
    }

    #[test]
    fn a_during_pass_after_an_interruption_is_no_deviation() {
        let v = fold(&[
            interrupted(InterruptionKind::MaxDuration),
            checked(Phase::HypothesisDuring, ProbeVerdict::Errored),
        ]);
        assert_eq!((v.deviated, v.exit_code), (false, 4));
        let v = fold(&[
            checked(Phase::HypothesisDuring, ProbeVerdict::Errored),
            interrupted(InterruptionKind::MaxDuration),
        ]);
        assert_eq!((v.deviated, v.exit_code), (true, 4));
    }

    #[test]
    fn a_fault_counts_by_its_last_revert() {
        let v = fold(&[
            reverted("a", RevertResult::Failed),
            reverted("a", RevertResult::Reverted),
            reverted("b", RevertResult::TargetGone),
        ]);
        assert_eq!(v.exit_code, 0);
        let v = fold(&[
            reverted("a", RevertResult::Reverted),
            reverted("b", RevertResult::Failed),
        ]);
        assert_eq!((v.exit_code, v.outcome), (3, Outcome::RollbackFailed));
    }

    #[test]
    fn the_first_interruption_and_cancel_reason_win() {
        let s = state(&[
            RunEvent::FailFastTripped,
            interrupted(InterruptionKind::Safeguard),
            interrupted(InterruptionKind::Signal),
        ]);
        assert_eq!(s.cancel_reason(), Some(CancelReason::FailFast));
        assert_eq!(
            s.interruption().map(|i| i.kind),
            Some(InterruptionKind::Safeguard)
        );
        let s = state(&[interrupted(InterruptionKind::Halt)]);
        assert_eq!(s.cancel_reason(), Some(CancelReason::Signal));
        assert!(!s.skip_rollbacks());
        let s = state(&[RunEvent::RollbacksSkipped {
            reason: "received SIGUSR2".into(),
        }]);
        assert!(s.skip_rollbacks());
    }

    #[test]
    fn the_gate_and_started_actions() {
        assert!(state(&[]).gate_passed());
        assert!(state(&[checked(Phase::HypothesisBefore, ProbeVerdict::Met)]).gate_passed());
        assert!(!state(&[checked(Phase::HypothesisBefore, ProbeVerdict::Unmet)]).gate_passed());
        let started = |phase, kind| {
            state(&[RunEvent::ActivityStarted {
                phase,
                seq: 0,
                name: "a".into(),
                kind,
                background: false,
            }])
            .action_started()
        };
        assert!(started(Phase::Method, ActivityKind::Action));
        assert!(!started(Phase::Method, ActivityKind::Probe));
        assert!(!started(Phase::Rollbacks, ActivityKind::Action));
    }
}
