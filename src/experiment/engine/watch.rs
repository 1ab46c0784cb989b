//! Loops that watch the system while the method runs: the during-hypothesis iterations and the
//! safeguards. Both stop when `stop` is cancelled; a deviation or a breach cancels the method.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::context::RunContext;
use super::hypothesis::{self, ProbeVerdict};
use crate::experiment::event::{CancelReason, Interruption, Phase, RunEvent};
use crate::experiment::model::{Hypothesis, Safeguard};

/// Runs hypothesis iterations until `stop`: the first starts with the method, then one every
/// `--hypothesis-frequency` (the wait is *between* iterations).
pub async fn during_loop(ctx: Arc<RunContext>, hypothesis: Hypothesis, stop: CancellationToken) {
    loop {
        // Probes in flight are cut only by an interruption; a normal stop lets the iteration finish.
        let (_, verdict) = hypothesis::check(
            &ctx,
            &hypothesis,
            Phase::HypothesisDuring,
            &ctx.method_cancel,
        )
        .await;
        if ctx.facts(|f| f.interruption.is_some()) {
            return;
        }
        if verdict.is_some_and(|v| v != ProbeVerdict::Met) {
            ctx.facts(|f| f.deviated = true);
            if ctx.fail_fast() {
                ctx.facts(|f| f.fail_fast_tripped = true);
                ctx.cancel_method(CancelReason::FailFast);
                // The method is being cut short; further iterations would only record cancellations.
                return;
            }
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
pub async fn check_safeguard(
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
pub async fn safeguard_loop(ctx: Arc<RunContext>, safeguard: Safeguard, stop: CancellationToken) {
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

/// Records a tripped safeguard and stops the method.
pub fn trip(ctx: &RunContext, name: &str, breaches: u32) {
    let interruption = Interruption {
        kind: "safeguard".into(),
        name: name.to_string(),
        reason: format!("safeguard \"{name}\" broke ({breaches} consecutive breach(es))"),
    };
    if ctx.interrupt(&interruption, CancelReason::Safeguard) {
        ctx.events.emit(RunEvent::SafeguardChecked {
            name: name.to_string(),
            breached: true,
            tripped: true,
            output: serde_json::Value::Null,
        });
        ctx.events.emit(RunEvent::Interrupted { interruption });
    }
}
