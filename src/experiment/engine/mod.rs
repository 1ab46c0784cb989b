//! The experiment engine: runs a validated experiment in Chaos Toolkit's order (spec §6.1) and
//! reports everything as `RunEvent`s; the dispatcher turns those into the journal and the views.

mod activity;
mod context;
mod faults;
mod hypothesis;
mod provider;
mod selection;
mod tolerance;
mod verdict;
mod watch;

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use context::{Interrupt, RunSettings};
pub use faults::StateConfig;
pub use selection::preview;

use self::activity::{execute, report};
use self::context::RunContext;
use self::hypothesis::ProbeVerdict;
use crate::experiment::configure::{self, ConfigureError};
use crate::experiment::dispatcher::Events;
use crate::experiment::event::{CancelReason, EntryStatus, Phase, RunEvent, Verdict};
use crate::experiment::model::{
    Activity, ActivityKind, ConfigValue, Experiment, Provider, RollbackStrategy,
};
use crate::experiment::redact::{Redactor, redact_inline_secrets};
use crate::experiment::substitute::Substitutions;

/// Failures that stop a run before it starts (no journal is written).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Configuration or secrets could not be resolved.
    #[error(transparent)]
    Configure(#[from] ConfigureError),
}

/// What a finished run reports besides its events.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The verdict (also sent as the last event).
    pub verdict: Verdict,
    /// How many secret occurrences were redacted.
    pub redactions: usize,
}

