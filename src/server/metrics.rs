//! The server's `/metrics`: runs by experiment and outcome and their durations (counted by this
//! process since it started, as Prometheus counters are), and gauges read at scrape time —
//! running runs, active leases, halted, and per experiment its next firing and last outcome —
//! so Alertmanager can page on "checkout-latency deviated".

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::exposition::{Exposition, Kind};
use crate::monkey::metrics::MonkeyMetrics;

/// Counters of finished runs.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default)]
struct Counts {
    /// (experiment, outcome) → runs.
    runs: BTreeMap<(String, String), u64>,
    /// experiment → (runs, seconds).
    durations: BTreeMap<String, (u64, f64)>,
    /// experiment → (last outcome, deviated).
    last: BTreeMap<String, (String, bool)>,
}

/// What is read at scrape time, per experiment.
#[derive(Debug, Clone, Default)]
pub struct ExperimentGauges {
    pub name: String,
    /// Unix seconds of the next planned firing.
    pub next_firing: Option<f64>,
    pub paused: bool,
}

/// The gauges of the whole server.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub running: usize,
    /// None when the store could not be read.
    pub active_leases: Option<usize>,
    pub halted: bool,
    pub experiments: Vec<ExperimentGauges>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one finished run.
    pub fn record(&self, experiment: &str, outcome: &str, seconds: f64) {
        let mut c = self.lock();
        *c.runs
            .entry((experiment.to_string(), outcome.to_string()))
            .or_default() += 1;
        let d = c.durations.entry(experiment.to_string()).or_default();
        d.0 += 1;
        d.1 += seconds;
    }

    /// Remembers an experiment's last outcome.
    pub fn set_last(&self, experiment: &str, outcome: &str, deviated: bool) {
        self.lock()
            .last
            .insert(experiment.to_string(), (outcome.to_string(), deviated));
    }

    /// The exposition, with `gauges` read by the caller just before, and the monkey's families
    /// when the server runs one.
    pub fn render(&self, gauges: &Gauges, monkey: Option<&MonkeyMetrics>) -> String {
        let c = self.lock();
        let mut x = Exposition::new();
        x.family(
            "monkeywrench_server_runs_total",
            Kind::Counter,
            "Runs finished by this server, by experiment and outcome (passed, deviated, failed, aborted, interrupted, not-recorded).",
        );
        for ((experiment, outcome), n) in &c.runs {
            x.sample(
                "monkeywrench_server_runs_total",
                &[("experiment", experiment), ("outcome", outcome)],
                n,
            );
        }
        x.family(
            "monkeywrench_server_run_duration_seconds",
            Kind::Summary,
            "Wall time of the runs finished by this server, by experiment.",
        );
        for (experiment, (n, sum)) in &c.durations {
            let labels = [("experiment", experiment.as_str())];
            x.sample("monkeywrench_server_run_duration_seconds_sum", &labels, sum);
            x.sample("monkeywrench_server_run_duration_seconds_count", &labels, n);
        }
        x.single(
            "monkeywrench_server_running_runs",
            Kind::Gauge,
            "Runs this server is running now.",
            gauges.running,
        );
        if let Some(n) = gauges.active_leases {
            x.single(
                "monkeywrench_server_active_leases",
                Kind::Gauge,
                "Faults in the ledger that may still be in effect.",
                n,
            );
        }
        x.single(
            "monkeywrench_server_halted",
            Kind::Gauge,
            "1 while monkeywrench halt is in force (no firing starts, no fault applies).",
            u8::from(gauges.halted),
        );
        x.family(
            "monkeywrench_server_schedule_paused",
            Kind::Gauge,
            "1 while the experiment's schedule is paused.",
        );
        for e in &gauges.experiments {
            x.sample(
                "monkeywrench_server_schedule_paused",
                &[("experiment", &e.name)],
                u8::from(e.paused),
            );
        }
        x.family(
            "monkeywrench_server_next_firing_timestamp_seconds",
            Kind::Gauge,
            "Unix time of the experiment's next planned firing.",
        );
        for e in &gauges.experiments {
            if let Some(t) = e.next_firing {
                x.sample(
                    "monkeywrench_server_next_firing_timestamp_seconds",
                    &[("experiment", &e.name)],
                    t,
                );
            }
        }
        x.family(
            "monkeywrench_server_last_outcome",
            Kind::Gauge,
            "1 for the outcome of the experiment's last run finished by this server.",
        );
        for (experiment, (outcome, _)) in &c.last {
            x.sample(
                "monkeywrench_server_last_outcome",
                &[("experiment", experiment), ("outcome", outcome)],
                1,
            );
        }
        x.family(
            "monkeywrench_server_last_run_deviated",
            Kind::Gauge,
            "1 when the experiment's last run finished by this server deviated from its steady state.",
        );
        for (experiment, (_, deviated)) in &c.last {
            x.sample(
                "monkeywrench_server_last_run_deviated",
                &[("experiment", experiment)],
                u8::from(*deviated),
            );
        }
        if let Some(monkey) = monkey {
            monkey.write(&mut x);
        }
        x.process_metrics();
        x.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_counted_by_experiment_and_outcome() {
        let m = Metrics::default();
        m.record("checkout", "passed", 1.5);
        m.record("checkout", "deviated", 2.5);
        m.record("checkout", "deviated", 1.0);
        m.set_last("checkout", "deviated", true);
        let monkey = MonkeyMetrics::default();
        monkey.kill("killed");
        let text = m.render(
            &Gauges {
                running: 1,
                active_leases: Some(2),
                halted: true,
                experiments: vec![ExperimentGauges {
                    name: "checkout".into(),
                    next_firing: Some(1_700_000_000.0),
                    paused: false,
                }],
            },
            Some(&monkey),
        );
        for line in [
            "monkeywrench_server_runs_total{experiment=\"checkout\",outcome=\"deviated\"} 2",
            "monkeywrench_server_runs_total{experiment=\"checkout\",outcome=\"passed\"} 1",
            "monkeywrench_server_run_duration_seconds_sum{experiment=\"checkout\"} 5",
            "monkeywrench_server_run_duration_seconds_count{experiment=\"checkout\"} 3",
            "monkeywrench_server_active_leases 2",
            "monkeywrench_server_halted 1",
            "monkeywrench_server_running_runs 1",
            "monkeywrench_server_next_firing_timestamp_seconds{experiment=\"checkout\"} 1700000000",
            "monkeywrench_server_last_outcome{experiment=\"checkout\",outcome=\"deviated\"} 1",
            "monkeywrench_server_last_run_deviated{experiment=\"checkout\"} 1",
            "monkeywrench_monkey_kills_total{outcome=\"killed\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
