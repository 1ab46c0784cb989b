//! From the facts of a run to its journal status, `deviated`, outcome word and exit code (spec §6, §8).

use super::context::Facts;
use crate::exit_code;
use crate::experiment::event::{RunStatus, Verdict};

/// Computes the verdict.
pub fn verdict(f: &Facts) -> Verdict {
    let status = if f.aborted {
        RunStatus::Aborted
    } else if f.interruption.is_some() {
        RunStatus::Interrupted
    } else if f.before_errored || f.after_errored || (f.fail_fast_tripped && !f.after_ran) {
        RunStatus::Failed
    } else {
        RunStatus::Completed
    };
    let safeguard = f
        .interruption
        .as_ref()
        .is_some_and(|i| i.kind == "safeguard");
    let mut codes = Vec::new();
    if f.rollback_failed {
        codes.push(exit_code::ROLLBACK_FAILED);
    }
    if safeguard {
        codes.push(exit_code::SAFEGUARD);
    } else if f.interruption.is_some() || f.aborted {
        codes.push(exit_code::INTERRUPTED);
    }
    if f.deviated {
        codes.push(exit_code::DEVIATED);
    }
    if f.before_unmet || f.before_errored || f.action_failed {
        codes.push(exit_code::NOT_INJECTED);
    }
    let code = exit_code::most_severe(codes);
    let outcome = match code {
        exit_code::ROLLBACK_FAILED => "rollback-failed",
        exit_code::SAFEGUARD => "safeguard-broken",
        exit_code::INTERRUPTED if f.aborted => "aborted",
        exit_code::INTERRUPTED => "interrupted",
        exit_code::DEVIATED => "deviated",
        exit_code::NOT_INJECTED if f.before_errored => "probe-error",
        exit_code::NOT_INJECTED if f.before_unmet => "baseline-not-met",
        exit_code::NOT_INJECTED => "action-failed",
        _ => "passed",
    };
    Verdict {
        status,
        deviated: f.deviated,
        outcome,
        exit_code: code,
        interruption: f.interruption.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::event::Interruption;

    #[test]
    fn verdicts_follow_the_spec_table() {
        let v = verdict(&Facts::default());
        assert_eq!(
            (v.status, v.exit_code, v.outcome),
            (RunStatus::Completed, 0, "passed")
        );

        let v = verdict(&Facts {
            before_unmet: true,
            ..Default::default()
        });
        assert_eq!(
            (v.status, v.deviated, v.exit_code),
            (RunStatus::Completed, false, 2)
        );
        assert_eq!(v.outcome, "baseline-not-met");

        let v = verdict(&Facts {
            before_errored: true,
            ..Default::default()
        });
        assert_eq!(
            (v.status, v.exit_code, v.outcome),
            (RunStatus::Failed, 2, "probe-error")
        );

        let v = verdict(&Facts {
            deviated: true,
            after_ran: true,
            ..Default::default()
        });
        assert_eq!(
            (v.status, v.deviated, v.exit_code),
            (RunStatus::Completed, true, 1)
        );

        let v = verdict(&Facts {
            deviated: true,
            after_errored: true,
            after_ran: true,
            ..Default::default()
        });
        assert_eq!((v.status, v.exit_code), (RunStatus::Failed, 1));

        let v = verdict(&Facts {
            deviated: true,
            rollback_failed: true,
            ..Default::default()
        });
        assert_eq!((v.exit_code, v.outcome), (3, "rollback-failed"));

        let signal = Interruption {
            kind: "signal".into(),
            name: "SIGTERM".into(),
            reason: "received SIGTERM".into(),
        };
        let v = verdict(&Facts {
            interruption: Some(signal),
            action_failed: true,
            ..Default::default()
        });
        assert_eq!(
            (v.status, v.exit_code, v.outcome),
            (RunStatus::Interrupted, 4, "interrupted")
        );

        let guard = Interruption {
            kind: "safeguard".into(),
            name: "s".into(),
            reason: "r".into(),
        };
        let v = verdict(&Facts {
            interruption: Some(guard),
            deviated: true,
            ..Default::default()
        });
        assert_eq!(
            (v.status, v.exit_code, v.outcome),
            (RunStatus::Interrupted, 5, "safeguard-broken")
        );

        let v = verdict(&Facts {
            deviated: true,
            fail_fast_tripped: true,
            ..Default::default()
        });
        assert_eq!((v.status, v.exit_code), (RunStatus::Failed, 1));
    }
}
