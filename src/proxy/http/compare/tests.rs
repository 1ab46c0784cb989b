//! The statistics on simulated traffic with fixed seeds: A/A runs looked at after every batch
//! of requests stay within alpha (a fixed-horizon test looked at as often does not), and A/B
//! differences are found within the requests the method predicts.

use hdrhistogram::Histogram;

use super::*;
use crate::seed::SeededRng;

struct Simulated {
    requests: u64,
    errors: u64,
    latency: Histogram<u32>,
}

impl Simulated {
    fn new() -> Simulated {
        Simulated {
            requests: 0,
            errors: 0,
            latency: Histogram::new_with_bounds(1, 600_000_000, 2).unwrap(),
        }
    }

    /// One request: an error with `error_rate`, latency 10 ms + an exponential with mean 20 ms
    /// + `extra_ms`.
    fn request(&mut self, rng: &mut SeededRng, error_rate: f64, extra_ms: f64) {
        self.requests += 1;
        self.errors += u64::from(rng.unit() < error_rate);
        let ms = 10.0 - 20.0 * (1.0 - rng.unit()).ln() + extra_ms;
        self.latency.record((ms * 1000.0) as u64).unwrap();
    }

    /// One request whose latency, with probability `slow_share`, is `slow_ms` more: a slow tail
    /// that leaves the median where it was.
    fn request_with_tail(&mut self, rng: &mut SeededRng, slow_share: f64, slow_ms: f64) {
        let extra = if rng.unit() < slow_share {
            slow_ms
        } else {
            0.0
        };
        self.request(rng, 0.02, extra);
    }

    fn arm(&self) -> Arm<'_> {
        Arm {
            requests: self.requests,
            errors: self.errors,
            latency: &self.latency,
        }
    }
}

fn thresholds(latency: Option<f64>) -> Thresholds {
    Thresholds {
        alpha: 0.05,
        max_error_rate_increase: 0.0,
        max_latency_increase_ms: latency,
        max_p99_increase_ms: None,
        min_requests: 50,
    }
}

/// Simulates one run, looking every `batch` requests per cohort up to `looks` times; the look at
/// which the verdict first says worse (sequential) and whether a fixed-horizon test repeated at
/// every look ever did.
fn run(
    seed: u64,
    looks: usize,
    batch: usize,
    exp_errors: f64,
    exp_extra_ms: f64,
    t: &Thresholds,
) -> (Option<usize>, bool) {
    run_with(seed, looks, batch, t, |rng, c, e| {
        c.request(rng, 0.02, 0.0);
        e.request(rng, exp_errors, exp_extra_ms);
    })
}

/// [`run`] with the requests of each step of a batch made by `step(rng, control, experiment)`.
fn run_with(
    seed: u64,
    looks: usize,
    batch: usize,
    t: &Thresholds,
    step: impl Fn(&mut SeededRng, &mut Simulated, &mut Simulated),
) -> (Option<usize>, bool) {
    let mut rng = SeededRng::new(seed);
    let (mut c, mut e) = (Simulated::new(), Simulated::new());
    let mut best = NO_LOOKS;
    let mut fixed_fired = false;
    for look in 1..=looks {
        for _ in 0..batch {
            step(&mut rng, &mut c, &mut e);
        }
        let fixed = judge(&c.arm(), &e.arm(), t, None);
        fixed_fired |= fixed["worse"] == true;
        let sequential = judge(&c.arm(), &e.arm(), t, Some(&mut best));
        if sequential["worse"] == true {
            return (Some(look), true);
        }
    }
    (None, fixed_fired)
}

#[test]
fn the_normal_distribution_function_is_accurate() {
    assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
    assert!((normal_cdf(1.959_963_985) - 0.975).abs() < 1e-6);
    assert!((normal_cdf(-2.326_347_874) - 0.01).abs() < 1e-6);
    assert!(normal_cdf(-9.0) < 1e-15 && normal_cdf(9.0) > 1.0 - 1e-15);
}

