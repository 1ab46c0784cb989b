//! Loops that watch the system while the method runs: the during-hypothesis iterations and the
//! safeguards. Both stop when `stop` is cancelled; a deviation or a breach cancels the method.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::context::RunContext;
use super::hypothesis;
use crate::experiment::event::{Interruption, InterruptionKind, Phase, ProbeVerdict, RunEvent};
use crate::experiment::model::{Hypothesis, Safeguard};

/// Runs hypothesis iterations until `stop`: the first starts with the method, then one every
/// `--hypothesis-frequency` (the wait is *between* iterations).
pub(super) async fn during_loop(
    ctx: Arc<RunContext>,
    hypothesis: Hypothesis,
    stop: CancellationToken,
) {
    loop {
        // Probes in flight are cut only by an interruption; a normal stop lets the iteration finish.
        let verdict = hypothesis::check(
            &ctx,
            &hypothesis,
            Phase::HypothesisDuring,
            &ctx.method_cancel,
        )
        .await;
        if ctx.interrupted() {
            return;
        }
        if verdict != ProbeVerdict::Met && ctx.fail_fast() {
            ctx.events.emit(RunEvent::FailFastTripped);
            ctx.method_cancel.cancel();
            // The method is being cut short; further iterations would only record cancellations.
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(ctx.hypothesis_frequency()) => {}
            _ = stop.cancelled() => return,
        }
        if stop.is_cancelled() {
            return;
        }
    }
}

/// Checks a safeguard once; returns whether the check was a breach (unmet or errored: fail closed).
pub(super) async fn check_safeguard(
    ctx: &RunContext,
    safeguard: &Safeguard,
    cancel: &CancellationToken,
) -> bool {
    let (entry, verdict) =
        hypothesis::judged_probe(ctx, &safeguard.probe, Phase::Safeguard, 0, cancel).await;
    let breached = verdict != ProbeVerdict::Met;
    ctx.events.emit(RunEvent::SafeguardChecked {
        name: safeguard.probe.name.clone(),
        breached,
        tripped: false,
        output: entry.output,
    });
    breached
}

/// Watches one safeguard until `stop`; trips after `failures` consecutive breaches.
pub(super) async fn safeguard_loop(
    ctx: Arc<RunContext>,
    safeguard: Safeguard,
    stop: CancellationToken,
) {
    let mut consecutive = 0u32;
    let frequency = std::time::Duration::from_secs_f64(safeguard.frequency);
    loop {
        if stop.is_cancelled() {
            return;
        }
        let breached = tokio::select! {
            b = check_safeguard(&ctx, &safeguard, &stop) => b,
            _ = stop.cancelled() => return,
        };
        consecutive = if breached { consecutive + 1 } else { 0 };
        if consecutive >= safeguard.failures.max(1) {
            trip(&ctx, &safeguard.probe.name, consecutive);
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(frequency) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// Reports a tripped safeguard (unless the run is already interrupted) and stops the method.
pub(super) fn trip(ctx: &RunContext, name: &str, breaches: u32) {
    let interruption = Interruption {
        kind: InterruptionKind::Safeguard,
        name: name.to_string(),
        reason: format!("safeguard \"{name}\" broke ({breaches} consecutive breach(es))"),
    };
    ctx.events.emit_with(|state| {
        if state.interrupted() {
            return Vec::new();
        }
        vec![
            RunEvent::SafeguardChecked {
                name: name.to_string(),
                breached: true,
                tripped: true,
                output: serde_json::Value::Null,
            },
            RunEvent::Interrupted { interruption },
        ]
    });
    ctx.method_cancel.cancel();
}
