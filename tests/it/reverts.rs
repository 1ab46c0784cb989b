//! Reverts that cannot be fooled, against real containers, processes and proxies: a container
//! stop that the engine finishes after its activity timed out, the same race after SIGKILL of
//! the run, a target that refuses to come back (revert-failed, exit 3, the guard keeps trying),
//! and leases recorded but never applied (a run cut off between record and apply) for every
//! reversible family.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use monkeywrench::fault::{self, Undo};
use monkeywrench::ledger::{LeaseState, Ledger, NewLease, RevertOutcome};
use monkeywrench::store::{Store, StoreLocation};
use monkeywrench::target::process::ProcessIdentity;
use serde_json::{Value, json};

use crate::docker_fixture::{DockerFixture, docker_ok};
use crate::faults::{ledger_json, sigkill, spawn_run, stop_guard};
use crate::harness::{TempDir, stderr, write};
use crate::proxy::{Server, echo_upstream};

/// An experiment that stops `container` (`timeout_s` grace) in an action that times out first.
fn slow_stop_experiment(container: &str, grace: u32, method_sleep: f64) -> String {
    format!(
        r#"{{"title": "slow stop", "description": "d",
            "method": [
              {{"type": "action", "name": "stop", "timeout": 1,
                "provider": {{"type": "builtin", "func": "container.stop",
                              "arguments": {{"target": {{"name": "{container}"}}, "timeout_s": {grace}}}}}}},
              {{"type": "action", "name": "wait",
                "provider": {{"type": "process", "path": "sleep", "arguments": ["{method_sleep}"]}}}}]}}"#
    )
}

/// Busybox `sleep` as PID 1 ignores SIGTERM: a stop takes its whole grace period.
fn stubborn_container(fx: &DockerFixture) -> String {
    fx.container("stubborn", &[], &["sleep", "300"])
}

#[test]
fn a_stop_the_engine_finishes_after_its_activity_timed_out_is_still_reverted() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("revert-slow-stop");
    let web = stubborn_container(&fx);
    let file = write(dir.path(), "e.json", &slow_stop_experiment(&web, 4, 0.1));
    let started = Instant::now();
    let out = spawn_run(dir.path(), &file).wait_with_output().unwrap();
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap();
    assert_eq!(
        j["run"][0]["monkeywrench"]["cancelled"],
        "timeout",
        "the activity gave up after 1 s: {}",
        stderr(&out)
    );
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "the run's revert waited for the engine's stop to settle"
    );
    assert_eq!(fx.state(&web), "running", "{}", stderr(&out));
    // Nothing is still on its way: the container stays up.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fx.state(&web), "running");
    let leases = ledger_json(dir.path());
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0]["state"], "reverted", "{leases:?}");
    assert_eq!(j["monkeywrench"]["faults"][0]["revert"], "reverted");
    stop_guard(dir.path());
}

#[test]
fn after_sigkill_during_a_slow_stop_the_guard_waits_for_it_to_settle() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("revert-slow-stop-kill");
    let web = stubborn_container(&fx);
    assert!(fx.wait_for(Duration::from_secs(10), || fx.state(&web) == "running"));
    let file = write(dir.path(), "e.json", &slow_stop_experiment(&web, 8, 60.0));
    let mut run = spawn_run(dir.path(), &file);
    let deadline = Instant::now() + Duration::from_secs(30);
    while ledger_json(dir.path()).is_empty() {
        if run.try_wait().unwrap().is_some() {
            let out = run.wait_with_output().unwrap();
            panic!("the run ended before its lease: {}", stderr(&out));
        }
        if Instant::now() > deadline {
            sigkill(&mut run);
            let out = run.wait_with_output().unwrap();
            panic!("the lease was never recorded: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The engine is still waiting out the grace period when the run dies.
    sigkill(&mut run);
    assert_eq!(fx.state(&web), "running", "still within its grace period");
    assert!(
        fx.wait_for(Duration::from_secs(25), || fx.state(&web) == "exited"),
        "the engine finished the stop"
    );
    assert!(
        fx.wait_for(Duration::from_secs(25), || fx.state(&web) == "running"),
        "the guard started it once the stop had settled (state {})",
        fx.state(&web)
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fx.state(&web), "running");
    assert!(fx.wait_for(
        Duration::from_secs(5),
        || ledger_json(dir.path())[0]["state"] == "reverted"
    ));
    stop_guard(dir.path());
}

#[test]
fn a_container_that_will_not_come_back_is_revert_failed_exit_3_and_the_guard_keeps_trying() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("revert-refused");
    // Runs once; every later start exits at once.
    let once = fx.container(
        "once",
        &[],
        &[
            "sh",
            "-c",
            "[ -f /ran ] && exit 1; echo x > /ran; exec sleep 300",
        ],
    );
    assert!(fx.wait_for(Duration::from_secs(10), || fx.state(&once) == "running"));
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "method": [{{"type": "action", "name": "stop", "duration": 1,
                  "provider": {{"type": "builtin", "func": "container.stop",
                                "arguments": {{"target": {{"name": "{once}"}}, "timeout_s": 0}}}}}}]}}"#
        ),
    );
    let out = spawn_run(dir.path(), &file).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("after the revert"),
        "the failed check is named: {}",
        stderr(&out)
    );
    let lease = &ledger_json(dir.path())[0];
    assert_eq!(lease["state"], "revert-failed", "{lease}");
    assert!(
        lease["error"]
            .as_str()
            .unwrap_or("")
            .contains("after the revert"),
        "{lease}"
    );
    let attempts = lease["attempts"].as_i64().unwrap();
    assert!(
        fx.wait_for(
            Duration::from_secs(15),
            || ledger_json(dir.path())[0]["attempts"].as_i64().unwrap() > attempts
        ),
        "the guard retries it"
    );
    stop_guard(dir.path());
}

