//! `/traffic`: the live figures of the proxies the config names (`proxies:`), as the server
//! last read them: per proxy its rps, error rate and p99 over the last 10 s, each with a
//! sparkline of the last two minutes.

use std::fmt::Write;
use std::sync::Arc;

use super::page::{self, Nav};
use crate::report::html::{esc, num};
use crate::server::api::Reply;
use crate::server::daemon::Shared;
use crate::server::traffic::{ProxyTraffic, Sample, SourceTraffic};

pub(super) fn page(shared: &Arc<Shared>, params: &[(String, String)]) -> Reply {
    let sources = shared.traffic.snapshot();
    let part = part(&sources);
    page::page_or_part(
        shared,
        params,
        Nav::Traffic,
        "Traffic",
        || {
            format!(
                "<h1>Live traffic</h1><section id=\"traffic\" data-refresh=\"/traffic?part=1\" data-every=\"2000\">{part}</section>"
            )
        },
        || part.clone(),
    )
}

fn part(sources: &[SourceTraffic]) -> String {
    let mut out = String::new();
    if sources.is_empty() {
        out.push_str(
            "<p class=\"note\">No proxy is configured. Name the proxy APIs in <code>server.yaml</code> \
             to see their live traffic here:</p><pre><code>proxies:\n  - http://127.0.0.1:8474\n  \
             - {url: http://10.0.0.5:8474, name: shop, token_env: SHOP_PROXY_TOKEN}</code></pre>",
        );
        return out;
    }
    for s in sources {
        let _ = write!(
            out,
            "<section class=\"source\" data-source=\"{}\"><h2>{} <span class=\"note\">{}</span></h2>",
            esc(&s.name),
            esc(&s.name),
            esc(&s.url)
        );
        match (&s.error, &s.read_at) {
            (Some(e), _) => {
                let _ = write!(out, "<p class=\"error\">{}</p>", esc(e));
            }
            (None, None) => out.push_str("<p class=\"note\">Not read yet.</p>"),
            (None, Some(at)) => {
                let _ = write!(out, "<p class=\"note\">read {}</p>", esc(at));
            }
        }
        if s.proxies.is_empty() {
            out.push_str("<p class=\"note\">No proxy on this API.</p></section>");
            continue;
        }
        out.push_str(
            "<div class=\"scroll\"><table class=\"traffic stack\"><thead><tr><th scope=\"col\">Proxy</th><th scope=\"col\" class=\"num\">rps</th>\
             <th scope=\"col\" class=\"num\">error rate</th><th scope=\"col\" class=\"num\">p99</th></tr></thead><tbody>",
        );
        for (name, p) in &s.proxies {
            row(&mut out, name, p);
        }
        out.push_str("</tbody></table></div></section>");
    }
    out
}

fn row(out: &mut String, name: &str, p: &ProxyTraffic) {
    let _ = write!(
        out,
        "<tr data-proxy=\"{}\"><td><b>{}</b><br><span class=\"note\">{} → {}</span></td>",
        esc(name),
        esc(name),
        esc(&p.listen),
        esc(&p.upstream)
    );
    if !p.http {
        out.push_str("<td colspan=\"3\" class=\"note\">a TCP proxy: no request figures</td></tr>");
        return;
    }
    let http = &p.latest["http"];
    let n = |k: &str| http[k].as_f64().unwrap_or(0.0);
    type Pick = fn(&Sample) -> f64;
    let cells: [(&str, String, Pick); 3] = [
        ("rps", num(n("rps")), |s| s.rps),
        (
            "error rate",
            format!("{} %", num(n("error_rate") * 100.0)),
            |s| s.error_rate,
        ),
        ("p99", format!("{} ms", num(n("p99_ms"))), |s| s.p99_ms),
    ];
    for (label, value, pick) in cells {
        let values: Vec<f64> = p.history.iter().map(pick).collect();
        let _ = write!(
            out,
            "<td class=\"num\" data-label=\"{label}\">{value} {}</td>",
            sparkline(
                &values,
                &format!("{label} of {name} over the last two minutes")
            )
        );
    }
    out.push_str("</tr>");
}

/// A small line of `values` (oldest first), scaled from 0 to their maximum.
pub(super) fn sparkline(values: &[f64], label: &str) -> String {
    const W: f64 = 120.0;
    const H: f64 = 28.0;
    let max = values.iter().copied().fold(0.0f64, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let step = if values.len() > 1 {
        W / (values.len() - 1) as f64
    } else {
        0.0
    };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                H - 2.0 - (v.max(0.0) / max) * (H - 4.0)
            )
        })
        .collect();
    format!(
        "<svg class=\"spark\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\"><polyline points=\"{}\"/></svg>",
        esc(label),
        points.join(" ")
    )
}
