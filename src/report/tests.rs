//! The report model from a known event stream and from the journal the same stream gives.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::model::MarkKind;
use super::{Detail, Report, ReportError, html, markdown};
use crate::builtin::Func;
use crate::experiment::event::{
    Entry, EntryExtra, EntryStatus, FaultRecord, Interruption, InterruptionKind, Outcome, Phase,
    ProbeVerdict, RevertResult, RunEvent, RunStatus, Stamped, Verdict,
};
use crate::experiment::journal::{self, DuringJournal};
use crate::experiment::model::ActivityKind;

fn at(s: f64) -> Timestamp {
    let base: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
    Timestamp::from_microsecond(base.as_microsecond() + (s * 1e6) as i64).unwrap()
}

fn probe_entry(end: f64, error_rate: f64) -> Entry {
    Entry {
        activity: json!({"type": "probe", "name": "errors", "tolerance": {"type": "range", "range": [0, 0.01], "target": "error_rate"}}),
        output: json!({"requests": 100, "error_rate": error_rate, "p99_ms": 4.0}),
        start: at(end - 0.5),
        status: EntryStatus::Succeeded,
        exception: None,
        end: at(end),
        duration: 0.5,
        tolerance_met: Some(error_rate <= 0.01),
        monkeywrench: EntryExtra::default(),
    }
}

/// A run of 10 s: before at 1 s, during at 3, 5 (broken), 7, a fault 2 → 6 s, a safeguard check
/// at 4 s and its trip at 8 s, after at 9 s.
fn events() -> Vec<Stamped> {
    let mut list = vec![(
        0.0,
        RunEvent::RunStarted {
            run_id: "0123abcd-0000-4000-8000-000000000000".into(),
            title: "Known run".into(),
            experiment: json!({"title": "Known run", "safeguards": [{"name": "guard", "tolerance": [0, 100]}]}),
            seed: None,
            during_journal: DuringJournal::Changes,
            platform: "Linux".into(),
            node: "n".into(),
            version: "0.1.0".into(),
        },
    )];
    let mut pass = |t: f64, phase: Phase, rate: f64| {
        let entry = probe_entry(t, rate);
        let met = entry.tolerance_met == Some(true);
        list.push((
            t,
            RunEvent::ActivityFinished {
                phase,
                seq: 0,
                kind: ActivityKind::Probe,
                entry: Box::new(entry),
            },
        ));
        list.push((
            t,
            RunEvent::HypothesisChecked {
                phase,
                result: if met {
                    ProbeVerdict::Met
                } else {
                    ProbeVerdict::Unmet
                },
            },
        ));
    };
    pass(1.0, Phase::HypothesisBefore, 0.0);
    pass(3.0, Phase::HypothesisDuring, 0.0);
    pass(5.0, Phase::HypothesisDuring, 0.5);
    pass(7.0, Phase::HypothesisDuring, 0.0);
    pass(9.0, Phase::HypothesisAfter, 0.0);
    list.push((
        2.0,
        RunEvent::FaultApplied {
            fault: FaultRecord {
                id: "lease-1".into(),
                activity: "stop-one".into(),
                func: Func::Fault(crate::fault::FaultFunc::Process(
                    crate::fault::process::Verb::Stop,
                )),
                target: json!({"pid": 42}),
                applied_at: at(2.0),
                deadline: at(60.0),
                reverted_at: None,
                revert: None,
            },
        },
    ));
    list.push((
        6.0,
        RunEvent::FaultReverted {
            id: "lease-1".into(),
            revert: RevertResult::Reverted,
            error: None,
        },
    ));
    list.push((
        4.0,
        RunEvent::SafeguardChecked {
            name: "guard".into(),
            breached: false,
            tripped: false,
            output: json!(12.5),
        },
    ));
    let interruption = Interruption {
        kind: InterruptionKind::Safeguard,
        name: "guard".into(),
        reason: "safeguard \"guard\" broke".into(),
    };
    list.push((
        8.0,
        RunEvent::SafeguardChecked {
            name: "guard".into(),
            breached: true,
            tripped: true,
            output: Value::Null,
        },
    ));
    list.push((
        8.0,
        RunEvent::Interrupted {
            interruption: interruption.clone(),
        },
    ));
    list.sort_by(|a, b| a.0.total_cmp(&b.0));
    list.push((
        10.0,
        RunEvent::RunFinished {
            verdict: Verdict {
                status: RunStatus::Interrupted,
                deviated: true,
                outcome: Outcome::SafeguardBroken,
                exit_code: 5,
                interruption: Some(interruption),
            },
            redactions: 0,
        },
    ));
    list.into_iter()
        .map(|(t, event)| Stamped {
            at: at(t),
            elapsed_s: t,
            event,
        })
        .collect()
}

