//! `run --dry-run`: print what would run (substituted, secrets redacted) and execute nothing.

use serde_json::Value;

use super::prepare::Prepared;
use crate::experiment::configure;
use crate::experiment::engine::{StateConfig, select_targets};
use crate::experiment::model::{
    Activity, ActivityKind, ConfigValue, Experiment, Provider, Seconds,
};
use crate::experiment::redact::Redactor;
use crate::experiment::substitute::Substitutions;

/// Prints the plan to stdout; faults show the targets matched now and the victims the seed picks.
pub fn print_plan(
    experiment: &Experiment,
    prepared: &Prepared,
    state: Option<&StateConfig>,
    seed: Option<u64>,
) -> anyhow::Result<()> {
    let env = |k: &str| prepared.env(k);
    let resolved = configure::resolve(experiment, &env)?;
    let subs = Substitutions::new(&resolved.configuration, &resolved.secrets);
    let redactor = Redactor::new(resolved.secret_values);
    let title = match subs.text(&experiment.title) {
        Value::String(s) => s,
        other => other.to_string(),
    };
    println!(
        "plan for \"{}\" (nothing will be executed)",
        redactor.redact_str(&title)
    );
    let dynamic: Vec<&str> = experiment
        .configuration
        .iter()
        .filter(|(_, v)| matches!(v, ConfigValue::Dynamic(_)))
        .map(|(k, _)| k.as_str())
        .collect();
    if !dynamic.is_empty() {
        println!(
            "  note: dynamic configuration not resolved in a dry run: {}",
            dynamic.join(", ")
        );
    }
    let show = |section: &str, activities: &[Activity]| {
        if activities.is_empty() {
            return;
        }
        println!("{section}:");
        for a in activities {
            let kind = match a.kind {
                ActivityKind::Probe => "probe",
                ActivityKind::Action => "action",
            };
            let provider = a.document.get("provider").cloned().unwrap_or(Value::Null);
            let shown = redactor.redact_value(&subs.value(&provider));
            let bg = if a.background { " (background)" } else { "" };
            println!("  - {kind} \"{}\"{bg}: {shown}", a.name);
            if let Provider::Builtin(b) = &a.provider
                && b.func.takes_targets()
            {
                let args = subs.value(&b.arguments);
                match select_targets(experiment, state, seed, &args) {
                    Ok(sel) => {
                        let victims: Vec<String> = sel
                            .victims
                            .iter()
                            .map(|v| format!("{} ({})", v.identity.pid, v.name))
                            .collect();
                        println!(
                            "      targets: {} matched; {} picks {} with seed {}: {}",
                            sel.matched,
                            sel.mode,
                            victims.len(),
                            sel.seed,
                            victims.join(", ")
                        );
                        if let Some(w) = sel.warning {
                            println!("      warning: {w}");
                        }
                    }
                    Err(e) => println!("      targets: {e}"),
                }
                let revert = if b.func.is_reversible() {
                    match &a.duration {
                        Some(Seconds::Literal(s)) => format!("reverted after {s} s"),
                        Some(Seconds::Var(v)) => format!("reverted after ${{{v}}} s"),
                        None => "reverted when the method ends (deadline: --max-duration, 1 h by default)".into(),
                    }
                } else {
                    "irreversible".into()
                };
                println!("      revert: {revert}");
            }
        }
    };
    if let Some(h) = &experiment.hypothesis {
        show("steady-state hypothesis", &h.probes);
    }
    show("method", &experiment.method);
    show("rollbacks", &experiment.rollbacks);
    let safeguards: Vec<Activity> = experiment
        .safeguards
        .iter()
        .map(|s| s.probe.clone())
        .collect();
    show("safeguards", &safeguards);
    Ok(())
}
