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

/// The pids the demo printed for its replicas (`  replica r1 pid 123 on 127.0.0.1:4000`).
fn replica_pids(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("replica r"))
        .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
        .collect()
}

/// Whether `/proc/<pid>` still shows a process (a zombie counts: it was not reaped).
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn the_demo_stops_a_replica_behind_the_proxy_breaks_a_route_and_reports_it() {
    let dir = TempDir::new("demo");
    let out = run_in(dir.path(), &["demo", "--dir", "out"]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("replica-loss.yaml: exit 0 (as expected)"),
        "{text}"
    );
    assert!(text.contains("breaks.yaml: exit 1 (as expected)"), "{text}");
    assert!(
        text.contains("/out/breaks.report.html (open it in a browser)"),
        "{text}"
    );
    // Live figures each second, read from the traffic through the proxy.
    assert!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("live ")
                && l.contains("req/s")
                && l.contains("p99"))
            .count()
            >= 5,
        "{text}"
    );
    let pids = replica_pids(&text);
    assert_eq!(pids.len(), 3, "{text}");
    // The replica the experiment froze was one of the demo's, and it ran again after each run.
    let frozen: Vec<u32> = text
        .lines()
        .filter_map(|l| l.split("process.stop on process ").nth(1))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(frozen.len(), 2, "{text}");
    assert!(
        frozen.iter().all(|p| pids.contains(p)),
        "{frozen:?} {pids:?}"
    );
    assert_eq!(
        text.matches("replicas after the run: ").count(),
        2,
        "{text}"
    );
    for line in text
        .lines()
        .filter(|l| l.contains("replicas after the run: "))
    {
        assert_eq!(line.matches(" running").count(), 3, "{line}");
    }
    // Nothing the demo started is left: replicas, nor the guard its runs started.
    for pid in &pids {
        assert!(!exists(*pid), "replica {pid} is still there");
    }
    assert!(
        !dir.path().join("out/state/guard.pid").exists(),
        "the guard is still there"
    );
    let page = std::fs::read_to_string(dir.path().join("out/breaks.report.html")).unwrap();
    assert!(
        page.contains("items-error-rate · error_rate"),
        "the error rate is charted"
    );
    assert!(
        page.contains("class=\"pt broken\""),
        "the broken checks are marked"
    );
    assert!(
        page.contains("class=\"fault\""),
        "the fault windows are drawn"
    );
    assert!(
        page.contains("http.fault") && page.contains("process.stop"),
        "both faults are named"
    );
    let breaks: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/breaks.journal.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(breaks["deviated"], true);
    let during = breaks["steady_states"]["during"].as_array().unwrap();
    let worst = during
        .iter()
        .flat_map(|i| i["probes"].as_array().unwrap())
        .filter_map(|p| p["output"]["error_rate"].as_f64())
        .fold(0.0, f64::max);
    assert!(
        worst > 0.1,
        "the 503s show in the proxy's error rate: {worst}"
    );
    let held: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/replica-loss.journal.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        held["deviated"], false,
        "the balancer hides a frozen replica"
    );
}

/// Starts `demo ARGS` in `dir` with stderr read line by line on a thread; returns the child, a
/// receiver of the lines, and the thread (which returns all of them).
fn spawn_demo(
    dir: &std::path::Path,
    args: &[&str],
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<String>,
    std::thread::JoinHandle<String>,
) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(crate::harness::binary())
        .arg("demo")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::io::BufReader::new(child.stderr.take().unwrap());
    let lines = std::thread::spawn(move || {
        let mut all = String::new();
        for line in reader.lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    (child, rx, lines)
}

/// Waits (up to 2 minutes) for a line containing `what`; kills the child if none comes.
fn wait_for_line(
    child: &mut std::process::Child,
    rx: &std::sync::mpsc::Receiver<String>,
    what: &str,
) -> Option<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(what) => return Some(line),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn ctrl_c_mid_fault_reverts_it_and_stops_every_replica() {
    let dir = TempDir::new("demo-int");
    let (mut child, rx, lines) = spawn_demo(dir.path(), &["--dir", "out"]);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let Some(line) = wait_for_line(&mut child, &rx, "process.stop on process ") else {
        panic!("no fault applied: {}", lines.join().unwrap());
    };
    let frozen: u32 = line
        .split("process.stop on process ")
        .nth(1)
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    let text = lines.join().unwrap();
    assert_eq!(status.code(), Some(4), "interrupted: {text}");
    assert!(text.contains("demo interrupted"), "{text}");
    assert!(
        text.contains("reverted"),
        "the frozen replica was thawed first: {text}"
    );
    let pids = replica_pids(&text);
    assert!(pids.contains(&frozen), "{frozen} {pids:?}");
    for pid in &pids {
        assert!(!exists(*pid), "replica {pid} is still there: {text}");
    }
    assert!(
        !dir.path().join("out/state/guard.pid").exists(),
        "the guard is still there"
    );
    assert!(
        !text.contains("breaks.yaml"),
        "the story stops at the interruption: {text}"
    );
}

#[test]
fn demo_serve_keeps_the_dashboard_up_with_the_runs_until_sigterm() {
    let dir = TempDir::new("demo-serve");
    let (mut child, rx, lines) = spawn_demo(
        dir.path(),
        &["--serve", "--dir", "out", "--listen", "127.0.0.1:0"],
    );
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let Some(line) = wait_for_line(&mut child, &rx, "Dashboard: ") else {
        panic!("no dashboard URL: {}", lines.join().unwrap());
    };
    let url = line
        .split("Dashboard: ")
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (home, runs) = rt.block_on(async {
        let client = reqwest::Client::new();
        let home = client.get(&url).send().await.unwrap();
        let status = home.status().as_u16();
        let runs: Value = client
            .get(format!("{url}api/runs"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (status, runs)
    });
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    let text = lines.join().unwrap();
    // `/` is the dashboard, mounted inside every server by src/server/dashboard/ (built on its
    // own branch); until it is in the tree the server answers `/` with its 404.
    let dashboard = concat!(env!("CARGO_MANIFEST_DIR"), "/src/server/dashboard");
    let want_home = if std::path::Path::new(dashboard).exists() {
        200
    } else {
        404
    };
    assert_eq!(home, want_home, "{text}");
    let names: Vec<&str> = runs["runs"]
        .as_array()
        .unwrap_or_else(|| panic!("{runs}"))
        .iter()
        .filter_map(|r| r["experiment"].as_str())
        .collect();
    assert!(
        names.contains(&"replica-loss") && names.contains(&"breaks"),
        "{runs}"
    );
    assert_eq!(status.code(), Some(0), "{text}");
    let pids = replica_pids(&text);
    assert_eq!(pids.len(), 3, "{text}");
    for pid in &pids {
        assert!(!exists(*pid), "replica {pid} is still there: {text}");
    }
    let config = std::fs::read_to_string(dir.path().join("out/server.yaml")).unwrap();
    assert!(config.contains("name: breaks"), "{config}");
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
