//! The event stream is the run's record: the `--events-file` of a real run rebuilds its
//! `journal.json` exactly, and the verdict it carries is the journal's.

use std::process::{Command, Stdio};

use monkeywrench::experiment::event::{RunEvent, Stamped};
use monkeywrench::experiment::journal;
use serde_json::Value;

use crate::faults::Victim;
use crate::harness::{TempDir, binary, stderr, write};

/// Runs `file` with `--events-file` (state directory under `dir`); returns the exit code, the
/// events and the journal.
fn run_with_events(
    dir: &std::path::Path,
    file: &str,
    extra: &[&str],
) -> (i32, Vec<Stamped>, Value) {
    let journal = dir.join("journal.json");
    let events = dir.join("run.ndjson");
    let out = Command::new(binary())
        .args(["run", "--journal-path", &journal.to_string_lossy()])
        .args(["--events-file", &events.to_string_lossy()])
        .args(extra)
        .arg(file)
        .env("MONKEYWRENCH_STATE_DIR", dir.join("state"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    crate::faults::stop_guard(dir);
    let text = std::fs::read_to_string(&events).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    let stream: Vec<Stamped> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let doc = serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    (out.status.code().unwrap_or(-1), stream, doc)
}

fn kinds(stream: &[Stamped]) -> Vec<String> {
    stream
        .iter()
        .map(|s| {
            serde_json::to_value(&s.event).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// What every stream must satisfy: starts and ends right, time only moves forward, the journal
/// rebuilt from it is the journal written, and its verdict is the journal's.
fn assert_rebuilds(stream: &[Stamped], written: &Value, code: i32) {
    let kinds = kinds(stream);
    assert_eq!(kinds.first().map(String::as_str), Some("run-started"));
    assert_eq!(kinds.last().map(String::as_str), Some("run-finished"));
    for pair in stream.windows(2) {
        assert!(
            pair[0].elapsed_s <= pair[1].elapsed_s,
            "elapsed_s went back: {} then {}",
            pair[0].elapsed_s,
            pair[1].elapsed_s
        );
    }
    let rebuilt = journal::from_events(stream);
    assert_eq!(
        &rebuilt,
        written,
        "rebuilt:\n{}\nwritten:\n{}",
        serde_json::to_string_pretty(&rebuilt).unwrap(),
        serde_json::to_string_pretty(written).unwrap()
    );
    let Some(RunEvent::RunFinished { verdict, .. }) = stream.last().map(|s| &s.event) else {
        panic!("the last event is not run-finished");
    };
    assert_eq!(verdict.exit_code, code);
    assert_eq!(written["monkeywrench"]["exit_code"], code);
    assert_eq!(
        written["monkeywrench"]["outcome"],
        serde_json::to_value(verdict.outcome).unwrap()
    );
    assert_eq!(written["start"].as_str(), Some(stamp(&stream[0]).as_str()));
    assert_eq!(
        written["end"].as_str(),
        Some(stamp(stream.last().unwrap()).as_str())
    );
}

fn stamp(s: &Stamped) -> String {
    monkeywrench::experiment::event::format_timestamp(&s.at)
}

#[test]
fn a_full_run_rebuilds_its_journal_from_the_events_file() {
    let dir = TempDir::new("events-rebuild");
    let victim = Victim::start();
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "round trip", "description": "d",
                "secrets": {{"g": {{"token": "s3cr3t-value"}}}},
                "steady-state-hypothesis": {{"title": "h", "probes": [
                  {{"type": "probe", "name": "up", "tolerance": 0, "provider": {{"type": "process", "path": "true"}}}}]}},
                "safeguards": [{{"type": "probe", "name": "guard", "frequency": 0.1, "tolerance": 0,
                  "provider": {{"type": "process", "path": "true"}}}}],
                "method": [
                  {{"type": "probe", "name": "look", "provider": {{"type": "process", "path": "echo", "arguments": ["${{token}}"]}}}},
                  {{"type": "action", "name": "freeze", "duration": 0.3,
                    "provider": {{"type": "builtin", "func": "process.stop", "arguments": {{"target": {{"pattern": "{}"}}}}}}}},
                  {{"type": "action", "name": "grumble", "provider": {{"type": "process", "path": "false"}}}}],
                "rollbacks": [{{"type": "action", "name": "rb", "provider": {{"type": "process", "path": "true"}}}}]}}"#,
            victim.marker
        ),
    );
    let (code, stream, written) = run_with_events(
        dir.path(),
        &file,
        &[
            "--hypothesis-strategy",
            "continuously",
            "--hypothesis-frequency",
            "0.1",
            "--seed",
            "7",
        ],
    );
    assert_eq!(code, 0, "{written:#}");
    let kinds = kinds(&stream);
    for kind in [
        "hypothesis-checked",
        "safeguard-checked",
        "targets-selected",
        "fault-applied",
        "fault-reverted",
        "warning",
        "activity-finished",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    assert_eq!(written["monkeywrench"]["seed"], 7);
    assert!(written["monkeywrench"]["redactions"].as_u64().unwrap() >= 1);
    assert_eq!(written["monkeywrench"]["faults"][0]["func"], "process.stop");
    assert_eq!(written["monkeywrench"]["faults"][0]["revert"], "reverted");
    assert!(written["steady_states"]["before"]["probes"][0].is_object());
    assert!(written["steady_states"]["after"]["probes"][0].is_object());
    assert!(
        !written["steady_states"]["during"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(written["rollbacks"][0]["status"], "succeeded");
    assert!(
        written["monkeywrench"]["safeguards"][0]["checks"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_rebuilds(&stream, &written, code);
}

#[test]
fn an_interrupted_run_rebuilds_its_journal_from_the_events_file() {
    let dir = TempDir::new("events-interrupted");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "steady-state-hypothesis": {"title": "h", "probes": [
              {"type": "probe", "name": "up", "tolerance": 0, "provider": {"type": "process", "path": "true"}}]},
            "method": [{"type": "action", "name": "long", "provider": {"type": "process", "path": "sleep", "arguments": ["20"]}}],
            "rollbacks": [{"type": "action", "name": "rb", "provider": {"type": "process", "path": "true"}}]}"#,
    );
    let (code, stream, written) = run_with_events(
        dir.path(),
        &file,
        &[
            "--max-duration",
            "700ms",
            "--hypothesis-strategy",
            "continuously",
            "--hypothesis-frequency",
            "0.1",
            "--during-journal",
            "changes",
        ],
    );
    assert_eq!(code, 4, "{written:#}");
    assert_eq!(written["status"], "interrupted");
    assert_eq!(written["interruption"]["kind"], "max-duration");
    assert_eq!(written["run"][0]["monkeywrench"]["cancelled"], "signal");
    assert_eq!(written["rollbacks"][0]["activity"]["name"], "rb");
    assert!(kinds(&stream).iter().any(|k| k == "interrupted"));
    assert_rebuilds(&stream, &written, code);
}