#[test]
fn a_a_runs_looked_at_forty_times_stay_within_alpha_unlike_a_repeated_fixed_test() {
    let t = thresholds(Some(0.0));
    let runs = 100;
    let (mut sequential_alarms, mut fixed_alarms) = (0, 0);
    for seed in 0..runs {
        let (first, fixed) = run(seed, 40, 100, 0.02, 0.0, &t);
        sequential_alarms += usize::from(first.is_some());
        fixed_alarms += usize::from(fixed);
    }
    eprintln!(
        "A/A: {sequential_alarms} sequential, {fixed_alarms} fixed-horizon false alarms in {runs} runs"
    );
    // alpha = 5 %: 5 of 100 expected at most; three standard deviations of a binomial above.
    let bound = 5.0 + 3.0 * (100.0f64 * 0.05 * 0.95).sqrt();
    assert!(
        (sequential_alarms as f64) <= bound,
        "{sequential_alarms} false alarms in {runs} A/A runs"
    );
    assert!(
        fixed_alarms as f64 > bound,
        "a fixed-horizon test looked at 40 times should inflate false alarms: {fixed_alarms}"
    );
}

/// Requests per cohort at which the mSPRT ratio for a true difference `theta` with per-request
/// variance `sigma2` reaches 1/alpha (the expected crossing, solving Λ(n) = 1/α for θ̂ = θ).
fn predicted(theta: f64, sigma2: f64, tau: f64, alpha: f64) -> f64 {
    let lambda = |n: f64| {
        let v = sigma2 / n;
        (v / (v + tau * tau)).sqrt()
            * (tau * tau * theta * theta / (2.0 * v * (v + tau * tau))).exp()
    };
    let mut n = 2.0;
    while lambda(n) < 1.0 / alpha {
        n *= 1.01;
    }
    n
}

#[test]
fn five_points_more_errors_are_found_within_the_predicted_requests() {
    let t = thresholds(None);
    let sigma2 = 0.02 * 0.98 + 0.07 * 0.93;
    let expected = predicted(0.05, sigma2, ERROR_RATE_TAU, t.alpha);
    let mut found = Vec::new();
    for seed in 1000..1040 {
        let (first, _) = run(seed, 100, 25, 0.07, 0.0, &t);
        let look = first
            .unwrap_or_else(|| panic!("seed {seed}: +5 % errors never found in 2500 requests"));
        found.push(look as f64 * 25.0);
    }
    found.sort_by(f64::total_cmp);
    let median = found[found.len() / 2];
    eprintln!("+5 % errors: found after {found:?} requests per cohort; predicted {expected:.0}");
    assert!(
        median > expected * 0.3 && median < expected * 2.0,
        "median {median} requests per cohort, predicted {expected:.0}"
    );
}

#[test]
fn twenty_milliseconds_slower_is_found_and_a_tolerated_shift_is_not() {
    let strict = thresholds(Some(0.0));
    let mut looks = Vec::new();
    for seed in 2000..2020 {
        let (first, _) = run(seed, 100, 25, 0.02, 20.0, &strict);
        looks.push(first.unwrap_or_else(|| panic!("seed {seed}: +20 ms never found")));
    }
    looks.sort();
    eprintln!("+20 ms: found at looks {looks:?} (25 requests each)");
    // The AUC of a 20 ms shift on a 20 ms exponential is ≈ 0.82: found within a few looks.
    assert!(looks[looks.len() / 2] <= 8, "{looks:?}");
    let lenient = thresholds(Some(40.0));
    for seed in 2000..2010 {
        let (first, _) = run(seed, 40, 25, 0.02, 20.0, &lenient);
        assert_eq!(
            first, None,
            "seed {seed}: a 20 ms shift is within a 40 ms margin"
        );
    }
}

#[test]
fn the_shift_estimate_and_the_verdicts_read_as_they_should() {
    let mut rng = SeededRng::new(7);
    let (mut c, mut e) = (Simulated::new(), Simulated::new());
    for _ in 0..2000 {
        c.request(&mut rng, 0.01, 0.0);
        e.request(&mut rng, 0.01, 15.0);
    }
    let judged = judge(&c.arm(), &e.arm(), &thresholds(Some(5.0)), None);
    let shift = judged["latency"]["shift_ms"].as_f64().unwrap();
    assert!((13.0..17.0).contains(&shift), "{judged}");
    assert_eq!(judged["verdict"], "worse");
    let better = judge(&e.arm(), &c.arm(), &thresholds(Some(5.0)), None);
    assert_eq!(better["verdict"], "better", "{better}");
    let few = Simulated::new();
    let empty = judge(
        &few.arm(),
        &e.arm(),
        &thresholds(None),
        Some(&mut NO_LOOKS.clone()),
    );
    assert_eq!(empty["verdict"], "not-enough-data");
    assert_eq!(empty["worse"], false);
}

