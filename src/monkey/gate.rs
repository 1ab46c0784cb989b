//! The outage gate: probes with tolerances, as in an experiment's hypothesis, run through the
//! experiment engine. Any probe unmet **or erroring** skips the kill (fail closed).

use serde_json::Value;
use tokio::sync::mpsc;

use crate::experiment::dispatcher::Dispatcher;
use crate::experiment::engine::{self, RunSettings};
use crate::experiment::model::{Experiment, HypothesisStrategy};

/// Runs the gate; `Err` carries the reason the kill must be skipped.
pub(super) async fn check(gate: &Experiment) -> Result<(), String> {
    let settings = RunSettings {
        hypothesis_strategy: Some(HypothesisStrategy::BeforeMethodOnly),
        cwd: std::env::current_dir().unwrap_or_else(|_| ".".into()),
        ..RunSettings::default()
    };
    let (dispatcher, events) = Dispatcher::start(Vec::new());
    // Nothing interrupts a gate check; the sender is kept so the channel stays open.
    let (_interrupts, interrupt_rx) = mpsc::unbounded_channel();
    let env = |k: &str| std::env::var(k).ok();
    let report = engine::run(gate.clone(), settings, events, interrupt_rx, &env)
        .await
        .map_err(|e| format!("outage-gate: {e}"))?;
    let journal = dispatcher
        .finish()
        .await
        .map(|j| j.to_json())
        .unwrap_or(Value::Null);
    if report.verdict.exit_code == crate::exit_code::OK {
        return Ok(());
    }
    let failing: Vec<String> = journal["steady_states"]["before"]["probes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["tolerance_met"] != Value::Bool(true))
        .map(|p| {
            let name = p["activity"]["name"].as_str().unwrap_or("?");
            match p["exception"]
                .as_array()
                .and_then(|e| e.first())
                .and_then(Value::as_str)
            {
                Some(err) => format!("{name} errored ({})", err.trim()),
                None => format!("{name} not met (output {})", p["output"]),
            }
        })
        .collect();
    Err(if failing.is_empty() {
        format!("outage-gate: status {:?}", report.verdict.status)
    } else {
        format!("outage-gate: {}", failing.join("; "))
    })
}
