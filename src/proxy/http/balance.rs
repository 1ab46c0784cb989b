//! The upstreams of an http proxy: one, or several balanced round-robin with passive health (as
//! HAProxy's `balance roundrobin` with `observe layer4` and `on-error mark-down`): an upstream
//! that refuses a connection, resets one before the response head or sends no head within the
//! proxy's `upstream_timeout_ms` is marked down for [`DOWN_FOR`], during which the others take its
//! share; then it is tried again by the next request that comes its way.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

/// How long an upstream that failed is left out of the rotation.
pub const DOWN_FOR: Duration = Duration::from_secs(2);

/// At most this many upstreams per proxy (the tried set is a bit mask).
pub const MAX_UPSTREAMS: usize = 64;

/// One upstream and its counters.
#[derive(Debug)]
struct Upstream {
    address: String,
    /// Milliseconds since the balancer started until which it is down (0: up).
    down_until_ms: AtomicU64,
    /// Responses it sent (any status).
    responses: AtomicU64,
    /// Of which 5xx.
    errors: AtomicU64,
    /// Refused or timed-out dials, resets and timeouts before a response head.
    failures: AtomicU64,
    /// Times it was marked down.
    ejections: AtomicU64,
}

/// The upstreams of one http proxy, shared by all its connections.
#[derive(Debug)]
pub struct Balancer {
    started: Instant,
    upstreams: Vec<Upstream>,
    next: AtomicUsize,
}

/// (address, responses, errors, failures, up) per upstream.
pub type UpstreamCounters = Vec<(String, u64, u64, u64, bool)>;

/// The upstreams an attempt already went to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tried(u64);