fn tail_thresholds(margin_ms: f64) -> Thresholds {
    Thresholds {
        max_p99_increase_ms: Some(margin_ms),
        ..thresholds(None)
    }
}

#[test]
fn the_tail_test_stays_within_alpha_on_a_a_runs_looked_at_forty_times() {
    let t = tail_thresholds(0.0);
    let runs = 100;
    let mut alarms = 0;
    for seed in 3000..3000 + runs {
        let (first, _) = run(seed, 40, 100, 0.02, 0.0, &t);
        alarms += usize::from(first.is_some());
    }
    eprintln!("A/A, p99 judged: {alarms} false alarms in {runs} runs");
    let bound = 5.0 + 3.0 * (100.0f64 * 0.05 * 0.95).sqrt();
    assert!(
        (alarms as f64) <= bound,
        "{alarms} false alarms in {runs} A/A runs"
    );
}

#[test]
fn a_slow_tail_that_leaves_the_median_alone_is_found_by_the_p99_test_only() {
    // 5 % of the experiment's requests are 300 ms slower: its p99 rises by about 300 ms, its
    // median by about 1 ms.
    let tail = |rng: &mut SeededRng, c: &mut Simulated, e: &mut Simulated| {
        c.request_with_tail(rng, 0.0, 0.0);
        e.request_with_tail(rng, 0.05, 300.0);
    };
    let shift = thresholds(Some(20.0));
    let p99 = tail_thresholds(100.0);
    let mut found = Vec::new();
    for seed in 4000..4020 {
        let (by_shift, _) = run_with(seed, 40, 50, &shift, tail);
        assert_eq!(
            by_shift, None,
            "seed {seed}: the shift test should not see a tail that leaves the median alone"
        );
        let (by_p99, _) = run_with(seed, 40, 50, &p99, tail);
        let look = by_p99.unwrap_or_else(|| panic!("seed {seed}: the slow tail was never found"));
        found.push(look * 50);
    }
    found.sort();
    eprintln!("+300 ms on 5 %: found by the p99 test after {found:?} requests per cohort");
    assert!(found[found.len() / 2] <= 1000, "{found:?}");
    // Within the margin: a tail 50 ms slower on 5 % is tolerated by a 100 ms p99 margin.
    for seed in 4100..4110 {
        let (first, _) = run_with(seed, 40, 50, &p99, |rng, c, e| {
            c.request_with_tail(rng, 0.0, 0.0);
            e.request_with_tail(rng, 0.05, 50.0);
        });
        assert_eq!(
            first, None,
            "seed {seed}: a 50 ms tail is within a 100 ms margin"
        );
    }
}

#[test]
fn the_tail_figures_read_as_they_should() {
    let mut rng = SeededRng::new(11);
    let (mut c, mut e) = (Simulated::new(), Simulated::new());
    for _ in 0..5000 {
        c.request_with_tail(&mut rng, 0.0, 0.0);
        e.request_with_tail(&mut rng, 0.05, 300.0);
    }
    let judged = judge(&c.arm(), &e.arm(), &tail_thresholds(100.0), None);
    let tail = &judged["p99"];
    let (control, experiment) = (
        tail["control_ms"].as_f64().unwrap(),
        tail["experiment_ms"].as_f64().unwrap(),
    );
    // An exponential of mean 20 ms from 10 ms: p99 = 10 + 20 ln 100 ≈ 102 ms.
    assert!((90.0..115.0).contains(&control), "{judged}");
    assert!(experiment > control + 200.0, "{judged}");
    assert_eq!(tail["worse"], true, "{judged}");
    assert_eq!(judged["verdict"], "worse");
    assert_eq!(judged["latency"]["worse"], false, "{judged}");
}
