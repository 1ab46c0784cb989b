//! Builtin faults in a run: resolve targets, pick victims (blast radius, seeded), take a lease in
//! the ledger **before** applying each fault, revert timed faults at their deadline, and revert
//! everything still active when the method ends, fails, is interrupted or a safeguard trips.

use std::path::PathBuf;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio::task::JoinSet;

use super::context::RunContext;
use super::selection::{Selection, describe_process, select_processes};
use crate::builtin::{Func, TargetKind};
use crate::experiment::event::{
    FaultRecord, Interruption, InterruptionKind, RevertResult, RunEvent, now_micros,
};
use crate::experiment::model::Activity;
use crate::fault::process::{FaultError, FaultOrigin, ProcessFault};
use crate::fault::proxy::{ProxyFault, ProxyFaultError};
use crate::ledger::guard;
use crate::ledger::{Lease, Ledger, LedgerError, RevertOutcome};
use crate::store::{Store, StoreLocation};

/// Where the ledger lives for this run.
#[derive(Debug, Clone)]
pub struct StateConfig {
    /// State directory (SQLite file, guard lock).
    pub dir: PathBuf,
    /// Explicit store (postgres:// URL or SQLite path).
    pub store: Option<String>,
    /// The binary to start a detached guard with.
    pub exe: Option<PathBuf>,
}

/// The faults of one run.
#[derive(Debug, Default)]
pub struct FaultBook {
    ledger: OnceCell<Ledger>,
    /// The halt epoch when the ledger was opened (see `Ledger::halt_epoch`).
    halt_epoch: Mutex<Option<String>>,
    active: Mutex<Vec<Lease>>,
    timers: tokio::sync::Mutex<JoinSet<()>>,
}

impl FaultBook {
    /// The ledger, opened on first use (which also reverts leftovers of earlier runs).
    async fn ledger(&self, state: Option<&StateConfig>) -> Result<&Ledger, String> {
        let state = state.ok_or("faults need a state directory (none configured)")?;
        self.ledger
            .get_or_try_init(|| async {
                let location = StoreLocation::resolve(state.store.as_deref(), &state.dir);
                let store = Store::open(&location)
                    .await
                    .map_err(|e| format!("failed to {e}"))?;
                let mut ledger = Ledger::new(store);
                // A guard must be watching before any reversible fault takes effect: the lease is
                // committed, then the guard is ensured, then the fault is applied. (A guard that
                // was about to exit re-checks after releasing its lock, so it cannot miss it.)
                if let Some(exe) = state.exe.clone() {
                    let (dir, store) = (state.dir.clone(), state.store.clone());
                    ledger = ledger.on_record(move |lease| {
                        if lease.undo.is_reversible() {
                            let _ = guard::ensure_running(&exe, &dir, store.as_deref());
                        }
                    });
                }
                ledger
                    .revert_leftovers()
                    .await
                    .map_err(|e| format!("revert leftover faults: {e}"))?;
                let epoch = ledger.halt_epoch().await.map_err(|e| e.to_string())?;
                *self.halt_epoch.lock().unwrap_or_else(|e| e.into_inner()) = Some(epoch);
                Ok::<Ledger, String>(ledger)
            })
            .await
    }
}