/// Runs `experiment`; `interrupts` delivers signals (the first interrupts, a second skips the
/// remaining rollbacks); `env` looks environment variables up.
pub async fn run(
    experiment: Experiment,
    settings: RunSettings,
    events: Events,
    interrupts: mpsc::UnboundedReceiver<Interrupt>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RunReport, EngineError> {
    let resolved = configure::resolve(&experiment, env)?;
    let mut configuration = resolved.configuration;
    let redactor = Redactor::new(resolved.secret_values.clone());
    let dynamic: Vec<(String, Activity)> = experiment
        .configuration
        .iter()
        .filter_map(|(name, v)| match v {
            ConfigValue::Dynamic(a) => Some((name.clone(), (**a).clone())),
            _ => None,
        })
        .collect();
    if !dynamic.is_empty() {
        let ctx = RunContext::new(
            experiment.clone(),
            settings.clone(),
            Substitutions::new(&configuration, &resolved.secrets),
            Redactor::new(resolved.secret_values.clone()),
            events.clone(),
        );
        for (name, activity) in dynamic {
            match dynamic_value(&ctx, &activity).await {
                Ok(v) => {
                    configuration.insert(name, v);
                }
                Err(message) => events.warn(format!(
                    "dynamic configuration \"{name}\" skipped: {}",
                    redactor.redact_str(&message)
                )),
            }
        }
    }
    let substitutions = Substitutions::new(&configuration, &resolved.secrets);
    let mut settings = settings;
    if settings.max_duration.is_none() && uses_faults(&experiment) {
        // Every lease needs a deadline: without --max-duration a run with faults is capped at 1 h.
        settings.max_duration = Some(context::DEFAULT_FAULT_DEADLINE);
    }
    let ctx = RunContext::new(experiment, settings, substitutions, redactor, events);
    Ok(run_started(ctx, interrupts).await)
}

/// Whether any activity is a builtin fault.
fn uses_faults(experiment: &Experiment) -> bool {
    experiment
        .method
        .iter()
        .chain(experiment.rollbacks.iter())
        .any(|a| matches!(&a.provider, Provider::Builtin(b) if b.func.is_fault()))
}

/// Runs a dynamic-configuration probe: process stdout (stripped, exit 0 only), http body, builtin output.
async fn dynamic_value(ctx: &RunContext, activity: &Activity) -> Result<Value, String> {
    let never = CancellationToken::new();
    let entry = execute(ctx, activity, Phase::Configuration, 0, &never).await;
    if entry.status == EntryStatus::Failed {
        return Err(entry.failure_message().unwrap_or("failed").to_string());
    }
    match &activity.provider {
        Provider::Process(_) => {
            if entry.output.get("status").and_then(Value::as_i64) != Some(0) {
                return Err("process exited with a non-zero status".into());
            }
            let stdout = entry
                .output
                .get("stdout")
                .and_then(Value::as_str)
                .unwrap_or("");
            Ok(Value::String(stdout.trim().to_string()))
        }
        Provider::Http(_) => Ok(entry.output.get("body").cloned().unwrap_or(Value::Null)),
        Provider::Builtin(_) => Ok(entry.output),
    }
}

async fn run_started(
    ctx: Arc<RunContext>,
    interrupts: mpsc::UnboundedReceiver<Interrupt>,
) -> RunReport {
    let title = match ctx.substitutions.text(&ctx.experiment.title) {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let mut copy = ctx.experiment.document.clone();
    if let Value::Object(map) = &mut copy {
        map.insert("title".into(), Value::String(title.clone()));
        map.insert(
            "dry".into(),
            ctx.settings
                .dry
                .map_or(Value::Null, |d| Value::String(d.name().into())),
        );
    }
    redact_inline_secrets(&mut copy);
    ctx.events.emit(RunEvent::RunStarted {
        run_id: ctx.run_id.clone(),
        title,
        experiment: copy,
        start: Timestamp::now(),
    });
    let listener = tokio::spawn(listen_for_interrupts(ctx.clone(), interrupts));

    let strategy = ctx.hypothesis_strategy();
    if ctx.fail_fast() && !strategy.during() {
        ctx.events
            .warn("--fail-fast has no effect without a during-method hypothesis strategy");
    }
    let hypothesis = ctx.experiment.hypothesis.clone();

    let mut gate_passed = true;
    if let Some(h) = hypothesis.as_ref().filter(|_| strategy.before()) {
        ctx.events.emit(RunEvent::PhaseStarted {
            phase: Phase::HypothesisBefore,
        });
        let (_, verdict) =
            hypothesis::check(&ctx, h, Phase::HypothesisBefore, &ctx.method_cancel).await;
        match verdict {
            Some(ProbeVerdict::Unmet) => ctx.facts(|f| f.before_unmet = true),
            Some(ProbeVerdict::Errored) => ctx.facts(|f| f.before_errored = true),
            _ => {}
        }
        gate_passed = verdict.is_none_or(|v| v == ProbeVerdict::Met);
    }
    if gate_passed && !interrupted(&ctx) {
        for safeguard in &ctx.experiment.safeguards {
            if watch::check_safeguard(&ctx, safeguard, &ctx.method_cancel).await {
                watch::trip(&ctx, &safeguard.probe.name, 1);
                break;
            }
        }
    }
    if gate_passed && !interrupted(&ctx) {
        run_method(
            &ctx,
            hypothesis
                .as_ref()
                .filter(|h| strategy.during() && !h.probes.is_empty()),
        )
        .await;
    }

    if let Some(h) = hypothesis
        .as_ref()
        .filter(|_| strategy.after() && gate_passed && !interrupted(&ctx))
    {
        ctx.events.emit(RunEvent::PhaseStarted {
            phase: Phase::HypothesisAfter,
        });
        let stop_on_signal = CancellationToken::new();
        let signal_watch = {
            let (ctx, stop) = (ctx.clone(), stop_on_signal.clone());
            tokio::spawn(async move {
                ctx.rollback_cancel.cancelled().await;
                stop.cancel();
            })
        };
        let (_, verdict) =
            hypothesis::check(&ctx, h, Phase::HypothesisAfter, &stop_on_signal).await;
        signal_watch.abort();
        ctx.facts(|f| {
            f.after_ran = true;
            match verdict {
                Some(ProbeVerdict::Unmet) => f.deviated = true,
                Some(ProbeVerdict::Errored) => {
                    f.deviated = true;
                    f.after_errored = true;
                }
                _ => {}
            }
        });
    }

    // Step 7: faults without a duration last until here; revert what is still active, newest first.
    if !faults::revert_all(&ctx).await {
        ctx.facts(|f| f.rollback_failed = true);
    }
    if should_roll_back(&ctx) {
        run_rollbacks(&ctx).await;
    }
    listener.abort();
    let verdict = ctx.facts(|f| verdict::verdict(f));
    ctx.events.emit(RunEvent::RunFinished {
        end: Timestamp::now(),
        verdict: verdict.clone(),
    });
    RunReport {
        verdict,
        redactions: ctx.redactor.count(),
    }
}

fn interrupted(ctx: &RunContext) -> bool {
    ctx.facts(|f| f.interruption.is_some())
}

/// First interrupt: record it and stop the method. Any later one: stop the rollbacks too.
async fn listen_for_interrupts(
    ctx: Arc<RunContext>,
    mut interrupts: mpsc::UnboundedReceiver<Interrupt>,
) {
    let deadline = ctx
        .settings
        .max_duration
        .map(|d| tokio::time::Instant::now() + d);
    let mut seen = false;
    loop {
        let next = tokio::select! {
            i = interrupts.recv() => match i { Some(i) => i, None => std::future::pending().await },
            _ = sleep_until(deadline), if !seen => Interrupt {
                interruption: crate::experiment::event::Interruption {
                    kind: "max-duration".into(),
                    name: "max-duration".into(),
                    reason: format!("the run exceeded --max-duration ({} s)",
                        ctx.settings.max_duration.map(|d| d.as_secs_f64()).unwrap_or_default()),
                },
                skip_rollbacks: false,
            },
        };
        if seen {
            ctx.events
                .warn("second interruption: skipping the remaining rollbacks");
            ctx.rollback_cancel.cancel();
            continue;
        }
        seen = true;
        let first = ctx.facts(|f| {
            f.skip_rollbacks |= next.skip_rollbacks;
            if f.interruption.is_none() {
                f.interruption = Some(next.interruption.clone());
                true
            } else {
                false
            }
        });
        if first {
            ctx.events.emit(RunEvent::Interrupted {
                interruption: next.interruption,
            });
        }
        ctx.cancel_method(CancelReason::Signal);
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The method, with the during loop and safeguard watchers around it.
async fn run_method(ctx: &Arc<RunContext>, during: Option<&crate::experiment::model::Hypothesis>) {
    ctx.events.emit(RunEvent::PhaseStarted {
        phase: Phase::Method,
    });
    let stop_watchers = CancellationToken::new();
    let mut watchers = JoinSet::new();
    if let Some(h) = during {
        watchers.spawn(watch::during_loop(
            ctx.clone(),
            h.clone(),
            stop_watchers.clone(),
        ));
    }
    for safeguard in &ctx.experiment.safeguards {
        watchers.spawn(watch::safeguard_loop(
            ctx.clone(),
            safeguard.clone(),
            stop_watchers.clone(),
        ));
    }
    if uses_faults(&ctx.experiment) {
        watchers.spawn(faults::watch_halt(ctx.clone(), stop_watchers.clone()));
    }

    let mut background = JoinSet::new();
    for (seq, activity) in ctx.experiment.method.iter().enumerate() {
        if ctx.method_cancel.is_cancelled() {
            break;
        }
        if activity.kind == ActivityKind::Action {
            ctx.facts(|f| f.action_started = true);
        }
        if activity.background {
            let (ctx, activity) = (ctx.clone(), activity.clone());
            background.spawn(async move {
                let entry = execute(&ctx, &activity, Phase::Method, seq, &ctx.method_cancel).await;
                record_method_entry(&ctx, &activity, seq, &entry);
            });
        } else {
            let entry = execute(ctx, activity, Phase::Method, seq, &ctx.method_cancel).await;
            record_method_entry(ctx, activity, seq, &entry);
        }
    }
    while let Some(joined) = background.join_next().await {
        if joined.is_err() {
            ctx.facts(|f| f.aborted = true);
        }
    }
    // The method ends only after its timed faults have reverted (safeguards and the during-
    // hypothesis keep watching), or as soon as it is cut short — fail-fast, safeguard, signal or
    // halt, before or while waiting for them: then every fault is reverted at once rather than at
    // its deadline.
    let cut_short = tokio::select! {
        biased;
        _ = ctx.method_cancel.cancelled() => true,
        _ = faults::await_timed(ctx) => false,
    };
    if cut_short {
        if !faults::revert_all(ctx).await {
            ctx.facts(|f| f.rollback_failed = true);
        }
        faults::cancel_timers(ctx).await;
    }
    stop_watchers.cancel();
    while watchers.join_next().await.is_some() {}
}

fn record_method_entry(
    ctx: &RunContext,
    activity: &Activity,
    seq: usize,
    entry: &crate::experiment::event::Entry,
) {
    report(ctx, Phase::Method, seq, entry);
    let cut_short = matches!(
        entry.monkeywrench.cancelled,
        Some(CancelReason::FailFast | CancelReason::Safeguard | CancelReason::Signal)
    );
    if activity.kind == ActivityKind::Action && entry.status == EntryStatus::Failed && !cut_short {
        ctx.facts(|f| f.action_failed = true);
    }
}

/// Spec §6.3: our `default` plays rollbacks whenever a method action started, otherwise as CTK
/// (unless the status is failed or interrupted); SIGUSR2 plays none.
fn should_roll_back(ctx: &RunContext) -> bool {
    let strategy = ctx.rollback_strategy();
    ctx.facts(|f| {
        if f.skip_rollbacks {
            return false;
        }
        match strategy {
            RollbackStrategy::Never => false,
            RollbackStrategy::Always => true,
            RollbackStrategy::Deviated => f.deviated,
            RollbackStrategy::Default => {
                let v = verdict::verdict(f);
                f.action_started
                    || !matches!(
                        v.status,
                        crate::experiment::event::RunStatus::Failed
                            | crate::experiment::event::RunStatus::Interrupted
                    )
            }
        }
    })
}

async fn run_rollbacks(ctx: &Arc<RunContext>) {
    if ctx.experiment.rollbacks.is_empty() {
        return;
    }
    ctx.events.emit(RunEvent::PhaseStarted {
        phase: Phase::Rollbacks,
    });
    for (seq, activity) in ctx.experiment.rollbacks.iter().enumerate() {
        if ctx.rollback_cancel.is_cancelled() {
            break;
        }
        let entry = execute(ctx, activity, Phase::Rollbacks, seq, &ctx.rollback_cancel).await;
        report(ctx, Phase::Rollbacks, seq, &entry);
        if entry.status == EntryStatus::Failed {
            ctx.facts(|f| f.rollback_failed = true);
        }
    }
}
