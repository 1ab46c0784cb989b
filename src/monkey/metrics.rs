//! The daemon's counters, rendered in Prometheus text format on `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

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

    /// The exposition text.
    pub fn render(&self) -> String {
        self.with(|c| {
            let mut out = String::new();
            let _ = writeln!(
                out,
                "# HELP monkeywrench_monkey_kills_total Terminations by outcome.\n# TYPE monkeywrench_monkey_kills_total counter"
            );
            for (outcome, n) in &c.kills {
                let _ = writeln!(out, "monkeywrench_monkey_kills_total{{outcome=\"{outcome}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "# HELP monkeywrench_monkey_skips_total Skipped kills by reason.\n# TYPE monkeywrench_monkey_skips_total counter"
            );
            for (reason, n) in &c.skips {
                let _ = writeln!(out, "monkeywrench_monkey_skips_total{{reason=\"{reason}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "# HELP monkeywrench_monkey_planned_kills_total Kills put in daily plans.\n# TYPE monkeywrench_monkey_planned_kills_total counter\nmonkeywrench_monkey_planned_kills_total {}",
                c.planned
            );
            let _ = writeln!(
                out,
                "# HELP monkeywrench_monkey_last_plan_timestamp_seconds When the last plan was made.\n# TYPE monkeywrench_monkey_last_plan_timestamp_seconds gauge\nmonkeywrench_monkey_last_plan_timestamp_seconds {}",
                c.last_plan_seconds
            );
            out
        })
    }
}
