//! `traffic.compare`'s cost with 1 000 000 requests in each cohort: the comparison on the
//! latency histograms (what the proxy does) against an exact Mann–Whitney U on the raw samples
//! (sort and rank 2 000 000 latencies) as the baseline, in the same run.
//!   cargo bench --bench cohorts

use std::time::Instant;

use hdrhistogram::Histogram;
use monkeywrench::proxy::http::compare::{Arm, Thresholds, judge};
use monkeywrench::seed::SeededRng;

const N: usize = 1_000_000;

fn latencies(rng: &mut SeededRng, extra_ms: f64) -> Vec<u64> {
    (0..N)
        .map(|_| ((10.0 - 20.0 * (1.0 - rng.unit()).ln() + extra_ms) * 1000.0) as u64)
        .collect()
}

/// The exact U statistic of `b` over `a` with midranks for ties.
fn exact_u(a: &[u64], b: &[u64]) -> f64 {
    let mut all: Vec<(u64, bool)> = a
        .iter()
        .map(|&v| (v, false))
        .chain(b.iter().map(|&v| (v, true)))
        .collect();
    all.sort_unstable();
    let (mut rank_sum_b, mut i) = (0.0, 0);
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mid = (i + j + 1) as f64 / 2.0;
        rank_sum_b += mid * all[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let nb = b.len() as f64;
    rank_sum_b - nb * (nb + 1.0) / 2.0
}

fn main() {
    let mut rng = SeededRng::new(1);
    let (control, experiment) = (latencies(&mut rng, 0.0), latencies(&mut rng, 2.0));
    let histogram = |v: &[u64]| {
        let mut h = Histogram::<u32>::new_with_bounds(1, 600_000_000, 2).unwrap();
        for &x in v {
            h.record(x).unwrap();
        }
        h
    };
    let (hc, he) = (histogram(&control), histogram(&experiment));
    let arm = |h| Arm {
        requests: N as u64,
        errors: N as u64 / 100,
        latency: h,
    };
    let t = Thresholds {
        alpha: 0.05,
        max_error_rate_increase: 0.005,
        max_latency_increase_ms: Some(0.0),
        max_p99_increase_ms: Some(0.0),
        min_requests: 50,
    };
    let rounds = 20;
    let start = Instant::now();
    let mut best = monkeywrench::proxy::http::compare::NO_LOOKS;
    let mut verdict = serde_json::Value::Null;
    for _ in 0..rounds {
        verdict = judge(&arm(&hc), &arm(&he), &t, Some(&mut best));
    }
    let ours = start.elapsed().as_secs_f64() / rounds as f64;
    let start = Instant::now();
    let u = exact_u(&control, &experiment);
    let exact = start.elapsed().as_secs_f64();
    let auc_exact = u / (N as f64 * N as f64);
    println!("traffic.compare with {N} requests per cohort (a 2 ms shift on 10 ms + Exp(20 ms)):");
    println!("| method | time per comparison | AUC | shift |");
    println!("|---|---:|---:|---:|");
    println!(
        "| histograms (the proxy's) | {:.2} ms | – | {} ms, verdict {} |",
        ours * 1e3,
        verdict["latency"]["shift_ms"],
        verdict["verdict"]
    );
    println!(
        "| exact Mann–Whitney on the raw samples (baseline) | {:.0} ms | {auc_exact:.4} | – |",
        exact * 1e3
    );
    println!("ratio: {:.0}× faster than the exact test", exact / ours);
}
