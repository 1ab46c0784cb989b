//! The dashboard's first paint with 10 000 runs in the history (issue 15; target < 500 ms): a
//! SQLite store filled with 10 000 runs, the real server binary on 127.0.0.1:0, then
//! - `GET /` (the runs page, server-rendered, one store query), a filtered page and a deep page,
//!   the run page of one run, timed over fresh connections;
//! - the same page of the JSON API (`GET /api/runs?limit=50`) as the baseline in the same run;
//! - with `MONKEYWRENCH_TEST_CHROMEDRIVER` (or `chromedriver` on PATH): the time to first
//!   contentful paint of `/` in headless Chromium, from navigation start.
//!
//! Run: `cargo bench --locked --bench dashboard` (release), or `cargo test --locked --bench
//! dashboard` for the debug build.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/runs.rs"]
mod runs;
use runs::seed_runs;

use monkeywrench::store::{Store, StoreLocation};

const RUNS: i64 = 10_000;
const REPEAT: usize = 30;
const EXPERIMENTS: i64 = 20;

const STATUSES: &[&str] = &["completed", "completed", "failed", "interrupted"];

/// One GET on a fresh connection: status, body length, time to the last byte.
fn get(addr: &str, path: &str) -> (u16, usize, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer.len(), took)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and worst of `REPEAT` timings of `path`.
fn time(addr: &str, path: &str) -> (f64, f64, usize) {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..REPEAT {
        let (status, len, took) = get(addr, path);
        assert_eq!(status, 200, "{path}");
        size = len;
        times.push(took);
    }
    times.sort();
    (ms(times[REPEAT / 2]), ms(times[REPEAT - 1]), size)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("mw-bench-dash-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let store = Store::open(&StoreLocation::Sqlite(dir.join("state/ledger.db")))
        .await
        .unwrap();
    let started = Instant::now();
    seed_runs(&store, RUNS, EXPERIMENTS, STATUSES).await;
    store.close().await;
    eprintln!(
        "seeded {RUNS} runs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::write(
        dir.join("a.json"),
        r#"{"title": "t", "description": "d", "method": [{"type": "action", "name": "n", "provider": {"type": "process", "path": "true"}}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("server.yaml"),
        "experiments:\n  - {name: experiment-00, file: a.json, schedule: '0 0 1 1 *'}\n",
    )
    .unwrap();
    let addr_file = dir.join("addr");
    let server = Killed(
        Command::new(env!("CARGO_BIN_EXE_monkeywrench"))
            .args([
                "server",
                "--config",
                "server.yaml",
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--address-file")
            .arg(&addr_file)
            .env("MONKEYWRENCH_STATE_DIR", dir.join("state"))
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !addr_file.exists() {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let addr = std::fs::read_to_string(&addr_file).unwrap();
    let (_, _, first) = get(&addr, "/");
    println!("the very first GET / (cold caches): {:.1} ms", ms(first));
    let one: serde_json::Value = {
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET /api/runs?limit=1 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap()
    };
    let id = one["runs"][0]["id"].as_str().unwrap().to_string();
    println!("median / worst of {REPEAT}, fresh connection each, {RUNS} runs stored:");
    for (label, path) in [
        ("GET / (runs page, first paint HTML)", "/".to_string()),
        ("GET /?status=failed", "/?status=failed".to_string()),
        ("GET /?page=150 (runs 7501-7550)", "/?page=150".to_string()),
        ("GET /runs/{id} (seeded: no events)", format!("/runs/{id}")),
        (
            "GET /assets/dashboard.css",
            "/assets/dashboard.css".to_string(),
        ),
        (
            "baseline GET /api/runs?limit=50",
            "/api/runs?limit=50".to_string(),
        ),
    ] {
        let (median, worst, size) = time(&addr, &path);
        println!("  {label:<40} {median:>7.1} ms  {worst:>7.1} ms  ({size} bytes)");
    }
    paint(&addr).await;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// First contentful paint of `/` in headless Chromium, five times (skipped without a driver).
async fn paint(addr: &str) {
    use fantoccini::ClientBuilder;
    let driver_path =
        std::env::var("MONKEYWRENCH_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Ok(driver) = Command::new(&driver_path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        println!("  (no chromedriver: first paint in Chromium not measured)");
        return;
    };
    let _driver = Killed(driver);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--window-size=1280,800"]}),
    );
    let mut client = None;
    for _ in 0..100 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        if let Ok(c) = ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            client = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = client.expect("a chromedriver session");
    let mut paints = Vec::new();
    for _ in 0..6 {
        client.goto("about:blank").await.unwrap();
        client.goto(&format!("http://{addr}/")).await.unwrap();
        // The paint entry is recorded a frame after the load; wait for it.
        let mut v = serde_json::Value::Null;
        for _ in 0..50 {
            v = client
                .execute(
                    "const p = performance.getEntriesByName('first-contentful-paint')[0];
                     const n = performance.getEntriesByType('navigation')[0];
                     return [p ? p.startTime : null, n.responseEnd, n.domContentLoadedEventEnd];",
                    vec![],
                )
                .await
                .unwrap();
            if v[0].is_number() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        paints.push(v);
    }
    // The first load also starts the renderer process: shown, but not the steady figure.
    println!("  (the first Chromium load also starts its renderer)");
    for v in &paints {
        println!(
            "  Chromium: first contentful paint {:.1} ms after navigation start (response end {:.1} ms, DOMContentLoaded {:.1} ms)",
            v[0].as_f64().unwrap_or(f64::NAN),
            v[1].as_f64().unwrap_or(f64::NAN),
            v[2].as_f64().unwrap_or(f64::NAN)
        );
    }
    let _ = client.close().await;
}
