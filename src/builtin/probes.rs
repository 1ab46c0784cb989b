//! The native probes: `tcp.connect`, `file.exists`, `http.measure`.

use std::time::Duration;

use serde_json::Value;

use super::BuiltinError;
use crate::loadgen::{self, LoadPlan};
use crate::proxy::{ApiError, ProxyApi};
use crate::schema::{int_of, number_of};

/// The fault proxy's API base URL of a proxy builtin: its `api` argument, or Toxiproxy's default
/// address.
pub fn proxy_api(args: &Value) -> &str {
    args.get("api")
        .and_then(Value::as_str)
        .unwrap_or(crate::fault::proxy::DEFAULT_API)
        .trim_end_matches('/')
}

/// `true` when a TCP connection opens within the timeout; refused/unreachable/timeout → `false`.
pub(super) async fn tcp_connect(args: &Value) -> Result<Value, BuiltinError> {
    let host = args["host"].as_str().unwrap_or_default();
    let port = int_of(&args["port"]).unwrap_or_default() as u16;
    let timeout = number_of(args.get("timeout_s").unwrap_or(&Value::Null)).unwrap_or(3.0);
    let attempt = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(Duration::from_secs_f64(timeout), attempt).await {
        Ok(Ok(_)) => Ok(Value::Bool(true)),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidInput => {
            Err(BuiltinError::Failed(format!("invalid host {host:?}: {e}")))
        }
        Ok(Err(_)) | Err(_) => Ok(Value::Bool(false)),
    }
}

/// `true` when the path exists (`~` expanded).
pub(super) fn file_exists(args: &Value) -> Value {
    let path = args["path"].as_str().unwrap_or_default();
    let expanded = match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => std::path::PathBuf::from(path),
    };
    Value::Bool(expanded.exists())
}

/// Sends the requests and reports throughput, error rate and latency percentiles.
pub(super) async fn http_measure(args: &Value) -> Result<Value, BuiltinError> {
    let url_text = args["url"].as_str().unwrap_or_default();
    let url = loadgen::Url::parse(url_text).map_err(|e| {
        BuiltinError::Arguments(format!(
            "url: {e} (http.measure takes an http:// URL with a host)"
        ))
    })?;
    let method = args
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let requests = args.get("requests").and_then(int_of).unwrap_or(100).max(1) as u64;
    let concurrency =
        (args.get("concurrency").and_then(int_of).unwrap_or(4).max(1) as u64).min(requests);
    let headers = args
        .get("headers")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let template = loadgen::Template {
        method,
        headers,
        body: bytes::Bytes::from(
            args.get("body")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ),
    };
    let prepared = loadgen::Requests::single(&url, &template)
        .map_err(|e| BuiltinError::Arguments(e.to_string()))?;
    let plan = LoadPlan {
        requests: std::sync::Arc::new(prepared),
        count: requests,
        concurrency,
        rate: args.get("rate").and_then(number_of),
        timeout: Duration::from_secs_f64(args.get("timeout_s").and_then(number_of).unwrap_or(5.0)),
    };
    let report = loadgen::measure(&plan)
        .await
        .map_err(|e| BuiltinError::Failed(e.to_string()))?;
    serde_json::to_value(report).map_err(|e| BuiltinError::Failed(e.to_string()))
}

/// A proxy's live figures from the fault proxy's `GET /proxies/{proxy}/traffic`.
pub(super) async fn traffic_tcp(args: &Value) -> Result<Value, BuiltinError> {
    let api = ProxyApi::new(proxy_api(args));
    let proxy = args["proxy"].as_str().unwrap_or_default();
    api.traffic(proxy, None)
        .await
        .map_err(|e| traffic_error(&api, proxy, e))
}

/// A missing proxy, or an API without traffic figures (Toxiproxy's own has none), said plainly.
fn traffic_error(api: &ProxyApi, proxy: &str, e: ApiError) -> BuiltinError {
    match e {
        ApiError::NotFound { message, .. } if message == "proxy not found" => {
            BuiltinError::Failed(format!("proxy {proxy:?} not found at {}", api.base()))
        }
        ApiError::NotFound { url, .. } => BuiltinError::Failed(format!(
            "read {url}: the API has no traffic figures (only monkeywrench's proxy serves them)"
        )),
        e @ (ApiError::Unreachable { .. }
        | ApiError::TimedOut { .. }
        | ApiError::Status { .. }
        | ApiError::Decode { .. }) => BuiltinError::Failed(e.to_string()),
    }
}

