//! Container and Swarm faults in a run: connect to the engine, pick victims, take a lease per
//! victim before acting, and hand each lease to the run's revert bookkeeping.

use serde_json::{Value, json};

use super::context::RunContext;
use super::faults::{announce, halted, prepare, track};
use super::selection::{select_containers, select_tasks, service_target};
use crate::builtin::Func;
use crate::experiment::model::Activity;
use crate::fault::container::{ContainerFault, ContainerFaultError};
use crate::fault::swarm::{SwarmFaultError, kill_task, scale_service};
use crate::ledger::LedgerError;
use crate::target::docker::{ContainerInfo, Engine};
use crate::target::swarm::TaskInfo;

/// Runs `container.*`, `swarm.kill_task` or `swarm.scale`.
pub async fn run(
    ctx: &RunContext,
    activity: &Activity,
    func: Func,
    args: &Value,
) -> Result<Value, String> {
    let engine = Engine::connect().await.map_err(|e| e.to_string())?;
    match func {
        Func::SwarmScale => scale(ctx, activity, &engine, args).await,
        Func::SwarmKillTask => kill_tasks(ctx, activity, &engine, args).await,
        _ => containers(ctx, activity, func, &engine, args).await,
    }
}

async fn containers(
    ctx: &RunContext,
    activity: &Activity,
    func: Func,
    engine: &Engine,
    args: &Value,
) -> Result<Value, String> {
    let text = |key: &str, default: &str| {
        args.get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let grace = args.get("timeout_s").and_then(Value::as_i64).unwrap_or(10) as i32;
    let fault = match func {
        Func::ContainerKill => ContainerFault::Kill {
            signal: text("signal", "SIGKILL"),
        },
        Func::ContainerStop => ContainerFault::Stop { timeout_s: grace },
        Func::ContainerPause => ContainerFault::Pause,
        Func::ContainerRestart => ContainerFault::Restart { timeout_s: grace },
        Func::ContainerDisconnect => ContainerFault::Disconnect {
            // Check the network exists before anything is picked or leased.
            network: engine
                .network(&text("network", ""))
                .await
                .map_err(|e| e.to_string())?,
        },
        other => return Err(format!("{} is not a container fault", other.name())),
    };
    let selection = select_containers(engine, &ctx.experiment, ctx.settings.seed, args).await?;
    announce(ctx, activity, &selection, ContainerInfo::describe);
    let (ledger, origin, timed) = prepare(ctx, activity, func).await?;
    let mut records = Vec::new();
    for victim in &selection.victims {
        let lease = match fault.apply(&ledger, engine, victim, &origin).await {
            Ok(lease) => lease,
            Err(ContainerFaultError::Ledger(LedgerError::Halted { reason })) => {
                return Err(halted(ctx, &reason));
            }
            Err(e) => return Err(e.to_string()),
        };
        records.push(track(ctx, activity, func, &lease, origin.deadline, &ledger, timed).await);
    }
    Ok(json!({"faults": records}))
}

async fn kill_tasks(
    ctx: &RunContext,
    activity: &Activity,
    engine: &Engine,
    args: &Value,
) -> Result<Value, String> {
    let signal = args
        .get("signal")
        .and_then(Value::as_str)
        .unwrap_or("SIGKILL");
    let selection = select_tasks(engine, &ctx.experiment, ctx.settings.seed, args).await?;
    announce(ctx, activity, &selection, TaskInfo::describe);
    let (ledger, origin, timed) = prepare(ctx, activity, Func::SwarmKillTask).await?;
    let mut records = Vec::new();
    for task in &selection.victims {
        let lease = match kill_task(&ledger, engine, task, signal, &origin).await {
            Ok(lease) => lease,
            Err(SwarmFaultError::Ledger(LedgerError::Halted { reason })) => {
                return Err(halted(ctx, &reason));
            }
            Err(e) => return Err(e.to_string()),
        };
        records.push(
            track(
                ctx,
                activity,
                Func::SwarmKillTask,
                &lease,
                origin.deadline,
                &ledger,
                timed,
            )
            .await,
        );
    }
    Ok(json!({"faults": records}))
}

async fn scale(
    ctx: &RunContext,
    activity: &Activity,
    engine: &Engine,
    args: &Value,
) -> Result<Value, String> {
    let replicas = args
        .get("replicas")
        .and_then(Value::as_u64)
        .ok_or("arguments.replicas must be a whole number ≥ 0")?;
    let service = service_target(engine, args).await?;
    let (ledger, origin, timed) = prepare(ctx, activity, Func::SwarmScale).await?;
    let lease = match scale_service(&ledger, engine, &service, replicas, &origin).await {
        Ok(lease) => lease,
        Err(SwarmFaultError::Ledger(LedgerError::Halted { reason })) => {
            return Err(halted(ctx, &reason));
        }
        Err(e) => return Err(e.to_string()),
    };
    let record = track(
        ctx,
        activity,
        Func::SwarmScale,
        &lease,
        origin.deadline,
        &ledger,
        timed,
    )
    .await;
    Ok(json!({"faults": [record]}))
}
