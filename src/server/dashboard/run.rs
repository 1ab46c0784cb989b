//! `/runs/{id}`: one run as its report shows it (verdict, the steady-state timelines with the
//! tolerance band, fault windows and hypothesis marks, the faults and activities), from the
//! stored event stream. While the run goes, the script follows `GET /api/runs/{id}/events` and
//! swaps in the part again (`?part=1`) as events arrive, so the charts grow live.
//! `/runs/{id}/report.html` is the same report as one file to attach to an incident review.

use std::fmt::Write;
use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use super::page::{self, Nav};
use crate::history::{HistoryError, HistoryStatus};
use crate::report::html::{self, esc};
use crate::report::{Report, ReportError};
use crate::server::api::{Reply, full};
use crate::server::daemon::Shared;

/// The full id of `given` (an id or a unique prefix), or the page to answer instead.
async fn resolve(shared: &Arc<Shared>, given: &str) -> Result<String, Box<Reply>> {
    if shared.children.is_live(given) {
        return Ok(given.to_string());
    }
    shared.history.resolve(given).await.map_err(|e| {
        let status = match e {
            HistoryError::NotFound(_) | HistoryError::BadPrefix(_) => StatusCode::NOT_FOUND,
            HistoryError::Ambiguous { .. } => StatusCode::BAD_REQUEST,
            HistoryError::Store(_) | HistoryError::Query(_) | HistoryError::Corrupt { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        Box::new(page::problem(shared, Nav::Runs, status, &e.to_string()))
    })
}

pub(super) async fn page(shared: &Arc<Shared>, given: &str, params: &[(String, String)]) -> Reply {
    let id = match resolve(shared, given).await {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let record = shared.history.get(&id).await.ok().flatten();
    let running = record
        .as_ref()
        .is_none_or(|r| r.status == HistoryStatus::Running);
    let live = shared.children.get(&id).is_some() || shared.children.is_live(&id);
    let part = match Report::from_history(&shared.history, &id).await {
        Ok(report) => {
            let mut out = String::with_capacity(32 * 1024);
            html::body(&mut out, &report);
            out
        }
        // Launched by this server, not recorded yet; or recorded, its first events not yet.
        Err(ReportError::NoEvents(_) | ReportError::History(HistoryError::NotFound(_))) => {
            "<p class=\"note\">The run is starting; its first events are on their way.</p>".into()
        }
        Err(e) => format!(
            "<p class=\"error\">This run cannot be shown: {}</p>",
            esc(&e.to_string())
        ),
    };
    let title = record
        .as_ref()
        .map(|r| r.experiment.clone())
        .unwrap_or_else(|| "run".into());
    page::page_or_part(
        shared,
        params,
        Nav::Runs,
        &format!("{title} · run {}", short(&id)),
        || {
            let mut body = String::new();
            let _ = write!(
                body,
                "<p class=\"crumbs\"><a href=\"/\">Runs</a> › <code>{}</code></p><div class=\"actions toolbar\">\
                 <a class=\"button\" href=\"/runs/{id}/report.html\" download>Download the report</a>",
                esc(&id),
                id = esc(&id)
            );
            if live {
                let _ = write!(
                    body,
                    "<button type=\"button\" data-post=\"/api/runs/{}/abort\" data-then=\"stay\">Abort this run</button>",
                    esc(&id)
                );
            }
            let _ = write!(
                body,
                "</div><div id=\"live\" data-run=\"{id}\" data-live=\"{running}\" data-refresh=\"/runs/{id}?part=1\">{part}</div>",
                id = esc(&id),
            );
            body
        },
        || part.clone(),
    )
}

pub(super) async fn report(shared: &Arc<Shared>, given: &str) -> Reply {
    let id = match resolve(shared, given).await {
        Ok(id) => id,
        Err(r) => return *r,
    };
    match Report::from_history(&shared.history, &id).await {
        Ok(report) => {
            let mut r = Response::new(full(Bytes::from(html::render(&report))));
            let h = r.headers_mut();
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!(
                "attachment; filename=\"monkeywrench-report-{}.html\"",
                short(&id)
            )) {
                h.insert(CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(e @ ReportError::NoEvents(_)) => {
            page::problem(shared, Nav::Runs, StatusCode::NOT_FOUND, &e.to_string())
        }
        Err(e) => page::problem(
            shared,
            Nav::Runs,
            StatusCode::SERVICE_UNAVAILABLE,
            &e.to_string(),
        ),
    }
}

/// The first 8 characters of an id.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
