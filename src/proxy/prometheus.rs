//! `GET /metrics` in Prometheus text format: Toxiproxy's byte counters (live, not only when a link
//! ends) plus `monkeywrench_` series for connections.

use std::fmt::Write;

use super::api::ApiOptions;
use super::registry::Registry;

/// Renders the exposition text.
pub async fn render(registry: &Registry, options: &ApiOptions) -> String {
    let mut out = String::new();
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
            let _ = writeln!(out, "# HELP {series} {help}\n# TYPE {series} counter");
            for (proxy, m) in &metrics {
                for direction in ["upstream", "downstream"] {
                    let _ = writeln!(
                        out,
                        "{series}{{direction=\"{direction}\",listener=\"{}\",proxy=\"{proxy}\",upstream=\"{}\"}} {}",
                        m["listen"].as_str().unwrap_or(""),
                        m["upstream"].as_str().unwrap_or(""),
                        m["bytes"][direction][key].as_u64().unwrap_or(0)
                    );
                }
            }
        }
        for (series, help, path) in [
            (
                "monkeywrench_proxy_connections_active",
                "Connections open now.",
                "active",
            ),
            (
                "monkeywrench_proxy_connections_total",
                "Connections accepted.",
                "total",
            ),
            (
                "monkeywrench_proxy_upstream_dial_failures_total",
                "Upstream dials that failed.",
                "failed_upstream_dials",
            ),
        ] {
            let kind = if series.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(out, "# HELP {series} {help}\n# TYPE {series} {kind}");
            for (proxy, m) in &metrics {
                let _ = writeln!(
                    out,
                    "{series}{{proxy=\"{proxy}\"}} {}",
                    m["connections"][path].as_u64().unwrap_or(0)
                );
            }
        }
    }
    if options.proxy_metrics {
        let http = registry.http_counters().await;
        if !http.is_empty() {
            let _ = writeln!(
                out,
                "# HELP monkeywrench_http_requests_total Requests through http proxies by route and status class.\n# TYPE monkeywrench_http_requests_total counter"
            );
            for (proxy, routes, _) in &http {
                for (route, _, classes, _) in routes {
                    for (class, n) in ["1xx", "2xx", "3xx", "4xx", "5xx", "aborted"]
                        .iter()
                        .zip(classes)
                    {
                        let _ = writeln!(
                            out,
                            "monkeywrench_http_requests_total{{proxy=\"{proxy}\",route=\"{route}\",class=\"{class}\"}} {n}"
                        );
                    }
                }
            }
            let _ = writeln!(
                out,
                "# HELP monkeywrench_http_request_duration_seconds Time to the last byte, since the proxy started.\n# TYPE monkeywrench_http_request_duration_seconds summary"
            );
            for (proxy, routes, _) in &http {
                for (route, count, _, quantiles) in routes {
                    for (q, v) in quantiles {
                        let _ = writeln!(
                            out,
                            "monkeywrench_http_request_duration_seconds{{proxy=\"{proxy}\",route=\"{route}\",quantile=\"{q}\"}} {v}"
                        );
                    }
                    let _ = writeln!(
                        out,
                        "monkeywrench_http_request_duration_seconds_count{{proxy=\"{proxy}\",route=\"{route}\"}} {count}"
                    );
                }
            }
            let _ = writeln!(
                out,
                "# HELP monkeywrench_http_retried_requests_total Requests sent again on a fresh connection after the upstream closed a kept-alive one on them.\n# TYPE monkeywrench_http_retried_requests_total counter"
            );
            for (proxy, _, retried) in &http {
                let _ = writeln!(
                    out,
                    "monkeywrench_http_retried_requests_total{{proxy=\"{proxy}\"}} {retried}"
                );
            }
        }
    }
    if options.runtime_metrics
        && let Ok(status) = std::fs::read_to_string("/proc/self/status")
    {
        let rss_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}",
            rss_kib * 1024
        );
    }
    out
}
