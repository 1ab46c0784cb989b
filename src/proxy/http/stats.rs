//! Per-request figures of an http proxy: requests, status classes, errors, and time to first and
//! last byte in HdrHistograms — cumulative and over a sliding window, overall and per route.
//!
//! The window is kept in two rings: one-second buckets for the last minute and ten-second buckets
//! for the last 15 minutes (a steady state over 5 minutes is common, as in PromQL
//! `rate(...[5m])`). Memory is bounded: at most 60 + 92 buckets per route, each two histograms of
//! about 12 KiB, allocated only for seconds that saw traffic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::cohort::{CohortSplit, CohortState};

/// The longest window, in seconds.
pub const WINDOW_SECONDS: usize = 900;
/// Windows up to this many seconds are exact to the second.
const FINE_SECONDS: usize = 60;
/// The coarse ring's bucket width; longer windows are rounded up to a multiple of it.
const COARSE_SECONDS: u64 = 10;
/// The buckets a 900 s window reaches into, plus the one being filled now.
const COARSE_BUCKETS: usize = WINDOW_SECONDS / COARSE_SECONDS as usize + 2;

/// What one request came to.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Status sent to the client (0: none, the connection was cut).
    pub status: u16,
    /// Time to the response head.
    pub ttfb: Duration,
    /// Time to the end of the body (or the cut).
    pub ttlb: Duration,
}

impl Sample {
    /// 5xx, or no response at all.
    pub fn is_error(&self) -> bool {
        self.status == 0 || self.status >= 500
    }
}

#[derive(Debug, Clone)]
pub(super) struct Figures {
    requests: u64,
    errors: u64,
    /// 1xx..5xx at 0..4, cut connections at 5.
    classes: [u64; 6],
    ttfb: Histogram<u32>,
    ttlb: Histogram<u32>,
}

impl Figures {
    fn new() -> Figures {
        let h = || Histogram::new_with_bounds(1, 600_000_000, 2).expect("valid histogram bounds");
        Figures {
            requests: 0,
            errors: 0,
            classes: [0; 6],
            ttfb: h(),
            ttlb: h(),
        }
    }

    fn record(&mut self, s: &Sample) {
        self.requests += 1;
        self.errors += u64::from(s.is_error());
        let class = match s.status {
            0 => 5,
            x => ((x / 100).clamp(1, 5) - 1) as usize,
        };
        self.classes[class] += 1;
        let micros = |d: Duration| (d.as_micros() as u64).clamp(1, 600_000_000);
        let _ = self.ttfb.record(micros(s.ttfb));
        let _ = self.ttlb.record(micros(s.ttlb));
    }

    pub(super) fn requests(&self) -> u64 {
        self.requests
    }

    pub(super) fn errors(&self) -> u64 {
        self.errors
    }

    /// Time to last byte, µs.
    pub(super) fn latency(&self) -> &Histogram<u32> {
        &self.ttlb
    }

    fn add(&mut self, other: &Figures) {
        self.requests += other.requests;
        self.errors += other.errors;
        for (a, b) in self.classes.iter_mut().zip(other.classes) {
            *a += b;
        }
        let _ = self.ttfb.add(&other.ttfb);
        let _ = self.ttlb.add(&other.ttlb);
    }

    fn to_json(&self, seconds: f64) -> Value {
        let ms = |h: &Histogram<u32>, q: f64| {
            if h.is_empty() {
                0.0
            } else {
                (h.value_at_quantile(q) as f64 / 1000.0 * 1000.0).round() / 1000.0
            }
        };
        let rate = |n: u64| {
            if seconds > 0.0 {
                n as f64 / seconds
            } else {
                0.0
            }
        };
        json!({
            "requests": self.requests,
            "rps": (rate(self.requests) * 1000.0).round() / 1000.0,
            "error_rate": if self.requests == 0 { 0.0 } else { self.errors as f64 / self.requests as f64 },
            "p50_ms": ms(&self.ttlb, 0.50),
            "p95_ms": ms(&self.ttlb, 0.95),
            "p99_ms": ms(&self.ttlb, 0.99),
            "ttfb_p50_ms": ms(&self.ttfb, 0.50),
            "ttfb_p95_ms": ms(&self.ttfb, 0.95),
            "ttfb_p99_ms": ms(&self.ttfb, 0.99),
            "status": {
                "1xx": self.classes[0], "2xx": self.classes[1], "3xx": self.classes[2],
                "4xx": self.classes[3], "5xx": self.classes[4], "aborted": self.classes[5],
            },
        })
    }
}

/// The figures of one route (or of the whole proxy).
#[derive(Debug)]
pub(super) struct Series {
    total: Figures,
    /// (second since start, figures) for the last `FINE_SECONDS` seconds, allocated lazily.
    fine: Ring,
    /// (ten-second bucket since start, figures) for the last `WINDOW_SECONDS` seconds.
    coarse: Ring,
}

