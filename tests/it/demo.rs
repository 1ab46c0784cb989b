//! The demo command end to end, and the demo service's injected faults measured by `http.measure`.

use serde_json::{Value, json};

use crate::harness::{TempDir, run_in, stderr};
use monkeywrench::builtin::{Func, Probe};

/// Starts the demo service on 127.0.0.1:0 in a runtime of its own; returns its URL.
pub(crate) fn start_service() -> (
    String,
    tokio_util::sync::CancellationToken,
    std::thread::JoinHandle<()>,
) {
    let cancel = tokio_util::sync::CancellationToken::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = cancel.clone();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            monkeywrench::demo::service::serve(listener, stop).await;
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}"), cancel, handle)
}

#[test]
fn the_demo_runs_both_experiments_and_writes_journals() {
    let dir = TempDir::new("demo");
    let out = run_in(dir.path(), &["demo", "--dir", "out"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("steady.yaml: exit 0 (as expected)"), "{text}");
    assert!(text.contains("breaks.yaml: exit 1 (as expected)"), "{text}");
    assert!(text.contains("report out/breaks.report.html"), "{text}");
    let page = std::fs::read_to_string(dir.path().join("out/breaks.report.html")).unwrap();
    assert!(
        page.contains("items-error-rate-below-1pct · error_rate"),
        "the breaking experiment's error rate is charted"
    );
    assert!(
        page.contains("class=\"pt broken\""),
        "the broken after-check is marked"
    );
    let breaks: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/breaks.journal.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(breaks["deviated"], true);
    assert_eq!(
        breaks["rollbacks"][0]["activity"]["name"],
        "reset-the-service"
    );
    let after = &breaks["steady_states"]["after"]["probes"][0]["output"];
    assert_eq!(
        after["error_rate"], 0.5,
        "the injected share is measured exactly: {after}"
    );
}

#[tokio::test]
async fn http_measure_sees_the_injected_error_share_and_latency() {
    let (url, cancel, handle) = start_service();
    let client = reqwest::Client::new();
    client
        .post(format!("{url}/admin/fault?error_rate=0.25&latency_ms=30"))
        .send()
        .await
        .unwrap();
    let report = Func::Probe(Probe::HttpMeasure)
        .run(&json!({"url": format!("{url}/api/items"), "requests": 40, "concurrency": 4}))
        .await
        .unwrap();
    assert_eq!(report["requests"], 40);
    // Every fourth request fails, exactly.
    assert_eq!(report["error_rate"], 0.25, "{report}");
    let p50 = report["p50_ms"].as_f64().unwrap();
    assert!(p50 >= 30.0, "injected latency shows in p50: {report}");
    client
        .post(format!("{url}/admin/reset"))
        .send()
        .await
        .unwrap();
    let clean = Func::Probe(Probe::HttpMeasure)
        .run(&json!({"url": format!("{url}/health"), "requests": 20, "concurrency": 2}))
        .await
        .unwrap();
    assert_eq!(clean["error_rate"], 0.0);
    cancel.cancel();
    handle.join().unwrap();
}

#[tokio::test]
async fn http_measure_counts_an_unreachable_url_as_errors_but_rejects_a_bad_one() {
    let port = crate::harness::closed_port();
    let report = Func::Probe(Probe::HttpMeasure)
        .run(&json!({"url": format!("http://127.0.0.1:{port}/"), "requests": 5, "concurrency": 1, "timeout_s": 1}))
        .await
        .unwrap();
    assert_eq!(report["error_rate"], 1.0);
    let err = Func::Probe(Probe::HttpMeasure)
        .run(&json!({"url": "not a url"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("url"), "{err}");
    let err = Func::Probe(Probe::HttpMeasure)
        .run(&json!({"url": "https://example.invalid/"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("http://"), "{err}");
}

#[tokio::test]
async fn http_measure_in_open_model_paces_requests() {
    let (url, cancel, handle) = start_service();
    let started = std::time::Instant::now();
    let report = Func::Probe(Probe::HttpMeasure)
        .run(
            &json!({"url": format!("{url}/health"), "requests": 20, "concurrency": 2, "rate": 100}),
        )
        .await
        .unwrap();
    // 20 requests at 100/s take at least ~190 ms: the schedule, not the server, sets the pace.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(180),
        "{report}"
    );
    assert_eq!(report["requests"], 20);
    cancel.cancel();
    handle.join().unwrap();
}

#[tokio::test]
async fn tcp_connect_and_file_exists_are_real() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    assert_eq!(
        Func::Probe(Probe::TcpConnect)
            .run(&json!({"host": "127.0.0.1", "port": port}))
            .await
            .unwrap(),
        json!(true)
    );
    drop(listener);
    assert_eq!(
        Func::Probe(Probe::TcpConnect)
            .run(&json!({"host": "127.0.0.1", "port": port, "timeout_s": 1}))
            .await
            .unwrap(),
        json!(false)
    );
    assert_eq!(
        Func::Probe(Probe::FileExists)
            .run(&json!({"path": "/"}))
            .await
            .unwrap(),
        json!(true)
    );
    assert_eq!(
        Func::Probe(Probe::FileExists)
            .run(&json!({"path": "/no/such/path"}))
            .await
            .unwrap(),
        json!(false)
    );
    let err = Func::Probe(Probe::TcpConnect)
        .run(&json!({"host": "127.0.0.1"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("missing required argument \"port\""),
        "{err}"
    );
}
