//! `GET /metrics` in Prometheus text format: Toxiproxy's byte counters (live, not only when a link
//! ends) plus `monkeywrench_` series for connections and http proxies' requests.

use super::api::ApiOptions;
use super::http::balance::UpstreamCounters;
use super::http::stats::HttpCounters;
use super::registry::Registry;
use crate::exposition::{Exposition, Kind};

/// Renders the exposition text.
pub(super) async fn render(registry: &Registry, options: &ApiOptions) -> String {
    let mut out = Exposition::new();
    if options.proxy_metrics {
        let metrics = registry.metrics().await;
        for (series, help, key) in [
            (
                "toxiproxy_proxy_received_bytes_total",
                "Bytes read from a link's source.",
                "received",
            ),
            (
                "toxiproxy_proxy_sent_bytes_total",
                "Bytes written to a link's destination.",
                "sent",
            ),
        ] {
            out.family(series, Kind::Counter, help);
            for (proxy, m) in &metrics {
                for direction in ["upstream", "downstream"] {
                    let labels = [
                        ("direction", direction),
                        ("listener", m["listen"].as_str().unwrap_or("")),
                        ("proxy", proxy.as_str()),
                        ("upstream", m["upstream"].as_str().unwrap_or("")),
                    ];
                    let bytes = m["bytes"][direction][key].as_u64().unwrap_or(0);
                    out.sample(series, &labels, bytes);
                }
            }
        }
        for (series, kind, help, path) in [
            (
                "monkeywrench_proxy_connections_active",
                Kind::Gauge,
                "Connections open now.",
                "active",
            ),
            (
                "monkeywrench_proxy_connections_total",
                Kind::Counter,
                "Connections accepted.",
                "total",
            ),
            (
                "monkeywrench_proxy_upstream_dial_failures_total",
                Kind::Counter,
                "Upstream dials that failed.",
                "failed_upstream_dials",
            ),
        ] {
            out.family(series, kind, help);
            for (proxy, m) in &metrics {
                let n = m["connections"][path].as_u64().unwrap_or(0);
                out.sample(series, &[("proxy", proxy)], n);
            }
        }
        render_http(&mut out, &registry.http_counters().await);
        render_upstreams(&mut out, &registry.upstream_counters().await);
        render_cohorts(&mut out, &registry.cohort_splits().await);
    }
    if options.runtime_metrics {
        out.process_metrics();
    }
    out.finish()
}

/// Each upstream of each http proxy: responses, 5xx, failures (no head), and whether it is in
/// the rotation.
fn render_upstreams(out: &mut Exposition, proxies: &[(String, UpstreamCounters)]) {
    if proxies.is_empty() {
        return;
    }
    for (i, (series, kind, help)) in [
        (
            "monkeywrench_http_upstream_responses_total",
            Kind::Counter,
            "Responses each upstream of an http proxy sent.",
        ),
        (
            "monkeywrench_http_upstream_errors_total",
            Kind::Counter,
            "5xx responses each upstream of an http proxy sent.",
        ),
        (
            "monkeywrench_http_upstream_failures_total",
            Kind::Counter,
            "Refused dials, broken connections and timeouts before a response head, per upstream.",
        ),
        (
            "monkeywrench_http_upstream_up",
            Kind::Gauge,
            "1 while an upstream is in the rotation, 0 while it is marked down.",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        out.family(series, kind, help);
        for (proxy, upstreams) in proxies {
            for (address, responses, errors, failures, up) in upstreams {
                let value = match i {
                    0 => *responses,
                    1 => *errors,
                    2 => *failures,
                    _ => u64::from(*up),
                };
                let labels = [("proxy", proxy.as_str()), ("upstream", address.as_str())];
                out.sample(series, &labels, value);
            }
        }
    }
}

/// Requests and errors of each cohort since its split was set (a new split starts them from 0,
/// which Prometheus reads as a counter reset).
fn render_cohorts(out: &mut Exposition, splits: &[(String, serde_json::Value)]) {
    if splits.is_empty() {
        return;
    }
    for (series, help, key) in [
        (
            "monkeywrench_http_cohort_requests_total",
            "Requests of each cohort of an http proxy since its split.",
            "requests",
        ),
        (
            "monkeywrench_http_cohort_errors_total",
            "5xx and cut responses of each cohort since its split.",
            "errors",
        ),
    ] {
        out.family(series, Kind::Counter, help);
        for (proxy, split) in splits {
            for cohort in ["control", "experiment"] {
                let n = split[cohort][key].as_u64().unwrap_or(0);
                out.sample(series, &[("cohort", cohort), ("proxy", proxy.as_str())], n);
            }
        }
    }
}

/// The `monkeywrench_http_` series of the http proxies (none when there are none).
fn render_http(out: &mut Exposition, http: &[(String, HttpCounters, u64)]) {
    if http.is_empty() {
        return;
    }
    let series = "monkeywrench_http_requests_total";
    out.family(
        series,
        Kind::Counter,
        "Requests through http proxies by route and status class.",
    );
    for (proxy, routes, _) in http {
        for (route, _, classes, _) in routes {
            for (class, n) in ["1xx", "2xx", "3xx", "4xx", "5xx", "aborted"]
                .iter()
                .zip(classes)
            {
                let labels = [
                    ("proxy", proxy.as_str()),
                    ("route", route),
                    ("class", class),
                ];
                out.sample(series, &labels, n);
            }
        }
    }
    let series = "monkeywrench_http_request_duration_seconds";
    out.family(
        series,
        Kind::Summary,
        "Time to the last byte, since the proxy started.",
    );
    for (proxy, routes, _) in http {
        for (route, count, _, quantiles) in routes {
            let labels = [("proxy", proxy.as_str()), ("route", route.as_str())];
            for (q, v) in quantiles {
                let q = q.to_string();
                let with_quantile = [labels[0], labels[1], ("quantile", q.as_str())];
                out.sample(series, &with_quantile, v);
            }
            out.sample(&format!("{series}_count"), &labels, count);
        }
    }
    let series = "monkeywrench_http_retried_requests_total";
    out.family(
        series,
        Kind::Counter,
        "Requests sent again: on a fresh connection after the upstream closed a kept-alive one on them, or to the next upstream.",
    );
    for (proxy, _, retried) in http {
        out.sample(series, &[("proxy", proxy)], retried);
    }
}
