//! Process faults through the ledger, end to end with the real binary: timed reverts, the guard
//! after SIGKILL, revert at the next start, halt during a run, safeguards, irreversible kills.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{StatusServer, TempDir, binary, stderr, write};

/// A victim process with a unique command line, in its own process group.
pub(crate) struct Victim {
    child: Child,
    pub(crate) marker: String,
}

impl Victim {
    pub(crate) fn start() -> Victim {
        let marker = format!("mw-victim-{}", uuid::Uuid::new_v4().simple());
        // bash, not sh: dash has no `exec -a` to give the victim a unique command line.
        let mut cmd = Command::new("bash");
        cmd.args(["-c", &format!("exec -a {marker} sleep 120")]);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.stdout(Stdio::null()).spawn().unwrap();
        // Wait until exec happened so the selector sees the marker.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let cmdline =
                std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&marker) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Victim { child, marker }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn state(&self) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        stat.rsplit_once(')')?.1.trim().chars().next()
    }

    fn wait_state(&self, stopped: bool, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if (self.state() == Some('T')) == stopped {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stop_experiment(marker: &str, duration: Option<f64>, method_sleep: f64) -> String {
    let duration = duration
        .map(|d| format!(r#""duration": {d},"#))
        .unwrap_or_default();
    format!(
        r#"{{"title": "freeze", "description": "d",
            "method": [
              {{"type": "action", "name": "freeze", {duration}
                "provider": {{"type": "builtin", "func": "process.stop", "arguments": {{"target": {{"pattern": "{marker}"}}}}}}}},
              {{"type": "action", "name": "wait", "provider": {{"type": "process", "path": "sleep", "arguments": ["{method_sleep}"]}}}}]}}"#
    )
}

/// Starts `monkeywrench run` on `file` with the state directory under `dir`.
pub(crate) fn spawn_run(dir: &std::path::Path, file: &str) -> Child {
    Command::new(binary())
        .args([
            "run",
            "--journal-path",
            &dir.join("journal.json").to_string_lossy(),
            file,
        ])
        .env("MONKEYWRENCH_STATE_DIR", dir.join("state"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn mw(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(binary())
        .args(args)
        .env("MONKEYWRENCH_STATE_DIR", dir.join("state"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub(crate) fn ledger_json(dir: &std::path::Path) -> Vec<Value> {
    let out = mw(dir, &["ledger", "--output", "json"]);
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

/// Stops the guard a run started (a process our test started, by its recorded pid).
pub(crate) fn stop_guard(dir: &std::path::Path) {
    // The guard was started by our run (a process this test started): stop it by its recorded pid.
    if let Ok(pid) = std::fs::read_to_string(dir.join("state/guard.pid"))
        && let Ok(pid) = pid.trim().parse::<i32>()
    {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

pub(crate) fn sigkill(child: &mut Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
}

#[test]
fn a_timed_stop_is_reverted_at_its_deadline_and_journaled() {
    let dir = TempDir::new("fault-timed");
    let victim = Victim::start();
    let file = write(
        dir.path(),
        "e.json",
        &stop_experiment(&victim.marker, Some(1.0), 0.1),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert!(
        victim.wait_state(true, Duration::from_secs(5)),
        "victim stopped"
    );
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_ne!(
        victim.state(),
        Some('T'),
        "the method ended only after the timed revert"
    );
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap();
    let fault = &j["monkeywrench"]["faults"][0];
    assert_eq!(fault["func"], "process.stop");
    assert_eq!(fault["revert"], "reverted");
    assert_eq!(fault["target"]["pid"], victim.pid());
    assert_eq!(j["monkeywrench"]["targets"][0]["matched"], 1);
    assert_eq!(j["run"][0]["output"]["faults"][0]["id"], fault["id"]);
    let leases = ledger_json(dir.path());
    assert_eq!(leases[0]["state"], "reverted");
    stop_guard(dir.path());
}

#[test]
fn the_guard_resumes_the_victim_when_the_run_is_sigkilled() {
    let dir = TempDir::new("fault-sigkill");
    let victim = Victim::start();
    let file = write(
        dir.path(),
        "e.json",
        &stop_experiment(&victim.marker, Some(60.0), 30.0),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert!(
        victim.wait_state(true, Duration::from_secs(5)),
        "victim stopped"
    );
    sigkill(&mut run);
    let killed = Instant::now();
    assert!(
        victim.wait_state(false, Duration::from_secs(10)),
        "the guard never resumed the victim"
    );
    eprintln!("guard reaction after SIGKILL: {:?}", killed.elapsed());
    assert_eq!(ledger_json(dir.path())[0]["state"], "reverted");
    stop_guard(dir.path());
}

#[test]
fn without_a_guard_the_next_start_reverts_leftovers() {
    let dir = TempDir::new("fault-next-start");
    let victim = Victim::start();
    let file = write(
        dir.path(),
        "e.json",
        &stop_experiment(&victim.marker, Some(60.0), 30.0),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert!(victim.wait_state(true, Duration::from_secs(5)));
    // The run starts a detached guard: wait until it is up, then take it away.
    let pid_file = dir.path().join("state/guard.pid");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pid_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // The run ensures a guard before and after each lease: a second one may be starting. Stop
    // guards until none is left.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        stop_guard(dir.path());
        std::thread::sleep(Duration::from_millis(300));
        let alive = std::fs::read_to_string(&pid_file)
            .ok()
            .is_some_and(|pid| std::path::Path::new(&format!("/proc/{}", pid.trim())).exists());
        if !alive || Instant::now() > deadline {
            break;
        }
    }
    sigkill(&mut run);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        victim.state(),
        Some('T'),
        "nothing reverted yet: no guard, no run"
    );
    let out = mw(dir.path(), &["ledger"]);
    assert!(stderr(&out).contains("leftover fault"), "{}", stderr(&out));
    assert!(victim.wait_state(false, Duration::from_secs(2)));
}

#[test]
fn sigkill_in_a_loop_never_leaves_a_victim_stopped() {
    let dir = TempDir::new("fault-loop");
    let victim = Victim::start();
    let file = write(
        dir.path(),
        "e.json",
        &stop_experiment(&victim.marker, Some(60.0), 30.0),
    );
    let rounds = 50;
    let mut resumed = 0;
    let started = Instant::now();
    for _ in 0..rounds {
        if started.elapsed() > Duration::from_secs(240) {
            break;
        }
        let mut run = spawn_run(dir.path(), &file);
        if !victim.wait_state(true, Duration::from_secs(5)) {
            sigkill(&mut run);
            panic!("victim was not stopped: {:?}", run.stderr.take());
        }
        sigkill(&mut run);
        if victim.wait_state(false, Duration::from_secs(10)) {
            resumed += 1;
        }
    }
    assert_eq!(resumed, rounds, "every stopped victim must run again");
    assert_ne!(victim.state(), Some('T'));
    stop_guard(dir.path());
}

#[test]
fn halt_during_a_run_reverts_interrupts_and_refuses_until_resume() {
    let dir = TempDir::new("fault-halt");
    let victim = Victim::start();
    let file = write(
        dir.path(),
        "e.json",
        &stop_experiment(&victim.marker, None, 30.0),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert!(victim.wait_state(true, Duration::from_secs(5)));
    let out = mw(dir.path(), &["halt", "--reason", "incident 7"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        victim.wait_state(false, Duration::from_secs(2)),
        "halt resumed the victim"
    );
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(4), "a halted run exits INTERRUPTED");
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap();
    assert_eq!(j["interruption"]["kind"], "halt");

    let mut refused = spawn_run(dir.path(), &file);
    let status = refused.wait().unwrap();
    assert_eq!(status.code(), Some(4));
    let mut err = String::new();
    std::io::Read::read_to_string(refused.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("halted"), "{err}");
    assert_ne!(
        victim.state(),
        Some('T'),
        "a refused fault is never applied"
    );

    assert_eq!(mw(dir.path(), &["resume"]).status.code(), Some(0));
    let file2 = write(
        dir.path(),
        "e2.json",
        &stop_experiment(&victim.marker, Some(0.2), 0.1),
    );
    let mut again = spawn_run(dir.path(), &file2);
    assert_eq!(again.wait().unwrap().code(), Some(0));
    stop_guard(dir.path());
}

/// Runs `method` (its `{victim}` replaced by the victim's marker) under a safeguard on a test
/// server, makes the server fail once the victim is frozen, and checks that the breach thaws the
/// victim within seconds and the run exits 5.
fn safeguard_breach_thaws_the_victim(name: &str, method: &str) {
    let server = StatusServer::start(200);
    let dir = TempDir::new(name);
    let victim = Victim::start();
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "safeguards": [{{"type": "probe", "name": "web-up", "frequency": 0.1, "tolerance": 200,
                  "provider": {{"type": "http", "url": "{}/", "timeout": 2}}}}],
                "method": {}}}"#,
            server.url(),
            method.replace("{victim}", &victim.marker)
        ),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert!(victim.wait_state(true, Duration::from_secs(5)));
    server.set_status(503);
    let breached = Instant::now();
    assert!(
        victim.wait_state(false, Duration::from_secs(5)),
        "the breach reverted the fault"
    );
    eprintln!("safeguard breach to revert: {:?}", breached.elapsed());
    assert_eq!(run.wait().unwrap().code(), Some(5));
    stop_guard(dir.path());
}

#[test]
fn a_safeguard_breach_reverts_the_faults_and_exits_5() {
    safeguard_breach_thaws_the_victim(
        "fault-safeguard",
        r#"[{"type": "action", "name": "freeze", "provider": {"type": "builtin", "func": "process.stop", "arguments": {"target": {"pattern": "{victim}"}}}},
            {"type": "action", "name": "wait", "provider": {"type": "process", "path": "sleep", "arguments": ["30"]}}]"#,
    );
}

#[test]
fn a_safeguard_breach_ends_the_wait_for_a_timed_fault_at_once() {
    // The method's only activity returns at once; the method then waits for the fault's 30 s.
    safeguard_breach_thaws_the_victim(
        "fault-safeguard-timed",
        r#"[{"type": "action", "name": "freeze", "duration": 30, "provider": {"type": "builtin", "func": "process.stop", "arguments": {"target": {"pattern": "{victim}"}}}}]"#,
    );
}

#[test]
fn kill_is_recorded_as_irreversible() {
    let dir = TempDir::new("fault-kill");
    let mut victim = Victim::start();
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "method": [{{"type": "action", "name": "kill", "provider": {{"type": "builtin", "func": "process.kill",
                  "arguments": {{"target": {{"pattern": "{}"}}, "signal": "SIGTERM"}}}}}}]}}"#,
            victim.marker
        ),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert_eq!(run.wait().unwrap().code(), Some(0));
    let status = victim.child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15)
    );
    let leases = ledger_json(dir.path());
    assert_eq!(leases[0]["state"], "irreversible");
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap();
    assert_eq!(j["monkeywrench"]["faults"][0]["revert"], "irreversible");
}

#[test]
fn dry_run_and_run_pick_the_same_victims_for_a_seed() {
    let dir = TempDir::new("fault-seed");
    let victims: Vec<Victim> = (0..4).map(|_| Victim::start()).collect();
    let group = format!("mw-group-{}", uuid::Uuid::new_v4().simple());
    // One pattern that matches all four victims' unique markers.
    let pattern = victims
        .iter()
        .map(|v| v.marker.clone())
        .collect::<Vec<_>>()
        .join("|");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "{group}", "description": "d",
                "blast-radius": {{"mode": "fixed-percent", "value": 50, "seed": 7}},
                "method": [{{"type": "action", "name": "freeze-half", "duration": 0.3,
                  "provider": {{"type": "builtin", "func": "process.stop", "arguments": {{"target": {{"pattern": "{pattern}"}}}}}}}}]}}"#
        ),
    );
    let plan = mw(dir.path(), &["run", "--dry-run", &file]);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let text = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        text.contains("4 matched; fixed-percent picks 2 with seed 7"),
        "{text}"
    );
    assert!(
        victims.iter().all(|v| v.state() != Some('T')),
        "a dry run touches nothing"
    );
    let planned: Vec<u32> = victims
        .iter()
        .map(Victim::pid)
        .filter(|pid| text.contains(&format!("{pid} (")))
        .collect();
    assert_eq!(planned.len(), 2, "{text}");

    let mut run = spawn_run(dir.path(), &file);
    assert_eq!(run.wait().unwrap().code(), Some(0));
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap();
    let mut hit: Vec<u32> = j["monkeywrench"]["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["target"]["pid"].as_u64().unwrap() as u32)
        .collect();
    hit.sort();
    let mut planned = planned;
    planned.sort();
    assert_eq!(
        hit, planned,
        "the run hit exactly the victims the dry run showed"
    );
    assert_eq!(j["monkeywrench"]["targets"][0]["seed"], 7);
    assert!(
        victims.iter().all(|v| v.state() != Some('T')),
        "all resumed after the duration"
    );
    stop_guard(dir.path());
}

