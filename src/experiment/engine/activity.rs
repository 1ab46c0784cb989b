//! Executing one activity: pauses, dry modes, the enforced timeout, cancellation, the journal entry.

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::context::RunContext;
use super::provider::{self, provider_timeout};
use super::python;
use super::tolerance;
use crate::experiment::event::{
    CancelReason, Entry, EntryExtra, EntryStatus, Phase, RunEvent, now_micros, seconds_between,
};
use crate::experiment::model::ControlScope;
use crate::experiment::model::{Activity, ActivityKind, DryMode, Provider};
use crate::experiment::python::controls::Level;

/// How the provider call ended.
enum Ended {
    Output(Value),
    Failed {
        message: String,
        /// The Python traceback, when a Python function raised.
        traceback: Vec<String>,
        /// The platform could not be used at all (exit 69).
        unavailable: bool,
    },
    TimedOut(String),
    Cancelled(CancelReason),
}

/// Runs `activity` in `phase`, reporting start and finish as events; `cancel` stops it at once.
pub(super) async fn execute(
    ctx: &RunContext,
    activity: &Activity,
    phase: Phase,
    seq: usize,
    cancel: &CancellationToken,
) -> Entry {
    ctx.events.emit(RunEvent::ActivityStarted {
        phase,
        seq,
        name: activity.name.clone(),
        kind: activity.kind,
        background: activity.background,
    });
    let controlled = !matches!(phase, Phase::Configuration | Phase::Safeguard);
    if controlled {
        python::hooks(
            ctx,
            Level::Activity,
            ControlScope::Before,
            &activity.controls,
            &activity.document,
            || Value::Null,
        )
        .await;
    }
    let dry = ctx.dry_for(activity);
    let skip_execution = dry.is_some_and(|d| d.skips(activity.kind));
    let skip_pauses = skip_execution || dry == Some(DryMode::Pause);

    let mut cancelled_in_pause = None;
    if !skip_pauses
        && let Some(pause) = &activity.pause_before
        && let Some(d) = ctx.seconds(activity, "pauses.before", pause)
    {
        cancelled_in_pause = pause_for(ctx, d, cancel).await;
    }

    let start = now_micros();
    let ended = if let Some(reason) = cancelled_in_pause {
        Ended::Cancelled(reason)
    } else if skip_execution {
        Ended::Output(Value::Null)
    } else {
        run_provider(ctx, activity, cancel).await
    };
    let end = now_micros();

    let mut extra = EntryExtra::default();
    if !skip_execution && cancelled_in_pause.is_none() {
        match &activity.provider {
            Provider::Builtin(b) => {
                extra.native = b
                    .python
                    .as_ref()
                    .map(|f| format!("python {f} ran natively as the builtin {}", b.func.name()));
            }
            Provider::Python(p)
                if activity.kind == ActivityKind::Action && phase != Phase::Rollbacks =>
            {
                extra.undo = Some(format!(
                    "unknown: python action {}.{} is not in the ledger; only a rollback undoes it",
                    p.module, p.func
                ));
            }
            Provider::Python(_) | Provider::Process(_) | Provider::Http(_) => {}
        }
    }
    let (output, status, exception) = match ended {
        Ended::Output(v) => (ctx.redactor.redact_value(&v), EntryStatus::Succeeded, None),
        Ended::Failed {
            message,
            traceback,
            unavailable,
        } => {
            extra.unavailable = unavailable;
            // Like CTK's journal: the function's traceback, then the ActivityFailed raised from it.
            let mut lines: Vec<String> = traceback
                .iter()
                .map(|l| ctx.redactor.redact_str(l))
                .collect();
            if !lines.is_empty() {
                lines.push(
                    "\nDuring handling of the above exception, another exception occurred:\n\n"
                        .into(),
                );
            }
            lines.extend(Entry::exception_for(&ctx.redactor.redact_str(&message)));
            (Value::Null, EntryStatus::Failed, Some(lines))
        }
        Ended::TimedOut(message) => {
            extra.cancelled = Some(CancelReason::Timeout);
            (
                Value::Null,
                EntryStatus::Failed,
                Some(Entry::exception_for(&message)),
            )
        }
        Ended::Cancelled(reason) => {
            extra.cancelled = Some(reason);
            (
                Value::Null,
                EntryStatus::Failed,
                Some(Entry::exception_for(&cancel_message(reason, activity))),
            )
        }
    };
    if status == EntryStatus::Succeeded && !skip_execution {
        warn_about_unjudged_failure(ctx, activity, &output);
        if phase == Phase::Method
            && activity.kind == ActivityKind::Probe
            && let Some(tol) = &activity.tolerance
        {
            let met = tolerance::judge(ctx, tol, &output).await.unwrap_or(false);
            extra.tolerance_met = Some(met);
            if !met {
                ctx.events.warn(format!(
                    "activity \"{}\": method probe output is outside its tolerance (verdict unchanged)",
                    activity.name
                ));
            }
        }
    }
    let entry = Entry {
        activity: activity.document.clone(),
        output,
        start,
        status,
        exception,
        end,
        duration: seconds_between(&start, &end),
        tolerance_met: None,
        monkeywrench: extra,
    };

    if !skip_pauses
        && entry.monkeywrench.cancelled.is_none()
        && let Some(pause) = &activity.pause_after
        && let Some(d) = ctx.seconds(activity, "pauses.after", pause)
    {
        pause_for(ctx, d, cancel).await;
    }
    if controlled {
        python::hooks(
            ctx,
            Level::Activity,
            ControlScope::After,
            &activity.controls,
            &activity.document,
            || serde_json::to_value(&entry).unwrap_or(Value::Null),
        )
        .await;
    }
    entry
}