/// Runs a target-taking builtin (`process.kill`, `process.stop`, `process.resume`).
pub async fn run(
    ctx: &RunContext,
    activity: &Activity,
    func: Func,
    args: &Value,
) -> Result<Value, String> {
    if matches!(func, Func::ProxyToxic | Func::ProxyDown | Func::HttpFault) {
        return run_proxy_fault(ctx, activity, func, args).await;
    }
    if !matches!(func.target_kind(), Some(TargetKind::Process)) {
        return super::docker_faults::run(ctx, activity, func, args).await;
    }
    let selection = select_processes(
        &ctx.experiment,
        ctx.settings.state.as_ref(),
        ctx.settings.seed,
        args,
    )?;
    announce(ctx, activity, &selection, describe_process);
    let victims = selection.victims;

    if func == Func::ProcessResume {
        let mut resumed = Vec::new();
        for v in &victims {
            v.identity
                .signal("SIGCONT")
                .map_err(|e| format!("resume process {}: {e}", v.identity.pid))?;
            resumed.push(json!({"pid": v.identity.pid, "name": v.name}));
        }
        return Ok(json!({"resumed": resumed}));
    }

    let fault = match func {
        Func::ProcessKill => ProcessFault::Kill {
            signal: args
                .get("signal")
                .and_then(Value::as_str)
                .unwrap_or("SIGKILL")
                .to_string(),
        },
        Func::ProcessRestart => ProcessFault::Restart {
            signal: args
                .get("signal")
                .and_then(Value::as_str)
                .unwrap_or("SIGTERM")
                .to_string(),
            grace: std::time::Duration::from_secs_f64(
                args.get("timeout_s")
                    .and_then(Value::as_f64)
                    .unwrap_or(5.0)
                    .max(0.0),
            ),
            command: args
                .get("command")
                .and_then(Value::as_str)
                .ok_or("arguments.command is required")?
                .to_string(),
        },
        _ => ProcessFault::Stop,
    };
    crate::target::process::parse_signal(fault.signal()).map_err(|e| e.to_string())?;
    let (ledger, origin, timed) = prepare(ctx, activity, func).await?;
    let deadline = origin.deadline;
    let mut records = Vec::new();
    for victim in &victims {
        let lease = match fault.apply(&ledger, victim, &origin).await {
            Ok(lease) => lease,
            Err(FaultError::Ledger(LedgerError::Halted { reason })) => {
                return Err(halted(ctx, &reason));
            }
            Err(e) => return Err(e.to_string()),
        };
        records.push(track(ctx, activity, func, &lease, deadline, &ledger, timed).await);
    }
    Ok(json!({"faults": records}))
}

/// Stops the deadline timers (after `revert_all` reverted their faults early).
pub async fn cancel_timers(ctx: &RunContext) {
    ctx.faults.timers.lock().await.abort_all();
}

/// `proxy.toxic` / `proxy.down`: one lease, applied through the proxy's API.
async fn run_proxy_fault(
    ctx: &RunContext,
    activity: &Activity,
    func: Func,
    args: &Value,
) -> Result<Value, String> {
    let proxy = args
        .get("proxy")
        .and_then(Value::as_str)
        .ok_or("arguments.proxy is required")?;
    let api = crate::builtin::proxy_api(args);
    let fault = match func {
        Func::ProxyToxic => {
            let mut body = serde_json::Map::new();
            for key in ["type", "stream", "toxicity", "attributes"] {
                if let Some(v) = args.get(key) {
                    body.insert(key.into(), v.clone());
                }
            }
            ProxyFault::Toxic {
                body: Value::Object(body),
            }
        }
        Func::HttpFault => ProxyFault::Toxic {
            body: http_fault_toxic(args)?,
        },
        _ => ProxyFault::Down,
    };
    let (ledger, origin, timed) = prepare(ctx, activity, func).await?;
    let deadline = origin.deadline;
    let lease = match crate::fault::proxy::apply(&fault, &ledger, api, proxy, &origin).await {
        Ok(lease) => lease,
        Err(ProxyFaultError::Ledger(LedgerError::Halted { reason })) => {
            return Err(halted(ctx, &reason));
        }
        Err(e) => return Err(e.to_string()),
    };
    let record = track(ctx, activity, func, &lease, deadline, &ledger, timed).await;
    Ok(json!({"faults": [record]}))
}

