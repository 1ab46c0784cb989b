//! `GET /healthz`, `GET /metrics`, `GET /api/ledger` (active leases and their time left),
//! `POST /api/halt` / `POST /api/resume` (through the ledger's halt, so the command line's
//! `monkeywrench halt` and the API are one switch) and pausing a schedule.

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::{Call, Reply, error, full, json_reply, unavailable};
use crate::ledger::RevertOutcome;
use crate::server::daemon::Shared;
use crate::server::metrics::{ExperimentGauges, Gauges};

pub(super) async fn healthz(shared: &Arc<Shared>) -> Reply {
    let store = sqlx::query("SELECT 1").execute(shared.store.pool()).await;
    let (status, store) = match store {
        Ok(_) => (StatusCode::OK, json!("ok")),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!(format!("unreachable: {e}")),
        ),
    };
    json_reply(
        status,
        &json!({
            "status": if status == StatusCode::OK { "ok" } else { "degraded" },
            "store": store,
            "halted": shared.control.is_halted(),
            "running": shared.children.len(),
            "server": shared.name,
            "started_at": shared.started_at.to_string(),
            "version": env!("CARGO_PKG_VERSION"),
        }),
    )
}

pub(super) async fn metrics(shared: &Arc<Shared>) -> Reply {
    let mut experiments = Vec::new();
    for e in &shared.config.experiments {
        let state = shared.firings.state(&e.name).await.unwrap_or_default();
        let next = e
            .schedule
            .next_after(jiff::Timestamp::now())
            .map(|t| t.as_millisecond() as f64 / 1000.0);
        experiments.push(ExperimentGauges {
            name: e.name.clone(),
            next_firing: next,
            paused: state.paused,
        });
    }
    let gauges = Gauges {
        running: shared.children.len(),
        active_leases: shared.ledger.active().await.ok().map(|l| l.len()),
        halted: shared.control.is_halted(),
        experiments,
    };
    let mut r = Response::new(full(Bytes::from(
        shared
            .metrics
            .render(&gauges, shared.monkey.as_ref().map(|m| &*m.metrics)),
    )));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

pub(super) async fn ledger(shared: &Arc<Shared>) -> Reply {
    let leases = match shared.ledger.active().await {
        Ok(l) => l,
        Err(e) => return unavailable("read the ledger", e),
    };
    let halt = match shared.ledger.halt_state().await {
        Ok(h) => h,
        Err(e) => return unavailable("read the halt switch", e),
    };
    let now = jiff::Timestamp::now();
    let leases: Vec<Value> = leases
        .iter()
        .map(|l| {
            let mut v = serde_json::to_value(l).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                let left = (l.deadline.as_millisecond() - now.as_millisecond()).max(0);
                o.insert("time_left_s".into(), json!(left as f64 / 1000.0));
            }
            v
        })
        .collect();
    json_reply(StatusCode::OK, &json!({"halted": halt, "leases": leases}))
}

pub(super) async fn halt(shared: &Arc<Shared>, call: &Call) -> Reply {
    let body = match call.object(&["reason"]) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let reason = match body.get("reason") {
        None => "halted through the server API".to_string(),
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 500 => s.clone(),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "reason: expected a non-empty string of at most 500 characters",
                Some("reason"),
            );
        }
    };
    let halted = shared
        .halt(&reason, crate::server::daemon::HALT_ANSWER_WITHIN)
        .await;
    let reverted = match halted.reverted {
        // The store is slow: halted in memory and the runs interrupted; the reverts go on.
        None => {
            return json_reply(
                StatusCode::ACCEPTED,
                &json!({"halted": true, "reason": reason, "reverting": true, "reverted": [], "interrupted_runs": halted.interrupted}),
            );
        }
        Some(Err(e)) => return unavailable("halt through the ledger", e),
        Some(Ok(reverted)) => reverted,
    };
    let reverted: Vec<Value> = reverted
        .iter()
        .map(|(lease, outcome)| {
            let what = match outcome {
                RevertOutcome::Reverted => "reverted".to_string(),
                RevertOutcome::TargetGone => "target-gone".to_string(),
                RevertOutcome::Nothing => "irreversible".to_string(),
                RevertOutcome::Failed(e) => format!("failed: {e}"),
            };
            json!({"lease": lease.id, "run_id": lease.run_id, "func": lease.func, "target": lease.target, "outcome": what})
        })
        .collect();
    json_reply(
        StatusCode::OK,
        &json!({"halted": true, "reason": reason, "reverting": false, "reverted": reverted, "interrupted_runs": halted.interrupted}),
    )
}

pub(super) async fn resume(shared: &Arc<Shared>, call: &Call) -> Reply {
    if let Err(r) = call.object(&[]) {
        return *r;
    }
    if let Err(e) = shared.ledger.resume().await {
        return unavailable("resume through the ledger", e);
    }
    shared.control.set_halted(false);
    json_reply(StatusCode::OK, &json!({"halted": false}))
}

pub(super) async fn pause(shared: &Arc<Shared>, call: &Call, paused: bool) -> Reply {
    if let Err(r) = call.object(&[]) {
        return *r;
    }
    let name = call.params.first().map(String::as_str).unwrap_or("");
    if !shared.config.experiments.iter().any(|e| e.name == name) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("no schedule named {name:?} in the server config"),
            Some("name"),
        );
    }
    match shared
        .firings
        .set_paused(name, paused, jiff::Timestamp::now())
        .await
    {
        Ok(()) => json_reply(StatusCode::OK, &json!({"name": name, "paused": paused})),
        Err(e) => unavailable("store the pause", e),
    }
}

/// The monkey's state (`monkey status --output json`); 404 when the server runs none.
pub(super) async fn monkey(shared: &Arc<Shared>) -> Reply {
    let Some(monkey) = &shared.monkey else {
        return error(
            StatusCode::NOT_FOUND,
            "this server runs no monkey (name its config with `monkey: FILE` in server.yaml)",
            None,
        );
    };
    match crate::monkey::status::status(monkey).await {
        Ok(status) => json_reply(StatusCode::OK, &status),
        Err(e) => unavailable("read the monkey's state", e),
    }
}