#[test]
fn a_corrupt_store_is_a_clear_error_and_nothing_is_applied() {
    let dir = TempDir::new("fault-corrupt");
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(
        dir.path().join("state/ledger.db"),
        b"this is not a sqlite database, not at all......",
    )
    .unwrap();
    let victim = Victim::start();
    let file = write(
        dir.path(),
        "e.json",
        &stop_experiment(&victim.marker, Some(1.0), 0.1),
    );
    let mut run = spawn_run(dir.path(), &file);
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(2), "the fault action failed");
    assert_ne!(victim.state(), Some('T'), "no fault without a ledger");
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap();
    let exception = j["run"][0]["exception"][0].as_str().unwrap();
    assert!(exception.contains("ledger.db"), "{exception}");
    let out = mw(dir.path(), &["ledger"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("open the ledger"), "{}", stderr(&out));
}

#[test]
fn an_unreachable_postgres_store_fails_fast_with_a_clear_error() {
    let dir = TempDir::new("fault-unreachable");
    let port = crate::harness::closed_port();
    let started = Instant::now();
    let out = mw(
        dir.path(),
        &[
            "ledger",
            "--store",
            &format!("postgres://mw:secret@127.0.0.1:{port}/mw"),
        ],
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no long retry loop"
    );
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("open the ledger") && err.contains(&port.to_string()),
        "{err}"
    );
    assert!(
        !err.contains("secret"),
        "the password is not printed: {err}"
    );
}

#[test]
fn restart_stops_the_victim_and_runs_the_restart_command() {
    let dir = TempDir::new("fault-restart");
    let mut victim = Victim::start();
    let marker = dir.path().join("restarted");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "method": [{{"type": "action", "name": "restart", "provider": {{"type": "builtin", "func": "process.restart",
                  "arguments": {{"target": {{"pattern": "{}"}}, "command": "echo up > {}", "timeout_s": 2}}}}}}]}}"#,
            victim.marker,
            marker.display()
        ),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert_eq!(run.wait().unwrap().code(), Some(0));
    let status = victim.child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15),
        "stopped with SIGTERM"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !marker.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "up\n",
        "the restart command ran"
    );
    assert_eq!(ledger_json(dir.path())[0]["state"], "irreversible");
}
