//! `run --dry-run`: print what would run (substituted, secrets redacted) and execute nothing.

use serde_json::Value;

use super::prepare::Prepared;
use crate::experiment::configure;
use crate::experiment::model::{Activity, ActivityKind, ConfigValue, Experiment};
use crate::experiment::redact::Redactor;
use crate::experiment::substitute::Substitutions;

/// Prints the plan to stdout.
pub fn print_plan(experiment: &Experiment, prepared: &Prepared) -> anyhow::Result<()> {
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