/// Buckets indexed by their number modulo the ring's length.
#[derive(Debug)]
struct Ring(Vec<Option<(u64, Figures)>>);

impl Ring {
    fn new(len: usize) -> Ring {
        Ring(vec![None; len])
    }

    fn record(&mut self, bucket: u64, s: &Sample) {
        let len = self.0.len();
        let slot = &mut self.0[(bucket as usize) % len];
        match slot {
            Some((at, f)) if *at == bucket => f.record(s),
            _ => {
                let mut f = match slot.take() {
                    // Reuse the old bucket's histograms (no allocation in steady traffic).
                    Some((_, mut old)) => {
                        old.requests = 0;
                        old.errors = 0;
                        old.classes = [0; 6];
                        old.ttfb.reset();
                        old.ttlb.reset();
                        old
                    }
                    None => Figures::new(),
                };
                f.record(s);
                *slot = Some((bucket, f));
            }
        }
    }

    /// Adds the buckets numbered `from..=to` to `sum`.
    fn add_to(&self, sum: &mut Figures, from: u64, to: u64) {
        for (at, f) in self.0.iter().flatten() {
            if *at >= from && *at <= to {
                sum.add(f);
            }
        }
    }
}

impl Series {
    pub(super) fn new() -> Series {
        Series {
            total: Figures::new(),
            fine: Ring::new(FINE_SECONDS),
            coarse: Ring::new(COARSE_BUCKETS),
        }
    }

    pub(super) fn total(&self) -> &Figures {
        &self.total
    }

    pub(super) fn record(&mut self, second: u64, s: &Sample) {
        self.total.record(s);
        self.fine.record(second, s);
        self.coarse.record(second / COARSE_SECONDS, s);
    }

    /// The figures of the last `seconds` seconds up to `now_second` (see [`window_span`]).
    pub(super) fn window(&self, now_second: u64, seconds: u64) -> Figures {
        let mut sum = Figures::new();
        let from = now_second.saturating_sub(seconds.saturating_sub(1));
        if seconds <= FINE_SECONDS as u64 {
            self.fine.add_to(&mut sum, from, now_second);
            return sum;
        }
        // The newest seconds from the fine ring, from a ten-second boundary on; the older
        // part from whole coarse buckets, the oldest of which may reach up to 9 s further back.
        let split = (now_second + 1).saturating_sub(FINE_SECONDS as u64);
        let split = split.div_ceil(COARSE_SECONDS) * COARSE_SECONDS;
        self.fine.add_to(&mut sum, split, now_second);
        if split > from {
            self.coarse
                .add_to(&mut sum, from / COARSE_SECONDS, split / COARSE_SECONDS - 1);
        }
        sum
    }
}

/// The seconds a window of `seconds` (1..=WINDOW_SECONDS) ending at `now_second` covers: exact up
/// to a minute, else rounded to whole ten-second buckets at its old end.
fn window_span(now_second: u64, seconds: u64) -> u64 {
    if seconds <= FINE_SECONDS as u64 {
        return seconds;
    }
    let from = now_second.saturating_sub(seconds.saturating_sub(1));
    now_second + 1 - (from / COARSE_SECONDS) * COARSE_SECONDS
}

/// Cumulative (route, requests, status classes, TTLB quantiles in seconds) rows for Prometheus.
pub type HttpCounters = Vec<(String, u64, [u64; 6], Vec<(f64, f64)>)>;

/// Figures of one http proxy: overall and per route (route names in order, then `other`).
#[derive(Debug)]
pub struct HttpStats {
    started: Instant,
    routes: Vec<String>,
    inner: Mutex<Vec<Series>>,
    /// Requests sent again after an upstream closed a kept-alive connection on them.
    retried: AtomicU64,
    /// The cohort split in force, if any.
    cohorts: Mutex<Option<Arc<CohortState>>>,
}

impl HttpStats {
    /// Stats for these route names (`other` is added).
    pub fn new(routes: Vec<String>) -> HttpStats {
        let n = routes.len() + 2;
        HttpStats {
            started: Instant::now(),
            routes,
            inner: Mutex::new((0..n).map(|_| Series::new()).collect()),
            retried: AtomicU64::new(0),
            cohorts: Mutex::new(None),
        }
    }

    /// Puts a split in force (replacing any other): its cohorts' figures start now.
    pub fn set_cohorts(&self, split: CohortSplit) -> Arc<CohortState> {
        let state = Arc::new(CohortState::new(split, self.routes.len()));
        *self.cohorts.lock().unwrap_or_else(|e| e.into_inner()) = Some(state.clone());
        state
    }

