//! Container faults end to end with the real binary and the machine's Docker engine: pause with a
//! duration, the same victims in `--dry-run`, `targets --docker` and the run, kill/stop/restart,
//! the opt-out label, the guard restoring a paused and a disconnected container after SIGKILL, a
//! partition between two containers, and the failure paths.

use std::time::Duration;

use serde_json::Value;

use crate::docker_fixture::{DockerFixture, docker, docker_ok};
use crate::faults::{ledger_json, mw, sigkill, spawn_run, stop_guard};
use crate::harness::{TempDir, stderr, write};

pub(crate) fn action(name: &str, func: &str, arguments: &str, duration: Option<f64>) -> String {
    let duration = duration
        .map(|d| format!(r#""duration": {d},"#))
        .unwrap_or_default();
    format!(
        r#"{{"type": "action", "name": "{name}", {duration}
            "provider": {{"type": "builtin", "func": "{func}", "arguments": {arguments}}}}}"#
    )
}

pub(crate) fn sleep_action(seconds: f64) -> String {
    format!(
        r#"{{"type": "action", "name": "wait", "provider": {{"type": "process", "path": "sleep", "arguments": ["{seconds}"]}}}}"#
    )
}

pub(crate) fn experiment(method: &[String]) -> String {
    format!(
        r#"{{"title": "containers", "description": "d", "method": [{}]}}"#,
        method.join(",")
    )
}

pub(crate) fn journal(dir: &TempDir) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
        .unwrap()
}

fn run_to_end(dir: &TempDir, file: &str) -> (Option<i32>, String) {
    let run = spawn_run(dir.path(), file);
    let out = run.wait_with_output().unwrap();
    (out.status.code(), stderr(&out))
}

#[test]
fn a_timed_pause_freezes_the_container_then_unpauses_it_and_the_ledger_says_so() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("container-pause");
    let web = fx.container("web", &["--label", "app=web"], &["sleep", "300"]);
    let target = format!(r#"{{"target": {{"name": "{web}"}}}}"#);
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[action("freeze", "container.pause", &target, Some(1.0))]),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert!(
        fx.wait_for(Duration::from_secs(20), || fx.state(&web) == "paused"),
        "the container was never paused"
    );
    let code = run.wait().unwrap().code();
    assert_eq!(code, Some(0));
    assert_eq!(fx.state(&web), "running", "unpaused by the timed revert");
    let leases = ledger_json(dir.path());
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0]["state"], "reverted");
    assert_eq!(leases[0]["func"], "container.pause");
    assert_eq!(leases[0]["target"]["name"], web.as_str());
    assert_eq!(leases[0]["target"]["labels"]["app"], "web");
    let j = journal(&dir);
    let fault = &j["monkeywrench"]["faults"][0];
    assert_eq!(fault["target"]["kind"], "container");
    assert_eq!(fault["target"]["image"], crate::docker_fixture::IMAGE);
    assert_eq!(fault["revert"], "reverted");
    stop_guard(dir.path());
}

