//! Control vs experiment, judged by statistics: the error-rate difference with a two-proportion
//! z-test, the latency shift (Hodges–Lehmann) with the Mann–Whitney U test on the latency
//! histograms, each against a margin ("worse by more than 0.5 %", "slower by more than 20 ms"),
//! and the tail: "the experiment's p99 is more than `m` ms above control's" holds exactly when more
//! than 1 % of the experiment's requests are slower than control's p99 + `m`, so it is judged as
//! a two-proportion test of that share against control's own share above its p99 (which both
//! carry the noise of the estimated p99). A shift test misses a slow tail that leaves the median
//! where it was; this one sees it.
//!
//! Repeated looks: a test repeated on accumulating data raises false alarms far above `alpha`
//! (with a look per second for ten minutes, a fixed-horizon 5 % test fires on most A/A runs). So
//! each comparison since the split also carries a mixture sequential probability ratio test
//! (mSPRT; Robbins 1970, Johari et al. 2017, "Always valid inference"): with θ̂ the estimate, V its
//! variance and a normal mixture of variance τ² over the effect,
//! `Λ = sqrt(V / (V + τ²)) · exp(τ² θ̂² / (2 V (V + τ²)))` is a nonnegative supermartingale under
//! the null, so by Ville's inequality P(Λ ever reaches 1/α) ≤ α — however often it is looked at.
//! The always-valid p-value is `min(1, 1 / max Λ)` over the looks so far. The guarantee rests on
//! the normal approximation of θ̂ (good from a few dozen requests per cohort, which is why fewer
//! give `not-enough-data`) and holds exactly at the margin; below it the test is conservative.

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// The mixing spread over effects: the scale of effect each test is most sensitive to.
const ERROR_RATE_TAU: f64 = 0.02;
const AUC_TAU: f64 = 0.1;

/// One cohort's figures.
#[derive(Debug, Clone, Copy)]
pub struct Arm<'a> {
    pub requests: u64,
    pub errors: u64,
    /// Time to last byte, µs.
    pub latency: &'a Histogram<u32>,
}

/// What "worse" means, and how sure to be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub alpha: f64,
    /// Absolute error-rate difference tolerated (0.005 = half a percentage point).
    pub max_error_rate_increase: f64,
    /// Latency shift tolerated, ms; `None`: latency is reported but not judged.
    pub max_latency_increase_ms: Option<f64>,
    /// p99 increase tolerated, ms; `None`: the tail is reported but not judged.
    pub max_p99_increase_ms: Option<f64>,
    /// Fewer requests than this in either cohort: `not-enough-data`.
    pub min_requests: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Same,
    Worse,
    Better,
    NotEnoughData,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Worse => "worse",
            Verdict::Better => "better",
            Verdict::NotEnoughData => "not-enough-data",
        }
    }
}

/// One test's outcome at this look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Test {
    /// The estimate minus the margin (positive: worse than tolerated).
    pub excess: f64,
    /// Fixed-horizon one-sided p-value for "worse than tolerated".
    pub p_worse: f64,
    /// Fixed-horizon one-sided p-value for "better by more than the margin".
    pub p_better: f64,
    /// The mSPRT likelihood ratio for "worse" at this look (1 with no evidence).
    pub lambda_worse: f64,
    pub lambda_better: f64,
}

/// `Φ(x)`, the standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The complementary error function (Chebyshev fit, fractional error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The mSPRT ratio for an estimate `theta` (signed; only its size matters) with variance `v`.
fn msprt(theta: f64, v: f64, tau: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let t2 = tau * tau;
    let exponent = t2 * theta * theta / (2.0 * v * (v + t2));
    (v / (v + t2)).sqrt() * exponent.min(700.0).exp()
}

/// `worse` / `better`: how far the estimate is past the margin each way (positive: past it).
fn test(worse: f64, better: f64, v: f64, tau: f64) -> Test {
    let se = v.sqrt().max(f64::MIN_POSITIVE);
    Test {
        excess: worse,
        p_worse: 1.0 - normal_cdf(worse / se),
        p_better: 1.0 - normal_cdf(better / se),
        lambda_worse: if worse > 0.0 {
            msprt(worse, v, tau)
        } else {
            1.0
        },
        lambda_better: if better > 0.0 {
            msprt(better, v, tau)
        } else {
            1.0
        },
    }
}

/// Error rates: experiment minus control, against `margin`. The variance is the unpooled one
/// with a half-count added to each cell, so no errors at all still has a spread.
pub fn error_rates(control: &Arm, experiment: &Arm, margin: f64) -> (f64, Test) {
    let rate = |a: &Arm| (a.errors as f64 + 0.5) / (a.requests as f64 + 1.0);
    let (pc, pe) = (rate(control), rate(experiment));
    let v = pc * (1.0 - pc) / (control.requests.max(1) as f64)
        + pe * (1.0 - pe) / (experiment.requests.max(1) as f64);
    let observed = |a: &Arm| a.errors as f64 / a.requests.max(1) as f64;
    let diff = observed(experiment) - observed(control);
    (diff, test(diff - margin, -diff - margin, v, ERROR_RATE_TAU))
}

