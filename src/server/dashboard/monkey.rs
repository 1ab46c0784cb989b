//! `/monkey`: the Chaos Monkey the server runs (`monkey:` in the config), as `GET /api/monkey`
//! shows it — its settings, today's plan with the next kill, the eligible groups, and today's
//! kills and skips.

use std::fmt::Write;
use std::sync::Arc;

use hyper::StatusCode;
use serde_json::Value;

use super::page::{self, Nav};
use crate::report::html::esc;
use crate::report::model::short_json;
use crate::server::api::Reply;
use crate::server::daemon::Shared;

pub(super) async fn page(shared: &Arc<Shared>, params: &[(String, String)]) -> Reply {
    let part = match &shared.monkey {
        None => "<p class=\"note\">This server runs no monkey. Name a Chaos Monkey config in \
                 <code>server.yaml</code> (<code>monkey: monkey.yaml</code>) to see its plan and \
                 history here.</p>"
            .to_string(),
        Some(monkey) => match crate::monkey::status::status(monkey).await {
            Ok(status) => part(&serde_json::to_value(status).unwrap_or(Value::Null)),
            Err(e) => {
                return page::problem(
                    shared,
                    Nav::Monkey,
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("the monkey's state cannot be read: {e}"),
                );
            }
        },
    };
    page::page_or_part(
        shared,
        params,
        Nav::Monkey,
        "Monkey",
        || {
            format!(
                "<h1>Chaos Monkey</h1><section id=\"monkey\" data-refresh=\"/monkey?part=1\" data-every=\"10000\">{part}</section>"
            )
        },
        || part.clone(),
    )
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}

fn part(s: &Value) -> String {
    let mut out = String::new();
    let c = &s["config"];
    let leash = if c["leashed"] == true {
        "<span class=\"pill warn\">leashed</span> kills are recorded, not done"
    } else {
        "<span class=\"pill bad\">unleashed</span> kills are real"
    };
    let enabled = if c["enabled"] == true {
        ""
    } else {
        " · <span class=\"pill\">disabled</span>"
    };
    let _ = write!(
        out,
        "<p class=\"switch\" id=\"monkey-state\">{leash}{enabled} · {} {}:00–{}:00 on {} · kill mode {} · {} · {}</p>",
        esc(&text(&c["time_zone"])),
        esc(&text(&c["start_hour"])),
        esc(&text(&c["end_hour"])),
        esc(&c["work_days"]
            .as_array()
            .map(|d| d.iter().map(text).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()),
        esc(&text(&c["kill_mode"])),
        match c["max_kills_per_day"].as_u64() {
            Some(n) => format!("at most {n} kill(s) a day"),
            None => "no daily cap".to_string(),
        },
        if s["in_window"] == true {
            "inside its window now"
        } else {
            "outside its window now"
        }
    );
    if s["halted"].is_object() {
        let _ = write!(
            out,
            "<p class=\"switch halted\"><span class=\"pill bad\">halted</span> {}</p>",
            esc(&text(&s["halted"]["reason"]))
        );
    }
    let plan = &s["plan"];
    let _ = write!(
        out,
        "<h2>Today's plan <span class=\"note\">{}</span></h2>",
        esc(&text(&plan["date"]))
    );
    if let Some(note) = plan["note"].as_str() {
        let _ = write!(out, "<p class=\"note\">{}</p>", esc(note));
    }
    let kills = plan["kills"].as_array().cloned().unwrap_or_default();
    if kills.is_empty() {
        out.push_str("<p class=\"note\" id=\"no-kills\">No kill planned today.</p>");
    } else {
        let next = s["next"]["at"].as_str();
        out.push_str(
            "<div class=\"scroll\"><table id=\"monkey-plan\" class=\"stack\"><thead><tr><th scope=\"col\">When</th>\
             <th scope=\"col\">Group</th><th scope=\"col\">Eligible</th><th scope=\"col\">State</th></tr></thead><tbody>",
        );
        for k in &kills {
            let state = if k["done"] == true {
                "<span class=\"pill ok\">attempted</span>"
            } else if k["at"].as_str() == next {
                "<span class=\"pill run\">next</span>"
            } else {
                "<span class=\"pill\">planned</span>"
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td data-label=\"group\">{}</td><td data-label=\"eligible\">{}</td><td data-label=\"state\">{state}</td></tr>",
                esc(&text(&k["local"])),
                esc(&text(&k["group"])),
                esc(&text(&k["instances"]))
            );
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("<h2>Eligible groups</h2>");
    let groups = s["groups"].as_array().cloned().unwrap_or_default();
    if groups.is_empty() {
        out.push_str("<p class=\"note\">No opted-in instance was found.</p>");
    } else {
        out.push_str(
            "<div class=\"scroll\"><table id=\"monkey-groups\" class=\"stack\"><thead><tr><th scope=\"col\">Group</th>\
             <th scope=\"col\">Instances</th><th scope=\"col\">Mean / min work days between kills</th><th scope=\"col\">Kill mode</th></tr></thead><tbody>",
        );
        for g in &groups {
            let instances: Vec<String> = g["instances"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| format!("<code>{}</code>", esc(&short_json(i, 240))))
                .collect();
            let _ = write!(
                out,
                "<tr><td>{}</td><td data-label=\"instances\">{}</td><td data-label=\"between kills\">{} / {}</td><td data-label=\"mode\">{}</td></tr>",
                esc(&text(&g["group"])),
                instances.join("<br>"),
                esc(&text(&g["mean_time_between_kills_in_work_days"])),
                esc(&text(&g["min_time_between_kills_in_work_days"])),
                esc(&text(&g["kill_mode"]))
            );
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("<h2>Today's kills and skips</h2>");
    let today = s["today"].as_array().cloned().unwrap_or_default();
    if today.is_empty() {
        out.push_str("<p class=\"note\">Nothing yet today.</p>");
    } else {
        out.push_str(
            "<div class=\"scroll\"><table id=\"monkey-today\" class=\"stack\"><thead><tr><th scope=\"col\">At (UTC)</th>\
             <th scope=\"col\">Group</th><th scope=\"col\">Instance</th><th scope=\"col\">Outcome</th></tr></thead><tbody>",
        );
        for e in &today {
            let class = match e["outcome"].as_str().unwrap_or("") {
                "killed" => "bad",
                "failed" => "bad",
                "skipped" | "leashed" => "warn",
                _ => "",
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td data-label=\"group\">{}</td><td data-label=\"instance\"><code>{}</code></td>\
                 <td data-label=\"outcome\"><span class=\"pill {class}\">{}</span>{}</td></tr>",
                esc(&text(&e["at"])),
                esc(&text(&e["group"])),
                esc(&short_json(&e["instance"], 80)),
                esc(&text(&e["outcome"])),
                e["reason"]
                    .as_str()
                    .map(|r| format!(" <span class=\"note\">{}</span>", esc(r)))
                    .unwrap_or_default()
            );
        }
        out.push_str("</tbody></table></div>");
    }
    let warnings = s["warnings"].as_array().cloned().unwrap_or_default();
    if !warnings.is_empty() {
        out.push_str("<h2>Warnings</h2><ul>");
        for w in &warnings {
            let _ = write!(out, "<li>{}</li>", esc(&text(w)));
        }
        out.push_str("</ul>");
    }
    out
}
