//! `/experiments`: each scheduled experiment as the API shows it (schedule, next firing, paused,
//! the last firing) with its last run's outcome, and the buttons that call the API: **Run now**
//! (then the run's page), **Pause** / **Resume** its schedule.

use std::fmt::Write;
use std::sync::Arc;

use serde_json::Value;

use super::page::{self, Nav};
use crate::history::Filter;
use crate::report::html::esc;
use crate::server::api::{Reply, experiment_view};
use crate::server::daemon::Shared;

pub(super) async fn page(shared: &Arc<Shared>, params: &[(String, String)]) -> Reply {
    let cards = cards(shared).await;
    page::page_or_part(
        shared,
        params,
        Nav::Experiments,
        "Experiments",
        || {
            format!(
                "<h1>Experiments and schedules</h1><section id=\"experiments\" data-refresh=\"/experiments?part=1\" data-every=\"5000\">{cards}</section>"
            )
        },
        || cards.clone(),
    )
}

async fn cards(shared: &Arc<Shared>) -> String {
    let mut out = String::new();
    if shared.config.experiments.is_empty() {
        out.push_str("<p class=\"note\">The server config names no experiment.</p>");
        return out;
    }
    out.push_str("<div class=\"cards\">");
    for e in &shared.config.experiments {
        let view = match experiment_view(shared, e).await {
            Ok(v) => v,
            Err(_) => {
                let _ = write!(
                    out,
                    "<article class=\"card\"><h2>{}</h2><p class=\"error\">The schedule cannot be read from the store.</p></article>",
                    esc(&e.name)
                );
                continue;
            }
        };
        let last = shared
            .history
            .list(&Filter {
                experiment: Some(e.name.clone()),
                limit: 1,
                ..Filter::default()
            })
            .await
            .ok()
            .and_then(|mut runs| runs.pop());
        card(&mut out, &e.name, &view, last.as_ref());
    }
    out.push_str("</div>");
    out
}

fn card(out: &mut String, name: &str, v: &Value, last: Option<&crate::history::RunRecord>) {
    let text = |v: &Value| v.as_str().unwrap_or("–").to_string();
    let paused = v["paused"].as_bool().unwrap_or(false);
    let path = page::encode(name);
    let _ = write!(
        out,
        "<article class=\"card\" data-experiment=\"{}\"><h2>{}</h2><p class=\"note\">{}</p><dl class=\"summary\">",
        esc(name),
        esc(name),
        esc(&text(&v["title"]))
    );
    let mut row = |k: &str, v: String| {
        let _ = write!(out, "<dt>{k}</dt><dd>{v}</dd>");
    };
    row(
        "schedule",
        format!(
            "{} <span class=\"note\">({}, overlap {})</span>{}",
            esc(&text(&v["schedule"]["trigger"])),
            esc(&text(&v["schedule"]["time_zone"])),
            esc(&text(&v["schedule"]["overlap"])),
            if paused {
                " <span class=\"pill warn\">paused</span>"
            } else {
                ""
            }
        ),
    );
    row("next firing", esc(&text(&v["next_firing"])));
    let firing = &v["last_firing"];
    row(
        "last firing",
        if firing.is_object() {
            format!(
                "{} <span class=\"note\">{}{}</span>",
                esc(&text(&firing["state"])),
                esc(&text(&firing["planned"])),
                firing["reason"]
                    .as_str()
                    .map(|r| format!(" · {}", esc(r)))
                    .unwrap_or_default()
            )
        } else {
            "none yet".into()
        },
    );
    row(
        "last run",
        match last {
            Some(r) => format!(
                "<a href=\"/runs/{}\">{}</a> {} <span class=\"note\">{}</span>",
                esc(&r.id),
                page::status_pill(r.status, false),
                esc(r.outcome.as_deref().unwrap_or("")),
                page::time(&r.started_at)
            ),
            None => "none yet".into(),
        },
    );
    let running: Vec<String> = v["running"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|id| {
            format!(
                "<a href=\"/runs/{}\">{}</a>",
                esc(id),
                esc(id.get(..8).unwrap_or(id))
            )
        })
        .collect();
    if !running.is_empty() {
        row("running now", running.join(", "));
    }
    out.push_str("</dl><div class=\"actions\">");
    let _ = write!(
        out,
        "<button type=\"button\" class=\"primary\" data-post=\"/api/experiments/{path}/runs\" data-body='{{\"requested_by\":\"dashboard\"}}' data-then=\"run\">Run now</button>"
    );
    let (verb, label) = if paused {
        ("resume", "Resume schedule")
    } else {
        ("pause", "Pause schedule")
    };
    let _ = write!(
        out,
        "<button type=\"button\" data-post=\"/api/schedules/{path}/{verb}\" data-then=\"refresh\">{label}</button></div></article>"
    );
}
