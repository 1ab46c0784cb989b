//! The demo's stage: an http proxy of ours in front of the replicas (in this process, with its
//! Toxiproxy-compatible API on loopback, so the experiments' `traffic.metrics` and `http.fault`
//! reach it as they would any proxy), and a load generator sending steady traffic through it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::loadgen::{self, Model, ProfileSpec, Requests, Second, Template, Url};
use crate::proxy::{ApiOptions, Registry};

/// The proxy's name in its API (the experiments' `proxy:`).
pub const PROXY_NAME: &str = "demo";

/// How long a replica may take to start answering before the proxy tries the next one: a
/// frozen replica then costs a request this much latency, not an error.
const UPSTREAM_TIMEOUT_MS: u64 = 300;

/// The stage could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("bind the proxy API on 127.0.0.1: {0}")]
    Bind(std::io::Error),
    #[error("create the demo proxy: {0}")]
    Proxy(String),
    #[error("set up the load: {0}")]
    Load(String),
}

/// The proxy, its API, and the load going through it; [`Stage::stop`] ends them all.
pub struct Stage {
    /// `http://127.0.0.1:PORT` of the proxy API.
    pub api: String,
    /// `127.0.0.1:PORT` the proxy listens on.
    pub listen: String,
    registry: Registry,
    cancel: CancellationToken,
    load_cancel: CancellationToken,
    /// Whether each second of load is printed.
    live: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Stage {
    /// Starts the proxy over `upstreams` (routes `items` and `health`) and its API.
    pub async fn start(upstreams: &[String]) -> Result<Stage, StageError> {
        let registry = Registry::new(0);
        let api_listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(StageError::Bind)?;
        let api = format!(
            "http://{}",
            api_listener.local_addr().map_err(StageError::Bind)?
        );
        let proxy = registry
            .create(&json!({
                "name": PROXY_NAME,
                "listen": "127.0.0.1:0",
                "upstreams": upstreams,
                "protocol": "http",
                "upstream_timeout_ms": UPSTREAM_TIMEOUT_MS,
                "routes": [
                    {"name": "items", "method": "GET", "path": "/api/items"},
                    {"name": "health", "method": "GET", "path": "/health"},
                ],
            }))
            .await
            .map_err(|e| StageError::Proxy(e.message))?;
        let listen = proxy["listen"].as_str().unwrap_or_default().to_string();
        let cancel = CancellationToken::new();
        let serving = tokio::spawn(crate::proxy::serve(
            api_listener,
            registry.clone(),
            ApiOptions::default(),
            cancel.clone(),
        ));
        Ok(Stage {
            api,
            listen,
            registry,
            cancel,
            load_cancel: CancellationToken::new(),
            live: Arc::new(AtomicBool::new(true)),
            tasks: vec![serving],
        })
    }

    /// Sends `rate` requests per second through the proxy (3 item lookups to 1 health check)
    /// until [`Stage::stop`]; each second's figures go to `on_second` while live printing is on.
    pub fn start_load(
        &mut self,
        rate: f64,
        on_second: impl Fn(&Second) + Send + 'static,
    ) -> Result<(), StageError> {
        let url = |path: &str| {
            Url::parse(&format!("http://{}{path}", self.listen)).map_err(StageError::Load)
        };
        let requests = Requests::weighted(
            &[(url("/api/items")?, 3), (url("/health")?, 1)],
            &Template::default(),
        )
        .map_err(|e| StageError::Load(e.to_string()))?;
        // Long enough for any demo; the load is cancelled when the demo ends.
        let length = Duration::from_secs(24 * 3600);
        let profile = ProfileSpec::constant(rate, length)
            .resolve(None, None)
            .map_err(|e| StageError::Load(e.to_string()))?;
        let config = loadgen::Config {
            requests: Arc::new(requests),
            model: Model::Open(profile),
            connections: 16,
            duration: Some(length),
            max_requests: None,
            timeout: Duration::from_secs(5),
        };
        let (cancel, live) = (self.load_cancel.clone(), self.live.clone());
        self.tasks.push(tokio::spawn(async move {
            let _ = loadgen::run(config, cancel, move |second, _| {
                if live.load(Ordering::Relaxed) {
                    on_second(second);
                }
            })
            .await;
        }));
        Ok(())
    }

    /// Turns the per-second printing on or off (the load goes on).
    pub fn set_live(&self, on: bool) {
        self.live.store(on, Ordering::Relaxed);
    }

    /// The proxy's figures (`GET /proxies/demo/traffic?window_s=0`).
    pub async fn traffic(&self) -> serde_json::Value {
        self.registry
            .traffic(PROXY_NAME, 0)
            .await
            .unwrap_or_default()
    }

    /// Stops the load, the proxy and its API.
    pub async fn stop(mut self) {
        self.load_cancel.cancel();
        self.cancel.cancel();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        self.registry.shutdown().await;
    }
}

/// One line of live figures: `  live  12 s   100 req/s   0 errors   p99 3.1 ms`.
pub fn live_line(s: &Second) -> String {
    format!(
        "  live {:>4} s {:>6} req/s {:>5} errors   p99 {:>7.1} ms",
        s.second, s.requests, s.errors, s.p99_ms
    )
}
