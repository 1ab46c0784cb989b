//! What `http.measure` needs: N requests, closed at a concurrency or open at a rate, reported
//! with the same keys as `traffic.metrics`.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::engine::{self, Config, EngineError, Model};
use super::profile::ProfileSpec;
use super::stats::round3;
use super::template::Requests;

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub requests: Arc<Requests>,
    /// Total requests.
    pub count: u64,
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

/// Runs the plan and reports. Dropping the future stops the load.
pub(super) async fn run(plan: &LoadPlan) -> Result<LoadReport, EngineError> {
    let model = match plan.rate.filter(|r| *r > 0.0) {
        Some(rate) => Model::Open(
            ProfileSpec::constant(rate, Duration::from_secs_f64(plan.count as f64 / rate))
                .resolve(None, None)
                .expect("an absolute constant profile resolves"),
        ),
        None => Model::Closed,
    };
    let config = Config {
        requests: plan.requests.clone(),
        model,
        connections: plan.concurrency.clamp(1, plan.count.max(1)) as usize,
        duration: None,
        max_requests: Some(plan.count),
        timeout: plan.timeout,
    };
    let summary = engine::run(config, CancellationToken::new(), |_, _| {}).await?;
    let t = &summary.totals;
    Ok(LoadReport {
        requests: t.requests(),
        rps: round3(summary.rps()),
        error_rate: (summary.error_rate() * 1e6).round() / 1e6,
        p50_ms: round3(t.ms(0.50)),
        p95_ms: round3(t.ms(0.95)),
        p99_ms: round3(t.ms(0.99)),
    })
}
