//! `run --dry-run`: print what would run (substituted, secrets redacted) and execute nothing.

use serde_json::Value;

use super::failure::Blameworthy;
use super::prepare::Prepared;
use crate::experiment::configure;
use crate::experiment::engine::{StateConfig, preview};
use crate::experiment::model::{
    Activity, ActivityKind, ConfigValue, Experiment, Provider, Seconds,
};
use crate::experiment::redact::Redactor;
use crate::experiment::substitute::Substitutions;
use crate::target::label::label;

/// Prints the plan to stdout; faults show the targets matched now and the victims the seed picks.
pub(super) async fn print_plan(
    experiment: &Experiment,
    prepared: &Prepared,
    state: Option<&StateConfig>,
    seed: Option<u64>,
) -> anyhow::Result<()> {
    let env = |k: &str| prepared.env(k);
    let resolved = configure::resolve(experiment, &env)
        .or_usage(|| "resolve the configuration".to_string())?;
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
    let view = PlanView {
        experiment,
        state,
        seed,
        subs: &subs,
        redactor: &redactor,
    };
    if let Some(h) = &experiment.hypothesis {
        view.show("steady-state hypothesis", &h.probes).await;
    }
    view.show("method", &experiment.method).await;
    view.show("rollbacks", &experiment.rollbacks).await;
    let safeguards: Vec<Activity> = experiment
        .safeguards
        .iter()
        .map(|s| s.probe.clone())
        .collect();
    view.show("safeguards", &safeguards).await;
    Ok(())
}

/// What one section of the plan needs to print its activities.
struct PlanView<'a> {
    experiment: &'a Experiment,
    state: Option<&'a StateConfig>,
    seed: Option<u64>,
    subs: &'a Substitutions,
    redactor: &'a Redactor,
}

impl PlanView<'_> {
    async fn show(&self, section: &str, activities: &[Activity]) {
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
            let shown = self.redactor.redact_value(&self.subs.value(&provider));
            let bg = if a.background { " (background)" } else { "" };
            println!("  - {kind} \"{}\"{bg}: {shown}", a.name);
            let Provider::Builtin(b) = &a.provider else {
                continue;
            };
            if b.func.takes_targets() {
                let args = self.subs.value(&b.arguments);
                match preview(self.experiment, self.state, self.seed, b.func, &args).await {
                    Ok(sel) => {
                        let victims: Vec<String> = sel.victims.iter().map(label).collect();
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
            }
            if b.func.is_fault() {
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
    }
}
