//! What selection needs from a run (the experiment's blast radius, `--seed`, the guard's pid),
//! and the `--dry-run` preview of the victims a fault call would hit now.

use serde_json::Value;

use super::faults::StateConfig;
use crate::builtin::{Action, Func};
use crate::experiment::model::Experiment;
use crate::fault::{self, Family, Fault, Selecting};
use crate::ledger::guard;
use crate::schema::describe_problems;
use crate::target::Selection;
use crate::target::protected::Protected;

/// The run's inputs to every selection.
pub(super) fn selecting(
    experiment: &Experiment,
    state: Option<&StateConfig>,
    seed: Option<u64>,
) -> Selecting {
    Selecting {
        radius: experiment.blast_radius.clone().unwrap_or_default(),
        seed,
        protected: Protected::current().with_guard(state.and_then(|s| guard::guard_pid(&s.dir))),
    }
}

/// The victims a target-taking builtin would hit now, described (for `--dry-run`).
pub async fn preview(
    experiment: &Experiment,
    state: Option<&StateConfig>,
    seed: Option<u64>,
    func: Func,
    args: &Value,
) -> Result<Selection<Value>, String> {
    let selecting = selecting(experiment, state, seed);
    let bad = |problems: Vec<_>| format!("invalid arguments: {}", describe_problems(&problems));
    let picked = match func {
        Func::Fault(f) => match f.parse(args).map_err(bad)? {
            Fault::Process(f) => picked(&f, &selecting).await,
            Fault::Container(f) => picked(&f, &selecting).await,
            Fault::Swarm(f) => picked(&f, &selecting).await,
            Fault::Proxy(f) => picked(&f, &selecting).await,
            Fault::Stress(f) if f.on_host() => return Err("the host itself (scope: host)".into()),
            Fault::Stress(f) => picked(&f, &selecting).await,
            Fault::Surge(f) => picked(&f, &selecting).await,
            Fault::K8s(f) => picked(&f, &selecting).await,
        },
        Func::Action(Action::ProcessResume) => {
            let (_, selection) = resume_victims(args, &selecting).await?;
            Ok(Some(selection))
        }
        Func::Probe(_)
        | Func::Action(Action::FileRename | Action::FileRemove | Action::K8sNetworkRemove) => {
            Ok(None)
        }
    };
    picked?.ok_or_else(|| format!("{} takes no targets", func.name()))
}

async fn picked<F: Family>(
    fault: &F,
    selecting: &Selecting,
) -> Result<Option<Selection<Value>>, String> {
    let victims = fault.victims(selecting).await.map_err(|e| e.to_string())?;
    Ok(victims.selection)
}

/// `process.resume`'s victims.
pub(super) async fn resume_victims(
    args: &Value,
    selecting: &Selecting,
) -> Result<(Vec<crate::target::process::ProcessInfo>, Selection<Value>), String> {
    let targets = fault::process::parse_resume(args)
        .map_err(|p| format!("invalid arguments: {}", describe_problems(&p)))?;
    let victims = targets
        .victims(selecting)
        .await
        .map_err(|e| e.to_string())?;
    let selection = victims
        .selection
        .ok_or("process.resume picked no victims")?;
    Ok((victims.list, selection))
}