fn as_values(events: &[Stamped]) -> Vec<Value> {
    events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

#[test]
fn the_event_stream_gives_every_sample_the_fault_window_and_the_trip() {
    let report = Report::from_events("0123abcd", &as_values(&events())).unwrap();
    assert_eq!(report.detail, Detail::Events);
    assert_eq!(report.title, "Known run");
    assert_eq!(report.duration_s(), 10.0);
    assert_eq!(report.outcome.as_deref(), Some("safeguard-broken"));
    let titles: Vec<String> = report.figures.iter().map(|f| f.title()).collect();
    assert_eq!(titles, ["errors · error_rate", "errors · p99_ms", "guard"]);
    let rate = &report.figures[0];
    assert_eq!(rate.band, Some((0.0, 0.01)));
    let points: Vec<(f64, f64, Option<bool>)> = rate.lines[0]
        .points
        .iter()
        .map(|p| (p.t, p.value, p.met))
        .collect();
    assert_eq!(
        points,
        [
            (1.0, 0.0, Some(true)),
            (3.0, 0.0, Some(true)),
            (5.0, 0.5, Some(false)),
            (7.0, 0.0, Some(true)),
            (9.0, 0.0, Some(true)),
        ]
    );
    // The probe was judged on its error rate: its p99 is plotted, not coloured by that verdict.
    assert!(
        report.figures[1].lines[0]
            .points
            .iter()
            .all(|p| p.met.is_none())
    );
    let guard = &report.figures[2];
    assert_eq!(guard.band, Some((0.0, 100.0)));
    assert_eq!(guard.lines[0].points[0].t, 4.0);
    assert_eq!(report.checks.len(), 5);
    assert_eq!(report.checks_in(Phase::HypothesisDuring), (2, 1));
    assert_eq!(report.faults.len(), 1);
    let f = &report.faults[0];
    assert_eq!((f.from, f.to), (2.0, 6.0));
    assert_eq!(f.label, "process.stop on {\"pid\":42}");
    let kinds: Vec<(f64, MarkKind)> = report.marks.iter().map(|m| (m.t, m.kind)).collect();
    assert_eq!(
        kinds,
        [
            (8.0, MarkKind::SafeguardTrip),
            (8.0, MarkKind::Interruption)
        ]
    );
    let phases: Vec<Phase> = report.activities.iter().map(|a| a.phase).collect();
    assert_eq!(phases, [Phase::HypothesisBefore, Phase::HypothesisAfter]);
}

#[test]
fn the_journal_alone_gives_what_it_kept() {
    let doc = journal::from_events(&events());
    let report = Report::from_journal("j.json", &doc).unwrap();
    assert_eq!(report.detail, Detail::Journal);
    // `--during-journal changes` kept the first, the changed and the last during iterations (all
    // three here); no safeguard samples, but its trip.
    let times: Vec<f64> = report.figures[0].lines[0]
        .points
        .iter()
        .map(|p| p.t)
        .collect();
    assert_eq!(times, [1.0, 3.0, 5.0, 7.0, 9.0]);
    assert!(report.figures.iter().all(|f| f.probe != "guard"));
    assert_eq!(report.checks_in(Phase::HypothesisDuring), (2, 1));
    assert_eq!(report.faults[0].to, 6.0);
    assert!(
        report
            .marks
            .iter()
            .any(|m| m.kind == MarkKind::SafeguardTrip && m.t == 8.0)
    );
}

#[test]
fn renderers_show_the_chart_the_span_and_the_verdict() {
    let report = Report::from_events("0123abcd", &as_values(&events())).unwrap();
    let page = html::render(&report);
    assert!(page.starts_with("<!doctype html>"));
    assert_eq!(page.matches("<svg class=\"timeline\"").count(), 3);
    // The fault span of the first chart: 2 s → 6 s of 10 s over an 864-unit plot from x = 80.
    assert!(
        page.contains("data-from=\"2\" data-to=\"6\" x=\"252.8\" y=\"28.0\" width=\"345.6\""),
        "{page}"
    );
    assert!(page.contains("class=\"pt broken\""));
    assert!(page.contains("class=\"mark trip\""));
    assert!(!page.contains("<script"), "no script in the report");
    assert!(
        !page.contains("http://") || !page.contains("src=\"http"),
        "nothing fetched"
    );
    let md = markdown::render(&report);
    assert!(
        md.starts_with("## ❌ Known run — safeguard-broken (interrupted, exit 5)"),
        "{md}"
    );
    assert!(
        md.contains("| errors · error_rate | value | 5 | 0 | 0.5 | 0 | 0 – 0.01 | 1 |"),
        "{md}"
    );
    assert!(
        md.contains("| `lease-1` | process.stop | `{\"pid\":42}` | +2.00 s | +6.00 s | reverted |"),
        "{md}"
    );
}

#[test]
fn bad_input_names_the_file_and_what_was_expected() {
    let err = Report::from_journal_text("x.json", "{\"a\": ").unwrap_err();
    assert!(matches!(err, ReportError::BadJson { line: 1, .. }), "{err}");
    assert!(err.to_string().starts_with("x.json:1:"), "{err}");
    let err = Report::from_journal_text("x.json", "[1, 2]").unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.json: not a monkeywrench journal: expected a JSON object with \"experiment\", \"start\", \"end\" and \"steady_states\" (the file `run --journal-path` writes), but found a list"
    );
    let err = Report::from_journal_text("x.json", "{\"title\": \"an experiment\"}").unwrap_err();
    assert!(
        err.to_string()
            .ends_with("but it has no \"experiment\" key"),
        "{err}"
    );
    let mut doc = journal::from_events(&events());
    doc["run"] = json!([{"activity": {}}]);
    let err = Report::from_journal("j.json", &doc).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("j.json: field run: missing field"),
        "{err}"
    );
    let err = Report::from_events("r", &[json!({"event": "nope"})]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("run r: stored event 1 cannot be read"),
        "{err}"
    );
}
