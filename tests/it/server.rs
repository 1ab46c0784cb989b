//! `monkeywrench server` end to end: the real binary on 127.0.0.1:0 (its address from
//! `--address-file`), a real HTTP client over TCP, real child-process victims frozen by
//! `process.stop`, SQLite and the suite's PostgreSQL. Runs that must stay running wait for a
//! release file, so no assertion depends on how long anything takes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::{mw, stop_guard};
use crate::harness::{TempDir, binary, promtool_check, wait_until, write};

/// Long enough for anything here to happen on a loaded machine; only a failure waits this long.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// A running server, SIGKILLed on drop if still running.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: String,
    pub(crate) log: PathBuf,
}

impl Server {
    /// Starts `server --config config` in `dir` with the state directory `dir/state`.
    pub(crate) fn start(dir: &Path, config: &str, env: &[(&str, &str)]) -> Server {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let addr_file = dir.join(format!("addr-{tag}"));
        let log = dir.join(format!("server-{tag}.log"));
        let mut command = Command::new(binary());
        command
            .args(["server", "--config", config, "--listen", "127.0.0.1:0"])
            .arg("--address-file")
            .arg(&addr_file)
            .env("MONKEYWRENCH_STATE_DIR", dir.join("state"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let up = wait_until(PATIENCE, || {
            addr_file.exists() || child.try_wait().ok().flatten().is_some()
        });
        let addr = std::fs::read_to_string(&addr_file).unwrap_or_default();
        assert!(
            up && !addr.is_empty(),
            "the server did not come up: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Server { child, addr, log }
    }

    pub(crate) fn get(&self, path: &str) -> (u16, Value) {
        request(&self.addr, "GET", path, "")
    }

    pub(crate) fn post(&self, path: &str, body: &str) -> (u16, Value) {
        request(&self.addr, "POST", path, body)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGTERM, then waits for the exit; its exit code.
    pub(crate) fn stop(&mut self) -> Option<i32> {
        signal(self.pid(), nix::sys::signal::Signal::SIGTERM);
        self.child.wait().unwrap().code()
    }

    pub(crate) fn sigkill(&mut self) {
        signal(self.pid(), nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// The run `id` once `check` holds for it.
    fn run_until(&self, id: &str, check: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let ok = wait_until(PATIENCE, || {
            last = self.get(&format!("/api/runs/{id}")).1;
            check(&last)
        });
        assert!(ok, "run {id} never got there: {last:#}\n{}", self.log());
        last
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.sigkill();
        }
    }
}

fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

/// One HTTP/1.1 request on a fresh connection: the status and the JSON body (Null if not JSON).
pub(crate) fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (status, _, text) = raw_request(addr, method, path, body, &[]);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Status, head and body text.
pub(crate) fn raw_request(
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, rest) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), rest.to_string())
}

/// A Server-Sent Events stream read as it comes (chunked transfer decoding included).
pub(crate) struct Sse {
    reader: BufReader<TcpStream>,
    pending: String,
}

/// One SSE message: id, event type, data.
pub(crate) type Message = (Option<i64>, String, Value);

impl Sse {
    pub(crate) fn open(addr: &str, path: &str, last_event_id: Option<i64>) -> Sse {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let resume = last_event_id
            .map(|n| format!("Last-Event-ID: {n}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{resume}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("text/event-stream"), "{head}");
        Sse {
            reader,
            pending: String::new(),
        }
    }

    /// The next message (keep-alive comments skipped); None at the end of the stream.
    pub(crate) fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(at) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..at + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), Value::Null);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).unwrap_or(Value::Null);
                    }
                }
                if event.is_empty() {
                    continue;
                }
                return Some((id, event, data));
            }
            // One chunk: its size in hex, the bytes, CRLF.
            let mut size = String::new();
            if self.reader.read_line(&mut size).ok()? == 0 {
                return None;
            }
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                return None;
            }
            let mut chunk = vec![0u8; n + 2];
            self.reader.read_exact(&mut chunk).ok()?;
            self.pending.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    }

    /// Messages up to and including the first `event` named `until`.
    pub(crate) fn until(&mut self, until: &str) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(m) = self.next() {
            let done = m.1 == until;
            out.push(m);
            if done {
                return out;
            }
        }
        panic!(
            "the stream ended before {until:?}: {:?}",
            out.iter().map(|m| &m.1).collect::<Vec<_>>()
        );
    }
}

