//! One run from start to verdict: resolve configuration, the hypothesis before, the method (with
//! safeguards and the hypothesis during), the hypothesis after, rollbacks, and interruptions.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::activity::{execute, report};
use super::context::{self, Interrupt, RunContext, RunSettings};
use super::python::PythonScope;
use super::{faults, hypothesis, python, watch};
use crate::experiment::configure::{self, ConfigureError};
use crate::experiment::dispatcher::Events;
use crate::experiment::event::{
    EntryStatus, Interruption, InterruptionKind, Phase, RunEvent, RunStatus, Verdict, host_name,
    host_platform,
};
use crate::experiment::model::ControlScope;
use crate::experiment::model::{Activity, ConfigValue, Experiment, Provider, RollbackStrategy};
use crate::experiment::python::controls::Level;
use crate::experiment::python::{Interpreter, Pool};
use crate::experiment::redact::{Redactor, redact_inline_secrets};
use crate::experiment::substitute::Substitutions;
use std::path::Path;

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
    /// The verdict the events imply (also sent as the last event).
    pub verdict: Verdict,
}

/// Runs `experiment`; `interrupts` delivers signals (the first interrupts, a second skips the
/// remaining rollbacks); `env` looks environment variables up.
pub async fn run(
    experiment: Experiment,
    settings: RunSettings,
    events: Events,
    interrupts: mpsc::UnboundedReceiver<Interrupt>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<RunReport, EngineError> {
    let resolved = configure::resolve(&experiment, env)?;
    let mut configuration = resolved.configuration;
    let redactor = Redactor::new(resolved.secret_values.clone());
    let interpreter = settings
        .python
        .clone()
        .unwrap_or_else(|| Interpreter::choose(None, env, &settings.cwd));
    // Started on the first Python call only: experiments without Python never start one.
    let pool = Arc::new(Pool::new(interpreter.path().map(Path::to_path_buf)));
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
            PythonScope::new(pool.clone(), &configuration, &resolved.secrets),
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
    let python = PythonScope::new(pool.clone(), &configuration, &resolved.secrets);
    let ctx = RunContext::new(
        experiment,
        settings,
        substitutions,
        redactor,
        events,
        python,
    );
    let report = run_started(ctx, interrupts).await;
    pool.shutdown().await;
    Ok(report)
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
        Provider::Builtin(_) | Provider::Python(_) => Ok(entry.output),
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
        seed: ctx.settings.seed,
        during_journal: ctx.settings.during_journal,
        platform: host_platform(),
        node: host_name(),
        version: env!("CARGO_PKG_VERSION").into(),
    });
    let listener = tokio::spawn(listen_for_interrupts(ctx.clone(), interrupts));
    python::configure(&ctx).await;
    python::hooks(
        &ctx,
        Level::Experiment,
        ControlScope::Before,
        &ctx.experiment.controls,
        &ctx.experiment.document,
        || Value::Null,
    )
    .await;

    let strategy = ctx.hypothesis_strategy();
    if ctx.fail_fast() && !strategy.during() {
        ctx.events
            .warn("--fail-fast has no effect without a during-method hypothesis strategy");
    }
    let hypothesis = ctx.experiment.hypothesis.clone();

    if let Some(h) = hypothesis.as_ref().filter(|_| strategy.before()) {
        ctx.events.emit(RunEvent::PhaseStarted {
            phase: Phase::HypothesisBefore,
        });
        hypothesis::check(&ctx, h, Phase::HypothesisBefore, &ctx.method_cancel).await;
    }
    let gate_passed = ctx.state(|s| s.gate_passed());
    if gate_passed && !ctx.interrupted() {
        for safeguard in &ctx.experiment.safeguards {
            if watch::check_safeguard(&ctx, safeguard, &ctx.method_cancel).await {
                watch::trip(&ctx, &safeguard.probe.name, 1);
                break;
            }
        }
    }
    if gate_passed && !ctx.interrupted() {
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
        .filter(|_| strategy.after() && gate_passed && !ctx.interrupted())
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
        hypothesis::check(&ctx, h, Phase::HypothesisAfter, &stop_on_signal).await;
        signal_watch.abort();
    }

    // Step 7: faults without a duration last until here; revert what is still active, newest
    // first (a failed revert is reported as an event and counts in the verdict).
    faults::revert_all(&ctx).await;
    if should_roll_back(&ctx) {
        hooks_around_rollbacks(&ctx, ControlScope::Before).await;
        run_rollbacks(&ctx).await;
        hooks_around_rollbacks(&ctx, ControlScope::After).await;
    }
    python::hooks(
        &ctx,
        Level::Experiment,
        ControlScope::After,
        &ctx.experiment.controls,
        &ctx.experiment.document,
        || {
            let verdict = ctx.state(|s| s.verdict());
            serde_json::json!({
                "status": verdict.status,
                "deviated": verdict.deviated,
                "run": ctx.python.run_entries(),
                "rollbacks": ctx.python.rollback_entries(),
            })
        },
    )
    .await;
    python::cleanup(&ctx).await;
    listener.abort();
    RunReport {
        verdict: ctx.events.finish_run(ctx.redactor.count()),
    }
}