/// (value µs, count) of every recorded bucket.
fn buckets(h: &Histogram<u32>) -> Vec<(f64, u64)> {
    h.iter_recorded()
        .map(|v| {
            (
                h.highest_equivalent(v.value_iterated_to()) as f64,
                u64::from(v.count_at_value()),
            )
        })
        .collect()
}

/// P(experiment − shift > control) + ½ P(equal), and the tie correction Σ(t³ − t).
fn auc(control: &[(f64, u64)], experiment: &[(f64, u64)], shift: f64) -> (f64, f64) {
    let (nc, ne): (u64, u64) = (
        control.iter().map(|b| b.1).sum(),
        experiment.iter().map(|b| b.1).sum(),
    );
    if nc == 0 || ne == 0 {
        return (0.5, 0.0);
    }
    let (mut i, mut below_c) = (0usize, 0u64);
    let mut wins = 0.0;
    let mut ties = 0.0;
    let mut j = 0usize;
    // Walk both sorted lists; at each experiment value, count control values below and equal.
    while j < experiment.len() {
        let v = experiment[j].0 - shift;
        while i < control.len() && control[i].0 < v {
            below_c += control[i].1;
            i += 1;
        }
        let equal = if i < control.len() && control[i].0 == v {
            control[i].1
        } else {
            0
        };
        let e = experiment[j].1 as f64;
        wins += e * (below_c as f64 + 0.5 * equal as f64);
        if equal > 0 {
            let t = (equal + experiment[j].1) as f64;
            ties += t * t * t - t;
        }
        j += 1;
    }
    (wins / (nc as f64 * ne as f64), ties)
}

/// Latency: the Hodges–Lehmann shift (ms, experiment minus control) and the Mann–Whitney test
/// of "slower by more than `margin_ms`" on the AUC scale.
pub fn latency(control: &Arm, experiment: &Arm, margin_ms: f64) -> (f64, Test) {
    let (c, e) = (buckets(control.latency), buckets(experiment.latency));
    let (nc, ne) = (
        control.latency.len() as f64,
        experiment.latency.len() as f64,
    );
    let shift = hodges_lehmann(&c, &e);
    let (slower, ties) = auc(&c, &e, margin_ms * 1000.0);
    let (faster, _) = auc(&c, &e, -margin_ms * 1000.0);
    let n = nc + ne;
    let v = if nc > 0.0 && ne > 0.0 && n > 1.0 {
        // Var(U) = nc·ne/12 · ((n + 1) − Σ(t³ − t) / (n (n − 1))), on the AUC scale.
        (nc * ne / 12.0) * ((n + 1.0) - ties / (n * (n - 1.0))) / (nc * ne).powi(2)
    } else {
        f64::INFINITY
    };
    (shift / 1000.0, test(slower - 0.5, 0.5 - faster, v, AUC_TAU))
}

/// Requests slower than `threshold_us`.
fn slower_than(h: &Histogram<u32>, threshold_us: f64) -> u64 {
    h.iter_recorded()
        .filter(|v| h.highest_equivalent(v.value_iterated_to()) as f64 > threshold_us)
        .map(|v| u64::from(v.count_at_value()))
        .sum()
}

/// The tail: the share of experiment requests slower than control's p99 + `margin_ms` minus
/// control's share slower than its p99 (about 1 %), against 0; and control's p99, ms.
pub fn tail(control: &Arm, experiment: &Arm, margin_ms: f64) -> (f64, Test) {
    let p99 = if control.latency.is_empty() {
        0.0
    } else {
        control.latency.value_at_quantile(0.99) as f64
    };
    fn share<'a>(a: &Arm<'a>, threshold: f64) -> Arm<'a> {
        Arm {
            requests: a.latency.len(),
            errors: slower_than(a.latency, threshold),
            latency: a.latency,
        }
    }
    let (c, e) = (
        share(control, p99),
        share(experiment, p99 + margin_ms * 1000.0),
    );
    let (_, test) = error_rates(&c, &e, 0.0);
    (p99 / 1000.0, test)
}

/// The shift d (µs) at which experiment − d and control are even (AUC ½): the median of the
/// pairwise differences.
fn hodges_lehmann(control: &[(f64, u64)], experiment: &[(f64, u64)]) -> f64 {
    let (Some(cmax), Some(emax)) = (control.last(), experiment.last()) else {
        return 0.0;
    };
    let span = cmax.0.max(emax.0).max(1.0);
    let (mut low, mut high) = (-span, span);
    // 40 halvings: well below a microsecond for any latency a histogram holds.
    for _ in 0..40 {
        let mid = (low + high) / 2.0;
        if auc(control, experiment, mid).0 > 0.5 {
            low = mid;
        } else {
            high = mid;
        }
    }
    (low + high) / 2.0
}