#[test]
fn dry_run_targets_preview_and_run_pick_the_same_two_of_four_containers() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("container-pick");
    let app = format!("app={}", fx.run);
    let names: Vec<String> = (1..=4)
        .map(|i| fx.container(&format!("c{i}"), &["--label", &app], &["sleep", "300"]))
        .collect();
    // Opted out: matches the labels but must never be counted or picked.
    let skipped = fx.container(
        "skip",
        &["--label", &app, "--label", "monkeywrench.skip=true"],
        &["sleep", "300"],
    );
    let selector = format!(r#"{{"labels": {{"app": "{}"}}}}"#, fx.run);
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "half", "description": "d",
                "blast-radius": {{"mode": "fixed-percent", "value": 50, "seed": 7}},
                "steady-state-hypothesis": {{"title": "all up", "probes": [
                  {{"type": "probe", "name": "running", "tolerance": 4,
                    "provider": {{"type": "builtin", "func": "container.running", "arguments": {{"target": {selector}}}}}}}]}},
                "method": [{}]}}"#,
            action(
                "freeze-half",
                "container.pause",
                &format!(r#"{{"target": {selector}}}"#),
                Some(0.5)
            )
        ),
    );
    let plan = mw(dir.path(), &["run", "--dry-run", &file]);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let text = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        text.contains("4 matched; fixed-percent picks 2 with seed 7"),
        "{text}"
    );
    let planned: Vec<&String> = names
        .iter()
        .filter(|n| text.contains(&format!("container {n} (")))
        .collect();
    assert_eq!(planned.len(), 2, "{text}");
    assert!(
        !text.contains(&skipped),
        "the opted-out container is never listed"
    );
    assert!(
        names.iter().all(|n| fx.state(n) == "running"),
        "a dry run touches nothing"
    );

    let preview = mw(
        dir.path(),
        &[
            "targets",
            "--docker",
            &selector,
            "--mode",
            "fixed-percent",
            "--value",
            "50",
            "--seed",
            "7",
        ],
    );
    assert_eq!(preview.status.code(), Some(0), "{}", stderr(&preview));
    let preview = String::from_utf8_lossy(&preview.stdout).into_owned();
    assert!(preview.contains("4 container(s) match"), "{preview}");
    let previewed: Vec<&String> = names
        .iter()
        .filter(|n| {
            preview
                .lines()
                .any(|l| l.contains(n.as_str()) && l.contains("victim"))
        })
        .collect();
    assert_eq!(previewed, planned, "{preview}");

    let (code, err) = run_to_end(&dir, &file);
    assert_eq!(code, Some(0), "{err}");
    let j = journal(&dir);
    let mut hit: Vec<String> = j["monkeywrench"]["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["target"]["name"].as_str().unwrap().to_string())
        .collect();
    hit.sort();
    let mut planned: Vec<String> = planned.into_iter().cloned().collect();
    planned.sort();
    assert_eq!(hit, planned);
    assert!(names.iter().all(|n| fx.state(n) == "running"));
    stop_guard(dir.path());
}

#[test]
fn kill_is_irreversible_stop_is_started_again_restart_restarts() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("container-kill-stop");
    let doomed = fx.container("doomed", &[], &["sleep", "300"]);
    let stopped = fx.container("stopped", &[], &["sleep", "300"]);
    let restarted = fx.container("restarted", &[], &["sleep", "300"]);
    let started_at = |name: &str| docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", name]);
    let before = started_at(&restarted);
    let target = |n: &str| format!(r#"{{"target": {{"name": "{n}"}}, "timeout_s": 1}}"#);
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action(
                "kill",
                "container.kill",
                &format!(r#"{{"target": {{"name": "{doomed}"}}}}"#),
                None,
            ),
            action("stop", "container.stop", &target(&stopped), None),
            action("restart", "container.restart", &target(&restarted), None),
        ]),
    );
    let (code, err) = run_to_end(&dir, &file);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(fx.state(&doomed), "exited", "killed, no restart policy");
    assert_eq!(
        fx.state(&stopped),
        "running",
        "started again when the run ended"
    );
    assert_eq!(fx.state(&restarted), "running");
    assert_ne!(started_at(&restarted), before, "restarted");
    let leases = ledger_json(dir.path());
    let state_of = |func: &str| {
        leases
            .iter()
            .find(|l| l["func"] == func)
            .map(|l| l["state"].as_str().unwrap().to_string())
    };
    assert_eq!(state_of("container.kill").as_deref(), Some("irreversible"));
    assert_eq!(state_of("container.stop").as_deref(), Some("reverted"));
    assert_eq!(
        state_of("container.restart").as_deref(),
        Some("irreversible")
    );
    stop_guard(dir.path());
}

