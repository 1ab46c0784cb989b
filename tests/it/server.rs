//! `monkeywrench server` end to end: the real binary on 127.0.0.1:0, a real HTTP client over
//! TCP, real child-process victims frozen by `process.stop`, SQLite and the suite's PostgreSQL.
//! Runs that must stay running wait for a release file, so no assertion depends on how long
//! anything takes. The harness is in `server_harness.rs`.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::faults::{mw, stop_guard};
use crate::harness::{TempDir, promtool_check, wait_until, write};
use crate::server_harness::{
    FAILING, Message, NEVER, PASSING, PATIENCE, Server, Sse, Victim, blocked_experiment,
    raw_request, run_now,
};

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
    // The firing the dead server had started is finished with its run's truth, not left going.
    let last = &again.get("/api/experiments/blocked").1["last_firing"];
    assert_eq!(last["state"], "finished", "{last:#}");
    assert_eq!(last["trigger"], "api", "a run-now firing: {last:#}");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .starts_with("interrupted: its server "),
        "{last:#}"
    );
    assert!(
        again.log().contains("was left unfinished"),
        "{}",
        again.log()
    );
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
    for path in [
        "/api/nothing",
        "/api/experiments/nope",
        "/api/runs/abc",
        "/api/monkey",
    ] {
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

#[test]
fn two_servers_on_one_postgres_run_each_firing_once() {
    let Some(url) = crate::history::fresh_postgres() else {
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

#[test]
fn a_servers_monkey_shows_its_day_and_obeys_the_halt() {
    let dir = TempDir::new("srv-monkey");
    let victim = Victim::start();
    write(
        dir.path(),
        "monkey.yaml",
        &format!(
            "name: beside\nenabled: true\ndocker: false\nmean_time_between_kills_in_work_days: 1\n\
             processes:\n  - {{pattern: '{}', app: billing}}\n",
            victim.marker
        ),
    );
    let config = write(
        dir.path(),
        "server.yaml",
        "experiments: []\nmonkey: monkey.yaml\n",
    );
    let mut server = Server::start(dir.path(), &config, &[]);
    let (status, day) = server.get("/api/monkey");
    assert_eq!(status, 200, "{day:#}");
    assert_eq!(
        day["config"]["leashed"], true,
        "leashed unless the file says not"
    );
    assert_eq!(day["halted"], Value::Null);
    let group = &day["groups"][0];
    assert_eq!(group["group"], "billing//");
    assert_eq!(group["instances"].as_array().unwrap().len(), 1, "{day:#}");
    assert!(day["plan"]["date"].is_string(), "today's plan: {day:#}");
    let (status, _) = server.post("/api/halt", r#"{"reason": "game day over"}"#);
    assert_eq!(status, 200);
    let (_, day) = server.get("/api/monkey");
    assert_eq!(day["halted"]["reason"], "game day over", "{day:#}");
    let (_, _, metrics) = raw_request(&server.addr, "GET", "/metrics", "", &[]);
    assert!(
        metrics.contains("monkeywrench_monkey_planned_kills_total"),
        "{metrics}"
    );
    promtool_check(&metrics);
    assert!(!victim.stopped());
    assert_eq!(server.stop(), Some(0));
}

/// A PostgreSQL cluster of this test's own (the suite's server must stay up for the others),
/// stopped and removed when dropped.
struct OwnPostgres {
    env: [(&'static str, String); 2],
}

impl OwnPostgres {
    fn script(&self, verb: &str) -> String {
        let out = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/pg-test-server"
        ))
        .arg(verb)
        .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.script("stop");
        let _ = std::fs::remove_dir_all(&self.env[1].1);
    }
}

#[test]
fn a_store_that_goes_away_skips_firings_with_the_reason_and_the_server_keeps_serving() {
    if crate::history::fresh_postgres().is_none() {
        return;
    }
    let pg = OwnPostgres {
        env: [
            ("MW_PG_PORT", crate::harness::closed_port().to_string()),
            (
                "MW_PG_DATA",
                format!("/tmp/mw-pg-away-{}", uuid::Uuid::new_v4().simple()),
            ),
        ],
    };
    let url = pg.script("start");
    let dir = TempDir::new("srv-store-away");
    write(dir.path(), "a.json", PASSING);
    write(
        dir.path(),
        "server.yaml",
        &format!(
            "store: '{url}'\nexperiments:\n  - {{name: alpha, file: a.json, schedule: {{every: 1s}}}}\n"
        ),
    );
    let mut server = Server::start(dir.path(), "server.yaml", &[]);
    assert!(
        wait_until(PATIENCE, || ended(&runs_of(&server, "alpha")) >= 2),
        "{}",
        server.log()
    );
    pg.script("stop");
    // Gone: the server answers (503 from what needs the store) and goes on planning.
    let (status, health) = server.get("/healthz");
    assert_eq!(status, 503, "{health:#}");
    assert!(health["store"].is_string(), "{health:#}");
    let (status, answer) = server.get("/api/runs");
    assert_eq!(status, 503, "{answer:#}");
    // A firing falls due while it is away (the pool gives up on it after its acquire timeout).
    assert!(
        wait_until(PATIENCE, || server
            .log()
            .contains("skipped: the store is unavailable")),
        "{}",
        server.log()
    );
    pg.script("start");
    let skipped = || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            sqlx::any::install_default_drivers();
            let Ok(pool) = sqlx::AnyPool::connect(&url).await else {
                return Vec::new();
            };
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT reason FROM firings WHERE state = 'skipped' AND reason LIKE 'store-unavailable:%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            pool.close().await;
            rows.into_iter().map(|r| r.0).collect::<Vec<_>>()
        })
    };
    assert!(
        wait_until(PATIENCE, || !skipped().is_empty()),
        "no firing was recorded as skipped for the outage:\n{}",
        server.log()
    );
    let before = ended(&runs_of(&server, "alpha"));
    assert!(
        wait_until(PATIENCE, || ended(&runs_of(&server, "alpha")) > before),
        "runs go on once the store is back:\n{}",
        server.log()
    );
    assert_eq!(server.get("/healthz").0, 200);
    assert_eq!(server.stop(), Some(0), "{}", server.log());
}
