//! Builtin faults in a run — one generic loop for every family: parse the typed arguments, pick
//! victims (blast radius, seeded), apply each through the ledger (a lease **before** the change),
//! revert timed faults at their deadline, and revert every lease of the run still active (read
//! from the ledger) when the method ends, fails, is interrupted or a safeguard trips.

use std::path::PathBuf;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio::task::JoinSet;

use super::context::RunContext;
use super::provider::CallError;
use super::selection::{resume_victims, selecting};
use crate::builtin::{Action, Func};
use crate::experiment::event::{
    FaultRecord, Interruption, InterruptionKind, RevertResult, RunEvent, now_micros,
};
use crate::experiment::model::Activity;
use crate::fault::{self, Act, Error, Family, Fault, FaultFunc, Origin};
use crate::ledger::guard;
use crate::ledger::{Lease, LeaseState, Ledger, LedgerError, RevertOutcome};
use crate::schema::describe_problems;
use crate::store::{Store, StoreLocation};
use crate::target::Selection;

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
pub(super) struct FaultBook {
    ledger: OnceCell<Ledger>,
    /// The halt epoch when the ledger was opened (see `Ledger::halt_epoch`).
    halt_epoch: Mutex<Option<String>>,
    timers: tokio::sync::Mutex<JoinSet<()>>,
    /// One surge plans at a time, so two surges starting together cannot both fit the budget
    /// that only one of them fits.
    surges: tokio::sync::Mutex<()>,
}

