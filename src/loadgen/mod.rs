//! HTTP load for measurements: N requests over keep-alive connections, closed-loop at a given
//! concurrency or open-model at a given rate. Latencies go into an HdrHistogram (µs); in the open
//! model they are measured from the *intended* send time, so a stalled server cannot hide its
//! queueing delay (coordinated omission).

use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Target URL (http only).
    pub url: hyper::Uri,
    pub method: hyper::Method,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Total requests.
    pub requests: u64,
    /// Concurrent connections.
    pub concurrency: u64,
    /// Requests per second (open model); `None` = as fast as possible.
    pub rate: Option<f64>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// The measured figures, the same keys as `traffic.metrics`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadReport {
    /// Requests sent.
    pub requests: u64,
    /// Completed requests per second over the whole run.
    pub rps: f64,
    /// Share of requests that failed (transport error, timeout, status ≥ 400).
    pub error_rate: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

struct Shared {
    histogram: Histogram<u64>,
    errors: u64,
}

/// Runs the plan and reports. Dropping the future stops the load (workers are aborted).
pub async fn run(plan: &LoadPlan) -> LoadReport {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(plan.timeout));
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(plan.concurrency as usize)
        .build(connector);
    let state = Arc::new(Worker {
        client,
        plan: plan.clone(),
        shared: Mutex::new(Shared {
            histogram: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("static histogram bounds are valid"),
            errors: 0,
        }),
        next: AtomicU64::new(0),
        started: Instant::now(),
    });
    let mut workers = JoinSet::new();
    for _ in 0..plan.concurrency.max(1) {
        workers.spawn(work(state.clone()));
    }
    while workers.join_next().await.is_some() {}
    let elapsed = state.started.elapsed().as_secs_f64().max(1e-9);
    let s = state.shared.lock().await;
    let n = s.histogram.len();
    let ms = |q: f64| round3(s.histogram.value_at_quantile(q) as f64 / 1000.0);
    LoadReport {
        requests: n,
        rps: round3(n as f64 / elapsed),
        error_rate: if n == 0 {
            0.0
        } else {
            round6(s.errors as f64 / n as f64)
        },
        p50_ms: ms(0.50),
        p95_ms: ms(0.95),
        p99_ms: ms(0.99),
    }
}

struct Worker {
    client: Client<HttpConnector, Full<Bytes>>,
    plan: LoadPlan,
    shared: Mutex<Shared>,
    next: AtomicU64,
    started: Instant,
}

async fn work(w: Arc<Worker>) {
    let interval = w
        .plan
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(1.0 / r));
    loop {
        let i = w.next.fetch_add(1, Ordering::Relaxed);
        if i >= w.plan.requests {
            return;
        }
        let intended = match interval {
            Some(iv) => {
                let at = w.started + iv.mul_f64(i as f64);
                tokio::time::sleep_until(at.into()).await;
                at
            }
            None => Instant::now(),
        };
        let ok = send(&w.client, &w.plan).await;
        let micros = intended.elapsed().as_micros().max(1) as u64;
        let mut s = w.shared.lock().await;
        let _ = s.histogram.record(micros.min(3_600_000_000));
        if !ok {
            s.errors += 1;
        }
    }
}

async fn send(client: &Client<HttpConnector, Full<Bytes>>, plan: &LoadPlan) -> bool {
    let mut builder = Request::builder()
        .method(plan.method.clone())
        .uri(plan.url.clone());
    for (k, v) in &plan.headers {
        builder = builder.header(k, v);
    }
    let Ok(request) = builder.body(Full::new(plan.body.clone())) else {
        return false;
    };
    let attempt = async {
        let response = client.request(request).await.ok()?;
        let status = response.status();
        // Read the whole body: a response is done when its last byte arrived.
        response.into_body().collect().await.ok()?;
        Some(status.as_u16() < 400)
    };
    matches!(
        tokio::time::timeout(plan.timeout, attempt).await,
        Ok(Some(true))
    )
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round6(x: f64) -> f64 {
    (x * 1_000_000.0).round() / 1_000_000.0
}
