//! What a load measured: latencies in an HdrHistogram (µs), errors by kind, and per-second
//! figures. Connections record into a few shards (an uncontended lock per request); once a
//! second the collector drains them into the second's figures and the totals.

use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies above this (µs) are recorded as this: a minute is far past any timeout we allow.
const MAX_US: u64 = 3_600_000_000;

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The connection could not be opened.
    Connect,
    /// No whole response within the timeout (from the intended send time in the open model).
    Timeout,
    /// Reset, broken pipe, or closed mid-response.
    Io,
    /// The response was not HTTP.
    Parse,
    /// A 4xx status.
    Status4xx,
    /// A 5xx status.
    Status5xx,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Io,
        ErrorKind::Parse,
        ErrorKind::Status4xx,
        ErrorKind::Status5xx,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Io => "io",
            ErrorKind::Parse => "parse",
            ErrorKind::Status4xx => "status-4xx",
            ErrorKind::Status5xx => "status-5xx",
        }
    }

    fn index(self) -> usize {
        match self {
            ErrorKind::Connect => 0,
            ErrorKind::Timeout => 1,
            ErrorKind::Io => 2,
            ErrorKind::Parse => 3,
            ErrorKind::Status4xx => 4,
            ErrorKind::Status5xx => 5,
        }
    }
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// A response, with its latency in µs.
    Response { status: u16, micros: u64 },
    /// No response.
    Failed(ErrorKind),
}

/// Counts over some span of time.
#[derive(Debug, Clone)]
pub struct Counts {
    pub latency: Histogram<u64>,
    /// Responses with a status below 400.
    pub ok: u64,
    errors: [u64; 6],
}

impl Default for Counts {
    fn default() -> Counts {
        Counts {
            latency: Histogram::new_with_bounds(1, MAX_US, 3)
                .expect("static histogram bounds are valid"),
            ok: 0,
            errors: [0; 6],
        }
    }
}

impl Counts {
    fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Response { status, micros } => {
                let _ = self.latency.record(micros.clamp(1, MAX_US));
                match status {
                    400..=499 => self.errors[ErrorKind::Status4xx.index()] += 1,
                    500.. => self.errors[ErrorKind::Status5xx.index()] += 1,
                    _ => self.ok += 1,
                }
            }
            Outcome::Failed(kind) => self.errors[kind.index()] += 1,
        }
    }

    pub fn add(&mut self, other: &Counts) {
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
    }

    pub fn reset(&mut self) {
        self.latency.reset();
        self.ok = 0;
        self.errors = [0; 6];
    }

    /// Requests done (answered or failed).
    pub fn requests(&self) -> u64 {
        self.ok + self.errors()
    }

    pub fn errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    pub fn errors_of(&self, kind: ErrorKind) -> u64 {
        self.errors[kind.index()]
    }

    /// A latency quantile in ms (0 when nothing was answered).
    pub fn ms(&self, q: f64) -> f64 {
        if self.latency.is_empty() {
            return 0.0;
        }
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Where connections record.
#[derive(Debug)]
pub(super) struct Recorder {
    shards: Vec<Mutex<Counts>>,
}

impl Recorder {
    pub(super) fn new(shards: usize) -> Recorder {
        Recorder {
            shards: (0..shards.max(1)).map(|_| Mutex::default()).collect(),
        }
    }

    pub(super) fn record(&self, shard: usize, outcome: Outcome) {
        self.shards[shard % self.shards.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(outcome);
    }

    /// Moves what was recorded since the last drain into `into`.
    pub(super) fn drain(&self, into: &mut Counts) {
        for shard in &self.shards {
            let mut s = shard.lock().unwrap_or_else(|e| e.into_inner());
            into.add(&s);
            s.reset();
        }
    }
}

/// The figures of one second of load (what `traffic.surge` reports as events).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Second {
    /// Seconds since the start (1 = the first second).
    pub second: u64,
    /// The rate asked for at the end of the second (open model), req/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rps: Option<f64>,
    /// Requests done in the second.
    pub requests: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Second {
    pub fn of(second: u64, target_rps: Option<f64>, c: &Counts) -> Second {
        Second {
            second,
            target_rps: target_rps.map(round3),
            requests: c.requests(),
            errors: c.errors(),
            p50_ms: round3(c.ms(0.5)),
            p99_ms: round3(c.ms(0.99)),
            max_ms: if c.latency.is_empty() {
                0.0
            } else {
                round3(c.latency.max() as f64 / 1000.0)
            },
        }
    }
}

pub(super) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_failures_are_counted_by_kind() {
        let r = Recorder::new(3);
        r.record(
            0,
            Outcome::Response {
                status: 200,
                micros: 1000,
            },
        );
        r.record(
            1,
            Outcome::Response {
                status: 503,
                micros: 3000,
            },
        );
        r.record(5, Outcome::Failed(ErrorKind::Connect));
        let mut c = Counts::default();
        r.drain(&mut c);
        assert_eq!((c.ok, c.errors(), c.requests()), (1, 2, 3));
        assert_eq!(c.errors_of(ErrorKind::Status5xx), 1);
        assert_eq!(c.latency.len(), 2, "failures have no latency");
        let mut again = Counts::default();
        r.drain(&mut again);
        assert_eq!(again.requests(), 0, "drained");
    }
}
