//! The load engine: keep-alive connections sending requests in an open model (a shaped arrival
//! rate; each request has an intended send time and its latency is measured from it, so a
//! stalled server cannot hide the queue it causes — coordinated omission corrected, as wrk2
//! does) or a closed model (N connections, each sending its next request when the previous one
//! is answered). Limits: a duration and/or a request count. An unreachable target costs errors
//! and a backoff, never a spin.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::profile::Profile;
use super::stats::{Counts, ErrorKind, Outcome, Recorder, Second};
use super::template::Requests;
use super::wire::{Conn, WireError};

/// How requests arrive.
#[derive(Debug, Clone)]
pub enum Model {
    /// Requests at the profile's rate, whatever the server does.
    Open(Profile),
    /// Each connection sends as soon as its previous request was answered.
    Closed,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub requests: Arc<Requests>,
    pub model: Model,
    pub connections: usize,
    /// Stop sending after this long (`None`: no time limit).
    pub duration: Option<Duration>,
    /// Stop after this many requests (`None`: no count limit).
    pub max_requests: Option<u64>,
    /// Per request (from its intended send time in the open model).
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("resolve {host}:{port}: {reason}")]
    Resolve {
        host: String,
        port: u16,
        reason: String,
    },
    #[error("the load has neither a duration nor a request limit, and its profile never ends")]
    Unbounded,
}

/// What a load did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub totals: Counts,
    /// The span the rate is measured over.
    pub elapsed: Duration,
    pub seconds: Vec<Second>,
    /// The mean rate asked for (open model).
    pub asked_rps: Option<f64>,
    pub connections: usize,
    pub open: bool,
}

impl Summary {
    /// Requests done per second.
    pub fn rps(&self) -> f64 {
        self.totals.requests() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn error_rate(&self) -> f64 {
        let n = self.totals.requests();
        if n == 0 {
            0.0
        } else {
            self.totals.errors() as f64 / n as f64
        }
    }
}

struct Shared {
    config: Config,
    addr: SocketAddr,
    start: Instant,
    next: AtomicU64,
    /// Intended send time of the last request sent (µs from start) — the open model's span.
    last_due: AtomicU64,
    recorder: Recorder,
    cancel: CancellationToken,
}

/// Runs the load until its limits (or `cancel`); `on_second` sees each second's figures and the
/// totals so far.
pub async fn run(
    config: Config,
    cancel: CancellationToken,
    mut on_second: impl FnMut(&Second, &Counts) + Send,
) -> Result<Summary, EngineError> {
    let open = matches!(config.model, Model::Open(_));
    if config.duration.is_none()
        && config.max_requests.is_none()
        && !matches!(&config.model, Model::Open(p) if p.due(u64::MAX >> 12).is_none())
    {
        return Err(EngineError::Unbounded);
    }
    let (host, port) = (config.requests.host.clone(), config.requests.port);
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| EngineError::Resolve {
            host: host.clone(),
            port,
            reason: e.to_string(),
        })?
        .next()
        .ok_or_else(|| EngineError::Resolve {
            host: host.clone(),
            port,
            reason: "no address".into(),
        })?;
    let connections = config.connections.max(1);
    let shared = Arc::new(Shared {
        recorder: Recorder::new(connections.min(16)),
        config,
        addr,
        start: Instant::now(),
        next: AtomicU64::new(0),
        last_due: AtomicU64::new(0),
        cancel,
    });
    // Dropping this future (a probe cut short) stops the threads too.
    let _stop_on_drop = shared.cancel.clone().drop_guard();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(connections);
    let mut workers = JoinSet::new();
    for t in 0..threads {
        let shared = shared.clone();
        workers.spawn_blocking(move || event_loop(shared, t, threads));
    }
    let mut ticker = tokio::time::interval_at(
        shared.start + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut totals = Counts::default();
    let mut second = Counts::default();
    let mut seconds = Vec::new();
    let asked_at = |t: Duration| match &shared.config.model {
        Model::Open(p) => Some(p.rate_at(t)),
        Model::Closed => None,
    };
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                shared.recorder.drain(&mut second);
                let n = seconds.len() as u64 + 1;
                let figures = Second::of(n, asked_at(Duration::from_secs(n)), &second);
                totals_add(&mut totals, &mut second);
                on_second(&figures, &totals);
                seconds.push(figures);
            }
            joined = workers.join_next() => if joined.is_none() { break },
        }
    }
    shared.recorder.drain(&mut second);
    if second.requests() > 0 {
        let n = seconds.len() as u64 + 1;
        let figures = Second::of(n, asked_at(shared.start.elapsed()), &second);
        totals_add(&mut totals, &mut second);
        on_second(&figures, &totals);
        seconds.push(figures);
    }
    let wall = shared.start.elapsed();
    let (elapsed, asked_rps) = match &shared.config.model {
        Model::Open(p) => {
            // The span of the schedule that was sent: up to the last due time, plus one gap.
            let last = Duration::from_micros(shared.last_due.load(Ordering::Relaxed));
            let gap = p.rate_at(last);
            let span = if gap > 0.0 {
                last + Duration::from_secs_f64(1.0 / gap)
            } else {
                last
            };
            let span = span.min(wall).max(Duration::from_millis(1));
            (span, Some(p.count_at(span) / span.as_secs_f64()))
        }
        Model::Closed => (wall, None),
    };
    Ok(Summary {
        totals,
        elapsed,
        seconds,
        asked_rps,
        connections,
        open,
    })
}