/// A victim with a unique command line in its own process group.
pub(crate) struct Victim {
    child: Child,
    pub(crate) marker: String,
}

impl Victim {
    pub(crate) fn start() -> Victim {
        let marker = format!("mw-srv-victim-{}", uuid::Uuid::new_v4().simple());
        let mut cmd = Command::new("bash");
        cmd.args(["-c", &format!("exec -a {marker} sleep 300")]);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.stdout(Stdio::null()).spawn().unwrap();
        let pid = child.id();
        assert!(wait_until(PATIENCE, || {
            String::from_utf8_lossy(
                &std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
            )
            .contains(&marker)
        }));
        Victim { child, marker }
    }

    pub(crate) fn stopped(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .ok()
            .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim().starts_with('T')))
            .unwrap_or(false)
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An experiment whose method waits until `release` exists (after freezing `victim`, if given).
pub(crate) fn blocked_experiment(release: &Path, victim: Option<&str>) -> String {
    let freeze = victim
        .map(|m| {
            format!(
                r#"{{"type": "action", "name": "freeze", "duration": 120,
                  "provider": {{"type": "builtin", "func": "process.stop", "arguments": {{"target": {{"pattern": "{m}"}}}}}}}},"#
            )
        })
        .unwrap_or_default();
    format!(
        r#"{{"title": "blocked", "description": "waits for its release file",
            "method": [{freeze}
              {{"type": "action", "name": "wait", "provider": {{"type": "process", "path": "sh",
                "arguments": ["-c", "while [ ! -f {} ]; do sleep 0.05; done"]}}}}]}}"#,
        release.display()
    )
}

/// An experiment that passes at once.
pub(crate) const PASSING: &str = r#"{"title": "passing", "description": "d",
  "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "tmp",
    "tolerance": true, "provider": {"type": "builtin", "func": "file.exists", "arguments": {"path": "/tmp"}}}]},
  "method": [{"type": "action", "name": "nap", "provider": {"type": "process", "path": "true"}}]}"#;

/// An experiment whose before-hypothesis is unmet (it fails).
const FAILING: &str = r#"{"title": "failing", "description": "d",
  "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "missing",
    "tolerance": true, "provider": {"type": "builtin", "func": "file.exists", "arguments": {"path": "/nonexistent/mw"}}}]},
  "method": []}"#;

/// A cron that never fires while a test runs (once a year, on a day long past by then).
pub(crate) const NEVER: &str = "'0 0 1 1 *'";

