//! The daemon's counters, rendered in Prometheus text format on `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::exposition::{Exposition, Kind};

/// Kills, skips and plans so far.
#[derive(Debug, Default)]
pub struct MonkeyMetrics {
    inner: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    kills: BTreeMap<String, u64>,
    skips: BTreeMap<String, u64>,
    planned: u64,
    last_plan_seconds: i64,
}

impl MonkeyMetrics {
    fn with<R>(&self, f: impl FnOnce(&mut Counters) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Counts a termination by outcome (`killed`, `failed`, `target-gone`, `leashed`).
    pub fn kill(&self, outcome: &str) {
        self.with(|c| *c.kills.entry(outcome.into()).or_default() += 1);
    }

    /// Counts a skipped kill by reason (the reason's first word, e.g. `outage-gate`).
    pub fn skip(&self, reason: &str) {
        let kind = reason
            .split([':', ' '])
            .next()
            .unwrap_or(reason)
            .to_string();
        self.with(|c| *c.skips.entry(kind).or_default() += 1);
    }

    /// Records a new plan.
    pub fn planned(&self, kills: usize, at_seconds: i64) {
        self.with(|c| {
            c.planned += kills as u64;
            c.last_plan_seconds = at_seconds;
        });
    }

    /// The exposition text, with this process's `process_*` series.
    pub fn render(&self) -> String {
        let mut out = Exposition::new();
        self.write(&mut out);
        out.process_metrics();
        out.finish()
    }

    /// The monkey's families only (the server adds them to its own exposition).
    pub fn write(&self, out: &mut Exposition) {
        self.with(|c| {
            let series = "monkeywrench_monkey_kills_total";
            out.family(series, Kind::Counter, "Terminations by outcome.");
            for (outcome, n) in &c.kills {
                out.sample(series, &[("outcome", outcome)], n);
            }
            let series = "monkeywrench_monkey_skips_total";
            out.family(series, Kind::Counter, "Skipped kills by reason.");
            for (reason, n) in &c.skips {
                out.sample(series, &[("reason", reason)], n);
            }
            out.single(
                "monkeywrench_monkey_planned_kills_total",
                Kind::Counter,
                "Kills put in daily plans.",
                c.planned,
            );
            out.single(
                "monkeywrench_monkey_last_plan_timestamp_seconds",
                Kind::Gauge,
                "When the last plan was made.",
                c.last_plan_seconds,
            );
        });
    }
}
