//! One pass over the steady-state hypothesis probes (before, during or after the method).

use tokio_util::sync::CancellationToken;

use super::activity::{execute, report};
use super::context::RunContext;
use super::tolerance;
use crate::experiment::event::{Entry, EntryStatus, Phase, RunEvent, SteadyState};
use crate::experiment::model::{Activity, Hypothesis};

/// The verdict on one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeVerdict {
    /// Within tolerance (or dry: not judged).
    Met,
    /// Outside tolerance.
    Unmet,
    /// The probe or its tolerance errored.
    Errored,
}

/// Runs the hypothesis probes in order, stopping at the first unmet or errored one.
pub async fn check(
    ctx: &RunContext,
    hypothesis: &Hypothesis,
    phase: Phase,
    cancel: &CancellationToken,
) -> (SteadyState, Option<ProbeVerdict>) {
    let mut probes = Vec::new();
    let mut worst = None;
    for (seq, probe) in hypothesis.probes.iter().enumerate() {
        let (entry, verdict) = judged_probe(ctx, probe, phase, seq, cancel).await;
        report(ctx, phase, seq, &entry);
        probes.push(entry);
        worst = Some(verdict);
        if verdict != ProbeVerdict::Met {
            break;
        }
    }
    let met = match worst {
        None => Some(true),
        Some(v) => Some(v == ProbeVerdict::Met),
    };
    let state = SteadyState {
        steady_state_met: met,
        probes,
    };
    ctx.events.emit(RunEvent::HypothesisChecked {
        phase,
        state: state.clone(),
        met,
    });
    (state, worst)
}

/// Runs one probe and judges its tolerance; the entry carries `tolerance_met`.
pub async fn judged_probe(
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