/// The toxic an `http.fault` adds: `http_status`, `http_abort` or `http_delay` for `share` % of
/// the requests that match `route` / `method`.
fn http_fault_toxic(args: &Value) -> Result<Value, String> {
    let mut matcher = serde_json::Map::new();
    for key in ["route", "method"] {
        if let Some(v) = args.get(key).and_then(Value::as_str) {
            matcher.insert(key.into(), json!(v));
        }
    }
    let (kind, mut attributes) = if let Some(status) = args.get("status") {
        ("http_status", json!({"status": status}))
    } else if let Some(mode) = args.get("abort") {
        ("http_abort", json!({"mode": mode, "when": "headers"}))
    } else if let Some(delay) = args.get("delay_ms") {
        ("http_delay", json!({"delay_ms": delay}))
    } else {
        return Err("http.fault needs one of status, abort or delay_ms".into());
    };
    if !matcher.is_empty() {
        attributes["match"] = Value::Object(matcher);
    }
    let share = args.get("share").and_then(Value::as_f64).unwrap_or(100.0);
    Ok(json!({
        "type": kind,
        "toxicity": (share / 100.0).clamp(0.0, 1.0),
        "attributes": attributes,
    }))
}

/// Opens the ledger, works out the deadline, starts the guard for a reversible fault.
pub(super) async fn prepare(
    ctx: &RunContext,
    activity: &Activity,
    func: Func,
) -> Result<(Ledger, FaultOrigin, Option<std::time::Duration>), String> {
    let ledger = ctx
        .faults
        .ledger(ctx.settings.state.as_ref())
        .await?
        .clone();
    let (deadline, timed) = fault_deadline(ctx, activity);
    if func.is_reversible() {
        ensure_guard(ctx);
    }
    let origin = FaultOrigin {
        run_id: ctx.run_id.clone(),
        activity: activity.name.clone(),
        func: func.name().to_string(),
        deadline,
    };
    Ok((ledger, origin, timed))
}

/// The deadline of a fault: its `duration`, else the run's deadline.
fn fault_deadline(
    ctx: &RunContext,
    activity: &Activity,
) -> (Timestamp, Option<std::time::Duration>) {
    let timed = match &activity.duration {
        Some(d) => ctx.seconds(activity, "duration", d),
        None => None,
    };
    let deadline = match timed {
        Some(d) => {
            Timestamp::now() + SignedDuration::try_from(d).unwrap_or(SignedDuration::from_secs(1))
        }
        None => ctx.run_deadline,
    };
    (deadline, timed)
}

/// Starts the guard for this state directory unless one runs.
fn ensure_guard(ctx: &RunContext) {
    if let Some(state) = &ctx.settings.state
        && let Some(exe) = &state.exe
        && let Err(e) = guard::ensure_running(exe, &state.dir, state.store.as_deref())
    {
        ctx.events.warn(format!(
            "could not start the guard ({e}); faults are still reverted by this run and at the next start"
        ));
    }
}

/// Reports an applied lease, remembers it for the end-of-run revert, arms its timer.
pub(super) async fn track(
    ctx: &RunContext,
    activity: &Activity,
    func: Func,
    lease: &Lease,
    deadline: Timestamp,
    ledger: &Ledger,
    timed: Option<std::time::Duration>,
) -> Value {
    let record = FaultRecord {
        id: lease.id.clone(),
        activity: activity.name.clone(),
        func,
        target: lease.target.clone(),
        applied_at: now_micros(),
        deadline,
        reverted_at: None,
        revert: (!lease.undo.is_reversible()).then_some(RevertResult::Irreversible),
    };
    ctx.events.emit(RunEvent::FaultApplied {
        fault: record.clone(),
    });
    if lease.undo.is_reversible() {
        ctx.faults
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(lease.clone());
        if let Some(d) = timed {
            let (ledger, events, lease) = (ledger.clone(), ctx.events.clone(), lease.clone());
            ctx.faults.timers.lock().await.spawn(async move {
                tokio::time::sleep(d).await;
                let outcome = ledger.revert(&lease).await;
                report_revert(&events, &lease, outcome);
            });
        }
    }
    json!({
        "id": record.id,
        "target": record.target,
        "applied_at": crate::experiment::event::format_timestamp(&record.applied_at),
        "deadline": crate::experiment::event::format_timestamp(&deadline),
        "revert": if lease.undo.is_reversible() { "pending" } else { "irreversible" },
    })
}

/// Waits until every timed fault of the run has reverted (the method ends only then).
pub async fn await_timed(ctx: &RunContext) {
    let mut timers = ctx.faults.timers.lock().await;
    while timers.join_next().await.is_some() {}
}