async fn hooks_around_rollbacks(ctx: &RunContext, scope: ControlScope) {
    python::hooks(
        ctx,
        Level::Rollback,
        scope,
        &ctx.experiment.controls,
        &ctx.experiment.document,
        || ctx.python.rollback_entries(),
    )
    .await;
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
                interruption: Interruption {
                    kind: InterruptionKind::MaxDuration,
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
        // Both in one step: the engine must not reach its rollbacks between the two.
        ctx.events.emit_with(|state| {
            let mut events = Vec::new();
            let reason = next.interruption.reason.clone();
            if !state.interrupted() {
                events.push(RunEvent::Interrupted {
                    interruption: next.interruption,
                });
            }
            if next.skip_rollbacks {
                events.push(RunEvent::RollbacksSkipped { reason });
            }
            events
        });
        ctx.method_cancel.cancel();
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
    python::hooks(
        ctx,
        Level::Method,
        ControlScope::Before,
        &ctx.experiment.controls,
        &ctx.experiment.document,
        || Value::Null,
    )
    .await;
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
        if activity.background {
            let (ctx, activity) = (ctx.clone(), activity.clone());
            background.spawn(async move {
                let entry = execute(&ctx, &activity, Phase::Method, seq, &ctx.method_cancel).await;
                report(&ctx, Phase::Method, seq, &activity, &entry);
            });
        } else {
            let entry = execute(ctx, activity, Phase::Method, seq, &ctx.method_cancel).await;
            report(ctx, Phase::Method, seq, activity, &entry);
        }
    }
    while let Some(joined) = background.join_next().await {
        if let Err(e) = joined {
            ctx.events.emit(RunEvent::Aborted {
                reason: format!("a background activity stopped unexpectedly: {e}"),
            });
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
        // Timers first: one stopped half-way leaves its lease active, and revert_all takes it.
        faults::cancel_timers(ctx).await;
        faults::revert_all(ctx).await;
    }
    stop_watchers.cancel();
    while watchers.join_next().await.is_some() {}
    python::hooks(
        ctx,
        Level::Method,
        ControlScope::After,
        &ctx.experiment.controls,
        &ctx.experiment.document,
        || ctx.python.run_entries(),
    )
    .await;
}

/// Spec §6.3: our `default` plays rollbacks whenever a method action started, otherwise as CTK
/// (unless the status is failed or interrupted); SIGUSR2 plays none.
fn should_roll_back(ctx: &RunContext) -> bool {
    let strategy = ctx.rollback_strategy();
    ctx.state(|s| {
        if s.skip_rollbacks() {
            return false;
        }
        match strategy {
            RollbackStrategy::Never => false,
            RollbackStrategy::Always => true,
            RollbackStrategy::Deviated => s.deviated(),
            RollbackStrategy::Default => {
                s.action_started()
                    || match s.verdict().status {
                        RunStatus::Failed | RunStatus::Interrupted => false,
                        RunStatus::Completed | RunStatus::Aborted => true,
                    }
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
        report(ctx, Phase::Rollbacks, seq, activity, &entry);
    }
}