/// The mSPRT ratios one comparison keeps over its looks: worse and better for the error rate,
/// the latency shift and the tail.
pub type Looks = [f64; 6];

/// A comparison's first look: no evidence yet.
pub const NO_LOOKS: Looks = [1.0; 6];

/// One look's judgement; `best` holds the largest mSPRT ratios of the looks before this one
/// and is raised by this look.
pub fn judge(
    control: &Arm,
    experiment: &Arm,
    thresholds: &Thresholds,
    best: Option<&mut Looks>,
) -> Value {
    let enough = control.requests >= thresholds.min_requests
        && experiment.requests >= thresholds.min_requests;
    let (error_diff, errors) = error_rates(control, experiment, thresholds.max_error_rate_increase);
    let latency_margin = thresholds.max_latency_increase_ms.unwrap_or(0.0);
    let (shift_ms, lat) = latency(control, experiment, latency_margin);
    let tail_margin = thresholds.max_p99_increase_ms.unwrap_or(0.0);
    let (control_p99_ms, slow) = tail(control, experiment, tail_margin);
    let sequential = best.is_some();
    let mut ratios = [
        errors.lambda_worse,
        errors.lambda_better,
        lat.lambda_worse,
        lat.lambda_better,
        slow.lambda_worse,
        slow.lambda_better,
    ];
    if let Some(best) = best {
        if enough {
            for (b, r) in best.iter_mut().zip(ratios) {
                *b = b.max(r);
            }
        }
        ratios = *best;
    }
    let always_valid = |lambda: f64| (1.0 / lambda).min(1.0);
    // Sequential: the always-valid p-values; a window: the fixed-horizon ones.
    let p = |fixed: f64, lambda: f64| {
        if sequential {
            always_valid(lambda)
        } else {
            fixed
        }
    };
    let judged_latency = thresholds.max_latency_increase_ms.is_some();
    let judged_tail = thresholds.max_p99_increase_ms.is_some();
    // Up to three tests, any of which says "worse": each gets its share of alpha (Bonferroni),
    // so the verdict's false-alarm rate stays within alpha.
    let a = thresholds.alpha / (1 + usize::from(judged_latency) + usize::from(judged_tail)) as f64;
    let error_worse = p(errors.p_worse, ratios[0]) < a;
    let error_better = p(errors.p_better, ratios[1]) < a;
    let latency_worse = judged_latency && p(lat.p_worse, ratios[2]) < a;
    let latency_better = judged_latency && p(lat.p_better, ratios[3]) < a;
    // "Better" has no meaning for the tail test's margin (it compares against control's own
    // share above its p99), so the tail only ever says worse.
    let tail_worse = judged_tail && p(slow.p_worse, ratios[4]) < a;
    let verdict = if !enough {
        Verdict::NotEnoughData
    } else if error_worse || latency_worse || tail_worse {
        Verdict::Worse
    } else if error_better || latency_better {
        Verdict::Better
    } else {
        Verdict::Same
    };
    let arm = |x: &Arm| {
        let ms = |q: f64| {
            if x.latency.is_empty() {
                0.0
            } else {
                x.latency.value_at_quantile(q) as f64 / 1000.0
            }
        };
        json!({
            "requests": x.requests,
            "errors": x.errors,
            "error_rate": x.errors as f64 / x.requests.max(1) as f64,
            "p50_ms": ms(0.5), "p95_ms": ms(0.95), "p99_ms": ms(0.99),
        })
    };
    json!({
        "verdict": verdict.name(),
        "worse": verdict == Verdict::Worse,
        "control": arm(control),
        "experiment": arm(experiment),
        "error_rate": {
            "difference": error_diff,
            "max_increase": thresholds.max_error_rate_increase,
            "p_value": p(errors.p_worse, ratios[0]),
            "p_better": p(errors.p_better, ratios[1]),
            "worse": error_worse && enough,
        },
        "latency": {
            "shift_ms": (shift_ms * 1000.0).round() / 1000.0,
            "max_increase_ms": thresholds.max_latency_increase_ms,
            "p_value": p(lat.p_worse, ratios[2]),
            "p_better": p(lat.p_better, ratios[3]),
            "worse": latency_worse && enough,
        },
        "p99": {
            "control_ms": control_p99_ms,
            "experiment_ms": if experiment.latency.is_empty() { 0.0 } else { experiment.latency.value_at_quantile(0.99) as f64 / 1000.0 },
            "max_increase_ms": thresholds.max_p99_increase_ms,
            "slow_share_difference": slow.excess,
            "p_value": p(slow.p_worse, ratios[4]),
            "worse": tail_worse && enough,
        },
        "alpha": thresholds.alpha,
        "method": if sequential { "sequential (mSPRT, always-valid p-values)" } else { "fixed horizon (one look at this window)" },
    })
}

#[cfg(test)]
mod tests;
