//! Planning time and memory for 10 000 groups / 100 000 instances (target: ≤ 100 ms).
//!
//! `cargo bench --bench monkey_plan` prints the median of 15 runs for grouping + the daily draw,
//! and, as a machine-speed baseline measured in the same run, the median time to sort the
//! 100 000 instance names; plus the resident memory the inventory and plan add.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use monkeywrench::monkey::calendar::Calendar;
use monkeywrench::monkey::config::{Grouping, MonkeyConfig};
use monkeywrench::monkey::inventory::{Instance, InstanceRef, group};
use monkeywrench::monkey::planner::plan_day;

const GROUPS: usize = 10_000;
const INSTANCES: usize = 100_000;
const RUNS: usize = 15;

fn instances() -> Vec<Instance> {
    (0..INSTANCES)
        .map(|i| Instance {
            name: format!("app{}-{i}", i % GROUPS),
            target: InstanceRef::Container {
                id: format!("{i:064x}"),
            },
            app: format!("app{}", i % GROUPS),
            stack: "prod".into(),
            cluster: String::new(),
            overrides: BTreeMap::new(),
        })
        .collect()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let config = MonkeyConfig {
        grouping: Grouping::Stack,
        mean_time_between_kills: 2.0,
        ..MonkeyConfig::default()
    };
    let calendar = Calendar::new(&config);
    let day = "2026-12-02".parse().unwrap();
    let now: Timestamp = "2026-12-02T06:00:00Z".parse().unwrap();

    let mut plan_times = Vec::new();
    let mut sort_times = Vec::new();
    let mut planned = 0;
    let mut grow_kib = 0;
    for _ in 0..RUNS {
        let input = instances();
        let mut names: Vec<String> = input.iter().map(|i| i.name.clone()).collect();
        let t = Instant::now();
        names.sort();
        sort_times.push(t.elapsed());

        let before = rss_kib();
        let t = Instant::now();
        let inventory = group(&config, input);
        let plan = plan_day(&calendar, &inventory.candidates(), day, now, 7);
        plan_times.push(t.elapsed());
        grow_kib = grow_kib.max(rss_kib().saturating_sub(before));
        assert_eq!(inventory.groups.len(), GROUPS);
        planned = plan.kills.len();
    }
    let plan = median(plan_times);
    let sort = median(sort_times);
    println!(
        "monkey plan: {GROUPS} groups / {INSTANCES} instances: median {:.1} ms over {RUNS} runs \
         ({planned} kills planned); target 100 ms → {:.2}× the budget",
        plan.as_secs_f64() * 1000.0,
        plan.as_secs_f64() / 0.1
    );
    println!(
        "baseline (same run): sorting the {INSTANCES} names takes {:.1} ms → planning = {:.1}× a sort",
        sort.as_secs_f64() * 1000.0,
        plan.as_secs_f64() / sort.as_secs_f64()
    );
    println!(
        "resident memory added by grouping + plan: {:.1} MiB",
        grow_kib as f64 / 1024.0
    );
}