/// How many running containers match `target` (opted-out ones are not counted).
pub(super) async fn container_running(args: &Value) -> Result<Value, BuiltinError> {
    let selector = crate::target::container_selector::ContainerSelector::parse(&args["target"])
        .map_err(|e| BuiltinError::Arguments(e.to_string()))?;
    let engine = crate::target::docker::Engine::connect()
        .await
        .map_err(engine_failed)?;
    let found = selector.find(&engine).await.map_err(|e| {
        if e.is_unavailable() {
            BuiltinError::Unavailable(e.to_string())
        } else {
            BuiltinError::Failed(e.to_string())
        }
    })?;
    Ok(Value::from(found.len()))
}

/// `{running, desired}` replicas of a Swarm service (`desired` is null for a global service).
pub(super) async fn swarm_replicas(args: &Value) -> Result<Value, BuiltinError> {
    let name = args["service"].as_str().unwrap_or_default();
    let engine = crate::target::docker::Engine::connect()
        .await
        .map_err(engine_failed)?;
    let (running, desired) = crate::target::swarm::replicas(&engine, name)
        .await
        .map_err(engine_failed)?;
    Ok(serde_json::json!({"running": running, "desired": desired}))
}

fn engine_failed(e: crate::target::docker::EngineError) -> BuiltinError {
    if e.is_unavailable() {
        BuiltinError::Unavailable(e.to_string())
    } else {
        BuiltinError::Failed(e.to_string())
    }
}

/// An http proxy's figures over `window_s`: `{requests, rps, error_rate, p50_ms, p95_ms, p99_ms}`
/// (plus time to first byte and status classes), for all requests or one route.
pub(super) async fn traffic_metrics(args: &Value) -> Result<Value, BuiltinError> {
    let api = ProxyApi::new(proxy_api(args));
    let proxy = args["proxy"].as_str().unwrap_or_default();
    let window = args
        .get("window_s")
        .and_then(int_of)
        .and_then(|w| u64::try_from(w).ok())
        .unwrap_or(10);
    let body = api
        .traffic(proxy, Some(window))
        .await
        .map_err(|e| traffic_error(&api, proxy, e))?;
    let http = body.get("http").ok_or_else(|| {
        BuiltinError::Failed(format!(
            "proxy {proxy:?} is not an http proxy (create it with \"protocol\": \"http\")"
        ))
    })?;
    let figures = match args.get("route").and_then(Value::as_str) {
        Some(route) => http["routes"].get(route).cloned().ok_or_else(|| {
            BuiltinError::Failed(format!("proxy {proxy:?} has no route {route:?}"))
        })?,
        None => {
            let mut all = http.clone();
            if let Value::Object(m) = &mut all {
                m.remove("routes");
            }
            all
        }
    };
    Ok(figures)
}

/// Control vs experiment cohorts of an http proxy, from `GET /proxies/{proxy}/cohorts/compare`.
pub(super) async fn traffic_compare(args: &Value) -> Result<Value, BuiltinError> {
    let api = ProxyApi::new(proxy_api(args));
    let proxy = args["proxy"].as_str().unwrap_or_default();
    let mut query = Vec::new();
    for key in [
        "route",
        "window_s",
        "max_error_rate_increase",
        "max_latency_increase_ms",
        "max_p99_increase_ms",
        "alpha",
        "min_requests",
    ] {
        match args.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => query.push(format!("{key}={}", urlencode(s))),
            Some(v) => query.push(format!("{key}={v}")),
        }
    }
    match api.compare_cohorts(proxy, &query.join("&")).await {
        Ok(v) => Ok(v),
        // Before the split (a safeguard checks before the method's first action) there is
        // nothing to judge yet: that is no evidence of harm.
        Err(ApiError::NotFound { message, .. }) if message.ends_with("has no cohorts") => {
            Ok(serde_json::json!({"verdict": "not-enough-data", "worse": false, "reason": message}))
        }
        Err(ApiError::NotFound { message, .. }) if message == "proxy not found" => Err(
            BuiltinError::Failed(format!("proxy {proxy:?} not found at {}", api.base())),
        ),
        Err(other) => Err(BuiltinError::Failed(other.to_string())),
    }
}

/// Percent-encodes a query value (route names may hold spaces and slashes).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
