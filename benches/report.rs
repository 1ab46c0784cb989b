//! `monkeywrench report`'s cost for a run with 10 000 events: a continuous hypothesis of two
//! probes (an http.measure-shaped output each) sampled for ~33 minutes, a fault window and a
//! safeguard, as the stored event stream gives it (JSON lines). Timed: reading the events into the
//! model, and rendering HTML and Markdown. Target: < 200 ms for the whole.
//!   cargo bench --bench report

use std::time::Instant;

use monkeywrench::report::{Report, html, markdown};
use serde_json::{Value, json};

const EVENTS: usize = 10_000;

fn ts(s: f64) -> String {
    let base: jiff::Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
    let at = jiff::Timestamp::from_microsecond(base.as_microsecond() + (s * 1e6) as i64).unwrap();
    monkeywrench::experiment::event::format_timestamp(&at)
}

fn entry(name: &str, t: f64, rate: f64) -> Value {
    json!({
        "activity": {"type": "probe", "name": name, "tolerance": {"type": "range", "range": [0, 0.01], "target": "error_rate"},
                     "provider": {"type": "builtin", "func": "http.measure", "arguments": {"url": "http://127.0.0.1:8080/api/items"}}},
        "output": {"requests": 100, "errors": (rate * 100.0) as u64, "error_rate": rate, "rps": 950.0,
                   "p50_ms": 1.2, "p95_ms": 3.4 + rate * 50.0, "p99_ms": 5.6 + rate * 90.0},
        "start": ts(t - 0.1), "status": "succeeded", "end": ts(t), "duration": 0.1, "tolerance_met": rate <= 0.01,
    })
}

fn events() -> Vec<Value> {
    let line = |t: f64, event: Value| {
        let mut e = event;
        e["at"] = json!(ts(t));
        e["elapsed_s"] = json!(t);
        e
    };
    let mut out = vec![line(
        0.0,
        json!({"event": "run-started", "run_id": "bench-run", "title": "10 000 events",
        "experiment": {"title": "10 000 events", "safeguards": [{"name": "guard", "tolerance": {"type": "range", "range": [0, 0.5], "target": "error_rate"}}]},
        "seed": null, "during_journal": "full", "platform": "Linux", "node": "n", "version": "0.1.0"}),
    )];
    let mut t = 0.0;
    while out.len() < EVENTS - 3 {
        t += 0.2;
        let rate = if (600.0..1200.0).contains(&t) {
            0.2
        } else {
            0.0
        };
        for name in ["items", "health"] {
            out.push(line(t, json!({"event": "activity-finished", "phase": "hypothesis-during", "seq": 0, "kind": "probe", "entry": entry(name, t, rate)})));
        }
        out.push(line(t, json!({"event": "hypothesis-checked", "phase": "hypothesis-during", "result": if rate > 0.0 { "unmet" } else { "met" }})));
        out.push(line(t, json!({"event": "safeguard-checked", "name": "guard", "breached": false, "tripped": false, "output": {"error_rate": rate}})));
        if out.len() == 3001 {
            out.push(line(t, json!({"event": "fault-applied", "fault": {"id": "lease-1", "activity": "stop", "func": "process.stop",
                "target": {"pid": 42}, "applied_at": ts(t), "deadline": ts(t + 3600.0), "reverted_at": null, "revert": null}})));
        }
    }
    out.push(line(
        t,
        json!({"event": "fault-reverted", "id": "lease-1", "revert": "reverted"}),
    ));
    out.push(line(t, json!({"event": "run-finished", "verdict": {"status": "completed", "deviated": true, "outcome": "deviated", "exit_code": 1}, "redactions": 0})));
    out
}

fn main() {
    let events = events();
    println!("{} events", events.len());
    let mut best = [f64::INFINITY; 3];
    for _ in 0..5 {
        let start = Instant::now();
        let report = Report::from_events("bench-run", &events).expect("the events read back");
        let model = start.elapsed().as_secs_f64();
        let page = html::render(&report);
        let rendered = start.elapsed().as_secs_f64();
        let md = markdown::render(&report);
        let total = start.elapsed().as_secs_f64();
        assert!(page.contains("<svg") && md.contains("items"));
        best = [
            best[0].min(model),
            best[1].min(rendered - model),
            best[2].min(total),
        ];
        println!(
            "model {:.1} ms, html {:.1} ms ({} KiB), markdown {:.1} ms, total {:.1} ms",
            model * 1e3,
            (rendered - model) * 1e3,
            page.len() / 1024,
            (total - rendered) * 1e3,
            total * 1e3
        );
    }
    println!(
        "best of 5: model {:.1} ms, html {:.1} ms, whole report {:.1} ms (target < 200 ms)",
        best[0] * 1e3,
        best[1] * 1e3,
        best[2] * 1e3
    );
}
