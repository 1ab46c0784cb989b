//! `monkeywrench report` on a real run: a victim process stopped through the ledger for a fault
//! window while the demo service is measured continuously; the report from the journal and from
//! the stored events, its bad inputs, and the HTML opened in headless Chromium.

use serde_json::Value;

use crate::browser::Browser;
use crate::faults::Victim;
use crate::harness::{TempDir, run_experiment, run_in, stderr, write};

/// Runs the experiment in `dir`; returns the journal.
fn real_run(dir: &std::path::Path) -> Value {
    let (url, cancel, handle) = crate::demo::start_service();
    let victim = Victim::start();
    let file = write(
        dir,
        "fault-window.json",
        &format!(
            r#"{{"title": "A stopped process while the service is measured", "description": "d",
                "runtime": {{"hypothesis": {{"strategy": "continuously", "frequency": 0.3}}}},
                "steady-state-hypothesis": {{"title": "error-free", "probes": [
                  {{"type": "probe", "name": "items", "tolerance": {{"type": "range", "range": [0, 0.01], "target": "error_rate"}},
                    "provider": {{"type": "builtin", "func": "http.measure", "arguments": {{"url": "{url}/api/items", "requests": 20, "concurrency": 2}}}}}}]}},
                "method": [
                  {{"type": "action", "name": "settle", "provider": {{"type": "process", "path": "sleep", "arguments": ["0.5"]}}}},
                  {{"type": "action", "name": "freeze", "duration": 1.5,
                    "provider": {{"type": "builtin", "func": "process.stop", "arguments": {{"target": {{"pattern": "{}"}}}}}}}},
                  {{"type": "action", "name": "after", "provider": {{"type": "process", "path": "sleep", "arguments": ["0.5"]}}}}]}}"#,
            victim.marker
        ),
    );
    let (out, journal) = run_experiment(dir, &file, &[]);
    cancel.cancel();
    handle.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    journal.expect("the run wrote its journal")
}

/// Seconds from the journal's start to `at`.
fn offset(journal: &Value, at: &str) -> f64 {
    let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_microsecond();
    (t(at) - t(journal["start"].as_str().unwrap())) as f64 / 1e6
}