async fn ledger_in(dir: &TempDir) -> Ledger {
    let store = Store::open(&StoreLocation::Sqlite(dir.path().join("ledger.db")))
        .await
        .unwrap();
    Ledger::new(store, fault::reverter()).with_patience(Duration::from_secs(3))
}

fn pending(run: &str, func: &str, target: Value, undo: Undo) -> NewLease {
    NewLease {
        run_id: run.into(),
        activity: "cut-off".into(),
        func: func.into(),
        target,
        reversible: undo.is_reversible(),
        undo: undo.to_value(),
        deadline: Timestamp::now() + SignedDuration::from_secs(600),
        settles_within: None,
    }
}

struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn leases_recorded_but_never_applied_revert_cleanly_for_every_family() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("revert-pending");
    let ledger = ledger_in(&dir).await;
    let run = "cut-off-run";

    let sleeper = Sleeper(Command::new("sleep").arg("300").spawn().unwrap());
    let process = ProcessIdentity::of(sleeper.0.id() as i32).unwrap();
    let net = fx.network("net");
    let web = fx.container("web", &["--network", &net], &["sleep", "300"]);
    let ip = fx.ip(&web, &net);
    let id = docker_ok(&["inspect", "-f", "{{.Id}}", &web]);
    let server = Server::start(&[]).await;
    server.proxy("shop", &echo_upstream().await).await;

    let recipes = [
        (
            "process.stop",
            Undo::Process(fault::process::Undo::Signal {
                process,
                signal: "SIGCONT".into(),
            }),
        ),
        (
            "container.stop",
            Undo::Container(fault::container::Undo::StartContainer {
                id: id.clone(),
                name: web.clone(),
            }),
        ),
        (
            "container.pause",
            Undo::Container(fault::container::Undo::UnpauseContainer {
                id: id.clone(),
                name: web.clone(),
            }),
        ),
        (
            "container.disconnect",
            Undo::Container(fault::container::Undo::ReconnectContainer {
                id: id.clone(),
                name: web.clone(),
                network: net.clone(),
                attachment: monkeywrench::target::docker::Attachment {
                    aliases: vec![],
                    ipv4: Some(ip.clone()),
                    fixed_ip: false,
                },
            }),
        ),
        (
            "proxy.toxic",
            Undo::Proxy(fault::proxy::Undo::RemoveToxic {
                api: server.base.clone(),
                proxy: "shop".into(),
                toxic: "never-added".into(),
            }),
        ),
        (
            "proxy.down",
            Undo::Proxy(fault::proxy::Undo::EnableProxy {
                api: server.base.clone(),
                proxy: "shop".into(),
            }),
        ),
    ];
    for (func, undo) in recipes {
        ledger
            .record(&pending(run, func, json!({"func": func}), undo))
            .await
            .unwrap();
    }
    let reverted = ledger.revert_run(run).await.unwrap();
    assert_eq!(reverted.len(), 6);
    for (lease, outcome) in &reverted {
        assert_eq!(outcome, &RevertOutcome::Reverted, "{}", lease.func);
    }
    assert!(
        ledger
            .of_run(run)
            .await
            .unwrap()
            .iter()
            .all(|l| l.state == LeaseState::Reverted)
    );
    // The world is as it was: nothing was changed, and the undos changed nothing either.
    assert_ne!(process.state(), Some('T'));
    assert_eq!(fx.state(&web), "running");
    assert_eq!(fx.ip(&web, &net), ip, "still attached with its address");
    let (_, proxy) = server.json("GET", "/proxies/shop", None).await;
    assert_eq!(proxy["enabled"], true);
    assert_eq!(proxy["toxics"], json!([]));
}

#[tokio::test]
async fn a_proxy_api_that_claims_a_removal_it_did_not_do_is_caught() {
    // A fake API beside the real-proxy test above: DELETE says 204, the toxic stays listed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().take(500) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let reply = if buf[..n].starts_with(b"DELETE") {
                "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_string()
            } else {
                let body = r#"{"name":"t1","type":"latency","attributes":{}}"#;
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            };
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    let dir = TempDir::new("revert-lying-api");
    let ledger = ledger_in(&dir).await;
    let undo = Undo::Proxy(fault::proxy::Undo::RemoveToxic {
        api,
        proxy: "web".into(),
        toxic: "t1".into(),
    });
    let lease = ledger
        .record(&pending("r", "proxy.toxic", json!({}), undo))
        .await
        .unwrap();
    let outcome = ledger.revert(&lease).await.unwrap();
    assert!(
        matches!(&outcome, RevertOutcome::Failed(why) if why.contains("still on proxy web")),
        "{outcome:?}"
    );
    let stored = ledger.get(&lease.id).await.unwrap().unwrap();
    assert_eq!(stored.state, LeaseState::RevertFailed);
    assert!(stored.state.is_active(), "kept for the guard");
}
