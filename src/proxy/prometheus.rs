//! `GET /metrics` in Prometheus text format: Toxiproxy's byte counters (live, not only when a link
//! ends) plus `monkeywrench_` series for connections and http proxies' requests.

use std::fmt::Write;

use super::api::ApiOptions;
use super::http::stats::HttpCounters;
use super::registry::Registry;

/// Writes a series' `# HELP` and `# TYPE` lines.
fn header(out: &mut String, series: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {series} {help}\n# TYPE {series} {kind}");
}

/// Renders the exposition text.
pub(super) async fn render(registry: &Registry, options: &ApiOptions) -> String {
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
            header(&mut out, series, "counter", help);
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
            header(&mut out, series, kind, help);
            for (proxy, m) in &metrics {
                let _ = writeln!(
                    out,
                    "{series}{{proxy=\"{proxy}\"}} {}",
                    m["connections"][path].as_u64().unwrap_or(0)
                );
            }
        }
        render_http(&mut out, &registry.http_counters().await);
    }
    if options.runtime_metrics
        && let Ok(status) = std::fs::read_to_string("/proc/self/status")
    {
        let rss_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        header(
            &mut out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
        );
        let _ = writeln!(out, "process_resident_memory_bytes {}", rss_kib * 1024);
    }
    out
}

/// The `monkeywrench_http_` series of the http proxies (none when there are none).
fn render_http(out: &mut String, http: &[(String, HttpCounters, u64)]) {
    if http.is_empty() {
        return;
    }
    header(
        out,
        "monkeywrench_http_requests_total",
        "counter",
        "Requests through http proxies by route and status class.",
    );
    for (proxy, routes, _) in http {
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
    let series = "monkeywrench_http_request_duration_seconds";
    header(
        out,
        series,
        "summary",
        "Time to the last byte, since the proxy started.",
    );
    for (proxy, routes, _) in http {
        for (route, count, _, quantiles) in routes {
            let labels = format!("proxy=\"{proxy}\",route=\"{route}\"");
            for (q, v) in quantiles {
                let _ = writeln!(out, "{series}{{{labels},quantile=\"{q}\"}} {v}");
            }
            let _ = writeln!(out, "{series}_count{{{labels}}} {count}");
        }
    }
    header(
        out,
        "monkeywrench_http_retried_requests_total",
        "counter",
        "Requests sent again on a fresh connection after the upstream closed a kept-alive one on them.",
    );
    for (proxy, _, retried) in http {
        let _ = writeln!(
            out,
            "monkeywrench_http_retried_requests_total{{proxy=\"{proxy}\"}} {retried}"
        );
    }
}
