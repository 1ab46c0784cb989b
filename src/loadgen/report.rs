//! A load's summary as a table for people and as JSON (`--output json`).

use serde_json::{Value, json};

use super::engine::Summary;
use super::stats::{ErrorKind, round3};

const QUANTILES: [(&str, f64); 5] = [
    ("p50", 0.5),
    ("p90", 0.9),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p999", 0.999),
];

pub fn to_json(s: &Summary) -> Value {
    let t = &s.totals;
    let mut latency = serde_json::Map::new();
    for (name, q) in QUANTILES {
        latency.insert(name.into(), json!(round3(t.ms(q))));
    }
    let (mean, max) = if t.latency.is_empty() {
        (0.0, 0.0)
    } else {
        (t.latency.mean() / 1000.0, t.latency.max() as f64 / 1000.0)
    };
    latency.insert("mean".into(), json!(round3(mean)));
    latency.insert("max".into(), json!(round3(max)));
    let errors: serde_json::Map<String, Value> = ErrorKind::ALL
        .iter()
        .map(|k| (k.name().to_string(), json!(t.errors_of(*k))))
        .collect();
    json!({
        "model": if s.open { "open" } else { "closed" },
        "connections": s.connections,
        "duration_s": round3(s.elapsed.as_secs_f64()),
        "requests": t.requests(),
        "ok": t.ok,
        "errors": t.errors(),
        "errors_by_kind": errors,
        "error_rate": (s.error_rate() * 1e6).round() / 1e6,
        "rps": round3(s.rps()),
        "asked_rps": s.asked_rps.map(round3),
        "latency_ms": latency,
        "seconds": s.seconds,
    })
}

pub fn to_table(s: &Summary) -> String {
    let t = &s.totals;
    let mut out = format!(
        "{} model, {} connection(s), {:.2} s\n",
        if s.open { "open" } else { "closed" },
        s.connections,
        s.elapsed.as_secs_f64()
    );
    let asked = s
        .asked_rps
        .map(|a| format!(", asked {a:.1}"))
        .unwrap_or_default();
    out.push_str(&format!(
        "  requests    {:>10}   {:.1} req/s{asked}\n",
        t.requests(),
        s.rps()
    ));
    let kinds: Vec<String> = ErrorKind::ALL
        .iter()
        .filter(|k| t.errors_of(**k) > 0)
        .map(|k| format!("{} {}", k.name(), t.errors_of(*k)))
        .collect();
    out.push_str(&format!(
        "  errors      {:>10}   {:.2}%{}\n",
        t.errors(),
        s.error_rate() * 100.0,
        if kinds.is_empty() {
            String::new()
        } else {
            format!("  ({})", kinds.join(", "))
        }
    ));
    out.push_str("  latency ms ");
    for (name, q) in QUANTILES {
        out.push_str(&format!("  {name} {:.3}", t.ms(q)));
    }
    let max = if t.latency.is_empty() {
        0.0
    } else {
        t.latency.max() as f64 / 1000.0
    };
    out.push_str(&format!("  max {max:.3}\n"));
    if s.open {
        out.push_str("  (open model: latency from each request's intended send time)\n");
    }
    out
}
