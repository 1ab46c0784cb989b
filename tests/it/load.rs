//! `monkeywrench load` with the real binary against real HTTP servers started here on
//! 127.0.0.1:0: latency of a server with a fixed delay, the coordinated-omission correction
//! against a stalling server (open vs closed model), profile shapes, bad templates, profiles and
//! URL files, an unreachable target (errors counted, CPU not spinning).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use monkeywrench::target::process::ProcessIdentity;

use crate::containers::{action, experiment, journal, sleep_action};
use crate::faults::{ledger_json, mw, sigkill, spawn_run, stop_guard};
use crate::harness::{TempDir, binary, closed_port, stderr, wait_until, write};

/// How a test server answers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Behaviour {
    /// Every response after this delay.
    Delay(Duration),
    /// At once, except in the last second of every 3: then not before that second ends.
    StallEvery3s,
}

/// A real HTTP/1.1 keep-alive server, one thread per connection.
pub(crate) struct TestServer {
    port: u16,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
}

impl TestServer {
    pub(crate) fn start(behaviour: Behaviour) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let (st, count) = (stop.clone(), served.clone());
        let started = Instant::now();
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (st, count) = (st.clone(), count.clone());
                        std::thread::spawn(move || serve(stream, behaviour, started, &st, &count));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        TestServer { port, stop, served }
    }

    /// Requests answered so far.
    pub(crate) fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    stream: std::net::TcpStream,
    behaviour: Behaviour,
    started: Instant,
    stop: &AtomicBool,
    served: &AtomicU64,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        // The request head (the loads here send no bodies).
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        match behaviour {
            Behaviour::Delay(d) => std::thread::sleep(d),
            Behaviour::StallEvery3s => {
                let t = started.elapsed();
                let into = Duration::from_nanos((t.as_nanos() % 3_000_000_000) as u64);
                if into >= Duration::from_secs(2) {
                    std::thread::sleep(Duration::from_secs(3) - into);
                }
            }
        }
        let body = "ok";
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if reader.get_mut().write_all(response.as_bytes()).is_err() {
            return;
        }
        served.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `monkeywrench load ARGS --output json`; returns its summary.
