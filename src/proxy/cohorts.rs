//! `/proxies/{name}/cohorts`: set, read and clear an http proxy's cohort split, and compare its
//! cohorts (`/cohorts/compare`).

use serde_json::Value;

use super::http::cohort::CohortSplit;
use super::http::compare::Thresholds;
use super::registry::Registry;
use super::toxic::ApiError;

fn no_split(name: &str) -> ApiError {
    ApiError::new(404, format!("proxy {name} has no cohorts"))
}

/// `POST /proxies/{name}/cohorts`: the split in force from now (replacing any other).
pub(super) async fn set(registry: &Registry, name: &str, body: &Value) -> Result<Value, ApiError> {
    let split = CohortSplit::parse(body)?;
    let stats = registry.http_stats(name).await?;
    Ok(stats.set_cohorts(split).to_json())
}

/// `GET /proxies/{name}/cohorts`.
pub(super) async fn get(registry: &Registry, name: &str) -> Result<Value, ApiError> {
    let stats = registry.http_stats(name).await?;
    stats
        .cohorts()
        .map(|c| c.to_json())
        .ok_or_else(|| no_split(name))
}

/// `DELETE /proxies/{name}/cohorts`.
pub(super) async fn clear(registry: &Registry, name: &str) -> Result<(), ApiError> {
    let stats = registry.http_stats(name).await?;
    if stats.clear_cohorts() {
        Ok(())
    } else {
        Err(no_split(name))
    }
}

/// One `key=value` of a query string.
pub(super) fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// `%XX` escapes decoded (route names hold spaces, slashes and braces).
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /proxies/{name}/cohorts/compare?route=&window_s=&alpha=&max_error_rate_increase=
/// &max_latency_increase_ms=&max_p99_increase_ms=&min_requests=`.
pub(super) async fn compare(
    registry: &Registry,
    name: &str,
    query: &str,
) -> Result<Value, ApiError> {
    let number =
        |key: &str, check: fn(f64) -> bool, expected: &str| -> Result<Option<f64>, ApiError> {
            match query_param(query, key) {
                None => Ok(None),
                Some(v) => match v.parse::<f64>() {
                    Ok(x) if check(x) => Ok(Some(x)),
                    _ => Err(ApiError::new(
                        400,
                        format!("{key}={v}: expected {expected}"),
                    )),
                },
            }
        };
    let alpha = number(
        "alpha",
        |a| a > 0.0 && a < 0.5,
        "a level above 0 and below 0.5",
    )?;
    let error_margin = number(
        "max_error_rate_increase",
        |m| (0.0..1.0).contains(&m),
        "a rate difference from 0 to 1 (0.005 = half a percentage point)",
    )?;
    let latency_margin = number(
        "max_latency_increase_ms",
        |m| m >= 0.0 && m.is_finite(),
        "milliseconds ≥ 0",
    )?;
    let p99_margin = number(
        "max_p99_increase_ms",
        |m| m >= 0.0 && m.is_finite(),
        "milliseconds ≥ 0",
    )?;
    let min_requests = number(
        "min_requests",
        |m| m >= 1.0 && m.fract() == 0.0,
        "a whole number ≥ 1",
    )?;
    let window = number(
        "window_s",
        |w| (1.0..=900.0).contains(&w) && w.fract() == 0.0,
        "whole seconds from 1 to 900 (leave it out to compare since the split, with repeated looks allowed)",
    )?;
    let stats = registry.http_stats(name).await?;
    let route = match query_param(query, "route").map(percent_decoded) {
        None => None,
        Some(r) => Some(
            stats
                .route_index(&r)
                .ok_or_else(|| ApiError::new(404, format!("proxy {name} has no route {r:?}")))?,
        ),
    };
    let state = stats.cohorts().ok_or_else(|| no_split(name))?;
    let thresholds = Thresholds {
        alpha: alpha.unwrap_or(0.05),
        max_error_rate_increase: error_margin.unwrap_or(0.0),
        max_latency_increase_ms: latency_margin,
        max_p99_increase_ms: p99_margin,
        min_requests: min_requests.map_or(50, |m| m as u64),
    };
    Ok(state.compare(route, window.map(|w| w as u64), &thresholds))
}