    /// Ends the split; whether there was one.
    pub fn clear_cohorts(&self) -> bool {
        self.cohorts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some()
    }

    pub fn cohorts(&self) -> Option<Arc<CohortState>> {
        self.cohorts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The index of a route by name (`other` included), for per-route figures.
    pub fn route_index(&self, name: &str) -> Option<usize> {
        if name == super::route::OTHER {
            return Some(self.routes.len());
        }
        self.routes.iter().position(|r| r == name)
    }

    /// Counts a request sent again on a fresh upstream connection.
    pub fn count_retry(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests sent again since the proxy started.
    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    fn second(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Records a request on `route` (an index into the names; `len` = other).
    pub fn record(&self, route: usize, sample: Sample) {
        let second = self.second();
        let mut series = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let route = route.min(self.routes.len());
        series[route].record(second, &sample);
        let overall = series.len() - 1;
        series[overall].record(second, &sample);
    }

    /// The figures over the last `window_s` seconds (≤ 900; 0 = cumulative), overall and by route.
    pub fn snapshot(&self, window_s: u64) -> Value {
        let now = self.second();
        let elapsed = self.started.elapsed().as_secs_f64();
        let series = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let figures = |s: &Series| -> Value {
            if window_s == 0 {
                s.total.to_json(elapsed)
            } else {
                let w = window_s.min(WINDOW_SECONDS as u64);
                let span = window_span(now, w) as f64;
                s.window(now, w).to_json(elapsed.min(span).max(1.0))
            }
        };
        let mut routes = serde_json::Map::new();
        for (i, name) in self
            .routes
            .iter()
            .map(String::as_str)
            .chain([super::route::OTHER])
            .enumerate()
        {
            routes.insert(name.to_string(), figures(&series[i]));
        }
        let mut overall = figures(&series[series.len() - 1]);
        overall["window_s"] = json!(window_s.min(WINDOW_SECONDS as u64));
        overall["retried"] = json!(self.retried());
        overall["routes"] = Value::Object(routes);
        overall
    }

    /// Cumulative (requests, errors, status classes) per route name, for Prometheus.
    pub fn counters(&self) -> HttpCounters {
        let series = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        self.routes
            .iter()
            .map(String::as_str)
            .chain([super::route::OTHER])
            .enumerate()
            .map(|(i, name)| {
                let t = &series[i].total;
                let quantiles = [0.5, 0.9, 0.99]
                    .iter()
                    .map(|q| (*q, t.ttlb.value_at_quantile(*q) as f64 / 1e6))
                    .collect();
                (name.to_string(), t.requests, t.classes, quantiles)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(status: u16, ms: u64) -> Sample {
        Sample {
            status,
            ttfb: Duration::from_millis(ms / 2),
            ttlb: Duration::from_millis(ms),
        }
    }

    #[test]
    fn figures_count_classes_errors_and_percentiles() {
        let stats = HttpStats::new(vec!["users".into()]);
        for i in 0..100 {
            stats.record(0, sample(if i < 10 { 503 } else { 200 }, 10 + i));
        }
        stats.record(1, sample(404, 5));
        stats.record(1, sample(0, 5));
        let all = stats.snapshot(10);
        assert_eq!(all["requests"], 102);
        assert_eq!(all["status"]["5xx"], 10);
        assert_eq!(all["status"]["aborted"], 1);
        assert!((all["error_rate"].as_f64().unwrap() - 11.0 / 102.0).abs() < 1e-9);
        let users = &all["routes"]["users"];
        assert_eq!(users["requests"], 100);
        let p50 = users["p50_ms"].as_f64().unwrap();
        assert!((55.0..=65.0).contains(&p50), "{p50}");
        assert_eq!(all["routes"]["other"]["requests"], 2);
        assert_eq!(stats.snapshot(0)["requests"], 102, "cumulative");
    }

    #[test]
    fn windows_up_to_fifteen_minutes_count_each_second_once() {
        for now in [1000, 1003, 1009, 2000] {
            let mut series = Series::new();
            for second in 0..=now {
                series.record(second, &sample(200, 5));
            }
            for seconds in [1, 10, 59, 60, 61, 75, 300, 899, 900] {
                let counted = series.window(now, seconds).requests;
                let span = window_span(now, seconds);
                assert_eq!(counted, span, "now {now}, window {seconds}");
                assert!(
                    span >= seconds && span < seconds + COARSE_SECONDS,
                    "now {now}, window {seconds}: span {span}"
                );
            }
        }
        // Early on, a long window holds only what there is.
        let mut young = Series::new();
        for second in 0..=30 {
            young.record(second, &sample(200, 5));
        }
        assert_eq!(young.window(30, 300).requests, 31);
    }
}