/// The most req/s an experiment's surges send together when it does not say (`max-surge-rate`).
const DEFAULT_MAX_SURGE_RATE: f64 = 10_000.0;

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
                let mut ledger = Ledger::new(store, fault::reverter());
                // A guard must be watching before any reversible fault takes effect: the lease is
                // committed, then the guard is ensured, then the fault is applied. (A guard that
                // was about to exit re-checks after releasing its lock, so it cannot miss it.)
                if let Some(exe) = state.exe.clone() {
                    let (dir, store) = (state.dir.clone(), state.store.clone());
                    ledger = ledger.on_record(move |lease| {
                        if lease.reversible {
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

/// Runs a fault or a target-taking action (`process.resume`).
pub(super) async fn run(
    ctx: &RunContext,
    activity: &Activity,
    func: Func,
    args: &Value,
) -> Result<Value, CallError> {
    let bad = |problems: Vec<_>| format!("invalid arguments: {}", describe_problems(&problems));
    match func {
        Func::Fault(f) => match f.parse(args).map_err(bad)? {
            Fault::Process(fault) => inject(ctx, activity, f, &fault).await,
            Fault::Container(fault) => inject(ctx, activity, f, &fault).await,
            Fault::Swarm(fault) => inject(ctx, activity, f, &fault).await,
            Fault::Proxy(fault) => inject(ctx, activity, f, &fault).await,
            Fault::Stress(fault) => inject(ctx, activity, f, &fault).await,
            Fault::K8s(fault) => inject(ctx, activity, f, &fault).await,
            Fault::Surge(fault) => {
                let _turn = ctx.faults.surges.lock().await;
                let budget = surge_budget(ctx).await?;
                let fault = fault
                    .with_figures(surge_figures(ctx, activity))
                    .within(budget);
                inject(ctx, activity, f, &fault).await
            }
        },
        Func::Action(Action::ProcessResume) => {
            let selecting = selecting(
                &ctx.experiment,
                ctx.settings.state.as_ref(),
                ctx.settings.seed,
            );
            let (victims, selection) = resume_victims(args, &selecting).await?;
            announce(ctx, activity, &selection);
            Ok(fault::process::resume(&victims).map_err(|e| e.to_string())?)
        }
        Func::Probe(_)
        | Func::Action(Action::FileRename | Action::FileRemove | Action::K8sNetworkRemove) => {
            Err(format!("{} is not a fault", func.name()).into())
        }
    }
}

/// The experiment's surge ceiling and what the run's active surges send, read from the ledger
/// (each surge's lease records its peak rate).
async fn surge_budget(ctx: &RunContext) -> Result<fault::surge::Budget, String> {
    let ledger = ctx.faults.ledger(ctx.settings.state.as_ref()).await?;
    let leases = ledger
        .of_run(&ctx.run_id)
        .await
        .map_err(|e| format!("read the run's surges from the ledger: {e}"))?;
    let surge = FaultFunc::Surge(fault::surge::Verb::Surge).name();
    let in_use = leases
        .iter()
        .filter(|l| l.state.is_active() && l.func == surge)
        .filter_map(|l| l.target["peak_rps"].as_f64())
        .sum();
    Ok(fault::surge::Budget {
        ceiling: ctx
            .experiment
            .max_surge_rate
            .unwrap_or(DEFAULT_MAX_SURGE_RATE),
        in_use,
    })
}

/// Where a surge's per-second figures go: each becomes a `surge-figures` event. The forwarder
/// ends when the surge's process does (its stdout closes) and the fault call is done.
fn surge_figures(ctx: &RunContext, activity: &Activity) -> fault::surge::FiguresSink {
    let (sink, mut figures) = tokio::sync::mpsc::unbounded_channel::<fault::surge::Figures>();
    let (events, activity) = (ctx.events.clone(), activity.name.clone());
    tokio::spawn(async move {
        while let Some(f) = figures.recv().await {
            events.emit(RunEvent::SurgeFigures {
                activity: activity.clone(),
                pid: f.pid,
                figures: f.second,
            });
        }
    });
    sink
}

/// The one apply-and-track loop: victims, then a lease and the change for each.
async fn inject<F: Family>(
    ctx: &RunContext,
    activity: &Activity,
    func: FaultFunc,
    fault: &F,
) -> Result<Value, CallError> {
    let selecting = selecting(
        &ctx.experiment,
        ctx.settings.state.as_ref(),
        ctx.settings.seed,
    );
    let victims = fault.victims(&selecting).await.map_err(failure)?;
    if let Some(selection) = &victims.selection {
        announce(ctx, activity, selection);
    }
    let (ledger, origin, timed) = prepare(ctx, activity, func).await?;
    let mut records = Vec::new();
    for victim in &victims.list {
        let lease = apply_one(ctx, &ledger, fault.act(), victim, &origin).await?;
        records.push(track(ctx, activity, func, &lease, origin.deadline, &ledger, timed).await);
    }
    Ok(json!({"faults": records}))
}

async fn apply_one<A: Act>(
    ctx: &RunContext,
    ledger: &Ledger,
    act: &A,
    victim: &A::Victim,
    origin: &Origin,
) -> Result<Lease, CallError> {
    match fault::apply(ledger, act, victim, origin).await {
        Ok(lease) => Ok(lease),
        Err(Error::Halted { reason }) => Err(halted(ctx, &reason).into()),
        Err(e) => Err(failure(e)),
    }
}

/// A fault error as the activity's failure, saying whether the platform was unavailable.
fn failure(e: Error) -> CallError {
    CallError {
        unavailable: e.is_unavailable(),
        message: e.to_string(),
    }
}

/// Stops the deadline timers (the method was cut short: `revert_all` reverts everything now).
pub(super) async fn cancel_timers(ctx: &RunContext) {
    ctx.faults.timers.lock().await.abort_all();
}

/// Opens the ledger, works out the deadline, starts the guard for a reversible fault.
async fn prepare(
    ctx: &RunContext,
    activity: &Activity,
    func: FaultFunc,
) -> Result<(Ledger, Origin, Option<std::time::Duration>), String> {
    let ledger = ctx
        .faults
        .ledger(ctx.settings.state.as_ref())
        .await?
        .clone();
    let (deadline, timed) = fault_deadline(ctx, activity);
    if func.is_reversible() {
        ensure_guard(ctx);
    }
    let origin = Origin {
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

/// Reports an applied lease and arms its timer.
async fn track(
    ctx: &RunContext,
    activity: &Activity,
    func: FaultFunc,
    lease: &Lease,
    deadline: Timestamp,
    ledger: &Ledger,
    timed: Option<std::time::Duration>,
) -> Value {
    let record = FaultRecord {
        id: lease.id.clone(),
        activity: activity.name.clone(),
        func: Func::Fault(func),
        target: lease.target.clone(),
        applied_at: now_micros(),
        deadline,
        reverted_at: None,
        revert: (!lease.reversible).then_some(RevertResult::Irreversible),
    };
    ctx.events.emit(RunEvent::FaultApplied {
        fault: record.clone(),
    });
    if lease.reversible
        && let Some(d) = timed
    {
        let (ledger, events, lease) = (ledger.clone(), ctx.events.clone(), lease.clone());
        ctx.faults.timers.lock().await.spawn(async move {
            tokio::time::sleep(d).await;
            let outcome = ledger.revert(&lease).await;
            report_revert(&events, &lease, outcome);
        });
    }
    json!({
        "id": record.id,
        "target": record.target,
        "applied_at": crate::experiment::event::format_timestamp(&record.applied_at),
        "deadline": crate::experiment::event::format_timestamp(&deadline),
        "revert": if lease.reversible { "pending" } else { "irreversible" },
    })
}

/// Waits until every timed fault of the run has reverted (the method ends only then).
pub(super) async fn await_timed(ctx: &RunContext) {
    let mut timers = ctx.faults.timers.lock().await;
    while timers.join_next().await.is_some() {}
}

/// Reverts every lease of the run the ledger still shows active, newest first — also one
/// recorded just before its activity was cut short. Each outcome is an event; a fault never
/// reverted counts as a failed revert in the verdict.
pub(super) async fn revert_all(ctx: &RunContext) {
    let Some(ledger) = ctx.faults.ledger.get() else {
        return;
    };
    let leases = match ledger.of_run(&ctx.run_id).await {
        Ok(all) => all,
        Err(e) => {
            ctx.events.warn(format!(
                "read this run's faults from the ledger: {e}; the guard and the next start revert them"
            ));
            return;
        }
    };
    for lease in leases.iter().rev() {
        let lease = &report_cut_off(ctx, ledger, lease).await;
        let outcome = match lease.state {
            // Tried already in this run (its timer), for a whole patience: the guard goes on.
            LeaseState::RevertFailed
                if ctx.events.state(|s| s.last_revert(&lease.id)) == Some(RevertResult::Failed) =>
            {
                continue;
            }
            LeaseState::Pending | LeaseState::Applied | LeaseState::RevertFailed => {
                ledger.revert(lease).await
            }
            // Closed by a halt or the guard: the run reports what they did.
            LeaseState::Reverted | LeaseState::ApplyFailed => Ok(RevertOutcome::Reverted),
            LeaseState::TargetGone => Ok(RevertOutcome::TargetGone),
            LeaseState::Irreversible => continue,
        };
        let already_reported =
            !lease.state.is_active() && !ctx.events.state(|s| s.awaits_revert(&lease.id));
        if !already_reported {
            report_revert(&ctx.events, lease, outcome);
        }
    }
}

/// A fault whose activity was cut off (a timeout) after its lease was recorded: its apply ran on
/// to the end. Once it has settled, the journal is told it was applied, so its revert is shown.
async fn report_cut_off(ctx: &RunContext, ledger: &Ledger, lease: &Lease) -> Lease {
    if ctx.events.state(|s| s.knows_fault(&lease.id)) {
        return lease.clone();
    }
    ledger.settled(&lease.id).await;
    let lease = match ledger.get(&lease.id).await {
        Ok(Some(current)) => current,
        Ok(None) | Err(_) => lease.clone(),
    };
    if lease.reversible
        && matches!(lease.state, LeaseState::Applied | LeaseState::RevertFailed)
        && let Some(func) = Func::parse(&lease.func)
    {
        ctx.events.emit(RunEvent::FaultApplied {
            fault: FaultRecord {
                id: lease.id.clone(),
                activity: lease.activity.clone(),
                func,
                target: lease.target.clone(),
                applied_at: micros(lease.applied_at.unwrap_or(lease.created_at)),
                deadline: lease.deadline,
                reverted_at: None,
                revert: None,
            },
        });
    }
    lease
}

/// `t` at the journal's precision (see `now_micros`).
fn micros(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
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
pub(super) fn interrupt_for_halt(ctx: &RunContext, reason: &str) {
    ctx.interrupt(Interruption {
        kind: InterruptionKind::Halt,
        name: "halt".into(),
        reason: format!("monkeywrench is halted: {reason}"),
    });
}

/// Polls the halt switch while faults are active; a halt interrupts the run.
pub(super) async fn watch_halt(
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
fn announce(ctx: &RunContext, activity: &Activity, selection: &Selection<Value>) {
    if let Some(w) = &selection.warning {
        ctx.events
            .warn(format!("activity \"{}\": {w}", activity.name));
    }
    ctx.events.emit(RunEvent::TargetsSelected {
        activity: activity.name.clone(),
        matched: selection.matched,
        selected: selection.victims.clone(),
        mode: selection.mode.into(),
        seed: selection.seed,
    });
}

fn halted(ctx: &RunContext, reason: &str) -> String {
    interrupt_for_halt(ctx, reason);
    format!("refused: monkeywrench is halted ({reason})")
}