/// Reports the finished entry of `activity` to the dispatcher.
pub(super) fn report(
    ctx: &RunContext,
    phase: Phase,
    seq: usize,
    activity: &Activity,
    entry: &Entry,
) {
    if matches!(phase, Phase::Method | Phase::Rollbacks) && python::has_controls(ctx) {
        let value = serde_json::to_value(entry).unwrap_or(Value::Null);
        ctx.python.record(phase == Phase::Rollbacks, value);
    }
    ctx.events.emit(RunEvent::ActivityFinished {
        phase,
        seq,
        kind: activity.kind,
        entry: Box::new(entry.clone()),
    });
}

/// Sleeps for `d` unless cancelled; returns the cancel reason if it was.
async fn pause_for(
    ctx: &RunContext,
    d: Duration,
    cancel: &CancellationToken,
) -> Option<CancelReason> {
    tokio::select! {
        _ = tokio::time::sleep(d) => None,
        _ = cancel.cancelled() => Some(ctx.cancel_reason().unwrap_or(CancelReason::Signal)),
    }
}

async fn run_provider(ctx: &RunContext, activity: &Activity, cancel: &CancellationToken) -> Ended {
    if cancel.is_cancelled() {
        return Ended::Cancelled(ctx.cancel_reason().unwrap_or(CancelReason::Signal));
    }
    let call = async {
        match &activity.provider {
            Provider::Python(p) => python::call(ctx, p, None)
                .await
                .map_err(|f| (f.message, f.traceback, false)),
            _ => provider::call(ctx, activity)
                .await
                .map_err(|e| (e.message, Vec::new(), e.unavailable)),
        }
    };
    let timeout = provider_timeout(activity);
    let limited = async {
        match timeout {
            Some(secs) => match tokio::time::timeout(Duration::from_secs_f64(secs), call).await {
                Ok(r) => r.map_err(Some),
                Err(_) => Err(None),
            },
            None => call.await.map_err(Some),
        }
    };
    tokio::select! {
        r = limited => match r {
            Ok(v) => Ended::Output(v),
            Err(Some((message, traceback, unavailable))) => Ended::Failed {
                message: format!("activity \"{}\": {message}", activity.name),
                traceback,
                unavailable,
            },
            Err(None) => Ended::TimedOut(format!(
                "activity \"{}\": timed out after {} s",
                activity.name,
                crate::probe::process::format_seconds(timeout.unwrap_or_default())
            )),
        },
        _ = cancel.cancelled() => Ended::Cancelled(ctx.cancel_reason().unwrap_or(CancelReason::Signal)),
    }
}

fn cancel_message(reason: CancelReason, activity: &Activity) -> String {
    let why = match reason {
        CancelReason::FailFast => "the steady state deviated (--fail-fast)",
        CancelReason::Safeguard => "a safeguard tripped",
        CancelReason::Signal => "the run was interrupted",
        CancelReason::Timeout => "it timed out",
    };
    format!("activity \"{}\": cancelled because {why}", activity.name)
}

/// Chaos Toolkit's warnings for outputs that look like failures but have no tolerance to judge them.
fn warn_about_unjudged_failure(ctx: &RunContext, activity: &Activity, output: &Value) {
    if activity.tolerance.is_some() {
        return;
    }
    let status = output.get("status").and_then(Value::as_i64);
    match (&activity.provider, status) {
        (Provider::Process(_), Some(code)) if code != 0 => ctx.events.warn(format!(
            "activity \"{}\": process exited with status {code} (not a failure without a tolerance)",
            activity.name
        )),
        (Provider::Http(_), Some(code)) if code > 399 => ctx.events.warn(format!(
            "activity \"{}\": http status {code} (not a failure without a tolerance)",
            activity.name
        )),
        _ => {}
    }
}
