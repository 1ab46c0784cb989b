//! `monkeywrench validate`: check an experiment file and report every problem at once.

use clap::Args;

use super::prepare::{OutputFormat, SourceArgs, prepare};
use crate::exit_code;
use crate::experiment::model::{Activity, Experiment, Provider};

/// Options of `monkeywrench validate`.
#[derive(Debug, Args)]
pub(super) struct ValidateArgs {
    /// Source and override options.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Also list monkeywrench extensions that `chaos run` would ignore or reject.
    #[arg(long)]
    pub portable: bool,
}

/// Runs the subcommand; returns the exit code (0 valid, 64 invalid).
pub(super) async fn execute(args: ValidateArgs) -> anyhow::Result<i32> {
    let Ok(prepared) = prepare(&args.source, None, args.source.output).await else {
        return Ok(exit_code::USAGE);
    };
    if args.portable {
        let uses = extension_uses(&prepared.experiment);
        if uses.is_empty() {
            eprintln!("portable: no monkeywrench extensions; `chaos run` can run this file");
        }
        for u in uses {
            eprintln!("portable: {u}");
        }
    }
    if args.source.output == OutputFormat::Text {
        eprintln!("{}: valid", args.source.source);
    }
    Ok(exit_code::OK)
}

/// Every place the experiment relies on a monkeywrench extension (spec §11).
pub(super) fn extension_uses(experiment: &Experiment) -> Vec<String> {
    let mut uses = Vec::new();
    if !experiment.safeguards.is_empty() {
        uses.push("safeguards: ignored by chaos run (no stop conditions there)".to_string());
    }
    if experiment.blast_radius.is_some() {
        uses.push("blast-radius: ignored by chaos run".to_string());
    }
    let hypothesis = experiment.hypothesis.iter().flat_map(|h| h.probes.iter());
    let all = hypothesis
        .chain(experiment.method.iter())
        .chain(experiment.rollbacks.iter());
    for activity in all {
        check_activity(activity, &mut uses);
    }
    uses
}

fn check_activity(activity: &Activity, uses: &mut Vec<String>) {
    let written_type = activity
        .document
        .get("provider")
        .and_then(|p| p.get("type"))
        .and_then(|t| t.as_str());
    if let (Provider::Builtin(b), Some("builtin")) = (&activity.provider, written_type) {
        uses.push(format!(
            "{}: builtin provider {} is rejected by chaos run",
            activity.location,
            b.func.name()
        ));
    }
    if activity.duration.is_some() {
        uses.push(format!(
            "{}: duration is ignored by chaos run",
            activity.location
        ));
    }
}
