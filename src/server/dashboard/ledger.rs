//! `/ledger`: the halt switch, every active lease (fault, target, run, state, time left) and the
//! recent closed ones (how each was reverted), with **Halt** and **Resume** (each behind a
//! confirmation dialog; the halt asks for a reason).

use std::fmt::Write;
use std::sync::Arc;

use hyper::StatusCode;

use super::page::{self, Nav};
use crate::ledger::Lease;
use crate::report::html::esc;
use crate::report::model::short_json;
use crate::server::api::Reply;
use crate::server::daemon::Shared;

/// Closed leases shown under the active ones.
const RECENT: i64 = 20;

pub(super) async fn page(shared: &Arc<Shared>, params: &[(String, String)]) -> Reply {
    let part = match part(shared).await {
        Ok(p) => p,
        Err(e) => {
            return page::problem(
                shared,
                Nav::Ledger,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the ledger cannot be read: {e}"),
            );
        }
    };
    page::page_or_part(
        shared,
        params,
        Nav::Ledger,
        "Ledger",
        || {
            format!(
                "<h1>Ledger</h1><section id=\"ledger\" data-refresh=\"/ledger?part=1\" data-every=\"2000\">{part}</section>"
            )
        },
        || part.clone(),
    )
}

async fn part(shared: &Arc<Shared>) -> Result<String, crate::ledger::LedgerError> {
    let halt = shared.ledger.halt_state().await?;
    let all = shared.ledger.list(RECENT + 100).await?;
    let mut out = String::new();
    match &halt {
        Some(h) => {
            let _ = write!(
                out,
                "<p class=\"switch halted\" id=\"halt-state\"><span class=\"pill bad\">halted</span> since {} — {}</p>",
                esc(&h.since),
                esc(&h.reason)
            );
        }
        None if shared.control.is_halted() => out.push_str(
            "<p class=\"switch halted\" id=\"halt-state\"><span class=\"pill bad\">halted</span> here; the store has not recorded it yet (it is slow)</p>",
        ),
        None => out.push_str(
            "<p class=\"switch\" id=\"halt-state\"><span class=\"pill ok\">not halted</span> faults and firings are allowed</p>",
        ),
    }
    if halt.is_some() || shared.control.is_halted() {
        out.push_str("<div class=\"actions toolbar\"><button type=\"button\" class=\"primary\" data-open=\"resume-dialog\" id=\"ledger-resume\">Resume…</button>\
             <button type=\"button\" class=\"danger\" data-open=\"halt-dialog\" id=\"ledger-halt\">Halt again…</button></div>");
    } else {
        out.push_str("<div class=\"actions toolbar\"><button type=\"button\" class=\"danger\" data-open=\"halt-dialog\" id=\"ledger-halt\">Halt everything…</button></div>");
    }
    let now = jiff::Timestamp::now();
    let (active, closed): (Vec<&Lease>, Vec<&Lease>) =
        all.iter().partition(|l| l.state.is_active());
    out.push_str("<h2>Active faults</h2>");
    if active.is_empty() {
        out.push_str("<p class=\"note\" id=\"no-active\">No fault is in effect.</p>");
    } else {
        out.push_str(
            "<div class=\"scroll\"><table id=\"active-leases\" class=\"stack\"><thead><tr><th scope=\"col\">Fault</th><th scope=\"col\">Target</th>\
             <th scope=\"col\">Run</th><th scope=\"col\">State</th><th scope=\"col\">Applied (UTC)</th><th scope=\"col\">Time left</th></tr></thead><tbody>",
        );
        for l in &active {
            let left = (l.deadline.as_millisecond() - now.as_millisecond()).max(0) as f64 / 1000.0;
            let _ = write!(
                out,
                "<tr data-lease=\"{}\"><td>{}<br><span class=\"note\">{}</span></td><td data-label=\"target\"><code>{}</code></td>\
                 <td data-label=\"run\">{}</td><td data-label=\"state\"><span class=\"pill warn\">{}</span></td>\
                 <td class=\"num\" data-label=\"applied\">{}</td><td class=\"num\" data-label=\"time left\">{}</td></tr>",
                esc(&l.id),
                esc(&l.func),
                esc(&l.activity),
                esc(&short_json(&l.target, 120)),
                run_link(&l.run_id),
                l.state.as_str(),
                l.applied_at
                    .as_ref()
                    .map(page::time)
                    .unwrap_or_else(|| "–".into()),
                page::duration(left),
            );
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("<h2>Recently closed</h2>");
    if closed.is_empty() {
        out.push_str("<p class=\"note\">None yet.</p>");
        return Ok(out);
    }
    out.push_str(
        "<div class=\"scroll\"><table id=\"closed-leases\" class=\"stack\"><thead><tr><th scope=\"col\">Fault</th><th scope=\"col\">Target</th>\
         <th scope=\"col\">Run</th><th scope=\"col\">Outcome</th><th scope=\"col\">Closed (UTC)</th></tr></thead><tbody>",
    );
    for l in closed.iter().take(RECENT as usize) {
        let class = match l.state.as_str() {
            "reverted" | "target-gone" => "ok",
            "revert-failed" => "bad",
            _ => "warn",
        };
        let _ = write!(
            out,
            "<tr data-lease=\"{}\"><td>{}</td><td data-label=\"target\"><code>{}</code></td><td data-label=\"run\">{}</td>\
             <td data-label=\"outcome\"><span class=\"pill {class}\">{}</span>{}</td><td class=\"num\" data-label=\"closed\">{}</td></tr>",
            esc(&l.id),
            esc(&l.func),
            esc(&short_json(&l.target, 120)),
            run_link(&l.run_id),
            l.state.as_str(),
            l.error
                .as_deref()
                .map(|e| format!("<br><span class=\"note\">{}</span>", esc(e)))
                .unwrap_or_default(),
            l.reverted_at
                .as_ref()
                .map(page::time)
                .unwrap_or_else(|| "–".into()),
        );
    }
    out.push_str("</tbody></table></div>");
    Ok(out)
}

fn run_link(id: &str) -> String {
    format!(
        "<a class=\"run-id\" href=\"/runs/{}\"><code>{}</code></a>",
        esc(id),
        esc(id.get(..8).unwrap_or(id))
    )
}
