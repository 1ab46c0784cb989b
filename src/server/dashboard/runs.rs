//! `/`: the runs, newest first, in pages of [`PAGE`] — one store query per page (the history's
//! list over its covering index), so the first paint stays fast however long the history is.
//! Filters: experiment and status; paging with `page`.

use std::fmt::Write;
use std::sync::Arc;

use hyper::StatusCode;

use super::page::{self, Nav, param};
use crate::history::{Filter, HistoryStatus, RunRecord};
use crate::report::html::esc;
use crate::server::api::Reply;
use crate::server::daemon::Shared;

/// Runs per page.
pub(super) const PAGE: i64 = 50;
/// Pages beyond this are refused (use `monkeywrench history` for archaeology).
const MAX_PAGE: i64 = 10_000;

/// What the page was asked for.
struct Asked {
    experiment: String,
    status: Option<HistoryStatus>,
    page: i64,
}

fn asked(params: &[(String, String)]) -> Result<Asked, String> {
    let experiment = param(params, "experiment").unwrap_or("").trim().to_string();
    if experiment.len() > 200 {
        return Err("experiment: at most 200 characters".into());
    }
    let status = match param(params, "status").unwrap_or("") {
        "" => None,
        s => Some(HistoryStatus::parse(s).ok_or_else(|| {
            format!(
                "status: expected one of {}",
                HistoryStatus::NAMES.join(", ")
            )
        })?),
    };
    let page = match param(params, "page").unwrap_or("") {
        "" => 0,
        p => match p.parse::<i64>() {
            Ok(n) if (0..=MAX_PAGE).contains(&n) => n,
            _ => return Err(format!("page: expected 0 to {MAX_PAGE}")),
        },
    };
    Ok(Asked {
        experiment,
        status,
        page,
    })
}

pub(super) async fn page(shared: &Arc<Shared>, params: &[(String, String)]) -> Reply {
    let asked = match asked(params) {
        Ok(a) => a,
        Err(e) => return page::problem(shared, Nav::Runs, StatusCode::BAD_REQUEST, &e),
    };
    let filter = Filter {
        experiment: (!asked.experiment.is_empty()).then(|| asked.experiment.clone()),
        status: asked.status,
        limit: PAGE + 1,
        offset: asked.page * PAGE,
        ..Filter::default()
    };
    let runs = match shared.history.list(&filter).await {
        Ok(r) => r,
        Err(e) => {
            return page::problem(
                shared,
                Nav::Runs,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the history cannot be read: {e}"),
            );
        }
    };
    let table = table(shared, &runs, &asked);
    page::page_or_part(
        shared,
        params,
        Nav::Runs,
        "Runs",
        || {
            let status = asked.status.map(HistoryStatus::name).unwrap_or("");
            let mut body = String::from("<h1>Runs</h1>");
            filters(&mut body, shared, &asked);
            let refresh = format!(
                "/{}",
                page::query(&[
                    ("experiment", &asked.experiment),
                    ("status", status),
                    ("page", &nonzero(asked.page)),
                    ("part", "1"),
                ])
            );
            let _ = write!(
                body,
                "<section id=\"runs\" data-refresh=\"{}\" data-every=\"5000\">{table}</section>",
                esc(&refresh)
            );
            body
        },
        || table.clone(),
    )
}

fn nonzero(page: i64) -> String {
    if page == 0 {
        String::new()
    } else {
        page.to_string()
    }
}

fn filters(out: &mut String, shared: &Shared, asked: &Asked) {
    out.push_str(
        "<form class=\"filters\" method=\"get\" action=\"/\" role=\"search\" aria-label=\"Filter the runs\">\
         <label>Experiment<input name=\"experiment\" list=\"experiment-names\" autocomplete=\"off\"",
    );
    let _ = write!(out, " value=\"{}\"></label>", esc(&asked.experiment));
    out.push_str("<datalist id=\"experiment-names\">");
    for e in &shared.config.experiments {
        let _ = write!(out, "<option value=\"{}\">", esc(&e.name));
    }
    out.push_str("</datalist><label>Status<select name=\"status\"><option value=\"\">any</option>");
    for name in HistoryStatus::NAMES {
        let selected = if asked.status.map(HistoryStatus::name) == Some(name) {
            " selected"
        } else {
            ""
        };
        let _ = write!(out, "<option value=\"{name}\"{selected}>{name}</option>");
    }
    out.push_str(
        "</select></label><button type=\"submit\">Filter</button><a class=\"button\" href=\"/\">Clear</a></form>",
    );
}

/// The table and the pager (the part the script refreshes).
fn table(shared: &Shared, runs: &[RunRecord], asked: &Asked) -> String {
    let mut out = String::with_capacity(256 * runs.len() + 1024);
    if runs.is_empty() {
        out.push_str("<p class=\"note\">No runs");
        if asked.status.is_some() || !asked.experiment.is_empty() {
            out.push_str(" match these filters");
        }
        out.push_str(" yet. Start one from <a href=\"/experiments\">Experiments</a>.</p>");
        return out;
    }
    out.push_str(
        "<div class=\"scroll\"><table class=\"runs stack\"><thead><tr><th scope=\"col\">Status</th>\
         <th scope=\"col\">Experiment</th><th scope=\"col\">Trigger</th><th scope=\"col\">Started (UTC)</th>\
         <th scope=\"col\">Duration</th><th scope=\"col\">Outcome</th></tr></thead><tbody>",
    );
    for r in runs.iter().take(PAGE as usize) {
        let live = shared.children.get(&r.id).is_some();
        let detail = r
            .trigger_detail
            .as_deref()
            .filter(|d| *d != r.trigger.name())
            .map(|d| format!(" <span class=\"note\">{}</span>", esc(d)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr data-run=\"{id}\"><td>{}</td><td><a href=\"/runs/{id}\">{}</a><br><span class=\"note\">{}</span></td>\
             <td data-label=\"trigger\">{}{detail}</td><td class=\"num\" data-label=\"started\">{}</td>\
             <td class=\"num\" data-label=\"duration\">{}</td><td data-label=\"outcome\">{}</td></tr>",
            page::status_pill(r.status, live),
            esc(&r.experiment),
            esc(&r.title),
            r.trigger.name(),
            page::time(&r.started_at),
            page::duration(r.duration_s()),
            esc(r.outcome.as_deref().unwrap_or("–")),
            id = esc(&r.id),
        );
    }
    out.push_str("</tbody></table></div><nav class=\"pager\" aria-label=\"Pages\">");
    let status = asked.status.map(HistoryStatus::name).unwrap_or("");
    let link = |page: i64| {
        format!(
            "/{}",
            page::query(&[
                ("experiment", &asked.experiment),
                ("status", status),
                ("page", &nonzero(page)),
            ])
        )
    };
    if asked.page > 0 {
        let _ = write!(
            out,
            "<a class=\"button\" rel=\"prev\" href=\"{}\">← Newer</a>",
            esc(&link(asked.page - 1))
        );
    }
    let _ = write!(out, "<span class=\"note\">page {}</span>", asked.page + 1);
    if runs.len() as i64 > PAGE && asked.page < MAX_PAGE {
        let _ = write!(
            out,
            "<a class=\"button\" rel=\"next\" href=\"{}\">Older →</a>",
            esc(&link(asked.page + 1))
        );
    }
    out.push_str("</nav>");
    out
}