fn totals_add(totals: &mut Counts, second: &mut Counts) {
    totals.add(second);
    second.reset();
}

/// One event loop per core, each with its share of the connections (as wrk's threads): a
/// response wakes its connection on the thread that polled it, with no hand-off between threads.
/// Connections never wait on the cancel token themselves (a waiter per request costs a lock):
/// the loop does, and cancelling drops them.
fn event_loop(s: Arc<Shared>, thread: usize, threads: usize) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let mut connections = JoinSet::new();
        for c in (thread..s.config.connections.max(1)).step_by(threads) {
            connections.spawn(work(s.clone(), c));
        }
        tokio::select! {
            _ = async { while connections.join_next().await.is_some() {} } => {}
            _ = s.cancel.cancelled() => {}
        }
    });
}

/// The next request's intended send time, or `None` when the load is done.
async fn claim(s: &Shared) -> Option<Instant> {
    let k = s.next.fetch_add(1, Ordering::Relaxed);
    if s.config.max_requests.is_some_and(|m| k >= m) {
        return None;
    }
    match &s.config.model {
        Model::Open(profile) => {
            let due = profile.due(k)?;
            if s.config.duration.is_some_and(|d| due >= d) {
                return None;
            }
            s.last_due
                .fetch_max(due.as_micros() as u64, Ordering::Relaxed);
            let at = s.start + due;
            tokio::time::sleep_until(at).await;
            Some(at)
        }
        Model::Closed => {
            let now = Instant::now();
            if s.config.duration.is_some_and(|d| now - s.start >= d) {
                return None;
            }
            Some(now)
        }
    }
}

const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

async fn work(s: Arc<Shared>, index: usize) {
    let mut conn: Option<Conn> = None;
    let mut backoff = Duration::ZERO;
    // After a failed connect, no new one before this; an open-model request due meanwhile
    // counts as a connect error (the target is known down) at its due time — so an unreachable
    // target costs one timer per request, and the closed model sleeps instead.
    let mut down_until: Option<Instant> = None;
    let open = matches!(s.config.model, Model::Open(_));
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (index as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let head = s.config.requests.is_head();
    let timeout = s.config.timeout;
    while let Some(intended) = claim(&s).await {
        let deadline = intended + timeout;
        let now = Instant::now();
        if now >= deadline {
            // Its response could only have come after the timeout (the open model is behind).
            let kind = match down_until {
                Some(_) => ErrorKind::Connect,
                None => ErrorKind::Timeout,
            };
            s.recorder.record(index, Outcome::Failed(kind));
            continue;
        }
        if conn.is_none()
            && let Some(until) = down_until
            && now < until
        {
            if open {
                s.recorder
                    .record(index, Outcome::Failed(ErrorKind::Connect));
                continue;
            }
            tokio::time::sleep_until(until).await;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match tokio::time::timeout_at(deadline, Conn::connect(s.addr)).await {
                Ok(Ok(c)) => {
                    backoff = Duration::ZERO;
                    down_until = None;
                    conn.insert(c)
                }
                Ok(Err(_)) | Err(_) => {
                    s.recorder
                        .record(index, Outcome::Failed(ErrorKind::Connect));
                    backoff = (backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                    down_until = Some(Instant::now() + backoff);
                    continue;
                }
            },
        };
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let request = s.config.requests.pick(rng);
        let outcome = match tokio::time::timeout_at(deadline, c.roundtrip(request, head)).await {
            Ok(Ok(response)) => {
                if response.close {
                    conn = None;
                }
                Outcome::Response {
                    status: response.status,
                    micros: intended.elapsed().as_micros() as u64,
                }
            }
            Ok(Err(e)) => {
                conn = None;
                Outcome::Failed(match e {
                    WireError::Connect(_) => ErrorKind::Connect,
                    WireError::Io(_) | WireError::Closed => ErrorKind::Io,
                    WireError::Parse(_) => ErrorKind::Parse,
                })
            }
            Err(_) => {
                conn = None;
                Outcome::Failed(ErrorKind::Timeout)
            }
        };
        s.recorder.record(index, outcome);
    }
}