fn load_json(args: &[&str]) -> Value {
    let out = Command::new(binary())
        .arg("load")
        .args(args)
        .args(["--output", "json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    })
}

#[test]
fn p50_of_a_server_with_a_fixed_10ms_delay_is_10ms() {
    let server = TestServer::start(Behaviour::Delay(Duration::from_millis(10)));
    let summary = load_json(&[&server.url(), "--connections", "4", "--duration", "2s"]);
    let p50 = summary["latency_ms"]["p50"].as_f64().unwrap();
    assert!((p50 - 10.0).abs() <= 1.0, "p50 {p50} ms: {summary:#}");
    assert_eq!(summary["errors"], 0, "{summary:#}");
    assert_eq!(summary["model"], "closed");
}

#[test]
fn the_open_model_shows_a_stall_that_the_closed_model_hides() {
    let server = TestServer::start(Behaviour::StallEvery3s);
    let url = server.url();
    // Both runs see two stalls of a second (7 s of a server that stalls 1 s in every 3).
    let open = load_json(&[&url, "--rate", "200", "--duration", "7s", "-c", "32"]);
    let closed = load_json(&[&url, "--connections", "4", "--duration", "7s"]);
    let p99 = |s: &Value| s["latency_ms"]["p99"].as_f64().unwrap();
    assert!(
        p99(&open) >= 500.0,
        "the corrected p99 shows the 1 s stall: {open:#}"
    );
    assert!(
        p99(&closed) < 500.0,
        "the closed model sends few requests during a stall, so its p99 hides it: {closed:#}"
    );
    assert_eq!(open["errors"], 0, "{open:#}");
}

#[test]
fn a_profile_asks_for_its_rate_stage_by_stage() {
    let server = TestServer::start(Behaviour::Delay(Duration::ZERO));
    let summary = load_json(&[
        &server.url(),
        "--profile",
        "constant:50/2s,ramp:50..150/2s,constant:150/2s",
        "-c",
        "8",
    ]);
    // Exactly what the profile asks for: 100 + 200 + 300 requests.
    assert_eq!(summary["requests"], 600, "{summary:#}");
    assert_eq!(summary["errors"], 0);
    let seconds: Vec<f64> = summary["seconds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["requests"].as_f64().unwrap())
        .collect();
    assert!(seconds.len() >= 6, "{seconds:?}");
    let near = |got: f64, want: f64| (got - want).abs() <= want * 0.2 + 5.0;
    for (i, want) in [50.0, 50.0, 75.0, 125.0, 150.0, 150.0]
        .into_iter()
        .enumerate()
    {
        assert!(near(seconds[i], want), "second {}: {seconds:?}", i + 1);
    }
    let asked: Vec<f64> = summary["seconds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["target_rps"].as_f64().unwrap())
        .collect();
    assert_eq!(&asked[..6], &[50.0, 50.0, 100.0, 150.0, 150.0, 150.0]);
}

#[test]
fn a_request_count_stops_the_closed_model() {
    let server = TestServer::start(Behaviour::Delay(Duration::ZERO));
    let summary = load_json(&[&server.url(), "--requests", "321", "-c", "3"]);
    assert_eq!(summary["requests"], 321, "{summary:#}");
    assert_eq!(summary["ok"], 321);
}

#[test]
fn bad_profiles_templates_and_url_files_say_where() {
    let dir = TempDir::new("load-bad");
    let urls = write(
        dir.path(),
        "urls.txt",
        "# weighted\nhttp://127.0.0.1:1/a 3\n  ftp://127.0.0.1:1/b\n",
    );
    let run = |args: &[&str]| {
        Command::new(binary())
            .arg("load")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["--urls-file", &urls, "--requests", "1"]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("urls.txt:3:3: \"ftp://127.0.0.1:1/b\" is not an http:// URL"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "http://127.0.0.1:1/",
        "--profile",
        "constant:10/1s,ramp:5/2s",
    ]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("profile stage 2 (\"ramp:5/2s\"): expected FROM..TO rates"),
        "{}",
        stderr(&out)
    );
    let out = run(&["http://127.0.0.1:1/", "-H", "no colon", "-n", "1"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("expected \"Name: value\""),
        "{}",
        stderr(&out)
    );
    let out = run(&["http://127.0.0.1:1/", "--profile", "constant:5x/1s"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("no base rate"), "{}", stderr(&out));
    let out = run(&["http://127.0.0.1:1/", "--rate", "500", "--max-rate", "100"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("above the ceiling"),
        "{}",
        stderr(&out)
    );
}

/// utime + stime of a live process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn an_unreachable_target_counts_errors_without_spinning() {
    for model in [&["--rate", "1000"][..], &[][..]] {
        let url = format!("http://127.0.0.1:{}/", closed_port());
        let child = Command::new(binary())
            .args([
                "load",
                &url,
                "--duration",
                "4s",
                "-c",
                "16",
                "--output",
                "json",
            ])
            .args(model)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        let (t0, c0) = (Instant::now(), cpu_ticks(child.id()));
        std::thread::sleep(Duration::from_millis(2500));
        let (t1, c1) = (Instant::now(), cpu_ticks(child.id()));
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        let ticks_per_s = rustix::param::clock_ticks_per_second() as f64;
        let cores = (c1 - c0) as f64 / ticks_per_s / (t1 - t0).as_secs_f64();
        assert!(
            cores < 0.3,
            "{model:?}: {cores:.2} cores for an unreachable target"
        );
        assert_eq!(summary["ok"], 0);
        assert_eq!(summary["errors"], summary["requests"], "{summary:#}");
        assert!(summary["errors_by_kind"]["connect"].as_u64().unwrap() > 0);
        if !model.is_empty() {
            // Every request the schedule asked for is counted, as an error.
            assert_eq!(summary["requests"], 4000, "{summary:#}");
        }
    }
}

/// The surge's process, once its lease is applied.
fn surge_process(dir: &std::path::Path) -> ProcessIdentity {
    let mut lease = Value::Null;
    let found = wait_until(Duration::from_secs(30), || {
        lease = ledger_json(dir)
            .into_iter()
            .find(|l| l["func"] == "traffic.surge" && l["state"] == "applied")
            .unwrap_or(Value::Null);
        !lease.is_null()
    });
    assert!(
        found,
        "an applied traffic.surge lease: {:?}",
        ledger_json(dir)
    );
    let process = &lease["undo"]["process"];
    assert_eq!(process["pid"], lease["target"]["pid"], "{lease}");
    ProcessIdentity {
        pid: process["pid"].as_i64().unwrap() as i32,
        start_time: process["start_time"].as_u64().unwrap(),
    }
}

/// No request reaches the server any more.
fn quiet(server: &TestServer) -> bool {
    wait_until(Duration::from_secs(10), || {
        let before = server.served();
        std::thread::sleep(Duration::from_millis(300));
        server.served() == before
    })
}

fn surge_args(server: &TestServer, extra: &str) -> String {
    format!(r#"{{"url": "{}", "connections": 4{extra}}}"#, server.url())
}

#[test]
fn a_surge_ramps_is_reverted_at_its_end_and_its_figures_are_journaled() {
    let server = TestServer::start(Behaviour::Delay(Duration::ZERO));
    let dir = TempDir::new("surge-timed");
    let args = surge_args(&server, r#", "multiple": 4, "base_rate": 20, "ramp_s": 1"#);
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[action("surge", "traffic.surge", &args, Some(3.0))]),
    );
    let run = spawn_run(dir.path(), &file);
    let surge = surge_process(dir.path());
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!surge.is_alive(), "the surge stopped with its fault");
    assert!(quiet(&server));
    let doc = journal(&dir);
    let fault = &doc["monkeywrench"]["faults"][0];
    assert_eq!(fault["revert"], "reverted", "{doc:#}");
    assert_eq!(fault["target"]["peak_rps"], 80.0);
    assert_eq!(fault["target"]["base_rps"], 20.0);
    let surges = doc["monkeywrench"]["surges"].as_array().unwrap();
    assert_eq!(surges.len(), 1, "{doc:#}");
    assert_eq!(surges[0]["activity"], "surge");
    assert_eq!(surges[0]["pid"], surge.pid);
    let seconds = surges[0]["seconds"].as_array().unwrap();
    assert!(seconds.len() >= 2, "{seconds:?}");
    assert_eq!(seconds[1]["target_rps"], 80.0, "{seconds:?}");
    assert!(seconds.iter().all(|s| s["errors"] == 0), "{seconds:?}");
    let sent: u64 = seconds
        .iter()
        .map(|s| s["requests"].as_u64().unwrap())
        .sum();
    assert!(
        sent > 0 && sent <= server.served(),
        "{sent} {}",
        server.served()
    );
    stop_guard(dir.path());
}

#[test]
fn halt_stops_a_surge_and_interrupts_the_run() {
    let server = TestServer::start(Behaviour::Delay(Duration::ZERO));
    let dir = TempDir::new("surge-halt");
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action(
                "surge",
                "traffic.surge",
                &surge_args(&server, r#", "rate": 100"#),
                None,
            ),
            sleep_action(60.0),
        ]),
    );
    let run = spawn_run(dir.path(), &file);
    let surge = surge_process(dir.path());
    assert!(wait_until(Duration::from_secs(10), || server.served() > 0));
    let halt = mw(dir.path(), &["halt", "--reason", "enough traffic"]);
    assert_eq!(halt.status.code(), Some(0), "{}", stderr(&halt));
    assert!(!surge.is_alive(), "the halt stopped the surge");
    assert!(quiet(&server));
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        ledger_json(dir.path())
            .iter()
            .all(|l| l["state"] == "reverted"),
        "{:?}",
        ledger_json(dir.path())
    );
    assert_eq!(mw(dir.path(), &["resume"]).status.code(), Some(0));
    stop_guard(dir.path());
}

#[test]
fn sigkill_of_the_run_stops_the_surge() {
    let server = TestServer::start(Behaviour::Delay(Duration::ZERO));
    let dir = TempDir::new("surge-kill");
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action(
                "surge",
                "traffic.surge",
                &surge_args(&server, r#", "rate": 100"#),
                None,
            ),
            sleep_action(60.0),
        ]),
    );
    let mut run = spawn_run(dir.path(), &file);
    let surge = surge_process(dir.path());
    assert!(wait_until(Duration::from_secs(10), || server.served() > 0));
    sigkill(&mut run);
    assert!(
        wait_until(Duration::from_secs(10), || !surge.is_alive()),
        "the surge died with the run"
    );
    assert!(quiet(&server));
    stop_guard(dir.path());
}