#[test]
fn the_report_of_a_real_run_shows_its_fault_window_from_the_journal_and_the_history() {
    let dir = TempDir::new("report-real");
    let journal = real_run(dir.path());
    let fault = &journal["monkeywrench"]["faults"][0];
    assert_eq!(fault["func"], "process.stop");
    let from = offset(&journal, fault["applied_at"].as_str().unwrap());
    let out = run_in(dir.path(), &["report", "journal.json", "-o", "j.html"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("written to j.html"),
        "{}",
        stderr(&out)
    );
    let page = std::fs::read_to_string(dir.path().join("j.html")).unwrap();
    assert!(page.contains("<svg class=\"timeline\""), "a chart");
    assert!(page.contains("items · error_rate"), "the probe's figure");
    assert!(
        page.contains(&format!("data-from=\"{from}\"")),
        "the span starts where the journal applied the fault ({from} s)"
    );
    assert!(
        page.contains("class=\"pill ok\">reverted"),
        "the lease's revert"
    );

    // The stored run: every during iteration, from the event stream.
    let id = journal["monkeywrench"]["run_id"].as_str().unwrap();
    let out = run_in(dir.path(), &["report", &id[..8], "-o", "full.html"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let full = std::fs::read_to_string(dir.path().join("full.html")).unwrap();
    assert!(full.contains("stored event stream"));
    let during = journal["steady_states"]["during"].as_array().unwrap().len();
    assert!(during >= 2, "continuous checks ran: {during}");
    assert!(
        full.matches("class=\"pt met\"").count() >= during + 2,
        "before, each during iteration and after are plotted"
    );

    let out = run_in(
        dir.path(),
        &["report", id, "--format", "markdown", "-o", "-"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("## ✅ A stopped process"), "{md}");
    assert!(md.contains("| process.stop |"), "{md}");
}

#[test]
fn bad_report_inputs_are_named_with_what_was_expected() {
    let dir = TempDir::new("report-bad");
    let out = run_in(dir.path(), &["report", "missing.json"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("read the journal missing.json"),
        "{}",
        stderr(&out)
    );
    write(dir.path(), "list.json", "[1, 2]");
    let out = run_in(dir.path(), &["report", "list.json"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("list.json: not a monkeywrench journal"),
        "{}",
        stderr(&out)
    );
    write(dir.path(), "broken.json", "{\n  \"start\": ");
    let out = run_in(dir.path(), &["report", "broken.json"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("broken.json:2:"), "{}", stderr(&out));
    let out = run_in(dir.path(), &["report", "deadbeef"]);
    assert_eq!(out.status.code(), Some(64));
    let text = stderr(&out);
    assert!(
        text.contains("\"deadbeef\" is neither a journal file nor a recorded run"),
        "{text}"
    );
    assert!(!dir.path().join("report.html").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_renders_in_chromium_with_the_fault_window_where_the_journal_puts_it() {
    let Some(browser) = Browser::start(1280, 800).await else {
        return;
    };
    let dir = TempDir::new("report-browser");
    let journal = tokio::task::block_in_place(|| real_run(dir.path()));
    let out = run_in(dir.path(), &["report", "journal.json", "-o", "report.html"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    browser.open_file(&dir.path().join("report.html")).await;
    let geometry = browser
        .eval(
            r#"const svg = document.querySelector('svg.timeline');
               const plot = svg.querySelector('rect.plot').getBoundingClientRect();
               const span = svg.querySelector('rect.fault').getBoundingClientRect();
               return {charts: document.querySelectorAll('svg.timeline').length,
                       svgWidth: svg.getBoundingClientRect().width,
                       plotLeft: plot.left, plotWidth: plot.width,
                       spanLeft: span.left, spanWidth: span.width,
                       scrollWidth: document.documentElement.scrollWidth,
                       fetched: performance.getEntriesByType('resource').length};"#,
        )
        .await;
    assert!(geometry["charts"].as_u64().unwrap() >= 1, "{geometry}");
    assert!(geometry["svgWidth"].as_f64().unwrap() > 600.0, "{geometry}");
    assert_eq!(geometry["fetched"], 0, "the report fetches nothing");
    let fault = &journal["monkeywrench"]["faults"][0];
    let duration = journal["duration"].as_f64().unwrap();
    let from = offset(&journal, fault["applied_at"].as_str().unwrap()) / duration;
    let to = offset(&journal, fault["reverted_at"].as_str().unwrap()) / duration;
    let g = |k: &str| geometry[k].as_f64().unwrap();
    let measured_from = (g("spanLeft") - g("plotLeft")) / g("plotWidth");
    let measured_to = (g("spanLeft") + g("spanWidth") - g("plotLeft")) / g("plotWidth");
    // Within a pixel of the plot's width: the span is where the journal's times put it.
    let px = 1.0 / g("plotWidth");
    assert!(
        (measured_from - from).abs() <= 1.5 * px,
        "span starts at {measured_from}, journal says {from}: {geometry}"
    );
    assert!(
        (measured_to - to).abs() <= 1.5 * px,
        "span ends at {measured_to}, journal says {to}: {geometry}"
    );
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    let wide = browser.screenshot("report-1280x800", 1280, 800).await;
    let phone = browser.screenshot("report-390x844", 390, 844).await;
    let widths = browser
        .eval("return [document.documentElement.scrollWidth, window.innerWidth];")
        .await;
    assert!(
        widths[0].as_f64().unwrap() <= widths[1].as_f64().unwrap(),
        "no sideways scrolling of the page at phone width: {widths}"
    );
    eprintln!("screenshots: {} {}", wide.display(), phone.display());
    browser.close().await;
}