/// Reverts every still-active fault of the run, newest first; returns false if a revert failed.
pub async fn revert_all(ctx: &RunContext) -> bool {
    let Some(ledger) = ctx.faults.ledger.get() else {
        return true;
    };
    let leases: Vec<Lease> = {
        let mut active = ctx.faults.active.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *active)
    };
    // The ledger knows which of them a timer, the guard or a halt already reverted.
    let still_active: Option<std::collections::HashSet<String>> = match leases.first() {
        Some(first) => ledger.of_run(&first.run_id).await.ok().map(|all| {
            all.into_iter()
                .filter(|l| l.state.is_active())
                .map(|l| l.id)
                .collect()
        }),
        None => return true,
    };
    let mut ok = true;
    for lease in leases.iter().rev() {
        if still_active
            .as_ref()
            .is_some_and(|ids| !ids.contains(&lease.id))
        {
            continue;
        }
        let outcome = ledger.revert(lease).await;
        ok &= !matches!(outcome, Ok(RevertOutcome::Failed(_)) | Err(_));
        report_revert(&ctx.events, lease, outcome);
    }
    ok
}

fn report_revert(
    events: &crate::experiment::dispatcher::Events,
    lease: &Lease,
    outcome: Result<RevertOutcome, LedgerError>,
) {
    let (revert, error) = match outcome {
        Ok(RevertOutcome::Reverted) => (RevertResult::Reverted, None),
        Ok(RevertOutcome::TargetGone) => (RevertResult::TargetGone, None),
        Ok(RevertOutcome::Nothing) => (RevertResult::Irreversible, None),
        Ok(RevertOutcome::Failed(e)) => (RevertResult::Failed, Some(e)),
        Err(e) => (RevertResult::Failed, Some(e.to_string())),
    };
    if let Some(e) = &error {
        events.warn(format!(
            "revert of fault {} failed: {e}; the guard will retry",
            lease.id
        ));
    }
    events.emit(RunEvent::FaultReverted {
        id: lease.id.clone(),
        revert,
        error,
    });
}

/// A halt seen by the run: interrupt it (exit 4, interruption kind `halt`).
pub fn interrupt_for_halt(ctx: &RunContext, reason: &str) {
    ctx.interrupt(Interruption {
        kind: InterruptionKind::Halt,
        name: "halt".into(),
        reason: format!("monkeywrench is halted: {reason}"),
    });
}

/// Polls the halt switch while faults are active; a halt interrupts the run.
pub async fn watch_halt(
    ctx: std::sync::Arc<RunContext>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
            _ = stop.cancelled() => return,
        }
        let Some(ledger) = ctx.faults.ledger.get() else {
            continue;
        };
        if let Ok(Some(h)) = ledger.halt_state().await {
            interrupt_for_halt(&ctx, &h.reason);
            return;
        }
        // A halt that was already resumed still reverted our faults: stop all the same.
        let seen = ctx
            .faults
            .halt_epoch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let (Ok(now), Some(seen)) = (ledger.halt_epoch().await, seen)
            && now != seen
        {
            interrupt_for_halt(&ctx, "halted and resumed while this run was active");
            return;
        }
    }
}

/// Reports the selection (matched, victims, mode, seed) as a run event.
pub(super) fn announce<T>(
    ctx: &RunContext,
    activity: &Activity,
    selection: &Selection<T>,
    describe: impl Fn(&T) -> Value,
) {
    if let Some(w) = &selection.warning {
        ctx.events
            .warn(format!("activity \"{}\": {w}", activity.name));
    }
    ctx.events.emit(RunEvent::TargetsSelected {
        activity: activity.name.clone(),
        matched: selection.matched,
        selected: selection.victims.iter().map(describe).collect(),
        mode: selection.mode.into(),
        seed: selection.seed,
    });
}

pub(super) fn halted(ctx: &RunContext, reason: &str) -> String {
    interrupt_for_halt(ctx, reason);
    format!("refused: monkeywrench is halted ({reason})")
}