#[test]
fn the_guard_unpauses_and_reconnects_after_the_run_is_sigkilled() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("container-guard");
    let net = fx.network("net");
    let frozen = fx.container("frozen", &[], &["sleep", "300"]);
    let cut = fx.container(
        "cut",
        &["--network", &net, "--network-alias", "api"],
        &["sleep", "300"],
    );
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action(
                "freeze",
                "container.pause",
                &format!(r#"{{"target": {{"name": "{frozen}"}}}}"#),
                None,
            ),
            action(
                "partition",
                "container.disconnect",
                &format!(r#"{{"target": {{"name": "{cut}"}}, "network": "{net}"}}"#),
                None,
            ),
            sleep_action(60.0),
        ]),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert!(
        fx.wait_for(Duration::from_secs(20), || fx.state(&frozen) == "paused"
            && fx.ip(&cut, &net).is_empty()),
        "both faults applied"
    );
    sigkill(&mut run);
    assert!(
        fx.wait_for(Duration::from_secs(20), || fx.state(&frozen) == "running"
            && !fx.ip(&cut, &net).is_empty()),
        "the guard restored both (state {}, ip {:?})",
        fx.state(&frozen),
        fx.ip(&cut, &net)
    );
    let aliases = docker_ok(&[
        "inspect",
        "-f",
        &format!("{{{{json (index .NetworkSettings.Networks \"{net}\").Aliases}}}}"),
        &cut,
    ]);
    assert!(aliases.contains("\"api\""), "alias restored: {aliases}");
    let leases = ledger_json(dir.path());
    assert!(
        leases.iter().all(|l| l["state"] == "reverted"),
        "{leases:?}"
    );
    stop_guard(dir.path());
}

/// Can container `from` open a TCP connection to `ip:8080` (busybox nc inside it)?
fn reaches(from: &str, ip: &str) -> bool {
    let out = docker(&[
        "exec",
        from,
        "sh",
        "-c",
        &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {ip} 8080"),
    ]);
    String::from_utf8_lossy(&out.stdout).starts_with("HTTP/1.")
}

#[test]
fn a_partition_cuts_traffic_between_two_containers_and_heals_with_the_same_address() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("container-partition");
    let net = fx.network("net");
    let server = fx.container(
        "server",
        &["--network", &net],
        &["httpd", "-f", "-p", "8080", "-h", "/"],
    );
    let client = fx.container("client", &["--network", &net], &["sleep", "300"]);
    let ip = fx.ip(&server, &net);
    assert!(
        fx.wait_for(Duration::from_secs(10), || reaches(&client, &ip)),
        "traffic flows before the fault"
    );
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[action(
            "partition",
            "container.disconnect",
            &format!(r#"{{"target": {{"name": "{server}"}}, "network": "{net}"}}"#),
            Some(4.0),
        )]),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert!(
        fx.wait_for(Duration::from_secs(20), || fx.ip(&server, &net).is_empty()),
        "disconnected"
    );
    assert!(!reaches(&client, &ip), "traffic fails during the partition");
    let code = run.wait().unwrap().code();
    assert_eq!(code, Some(0));
    assert_eq!(fx.ip(&server, &net), ip, "the same address where possible");
    assert!(
        fx.wait_for(Duration::from_secs(10), || reaches(&client, &ip)),
        "traffic flows again after the revert"
    );
    stop_guard(dir.path());
}

