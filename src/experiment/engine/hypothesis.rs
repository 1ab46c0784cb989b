//! One pass over the steady-state hypothesis probes (before, during or after the method).

use tokio_util::sync::CancellationToken;

use super::activity::{execute, report};
use serde_json::{Value, json};

use super::context::RunContext;
use super::python;
use super::tolerance;
use crate::experiment::event::{Entry, EntryStatus, Phase, ProbeVerdict, RunEvent};
use crate::experiment::model::ControlScope;
use crate::experiment::model::{Activity, Hypothesis};
use crate::experiment::python::controls::Level;

/// Runs the hypothesis probes in order, stopping at the first unmet or errored one; reports each
/// probe, then the pass. Returns the worst verdict (`Met` when there are no probes).
pub(super) async fn check(
    ctx: &RunContext,
    hypothesis: &Hypothesis,
    phase: Phase,
    cancel: &CancellationToken,
) -> ProbeVerdict {
    python::hooks(
        ctx,
        Level::Hypothesis,
        ControlScope::Before,
        &hypothesis.controls,
        &hypothesis.document,
        || Value::Null,
    )
    .await;
    let mut worst = ProbeVerdict::Met;
    let mut probes = Vec::new();
    for (seq, probe) in hypothesis.probes.iter().enumerate() {
        let (entry, verdict) = judged_probe(ctx, probe, phase, seq, cancel).await;
        report(ctx, phase, seq, probe, &entry);
        probes.push(entry);
        worst = verdict;
        if verdict != ProbeVerdict::Met {
            break;
        }
    }
    python::hooks(
        ctx,
        Level::Hypothesis,
        ControlScope::After,
        &hypothesis.controls,
        &hypothesis.document,
        || json!({"steady_state_met": worst == ProbeVerdict::Met, "probes": probes}),
    )
    .await;
    ctx.events.emit(RunEvent::HypothesisChecked {
        phase,
        result: worst,
    });
    worst
}

/// Runs one probe and judges its tolerance; the entry carries `tolerance_met`.
pub(super) async fn judged_probe(
    ctx: &RunContext,
    probe: &Activity,
    phase: Phase,
    seq: usize,
    cancel: &CancellationToken,
) -> (Entry, ProbeVerdict) {
    let mut entry = execute(ctx, probe, phase, seq, cancel).await;
    let dry = ctx.dry_for(probe).is_some_and(|d| d.skips(probe.kind));
    let verdict = if entry.status == EntryStatus::Failed {
        ProbeVerdict::Errored
    } else if dry {
        ProbeVerdict::Met
    } else {
        match &probe.tolerance {
            None => ProbeVerdict::Met,
            Some(tol) => match tolerance::judge(ctx, tol, &entry.output).await {
                Ok(true) => ProbeVerdict::Met,
                Ok(false) => ProbeVerdict::Unmet,
                Err(message) => {
                    entry.status = EntryStatus::Failed;
                    entry.exception = Some(Entry::exception_for(&format!(
                        "activity \"{}\": tolerance could not be evaluated: {message}",
                        probe.name
                    )));
                    ProbeVerdict::Errored
                }
            },
        }
    };
    entry.tolerance_met = Some(verdict == ProbeVerdict::Met);
    (entry, verdict)
}