#[test]
fn a_surge_above_its_ceiling_or_without_a_base_is_refused_at_validation() {
    let dir = TempDir::new("surge-bad");
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action(
                "too-much",
                "traffic.surge",
                r#"{"url": "http://127.0.0.1:9/", "rate": 5000, "max_rate": 1000}"#,
                None,
            ),
            action(
                "no-base",
                "traffic.surge",
                r#"{"url": "http://127.0.0.1:9/", "multiple": 3}"#,
                None,
            ),
        ]),
    );
    let out = mw(dir.path(), &["validate", &file]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    let text = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert!(text.contains("above the ceiling of 1000 req/s"), "{text}");
    assert!(
        text.contains("a multiple needs base_rate or base_proxy"),
        "{text}"
    );
}

#[test]
fn the_surges_of_a_run_together_stay_under_its_max_surge_rate() {
    let server = TestServer::start(Behaviour::Delay(Duration::ZERO));
    let dir = TempDir::new("surge-budget");
    let surge = |name: &str, rate: u32| {
        action(
            name,
            "traffic.surge",
            &surge_args(&server, &format!(r#", "rate": {rate}"#)),
            Some(4.0),
        )
    };
    let method = [
        surge("first", 100),
        surge("too-much-on-top", 80),
        surge("fits-on-top", 40),
    ];
    let with_ceiling = |ceiling: &str| {
        experiment(&method).replacen('{', &format!(r#"{{"max-surge-rate": {ceiling}, "#), 1)
    };
    let file = write(dir.path(), "e.json", &with_ceiling("150"));
    let out = spawn_run(dir.path(), &file).wait_with_output().unwrap();
    let doc = journal(&dir);
    let runs = doc["run"].as_array().unwrap();
    let status = |name: &str| {
        let run = runs
            .iter()
            .find(|r| r["activity"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} ran: {doc:#}"));
        (run["status"].clone(), run["exception"].to_string())
    };
    assert_eq!(status("first").0, "succeeded", "{doc:#}");
    assert_eq!(status("fits-on-top").0, "succeeded", "{doc:#}");
    let (refused, why) = status("too-much-on-top");
    assert_eq!(refused, "failed", "{doc:#}");
    assert!(
        why.contains("80 req/s while the run's other surges send 100 req/s")
            && why.contains("max-surge-rate of 150 req/s"),
        "{why}"
    );
    let faults = doc["monkeywrench"]["faults"].as_array().unwrap();
    let peaks: Vec<_> = faults
        .iter()
        .map(|f| f["target"]["peak_rps"].clone())
        .collect();
    assert_eq!(peaks, [100.0, 40.0], "{doc:#}");
    assert!(faults.iter().all(|f| f["revert"] == "reverted"), "{doc:#}");
    assert!(quiet(&server), "{}", stderr(&out));
    stop_guard(dir.path());

    let file = write(dir.path(), "bad.json", &with_ceiling("-5"));
    let out = mw(dir.path(), &["validate", &file]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    let text = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert!(
        text.contains("bad.json:1:") && text.contains("max-surge-rate") && text.contains("got -5"),
        "{text}"
    );
}