impl Tried {
    fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    /// Adds upstream `i`.
    pub fn add(&mut self, i: usize) {
        self.0 |= 1 << i;
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The addresses of an `upstream` text: one `host:port`, or several separated by commas.
pub fn split_upstreams(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Balancer {
    /// A balancer over `addresses` (at least one; see [`split_upstreams`]).
    pub fn new(addresses: Vec<String>) -> Balancer {
        Balancer {
            started: Instant::now(),
            upstreams: addresses
                .into_iter()
                .map(|address| Upstream {
                    address,
                    down_until_ms: AtomicU64::new(0),
                    responses: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                    failures: AtomicU64::new(0),
                    ejections: AtomicU64::new(0),
                })
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// How many upstreams there are.
    pub fn len(&self) -> usize {
        self.upstreams.len()
    }

    /// Whether there are none (never, for a proxy).
    pub fn is_empty(&self) -> bool {
        self.upstreams.is_empty()
    }

    /// The address of upstream `i`.
    pub fn address(&self, i: usize) -> &str {
        &self.upstreams[i].address
    }

    fn now_ms(&self) -> u64 {
        // Never 0, which means "up".
        self.started.elapsed().as_millis() as u64 + 1
    }

    fn is_up(&self, i: usize, now_ms: u64) -> bool {
        self.upstreams[i].down_until_ms.load(Ordering::Relaxed) <= now_ms
    }

    /// The next upstream for a request that already went to `tried`: the next one up in
    /// round-robin order. A first attempt with every upstream down still goes to the next in
    /// order (one of them may be back; answering 502 without trying helps nobody); a retry only
    /// goes to one that is up. `None`: nowhere left to go.
    pub fn pick(&self, tried: Tried) -> Option<usize> {
        let n = self.upstreams.len();
        if n == 1 {
            return tried.is_empty().then_some(0);
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let now = self.now_ms();
        let order = (0..n).map(|k| (start + k) % n).filter(|&i| !tried.has(i));
        let mut first = None;
        for i in order {
            if self.is_up(i, now) {
                return Some(i);
            }
            first.get_or_insert(i);
        }
        first.filter(|_| tried.is_empty())
    }

    /// Upstream `i` failed (no response head): leave it out for [`DOWN_FOR`].
    pub fn mark_down(&self, i: usize) {
        let u = &self.upstreams[i];
        u.failures.fetch_add(1, Ordering::Relaxed);
        if self.upstreams.len() == 1 {
            return;
        }
        let now = self.now_ms();
        let until = now + DOWN_FOR.as_millis() as u64;
        let before = u.down_until_ms.swap(until, Ordering::Relaxed);
        if before <= now {
            u.ejections.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Upstream `i` answered with `status`.
    pub fn count_response(&self, i: usize, status: u16) {
        let u = &self.upstreams[i];
        u.responses.fetch_add(1, Ordering::Relaxed);
        if status >= 500 {
            u.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Per-upstream figures since the proxy started: `[{address, up, responses, errors,
    /// failures, ejections}]`.
    pub fn to_json(&self) -> Value {
        let now = self.now_ms();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Value::Array(
            self.upstreams
                .iter()
                .enumerate()
                .map(|(i, u)| {
                    json!({
                        "address": u.address,
                        "up": self.is_up(i, now),
                        "responses": get(&u.responses),
                        "errors": get(&u.errors),
                        "failures": get(&u.failures),
                        "ejections": get(&u.ejections),
                    })
                })
                .collect(),
        )
    }

    /// (address, responses, errors, failures, up) per upstream, for `/metrics`.
    pub fn counters(&self) -> UpstreamCounters {
        let now = self.now_ms();
        self.upstreams
            .iter()
            .enumerate()
            .map(|(i, u)| {
                (
                    u.address.clone(),
                    u.responses.load(Ordering::Relaxed),
                    u.errors.load(Ordering::Relaxed),
                    u.failures.load(Ordering::Relaxed),
                    self.is_up(i, now),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Balancer {
        Balancer::new(vec!["a:1".into(), "b:2".into(), "c:3".into()])
    }

    #[test]
    fn round_robin_goes_around_and_a_retry_never_repeats_an_upstream() {
        let b = three();
        let picks: Vec<usize> = (0..6).map(|_| b.pick(Tried::default()).unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        let mut tried = Tried::default();
        let mut seen = Vec::new();
        while let Some(i) = b.pick(tried) {
            tried.add(i);
            seen.push(i);
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_upstream_is_left_out_until_its_time_is_up() {
        let b = three();
        b.mark_down(1);
        let picks: Vec<usize> = (0..6).map(|_| b.pick(Tried::default()).unwrap()).collect();
        assert!(!picks.contains(&1), "{picks:?}");
        assert_eq!(b.to_json()[1]["up"], false);
        assert_eq!(b.to_json()[1]["ejections"], 1);
        tokio::time::advance(DOWN_FOR + Duration::from_millis(1)).await;
        let picks: Vec<usize> = (0..3).map(|_| b.pick(Tried::default()).unwrap()).collect();
        assert!(picks.contains(&1), "{picks:?}");
        assert_eq!(b.to_json()[1]["up"], true);
    }

    #[tokio::test(start_paused = true)]
    async fn with_all_down_a_first_attempt_still_goes_somewhere_but_a_retry_does_not() {
        let b = three();
        (0..3).for_each(|i| b.mark_down(i));
        let first = b
            .pick(Tried::default())
            .expect("a first attempt goes somewhere");
        let mut tried = Tried::default();
        tried.add(first);
        assert_eq!(b.pick(tried), None);
        let one = Balancer::new(vec!["a:1".into()]);
        one.mark_down(0);
        assert_eq!(
            one.pick(Tried::default()),
            Some(0),
            "one upstream is never left out"
        );
        assert_eq!(one.to_json()[0]["failures"], 1);
        assert_eq!(one.to_json()[0]["up"], true);
    }

    #[test]
    fn an_upstream_text_is_one_address_or_a_comma_list() {
        assert_eq!(split_upstreams("a:1"), ["a:1"]);
        assert_eq!(split_upstreams(" a:1 , b:2,"), ["a:1", "b:2"]);
        assert!(split_upstreams(" , ").is_empty());
    }
}
