//! `GET /api/experiments`, `GET /api/experiments/{name}` (the schedule, its next firing, paused,
//! the last outcome) and `POST /api/experiments/{name}/runs` (run now: 202 with the run id).

use std::sync::Arc;

use hyper::StatusCode;
use serde_json::{Value, json};

use super::{Call, Reply, error, json_reply, unavailable};
use crate::monkey::history::format_time;
use crate::server::config::ScheduledExperiment;
use crate::server::daemon::Shared;
use crate::server::scheduler::RunNowError;

/// One experiment as the API shows it.
pub(crate) async fn view(shared: &Shared, e: &ScheduledExperiment) -> Result<Value, Box<Reply>> {
    let state = shared
        .firings
        .state(&e.name)
        .await
        .map_err(|err| Box::new(unavailable("read the schedule", err)))?;
    let s = &e.schedule;
    let next = s
        .next_after(jiff::Timestamp::now())
        .map(|p| (p, s.due(&e.name, p, shared.config.seed)));
    let running: Vec<String> = shared
        .children
        .list()
        .into_iter()
        .filter(|r| r.experiment == e.name)
        .map(|r| r.run_id)
        .collect();
    Ok(json!({
        "name": e.name,
        "title": e.experiment.title,
        "file": e.file.display().to_string(),
        "schedule": {
            "trigger": s.trigger.describe(),
            "time_zone": s.tz_name,
            "overlap": s.overlap.as_str(),
            "jitter_s": s.jitter.map(|j| j.as_secs_f64()),
            "window": s.window.is_some(),
        },
        "targets": e.targets,
        "paused": state.paused,
        "next_firing": next.map(|(planned, _)| format_time(&planned)),
        "next_due": next.map(|(_, due)| format_time(&due)),
        "running": running,
        "last_firing": state.last_outcome.map(|(st, reason)| json!({
            "planned": state.last_planned.map(|t| format_time(&t)),
            "state": st,
            "reason": reason,
            "trigger": state.last_trigger.map(|t| t.name()),
        })),
    }))
}

fn find<'a>(shared: &'a Shared, call: &Call) -> Result<&'a ScheduledExperiment, Box<Reply>> {
    let name = call.params.first().map(String::as_str).unwrap_or("");
    shared
        .config
        .experiments
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            Box::new(error(
                StatusCode::NOT_FOUND,
                &format!("no experiment named {name:?} in the server config"),
                Some("name"),
            ))
        })
}

pub(super) async fn list(shared: &Arc<Shared>) -> Reply {
    let mut out = Vec::new();
    for e in &shared.config.experiments {
        match view(shared, e).await {
            Ok(v) => out.push(v),
            Err(r) => return *r,
        }
    }
    json_reply(StatusCode::OK, &json!({ "experiments": out }))
}

pub(super) async fn get(shared: &Arc<Shared>, call: &Call) -> Reply {
    let e = match find(shared, call) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    match view(shared, e).await {
        Ok(v) => json_reply(StatusCode::OK, &v),
        Err(r) => *r,
    }
}

pub(super) async fn run_now(shared: &Arc<Shared>, call: &Call) -> Reply {
    let e = match find(shared, call) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let body = match call.object(&["requested_by"]) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let by = match body.get("requested_by") {
        None => "api".to_string(),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 200 => format!("api: {s}"),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "requested_by: expected a string of 1 to 200 characters",
                Some("requested_by"),
            );
        }
    };
    match shared.control.run_now(&e.name, &by).await {
        Ok(firing) => {
            let id = firing.run_id.unwrap_or_default();
            json_reply(
                StatusCode::ACCEPTED,
                &json!({
                    "run_id": id,
                    "experiment": e.name,
                    "firing_id": firing.id,
                    "run": format!("/api/runs/{id}"),
                    "events": format!("/api/runs/{id}/events"),
                }),
            )
        }
        Err(err @ RunNowError::Unknown(_)) => {
            error(StatusCode::NOT_FOUND, &err.to_string(), Some("name"))
        }
        Err(err @ RunNowError::Refused(_)) => error(StatusCode::CONFLICT, &err.to_string(), None),
        Err(err @ (RunNowError::Stopped | RunNowError::Store(_))) => {
            error(StatusCode::SERVICE_UNAVAILABLE, &err.to_string(), None)
        }
    }
}
