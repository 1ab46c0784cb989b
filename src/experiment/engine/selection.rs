//! Which targets an activity hits: resolve `arguments.target` (processes, containers, or the
//! tasks of a Swarm service) and pick victims by the blast radius (activity override, else the
//! experiment's) with the seed (`blast-radius.seed`, else `--seed`, else random; always reported).

use serde_json::{Value, json};

use super::faults::StateConfig;
use crate::builtin::{Func, TargetKind};
use crate::experiment::model::{BlastMode, BlastRadius, Experiment};
use crate::ledger::guard;
use crate::target::container_selector::ContainerSelector;
use crate::target::docker::{ContainerInfo, Engine};
use crate::target::process::ProcessInfo;
use crate::target::protected::Protected;
use crate::target::selector::{Pick, ProcessSelector, pick};
use crate::target::swarm::{self, TaskInfo};

/// The targets an activity would hit now: how many matched, which victims the seed picks.
#[derive(Debug, Clone)]
pub struct Selection<T> {
    /// How many targets matched.
    pub matched: usize,
    /// The picked victims.
    pub victims: Vec<T>,
    /// Blast-radius mode name.
    pub mode: &'static str,
    /// The seed used (always reported so a run can be reproduced).
    pub seed: u64,
    /// A warning (a percentage that rounds to zero, …).
    pub warning: Option<String>,
}

impl<T> Selection<T> {
    /// The same selection with its victims described as JSON.
    pub fn described(&self, describe: impl Fn(&T) -> Value) -> Selection<Value> {
        Selection {
            matched: self.matched,
            victims: self.victims.iter().map(describe).collect(),
            mode: self.mode,
            seed: self.seed,
            warning: self.warning.clone(),
        }
    }
}

/// A process as it appears in run events and the plan.
pub fn describe_process(p: &ProcessInfo) -> Value {
    json!({"pid": p.identity.pid, "name": p.name})
}

/// Resolves a process `arguments.target` and picks victims.
pub fn select_processes(
    experiment: &Experiment,
    state: Option<&StateConfig>,
    seed: Option<u64>,
    args: &Value,
) -> Result<Selection<ProcessInfo>, String> {
    let target = args.get("target").ok_or("arguments.target is required")?;
    let selector = ProcessSelector::parse(target).map_err(|e| e.to_string())?;
    let protected = Protected::current().with_guard(state.and_then(|s| guard::guard_pid(&s.dir)));
    let matched = selector.find(&protected);
    if matched.is_empty() {
        return Err(format!("no process matches the target {target}"));
    }
    choose(experiment, seed, args, matched)
}

/// Resolves a container `arguments.target` (running containers) and picks victims.
pub async fn select_containers(
    engine: &Engine,
    experiment: &Experiment,
    seed: Option<u64>,
    args: &Value,
) -> Result<Selection<ContainerInfo>, String> {
    let target = args.get("target").ok_or("arguments.target is required")?;
    let selector = ContainerSelector::parse(target).map_err(|e| e.to_string())?;
    let matched = selector.find(engine).await.map_err(|e| e.to_string())?;
    if matched.is_empty() {
        return Err(format!("no running container matches the target {target}"));
    }
    choose(experiment, seed, args, matched)
}

/// The Swarm service `arguments.service` names, unless it opted out.
pub async fn service_target(engine: &Engine, args: &Value) -> Result<swarm::ServiceInfo, String> {
    let name = args
        .get("service")
        .and_then(Value::as_str)
        .ok_or("arguments.service is required")?;
    let service = swarm::service(engine, name)
        .await
        .map_err(|e| e.to_string())?;
    if service.opted_out() {
        return Err(format!(
            "service {name} is labelled monkeywrench.skip=true and is never a target"
        ));
    }
    Ok(service)
}

/// Resolves `arguments.service` to its running tasks and picks victims.
pub async fn select_tasks(
    engine: &Engine,
    experiment: &Experiment,
    seed: Option<u64>,
    args: &Value,
) -> Result<Selection<TaskInfo>, String> {
    let service = service_target(engine, args).await?;
    let name = &service.name;
    let matched = swarm::running_tasks(engine, &service)
        .await
        .map_err(|e| e.to_string())?;
    if matched.is_empty() {
        return Err(format!("service {name} has no running task"));
    }
    choose(experiment, seed, args, matched)
}

/// The targets a target-taking builtin would hit now, described (for `--dry-run`).
pub async fn preview(
    experiment: &Experiment,
    state: Option<&StateConfig>,
    seed: Option<u64>,
    func: Func,
    args: &Value,
) -> Result<Selection<Value>, String> {
    match func.target_kind() {
        Some(TargetKind::Process) => {
            Ok(select_processes(experiment, state, seed, args)?.described(describe_process))
        }
        Some(TargetKind::Container) => {
            let engine = Engine::connect().await.map_err(|e| e.to_string())?;
            Ok(select_containers(&engine, experiment, seed, args)
                .await?
                .described(ContainerInfo::describe))
        }
        Some(TargetKind::SwarmTask) => {
            let engine = Engine::connect().await.map_err(|e| e.to_string())?;
            Ok(select_tasks(&engine, experiment, seed, args)
                .await?
                .described(TaskInfo::describe))
        }
        None => Err(format!("{} takes no targets", func.name())),
    }
}

/// Picks victims among `matched` by the blast radius and seed.
fn choose<T: Clone>(
    experiment: &Experiment,
    seed: Option<u64>,
    args: &Value,
    matched: Vec<T>,
) -> Result<Selection<T>, String> {
    let radius = match args.get("blast-radius") {
        Some(v) => parse_blast_radius(v)?,
        None => experiment.blast_radius.clone().unwrap_or(BlastRadius {
            mode: BlastMode::One,
            seed: None,
        }),
    };
    let seed = radius.seed.or(seed).unwrap_or_else(rand::random);
    let picked = pick(matched.len(), &to_pick(&radius.mode), seed);
    Ok(Selection {
        matched: matched.len(),
        victims: picked.indices.iter().map(|i| matched[*i].clone()).collect(),
        mode: mode_name(&radius.mode),
        seed,
        warning: picked.warning,
    })
}

/// Parses an activity-level `arguments.blast-radius` override.
pub fn parse_blast_radius(v: &Value) -> Result<BlastRadius, String> {
    let (pick, seed) = crate::target::selector::parse_pick(v)?;
    let mode = match pick {
        Pick::One => BlastMode::One,
        Pick::All => BlastMode::All,
        Pick::Fixed(n) => BlastMode::Fixed(n),
        Pick::FixedPercent(p) => BlastMode::FixedPercent(p),
        Pick::RandomMaxPercent(p) => BlastMode::RandomMaxPercent(p),
    };
    Ok(BlastRadius { mode, seed })
}

fn to_pick(mode: &BlastMode) -> Pick {
    match mode {
        BlastMode::One => Pick::One,
        BlastMode::All => Pick::All,
        BlastMode::Fixed(n) => Pick::Fixed(*n),
        BlastMode::FixedPercent(p) => Pick::FixedPercent(*p),
        BlastMode::RandomMaxPercent(p) => Pick::RandomMaxPercent(*p),
    }
}

fn mode_name(mode: &BlastMode) -> &'static str {
    match mode {
        BlastMode::One => "one",
        BlastMode::All => "all",
        BlastMode::Fixed(_) => "fixed",
        BlastMode::FixedPercent(_) => "fixed-percent",
        BlastMode::RandomMaxPercent(_) => "random-max-percent",
    }
}