#[test]
fn failures_are_clear_and_apply_nothing() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("container-failures");
    let web = fx.container("web", &[], &["sleep", "300"]);
    let by_name = format!(r#"{{"target": {{"name": "{web}"}}}}"#);

    // No engine at DOCKER_HOST: the action fails with the address, nothing is leased.
    let file = write(
        dir.path(),
        "pause.json",
        &experiment(&[action("freeze", "container.pause", &by_name, Some(1.0))]),
    );
    let out = std::process::Command::new(crate::harness::binary())
        .args(["run", "--journal-path", "j.json", &file])
        .env("MONKEYWRENCH_STATE_DIR", dir.path().join("state"))
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let journal = std::fs::read_to_string(dir.path().join("j.json")).unwrap();
    assert!(
        journal.contains("reach the Docker engine at unix:///nonexistent/docker.sock"),
        "{journal}"
    );
    assert_eq!(fx.state(&web), "running");
    let preview = std::process::Command::new(crate::harness::binary())
        .args(["targets", "--docker", r#"{"name": "x"}"#])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(preview.status.code(), Some(69), "{}", stderr(&preview));
    assert!(stderr(&preview).contains("reach the Docker engine"));

    // A network that does not exist: named, nothing leased.
    let file = write(
        dir.path(),
        "net.json",
        &experiment(&[action(
            "cut",
            "container.disconnect",
            &format!(
                r#"{{"target": {{"name": "{web}"}}, "network": "{}-nosuch"}}"#,
                fx.run
            ),
            Some(1.0),
        )]),
    );
    let out = mw(dir.path(), &["run", "--journal-path", "n.json", &file]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let journal = std::fs::read_to_string(dir.path().join("n.json")).unwrap();
    assert!(
        journal.contains(&format!("find network {}-nosuch", fx.run)),
        "{journal}"
    );

    // An invalid selector key is a validation error with the accepted keys.
    let file = write(
        dir.path(),
        "bad.json",
        &experiment(&[action(
            "freeze",
            "container.pause",
            r#"{"target": {"lables": {"app": "web"}}}"#,
            None,
        )]),
    );
    let out = mw(dir.path(), &["validate", &file]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("unknown key \"lables\""),
        "{}",
        stderr(&out)
    );
    assert!(
        ledger_json(dir.path()).is_empty(),
        "no lease from any failure: {:?}",
        ledger_json(dir.path())
    );

    // The container is removed while paused: the revert closes the lease as target-gone.
    let file = write(
        dir.path(),
        "gone.json",
        &experiment(&[
            action("freeze", "container.pause", &by_name, None),
            sleep_action(30.0),
        ]),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert!(fx.wait_for(Duration::from_secs(20), || fx.state(&web) == "paused"));
    docker_ok(&["rm", "-f", &web]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let code = run.wait().unwrap().code();
    assert_eq!(
        code,
        Some(4),
        "interrupted; a gone target is not a failed revert"
    );
    let leases = ledger_json(dir.path());
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0]["state"], "target-gone");
    stop_guard(dir.path());
}

#[test]
fn a_socket_the_user_may_not_use_is_reported_as_permission_denied() {
    // Needs root to drop to an unprivileged user; the suite runs as root in CI.
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root to run the binary as nobody");
        return;
    }
    let socket = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
        .unwrap_or_else(|| "/var/run/docker.sock".into());
    let mode = std::fs::metadata(&socket)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()));
    if mode.is_ok_and(|m| m & 0o006 == 0o006) {
        eprintln!("skipped: {socket} is open to everyone");
        return;
    }
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(crate::harness::binary())
        .args(["targets", "--docker", r#"{"name": "x"}"#])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("permission denied"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn halt_unpauses_the_container_interrupts_the_run_and_refuses_new_container_faults() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("container-halt");
    let web = fx.container("web", &[], &["sleep", "300"]);
    let target = format!(r#"{{"target": {{"name": "{web}"}}}}"#);
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action("freeze", "container.pause", &target, None),
            sleep_action(30.0),
        ]),
    );
    let run = spawn_run(dir.path(), &file);
    assert!(fx.wait_for(Duration::from_secs(20), || fx.state(&web) == "paused"));
    let halt = mw(dir.path(), &["halt", "--reason", "game day over"]);
    assert_eq!(halt.status.code(), Some(0), "{}", stderr(&halt));
    assert_eq!(fx.state(&web), "running", "halt reverted the pause");
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let refused = mw(dir.path(), &["run", "--journal-path", "r.json", &file]);
    assert_ne!(refused.status.code(), Some(0));
    assert_eq!(fx.state(&web), "running", "nothing applied while halted");
    assert_eq!(mw(dir.path(), &["resume"]).status.code(), Some(0));
    stop_guard(dir.path());
}