fn runs_of(server: &Server, experiment: &str) -> Vec<Value> {
    server
        .get(&format!("/api/runs?experiment={experiment}&limit=500"))
        .1["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn ended(runs: &[Value]) -> usize {
    runs.iter().filter(|r| r["status"] != "running").count()
}

#[test]
fn two_schedules_fill_the_history_the_api_and_the_metrics() {
    let dir = TempDir::new("srv-two");
    write(dir.path(), "a.json", PASSING);
    write(dir.path(), "b.json", FAILING);
    write(
        dir.path(),
        "server.yaml",
        "experiments:\n\
         \x20 - {name: alpha, file: a.json, schedule: {every: 1s}}\n\
         \x20 - {name: beta, file: b.json, schedule: {every: 1s}}\n",
    );
    let mut server = Server::start(dir.path(), "server.yaml", &[]);
    assert!(
        wait_until(PATIENCE, || ended(&runs_of(&server, "alpha")) >= 3
            && ended(&runs_of(&server, "beta")) >= 3),
        "{}",
        server.log()
    );
    // Paused, the schedules stop starting runs (their firings are recorded as skipped).
    for name in ["alpha", "beta"] {
        let (status, body) = server.post(&format!("/api/schedules/{name}/pause"), "");
        assert_eq!((status, &body["paused"]), (200, &json!(true)), "{body:#}");
    }
    assert!(wait_until(PATIENCE, || {
        ["alpha", "beta"].iter().all(|n| {
            let e = server.get(&format!("/api/experiments/{n}")).1;
            e["paused"] == true
                && e["running"].as_array().is_some_and(Vec::is_empty)
                && e["last_firing"]["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("paused"))
        })
    }));

    let (_, _, metrics) = raw_request(&server.addr, "GET", "/metrics", "", &[]);
    promtool_check(&metrics);
    for needle in [
        "monkeywrench_server_runs_total{experiment=\"alpha\",outcome=\"passed\"} ",
        "monkeywrench_server_runs_total{experiment=\"beta\",outcome=\"baseline-not-met\"} ",
        "monkeywrench_server_last_outcome{experiment=\"beta\",outcome=\"baseline-not-met\"} 1",
        "monkeywrench_server_last_run_deviated{experiment=\"alpha\"} 0",
        "monkeywrench_server_schedule_paused{experiment=\"alpha\"} 1",
        "monkeywrench_server_halted 0",
        "monkeywrench_server_active_leases 0",
        "monkeywrench_server_next_firing_timestamp_seconds{experiment=\"beta\"} ",
    ] {
        assert!(metrics.contains(needle), "missing {needle:?} in\n{metrics}");
    }

    // Pages of one, followed by their cursors, are the one page of all, in the same order.
    let all: Vec<Value> = server.get("/api/runs?limit=500").1["runs"]
        .as_array()
        .unwrap()
        .clone();
    assert!(all.len() >= 6);
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/runs?limit=1&cursor={c}"),
            None => "/api/runs?limit=1".to_string(),
        };
        let page = server.get(&path).1;
        walked.extend(
            page["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let ids: Vec<Value> = all.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(walked, ids);
    let completed = server
        .get("/api/runs?status=completed&experiment=beta&limit=500")
        .1;
    assert!(
        !completed["runs"].as_array().unwrap().is_empty(),
        "{completed:#}"
    );
    let none = server.get("/api/runs?status=interrupted").1;
    assert_eq!(none["runs"], json!([]));
    assert_eq!(server.stop(), Some(0), "{}", server.log());

    let out = mw(
        dir.path(),
        &["history", "--output", "json", "--limit", "500"],
    );
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = history.as_array().unwrap();
    assert_eq!(rows.len(), all.len(), "the history and the API agree");
    for (name, outcome) in [("alpha", "passed"), ("beta", "baseline-not-met")] {
        let mine: Vec<&Value> = rows.iter().filter(|r| r["experiment"] == name).collect();
        assert!(mine.len() >= 3, "{name}: {history:#}");
        for r in &mine {
            assert_eq!(r["trigger"], "schedule");
            assert!(
                r["trigger_detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("every 1s (planned ")
            );
            assert_eq!(r["outcome"], outcome, "{r:#}");
        }
        // One run per planned firing.
        let mut details: Vec<&str> = mine
            .iter()
            .map(|r| r["trigger_detail"].as_str().unwrap())
            .collect();
        let n = details.len();
        details.sort();
        details.dedup();
        assert_eq!(details.len(), n, "a firing ran twice");
    }
}

/// A server with one experiment that waits for `dir/release` (freezing `victim` first, if
/// given) on `schedule`.
fn blocked_server(dir: &TempDir, schedule: &str, victim: Option<&str>) -> (Server, PathBuf) {
    let release = dir.path().join("release");
    write(
        dir.path(),
        "blocked.json",
        &blocked_experiment(&release, victim),
    );
    write(
        dir.path(),
        "server.yaml",
        &format!("experiments:\n  - {{name: blocked, file: blocked.json, schedule: {schedule}}}\n"),
    );
    (Server::start(dir.path(), "server.yaml", &[]), release)
}

fn run_now(server: &Server, name: &str) -> String {
    let (status, body) = server.post(&format!("/api/experiments/{name}/runs"), "");
    assert_eq!(status, 202, "{body:#}\n{}", server.log());
    body["run_id"].as_str().unwrap().to_string()
}

fn names(messages: &[Message]) -> Vec<String> {
    messages.iter().map(|m| m.1.clone()).collect()
}

#[test]
fn run_now_streams_its_events_live_and_replays_them_after() {
    let dir = TempDir::new("srv-sse");
    let (mut server, release) = blocked_server(&dir, NEVER, None);
    let id = run_now(&server, "blocked");
    // A second run now is refused while the first goes on.
    let (status, body) = server.post("/api/experiments/blocked/runs", "{}");
    assert_eq!(status, 409, "{body:#}");
    assert!(
        body["error"].as_str().unwrap().starts_with("overlap"),
        "{body:#}"
    );

    let mut live = Sse::open(&server.addr, &format!("/api/runs/{id}/events"), None);
    let first = live.until("activity-started");
    assert_eq!(first[0].1, "run-started");
    assert_eq!(first[0].0, Some(1));
    // The method waits for the release file: the run is certainly still going.
    let run = server.run_until(&id, |r| r["status"] == "running");
    assert_eq!(run["live"], true);
    assert_eq!(run["trigger"], "api");
    std::fs::write(&release, "").unwrap();
    let mut seen = first.clone();
    seen.extend(live.until("end"));
    let end = seen.last().unwrap();
    assert_eq!(end.2["status"], "completed", "{seen:?}");
    assert!(names(&seen).contains(&"run-finished".to_string()));
    assert!(live.next().is_none(), "the stream ends with the run");

    // Replayed from the store: the same events, in the same order, with the same ids.
    let mut replay = Sse::open(&server.addr, &format!("/api/runs/{id}/events"), None);
    let again = replay.until("end");
    assert_eq!(names(&again), names(&seen));
    let ids = |m: &[Message]| m.iter().map(|x| x.0).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&seen));
    // And resumed after an event number.
    let mut resumed = Sse::open(&server.addr, &format!("/api/runs/{id}/events"), Some(3));
    let rest = resumed.until("end");
    assert_eq!(rest[0].0, Some(4));
    assert_eq!(names(&rest), names(&seen[3..]));

    let run = server.run_until(&id, |r| r["status"] == "completed");
    assert_eq!(run["journal"]["status"], "completed");
    assert_eq!(run["exit_code"], 0);
    let (status, body) = server.get("/api/runs/00000000-0000-4000-8000-000000000000/events");
    assert_eq!(status, 404, "{body:#}");
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn abort_interrupts_a_running_run() {
    let dir = TempDir::new("srv-abort");
    let (mut server, _release) = blocked_server(&dir, NEVER, None);
    let id = run_now(&server, "blocked");
    server.run_until(&id, |r| r["status"] == "running" && r["live"] == true);
    let (status, body) = server.post(&format!("/api/runs/{id}/abort"), "");
    assert_eq!(status, 202, "{body:#}");
    let run = server.run_until(&id, |r| r["status"] == "interrupted");
    assert_eq!(run["journal"]["interruption"]["name"], "SIGTERM", "{run:#}");
    let (status, body) = server.post(&format!("/api/runs/{id}/abort"), "");
    assert_eq!(status, 409, "{body:#}");
    assert!(
        body["error"].as_str().unwrap().contains("has ended"),
        "{body:#}"
    );
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn halt_restores_the_victim_interrupts_the_run_and_resume_fires_again() {
    let dir = TempDir::new("srv-halt");
    let victim = Victim::start();
    let (mut server, _release) = blocked_server(&dir, "{every: 1s}", Some(&victim.marker));
    assert!(
        wait_until(PATIENCE, || victim.stopped()),
        "{}",
        server.log()
    );
    let running = runs_of(&server, "blocked");
    let first = running[0]["id"].as_str().unwrap().to_string();
    let (_, ledger) = server.get("/api/ledger");
    assert_eq!(ledger["leases"][0]["run_id"], first.as_str(), "{ledger:#}");
    assert!(ledger["leases"][0]["time_left_s"].as_f64().unwrap() > 0.0);

    let (status, body) = server.post("/api/halt", r#"{"reason": "game day over"}"#);
    assert_eq!(status, 200, "{body:#}");
    assert!(
        body["interrupted_runs"]
            .as_array()
            .unwrap()
            .contains(&json!(first))
    );
    assert!(
        wait_until(PATIENCE, || !victim.stopped()),
        "the halt restored the victim"
    );
    server.run_until(&first, |r| r["status"] == "interrupted");
    // While halted, due firings are skipped and no run starts.
    assert!(wait_until(PATIENCE, || {
        server.get("/api/experiments/blocked").1["last_firing"]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("halted"))
    }));
    assert!(
        runs_of(&server, "blocked")
            .iter()
            .all(|r| r["status"] != "running")
    );
    assert_eq!(server.get("/healthz").1["halted"], true);

    let (status, body) = server.post("/api/resume", "");
    assert_eq!((status, &body["halted"]), (200, &json!(false)), "{body:#}");
    assert!(
        wait_until(PATIENCE, || victim.stopped()),
        "a firing after the resume froze the victim again: {}",
        server.log()
    );
    let newest = runs_of(&server, "blocked")[0]["id"].clone();
    assert_ne!(newest, json!(first));
    // A graceful stop interrupts the run, which restores the victim before the server exits.
    assert_eq!(server.stop(), Some(0), "{}", server.log());
    assert!(!victim.stopped());
    stop_guard(dir.path());
}

#[test]
fn a_sigkilled_server_leaves_nothing_behind_and_the_next_start_tells_the_truth() {
    let dir = TempDir::new("srv-kill");
    let victim = Victim::start();
    let (mut server, _release) = blocked_server(&dir, NEVER, Some(&victim.marker));
    let id = run_now(&server, "blocked");
    assert!(
        wait_until(PATIENCE, || victim.stopped()),
        "{}",
        server.log()
    );
    server.sigkill();
    // The run died with the server; the guard saw its lease's owner die and reverted.
    assert!(
        wait_until(PATIENCE, || !victim.stopped()),
        "the guard never resumed the victim"
    );
    let again = Server::start(dir.path(), "server.yaml", &[]);
    let run = again.run_until(&id, |r| r["status"] == "interrupted");
    assert!(
        run["note"].as_str().unwrap().contains("process died"),
        "{run:#}"
    );
    assert_eq!(again.get("/api/ledger").1["leases"], json!([]));
    drop(again);
    stop_guard(dir.path());
}

#[test]
fn malformed_bodies_unknown_paths_and_wrong_methods_are_json_errors() {
    let dir = TempDir::new("srv-errors");
    let (mut server, _release) = blocked_server(&dir, NEVER, None);
    for (path, body, field) in [
        ("/api/halt", "{", Value::Null),
        ("/api/halt", "[1]", Value::Null),
        ("/api/halt", r#"{"reason": 5}"#, json!("reason")),
        ("/api/halt", r#"{"why": "x"}"#, json!("why")),
        ("/api/resume", r#"{"x": 1}"#, json!("x")),
        ("/api/experiments/blocked/runs", "nope", Value::Null),
        ("/api/schedules/blocked/pause", "\"x\"", Value::Null),
    ] {
        let (status, answer) = server.post(path, body);
        assert_eq!(status, 400, "{path} {body}: {answer:#}");
        assert!(answer["error"].is_string(), "{answer:#}");
        assert_eq!(answer["field"], field, "{path} {body}");
    }
    assert_eq!(
        server.get("/healthz").1["halted"],
        false,
        "nothing was halted"
    );
    for path in ["/api/nothing", "/api/experiments/nope", "/api/runs/abc"] {
        let (status, answer) = server.get(path);
        assert_eq!(status, 404, "{path}: {answer:#}");
        assert!(answer["error"].is_string());
    }
    let (status, answer) = server.get("/api/runs?limit=0");
    assert_eq!((status, &answer["field"]), (400, &json!("limit")));
    let (status, answer) = server.get("/api/runs?since=yesterday");
    assert_eq!((status, &answer["field"]), (400, &json!("since")));
    let (status, head, _) = raw_request(&server.addr, "PUT", "/api/runs", "", &[]);
    assert_eq!(status, 405);
    assert!(head.to_ascii_lowercase().contains("allow: get"), "{head}");
    let (status, _, doc) = raw_request(&server.addr, "GET", "/api/openapi.json", "", &[]);
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&doc).unwrap()["paths"]["/api/runs"].is_object());
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn an_unreachable_store_at_start_exits_69_with_the_reason() {
    let dir = TempDir::new("srv-nostore");
    write(dir.path(), "a.json", PASSING);
    let port = crate::harness::closed_port();
    write(
        dir.path(),
        "server.yaml",
        &format!(
            "store: postgres://mw:mw@127.0.0.1:{port}/mw\nexperiments:\n  - {{name: a, file: a.json, schedule: {NEVER}}}\n"
        ),
    );
    let out = mw(
        dir.path(),
        &[
            "server",
            "--config",
            "server.yaml",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("open the store"), "{err}");
    assert!(err.contains("nothing was scheduled"), "{err}");
}

/// A webhook receiver that reads each request and never answers (the connections are held
/// until the test ends); it counts the requests and keeps their bodies.
struct HangingHook {
    addr: std::net::SocketAddr,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl HangingHook {
    fn start() -> HangingHook {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = bodies.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let mut reader = BufReader::new(stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                held.push(reader);
            }
        });
        HangingHook { addr, bodies }
    }

    fn received(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

#[test]
fn a_hanging_webhook_hears_of_failures_and_never_delays_a_run() {
    let dir = TempDir::new("srv-hook");
    let hook = HangingHook::start();
    write(dir.path(), "b.json", FAILING);
    write(
        dir.path(),
        "server.yaml",
        &format!(
            "experiments:\n  - {{name: beta, file: b.json, schedule: {{every: 1s}}}}\n\
             notifications:\n  - {{url: 'http://{}/hook', events: [failed], timeout_s: 300, retries: 0}}\n",
            hook.addr
        ),
    );
    let mut server = Server::start(dir.path(), "server.yaml", &[]);
    assert!(
        wait_until(PATIENCE, || !hook.received().is_empty()),
        "{}",
        server.log()
    );
    let first = hook.received()[0].clone();
    assert_eq!(first["event"], "failed", "{first:#}");
    assert_eq!(first["experiment"], "beta");
    assert_eq!(first["outcome"], "baseline-not-met");
    let id = first["run_id"].as_str().unwrap().to_string();
    // That delivery hangs (for up to five minutes): runs keep starting and ending all the same.
    let runs_then = ended(&runs_of(&server, "beta"));
    assert!(
        wait_until(PATIENCE, || ended(&runs_of(&server, "beta"))
            >= runs_then + 2),
        "{}",
        server.log()
    );
    assert!(
        hook.received().len() >= 2,
        "each failed run is sent, each in its own task"
    );
    let run = server.get(&format!("/api/runs/{id}")).1;
    assert_eq!(run["outcome"], "baseline-not-met");
    // A graceful stop does not wait for the hanging hook beyond its drain.
    assert_eq!(server.stop(), Some(0), "{}", server.log());
}

/// A new database on the test PostgreSQL, or None (skipped) without one.
fn fresh_postgres() -> Option<String> {
    let Ok(base) = std::env::var("MONKEYWRENCH_TEST_POSTGRES") else {
        assert!(
            std::env::var("MONKEYWRENCH_REQUIRE_POSTGRES").is_err(),
            "MONKEYWRENCH_TEST_POSTGRES is not set but PostgreSQL tests are required"
        );
        eprintln!("SKIPPED: set MONKEYWRENCH_TEST_POSTGRES");
        return None;
    };
    let name = format!("mw_{}", uuid::Uuid::new_v4().simple());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
    });
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some(format!("{prefix}/{name}"))
}

#[test]
fn two_servers_on_one_postgres_run_each_firing_once() {
    let Some(url) = fresh_postgres() else {
        return;
    };
    let dir = TempDir::new("srv-pg");
    write(dir.path(), "a.json", PASSING);
    write(
        dir.path(),
        "server.yaml",
        &format!(
            "store: '{url}'\nexperiments:\n  - {{name: alpha, file: a.json, schedule: {{every: 1s}}}}\n"
        ),
    );
    let mut one = Server::start(dir.path(), "server.yaml", &[]);
    let mut two = Server::start(dir.path(), "server.yaml", &[]);
    assert!(
        wait_until(PATIENCE, || ended(&runs_of(&one, "alpha")) >= 6),
        "{}\n{}",
        one.log(),
        two.log()
    );
    assert_eq!(one.stop(), Some(0), "{}", one.log());
    assert_eq!(two.stop(), Some(0), "{}", two.log());
    let again = Server::start(dir.path(), "server.yaml", &[]);
    let (_, paused) = again.post("/api/schedules/alpha/pause", "");
    assert_eq!(paused["paused"], true);
    let runs = runs_of(&again, "alpha");
    let mut details: Vec<&str> = runs
        .iter()
        .map(|r| r["trigger_detail"].as_str().unwrap())
        .collect();
    let n = details.len();
    assert!(n >= 6);
    details.sort();
    details.dedup();
    assert_eq!(details.len(), n, "a firing ran twice: {runs:#?}");
}

#[test]
fn a_token_guards_every_route_and_beyond_loopback_one_is_required() {
    let dir = TempDir::new("srv-token");
    write(dir.path(), "a.json", PASSING);
    write(
        dir.path(),
        "server.yaml",
        &format!("experiments:\n  - {{name: a, file: a.json, schedule: {NEVER}}}\n"),
    );
    let out = mw(
        dir.path(),
        &["server", "--config", "server.yaml", "--listen", "0.0.0.0:0"],
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("auth token is required"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut server = Server::start(
        dir.path(),
        "server.yaml",
        &[("MONKEYWRENCH_AUTH_TOKEN", "s3cret")],
    );
    for path in ["/healthz", "/api/experiments", "/metrics"] {
        let (status, body) = server.get(path);
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["error"], "missing or wrong bearer token");
    }
    let (status, _, body) = raw_request(
        &server.addr,
        "GET",
        "/api/experiments/a",
        "",
        &[("Authorization", "Bearer s3cret")],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.stop(), Some(0));
}
