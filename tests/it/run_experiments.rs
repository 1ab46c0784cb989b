//! End-to-end runs of experiments through the real binary: Chaos Toolkit semantics (spec §12),
//! strategies, rollbacks on every path, signals, timeouts, redaction, the journal's shape.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{StatusServer, TempDir, closed_port, run_experiment, stderr, write};

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn entry_names(entries: &Value) -> Vec<String> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["activity"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn exact_placeholder_tolerance_keeps_the_variables_type() {
    let dir = TempDir::new("subst-type");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d", "configuration": {"expected": 0},
            "steady-state-hypothesis": {"title": "h", "probes": [
              {"type": "probe", "name": "ok", "tolerance": "${expected}",
               "provider": {"type": "process", "path": "true"}}]},
            "method": []}"#,
    );
    let (out, journal) = run_experiment(dir.path(), &file, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = journal.unwrap();
    assert_eq!(j["steady_states"]["before"]["steady_state_met"], true);
    assert_eq!(j["steady_states"]["after"]["steady_state_met"], true);
    assert_eq!(j["status"], "completed");
}

#[test]
fn dollar_escapes_and_unknown_names_follow_string_template() {
    let dir = TempDir::new("subst-escape");
    let with_config = write(
        dir.path(),
        "with.json",
        r#"{"title": "t", "description": "d", "configuration": {"k": 1},
            "method": [{"type": "action", "name": "echo", "provider":
              {"type": "process", "path": "echo", "arguments": ["$$x", "${nope}", "${k}"]}}]}"#,
    );
    let (out, journal) = run_experiment(dir.path(), &with_config, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        journal.unwrap()["run"][0]["output"]["stdout"],
        "$x ${nope} 1\n"
    );

    let without = write(
        dir.path(),
        "without.json",
        r#"{"title": "t", "description": "d",
            "method": [{"type": "action", "name": "echo", "provider":
              {"type": "process", "path": "echo", "arguments": ["$$x", "${nope}"]}}]}"#,
    );
    let (out, journal) = run_experiment(dir.path(), &without, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        journal.unwrap()["run"][0]["output"]["stdout"],
        "$$x ${nope}\n"
    );
}

#[test]
fn a_two_item_list_against_http_is_membership_not_a_range() {
    let server = StatusServer::start(204);
    let dir = TempDir::new("http-list");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "steady-state-hypothesis": {{"title": "h", "probes": [
                  {{"type": "probe", "name": "web", "tolerance": [200, 299],
                   "provider": {{"type": "http", "url": "{}/"}}}}]}},
                "method": []}}"#,
            server.url()
        ),
    );
    let (out, journal) = run_experiment(dir.path(), &file, &[]);
    assert!(
        stderr(&out).contains("range"),
        "validation warns: {}",
        stderr(&out)
    );
    assert_eq!(code(&out), 2);
    let j = journal.unwrap();
    assert_eq!(j["steady_states"]["before"]["steady_state_met"], false);
    assert_eq!(
        j["steady_states"]["before"]["probes"][0]["output"]["status"],
        204
    );
}

#[test]
fn a_failing_command_is_a_succeeded_activity() {
    let dir = TempDir::new("false");
    let file = write(
        dir.path(),
        "e.yaml",
        "title: t\ndescription: d\nmethod:\n  - type: action\n    name: nope\n    provider:\n      type: process\n      path: \"false\"\n",
    );
    let (out, journal) = run_experiment(dir.path(), &file, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = journal.unwrap();
    assert_eq!(j["run"][0]["status"], "succeeded");
    assert_eq!(j["run"][0]["output"]["status"], 1);
}

#[test]
fn timeouts_are_enforced_and_kill_the_process() {
    let dir = TempDir::new("timeout");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "method": [{"type": "action", "name": "slow", "timeout": 1,
              "provider": {"type": "process", "path": "sleep", "arguments": ["5"]}}]}"#,
    );
    let started = Instant::now();
    let (out, journal) = run_experiment(dir.path(), &file, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the run waited for sleep 5"
    );
    assert_eq!(code(&out), 2, "a failed action exits 2: {}", stderr(&out));
    let j = journal.unwrap();
    let entry = &j["run"][0];
    assert_eq!(entry["status"], "failed");
    let exception = entry["exception"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap();
    assert!(
        exception.starts_with("chaoslib.exceptions.ActivityFailed: "),
        "{exception}"
    );
    assert!(exception.contains("timed out after 1 s"), "{exception}");
    assert_eq!(entry["monkeywrench"]["cancelled"], "timeout");
}

#[test]
fn an_unmet_gate_skips_the_method_but_plays_rollbacks_like_ctk() {
    let dir = TempDir::new("gate");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "steady-state-hypothesis": {"title": "h", "probes": [
              {"type": "probe", "name": "p", "tolerance": 0, "provider": {"type": "process", "path": "false"}}]},
            "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "echo"}}],
            "rollbacks": [{"type": "action", "name": "rb", "provider": {"type": "process", "path": "echo"}}]}"#,
    );
    let (out, journal) = run_experiment(dir.path(), &file, &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let j = journal.unwrap();
    assert_eq!(j["run"], serde_json::json!([]));
    assert_eq!(j["status"], "completed");
    assert_eq!(j["deviated"], false);
    assert_eq!(entry_names(&j["rollbacks"]), vec!["rb"]);
    assert_eq!(j["steady_states"]["after"], Value::Null);
    assert_eq!(j["monkeywrench"]["outcome"], "baseline-not-met");
}

#[test]
fn an_after_probe_that_errors_deviates_and_rolls_back() {
    let dir = TempDir::new("after-error");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "runtime": {{"hypothesis": {{"strategy": "after-method-only"}}}},
                "steady-state-hypothesis": {{"title": "h", "probes": [
                  {{"type": "probe", "name": "web", "tolerance": 200,
                   "provider": {{"type": "http", "url": "http://127.0.0.1:{}/", "timeout": 2}}}}]}},
                "method": [{{"type": "action", "name": "a", "provider": {{"type": "process", "path": "true"}}}}],
                "rollbacks": [{{"type": "action", "name": "rb", "provider": {{"type": "process", "path": "true"}}}}]}}"#,
            closed_port()
        ),
    );
    let (out, journal) = run_experiment(dir.path(), &file, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let j = journal.unwrap();
    assert_eq!(j["status"], "failed");
    assert_eq!(j["deviated"], true);
    assert_eq!(j["steady_states"]["before"], Value::Null);
    assert_eq!(j["steady_states"]["after"]["probes"][0]["status"], "failed");
    assert_eq!(entry_names(&j["rollbacks"]), vec!["rb"]);
}

#[test]
fn fail_fast_cancels_the_running_activity_and_rolls_back() {
    let dir = TempDir::new("fail-fast");
    let flag = dir.path().join("flag");
    std::fs::write(&flag, "").unwrap();
    let flag = flag.to_string_lossy();
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "steady-state-hypothesis": {{"title": "h", "probes": [
                  {{"type": "probe", "name": "flag-exists", "tolerance": 0,
                   "provider": {{"type": "process", "path": "test", "arguments": ["-e", "{flag}"]}}}}]}},
                "method": [
                  {{"type": "action", "name": "remove-flag", "background": true,
                   "provider": {{"type": "process", "path": "sh", "arguments": ["-c", "sleep 0.3; rm {flag}"]}}}},
                  {{"type": "action", "name": "long", "provider": {{"type": "process", "path": "sleep", "arguments": ["10"]}}}}],
                "rollbacks": [{{"type": "action", "name": "restore", "provider": {{"type": "process", "path": "touch", "arguments": ["{flag}"]}}}}]}}"#
        ),
    );
    let started = Instant::now();
    let (out, journal) = run_experiment(
        dir.path(),
        &file,
        &[
            "--hypothesis-strategy",
            "continuously",
            "--hypothesis-frequency",
            "0.2",
            "--fail-fast",
        ],
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "sleep 10 was not cancelled"
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let j = journal.unwrap();
    assert_eq!(j["deviated"], true);
    let long = j["run"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["activity"]["name"] == "long")
        .unwrap();
    assert_eq!(long["status"], "failed");
    assert_eq!(long["monkeywrench"]["cancelled"], "fail-fast");
    assert_eq!(entry_names(&j["rollbacks"]), vec!["restore"]);
    assert!(
        std::path::Path::new(&*flag).exists(),
        "rollback restored the flag"
    );
    // The after-hypothesis ran (flag restored only by the rollback, so it is unmet) → completed.
    assert_eq!(j["status"], "completed");
    assert!(!j["steady_states"]["during"].as_array().unwrap().is_empty());
}

#[test]
fn a_timed_out_rollback_does_not_stop_the_next_one() {
    let dir = TempDir::new("rollback-timeout");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "true"}}],
            "rollbacks": [
              {"type": "action", "name": "slow", "provider": {"type": "process", "path": "sleep", "arguments": ["5"], "timeout": 1}},
              {"type": "action", "name": "after", "provider": {"type": "process", "path": "echo", "arguments": ["done"]}}]}"#,
    );
    let (out, journal) = run_experiment(dir.path(), &file, &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let j = journal.unwrap();
    assert_eq!(j["rollbacks"][0]["status"], "failed");
    assert_eq!(j["rollbacks"][1]["output"]["stdout"], "done\n");
    assert_eq!(j["monkeywrench"]["outcome"], "rollback-failed");
}

#[test]
fn sigterm_interrupts_cancels_and_still_rolls_back() {
    let dir = TempDir::new("sigterm");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "method": [{"type": "action", "name": "long", "provider": {"type": "process", "path": "sleep", "arguments": ["20"]}}],
            "rollbacks": [{"type": "action", "name": "rb", "provider": {"type": "process", "path": "echo", "arguments": ["rolled back"]}}]}"#,
    );
    let journal = dir.path().join("journal.json");
    let mut child = std::process::Command::new(crate::harness::binary())
        .args(["run", "--journal-path", &journal.to_string_lossy(), &file])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "run did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(4));
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    assert_eq!(j["status"], "interrupted");
    assert_eq!(j["interruption"]["kind"], "signal");
    assert_eq!(j["interruption"]["name"], "SIGTERM");
    assert_eq!(j["run"][0]["monkeywrench"]["cancelled"], "signal");
    assert_eq!(j["rollbacks"][0]["output"]["stdout"], "rolled back\n");
}

#[test]
fn inline_secrets_never_reach_the_journal() {
    let dir = TempDir::new("secret");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d", "secrets": {"g": {"token": "s3cr3t-value"}},
            "method": [{"type": "action", "name": "leak", "provider": {"type": "process", "path": "echo", "arguments": ["${token}"]}}]}"#,
    );
    let (out, journal) = run_experiment(dir.path(), &file, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("journal.json")).unwrap();
    assert!(!text.contains("s3cr3t-value"), "secret leaked: {text}");
    let j = journal.unwrap();
    assert_eq!(j["run"][0]["output"]["stdout"], "***\n");
    assert_eq!(j["experiment"]["secrets"]["g"]["token"], "***");
    assert!(j["monkeywrench"]["redactions"].as_u64().unwrap() >= 1);
}

#[test]
fn python_providers_need_their_module_installed_unless_aliased() {
    let dir = TempDir::new("python");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "method": [{"type": "action", "name": "k8s", "provider": {"type": "python",
              "module": "chaosk8s.pod.actions", "func": "exec_in_pods"}}]}"#,
    );
    let (out, journal) = run_experiment(dir.path(), &file, &[]);
    assert_eq!(code(&out), 64);
    assert!(
        stderr(&out).contains("chaosk8s.pod.actions.exec_in_pods")
            && stderr(&out).contains("chaostoolkit-kubernetes"),
        "{}",
        stderr(&out)
    );
    assert!(journal.is_none(), "nothing ran, no journal");

    let aliased = write(
        dir.path(),
        "alias.json",
        r#"{"title": "t", "description": "d",
            "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "tmp",
              "tolerance": true, "provider": {"type": "python", "module": "os.path", "func": "exists",
              "arguments": {"path": "/tmp"}}}]},
            "method": []}"#,
    );
    let (out, journal) = run_experiment(dir.path(), &aliased, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        journal.unwrap()["steady_states"]["before"]["probes"][0]["output"],
        true
    );
}

#[test]
fn a_safeguard_breach_stops_the_method_with_exit_5() {
    let server = StatusServer::start(200);
    let dir = TempDir::new("safeguard");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "safeguards": [{{"type": "probe", "name": "web-up", "frequency": 0.1, "tolerance": 200,
                  "provider": {{"type": "http", "url": "{}/", "timeout": 2}}}}],
                "method": [{{"type": "action", "name": "long", "provider": {{"type": "process", "path": "sleep", "arguments": ["20"]}}}}],
                "rollbacks": [{{"type": "action", "name": "rb", "provider": {{"type": "process", "path": "true"}}}}]}}"#,
            server.url()
        ),
    );
    let dir_path = dir.path().to_path_buf();
    let handle = std::thread::spawn(move || run_experiment(&dir_path, &file, &[]));
    std::thread::sleep(Duration::from_millis(700));
    let breached_at = Instant::now();
    server.set_status(503);
    let (out, journal) = handle.join().unwrap();
    assert!(
        breached_at.elapsed() < Duration::from_secs(5),
        "safeguard reacted too late"
    );
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let j = journal.unwrap();
    assert_eq!(j["status"], "interrupted");
    assert_eq!(j["interruption"]["kind"], "safeguard");
    assert_eq!(j["run"][0]["monkeywrench"]["cancelled"], "safeguard");
    assert_eq!(entry_names(&j["rollbacks"]), vec!["rb"]);
    let guard = &j["monkeywrench"]["safeguards"][0];
    assert_eq!(guard["name"], "web-up");
    assert!(guard["broken_at"].is_string());
}

#[test]
fn the_journal_has_ctk_keys_in_ctk_order() {
    let dir = TempDir::new("journal-order");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d", "method": [{"type": "probe", "name": "p", "provider": {"type": "process", "path": "true"}}]}"#,
    );
    let (out, _) = run_experiment(dir.path(), &file, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("journal.json")).unwrap();
    let keys = [
        "\"chaoslib-version\"",
        "\"platform\"",
        "\"node\"",
        "\"experiment\"",
        "\"start\"",
        "\"status\"",
        "\"deviated\"",
        "\"steady_states\"",
        "\"run\"",
        "\"rollbacks\"",
        "\"end\"",
        "\"duration\"",
        "\"monkeywrench\"",
    ];
    let mut last = 0;
    for k in keys {
        let at = text
            .find(&format!("\n  {k}"))
            .unwrap_or_else(|| panic!("{k} missing in {text}"));
        assert!(at > last || last == 0, "{k} out of order");
        last = at;
    }
    let j: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(j["experiment"]["dry"], Value::Null);
    let start = j["run"][0]["start"].as_str().unwrap();
    assert!(start.ends_with("+00:00") && start.len() == 32, "{start}");
    assert!(
        text.starts_with("{\n  \"chaoslib-version\""),
        "2-space indent"
    );
}

#[test]
fn rollback_strategies_decide_when_rollbacks_play() {
    let dir = TempDir::new("rollback-strategies");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "p", "tolerance": 0, "provider": {"type": "process", "path": "true"}}]},
            "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "true"}}],
            "rollbacks": [{"type": "action", "name": "rb", "provider": {"type": "process", "path": "true"}}]}"#,
    );
    for (strategy, played) in [("default", 1), ("always", 1), ("never", 0), ("deviated", 0)] {
        let (out, journal) = run_experiment(dir.path(), &file, &["--rollback-strategy", strategy]);
        assert_eq!(code(&out), 0, "{strategy}: {}", stderr(&out));
        assert_eq!(
            journal.unwrap()["rollbacks"].as_array().unwrap().len(),
            played,
            "{strategy}"
        );
    }
}

#[test]
fn hypothesis_strategies_pick_before_during_after() {
    let dir = TempDir::new("hypothesis-strategies");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "p", "tolerance": 0, "provider": {"type": "process", "path": "true"}}]},
            "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "sleep", "arguments": ["0.5"]}}]}"#,
    );
    let cases = [
        ("default", true, false, true),
        ("before-method-only", true, false, false),
        ("after-method-only", false, false, true),
        ("during-method-only", false, true, false),
        ("continuously", true, true, true),
        ("skip", false, false, false),
    ];
    for (strategy, before, during, after) in cases {
        let (out, journal) = run_experiment(
            dir.path(),
            &file,
            &[
                "--hypothesis-strategy",
                strategy,
                "--hypothesis-frequency",
                "0.2",
            ],
        );
        assert_eq!(code(&out), 0, "{strategy}: {}", stderr(&out));
        let j = journal.unwrap();
        let ss = &j["steady_states"];
        assert_eq!(!ss["before"].is_null(), before, "{strategy} before");
        assert_eq!(
            !ss["during"].as_array().unwrap().is_empty(),
            during,
            "{strategy} during"
        );
        assert_eq!(!ss["after"].is_null(), after, "{strategy} after");
    }
}

#[test]
fn background_activities_run_concurrently_and_are_journaled_in_start_order() {
    let dir = TempDir::new("background");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "method": [
              {"type": "action", "name": "bg1", "background": true, "provider": {"type": "process", "path": "sleep", "arguments": ["1"]}},
              {"type": "action", "name": "bg2", "background": true, "provider": {"type": "process", "path": "sleep", "arguments": ["1"]}},
              {"type": "action", "name": "fg", "provider": {"type": "process", "path": "true"}}]}"#,
    );
    let started = Instant::now();
    let (out, journal) = run_experiment(dir.path(), &file, &[]);
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "background activities ran one after the other"
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        entry_names(&journal.unwrap()["run"]),
        vec!["bg1", "bg2", "fg"]
    );
}

#[test]
fn dry_modes_skip_the_selected_activities_and_their_pauses() {
    let dir = TempDir::new("dry");
    let marker = dir.path().join("touched");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "method": [
                  {{"type": "action", "name": "touch", "pauses": {{"before": 3}}, "provider": {{"type": "process", "path": "touch", "arguments": ["{}"]}}}},
                  {{"type": "probe", "name": "p", "provider": {{"type": "process", "path": "echo", "arguments": ["x"]}}}}]}}"#,
            marker.display()
        ),
    );
    let started = Instant::now();
    let (out, journal) = run_experiment(dir.path(), &file, &["--dry", "actions"]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the pause of a dry action was not skipped"
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!marker.exists(), "a dry action ran");
    let j = journal.unwrap();
    assert_eq!(j["run"][0]["output"], Value::Null);
    assert_eq!(j["run"][0]["status"], "succeeded");
    assert_eq!(j["run"][1]["output"]["stdout"], "x\n");
    assert_eq!(j["experiment"]["dry"], "actions");
}

#[test]
fn output_json_streams_one_event_per_line_ending_with_the_verdict() {
    let dir = TempDir::new("ndjson");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d", "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "true"}}]}"#,
    );
    let (out, _) = run_experiment(dir.path(), &file, &["--output", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["event"], "run-started");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "run-finished");
    assert_eq!(last["verdict"]["outcome"], "passed");
    assert_eq!(last["verdict"]["exit_code"], 0);
    assert!(events.iter().any(|e| e["event"] == "activity-finished"));
}

#[test]
fn dry_run_prints_the_plan_and_runs_nothing() {
    let dir = TempDir::new("dry-run");
    let marker = dir.path().join("touched");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t ${{who}}", "description": "d", "configuration": {{"who": "world"}}, "secrets": {{"g": {{"pw": "hunter22"}}}},
                "method": [{{"type": "action", "name": "touch", "provider": {{"type": "process", "path": "touch", "arguments": ["{}", "${{pw}}"]}}}}]}}"#,
            marker.display()
        ),
    );
    let (out, journal) = run_experiment(dir.path(), &file, &["--dry-run"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(journal.is_none());
    assert!(!marker.exists());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("t world"), "{stdout}");
    assert!(stdout.contains("touch"), "{stdout}");
    assert!(!stdout.contains("hunter22"), "{stdout}");
}

#[test]
fn max_duration_interrupts_like_sigterm() {
    let dir = TempDir::new("max-duration");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "method": [{"type": "action", "name": "long", "provider": {"type": "process", "path": "sleep", "arguments": ["20"]}}],
            "rollbacks": [{"type": "action", "name": "rb", "provider": {"type": "process", "path": "true"}}]}"#,
    );
    let started = Instant::now();
    let (out, journal) = run_experiment(dir.path(), &file, &["--max-duration", "500ms"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let j = journal.unwrap();
    assert_eq!(j["interruption"]["kind"], "max-duration");
    assert_eq!(entry_names(&j["rollbacks"]), vec!["rb"]);
    let (out, _) = run_experiment(dir.path(), &file, &["--max-duration", "soon"]);
    assert_eq!(code(&out), 64, "a bad duration is a usage error");
}

#[test]
fn sigusr2_interrupts_without_rollbacks() {
    let dir = TempDir::new("sigusr2");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "method": [{"type": "action", "name": "long", "provider": {"type": "process", "path": "sleep", "arguments": ["20"]}}],
            "rollbacks": [{"type": "action", "name": "rb", "provider": {"type": "process", "path": "true"}}]}"#,
    );
    let journal = dir.path().join("journal.json");
    let mut child = std::process::Command::new(crate::harness::binary())
        .args(["run", "--journal-path", &journal.to_string_lossy(), &file])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGUSR2).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(4));
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    assert_eq!(j["interruption"]["name"], "SIGUSR2");
    assert_eq!(j["rollbacks"], serde_json::json!([]));
}

#[test]
fn events_file_during_journal_changes_and_ctk_exit_codes() {
    let dir = TempDir::new("events-file");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "p", "tolerance": 0, "provider": {"type": "process", "path": "true"}}]},
            "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "sleep", "arguments": ["1"]}}]}"#,
    );
    let events = dir.path().join("run.ndjson");
    let (out, journal) = run_experiment(
        dir.path(),
        &file,
        &[
            "--events-file",
            &events.to_string_lossy(),
            "--hypothesis-strategy",
            "during-method-only",
            "--hypothesis-frequency",
            "0.1",
            "--during-journal",
            "changes",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let during_checks = lines
        .iter()
        .filter(|e| e["event"] == "hypothesis-checked")
        .count();
    assert!(
        during_checks >= 4,
        "several during iterations ran: {during_checks}"
    );
    assert_eq!(lines.last().unwrap()["event"], "run-finished");
    let kept = journal.unwrap()["steady_states"]["during"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        kept, 2,
        "unchanged iterations collapse to the first and the last"
    );

    let gate = write(
        dir.path(),
        "g.json",
        r#"{"title": "t", "description": "d",
            "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "p", "tolerance": 0, "provider": {"type": "process", "path": "false"}}]},
            "method": []}"#,
    );
    let (out, _) = run_experiment(dir.path(), &gate, &[]);
    assert_eq!(code(&out), 2);
    let (out, _) = run_experiment(dir.path(), &gate, &["--ctk-exit-codes"]);
    assert_eq!(code(&out), 0, "Chaos Toolkit exits 0 after a missed gate");
}

#[test]
fn dynamic_configuration_runs_a_probe_after_secrets() {
    let dir = TempDir::new("dynamic-config");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
            "secrets": {"g": {"word": "pass-word"}},
            "configuration": {
              "computed": {"type": "probe", "name": "compute", "provider": {"type": "process", "path": "sh", "arguments": ["-c", "echo '  from-a-probe  '"]}},
              "failing": {"type": "probe", "name": "fails", "provider": {"type": "process", "path": "false"}}
            },
            "method": [{"type": "action", "name": "show", "provider": {"type": "process", "path": "echo", "arguments": ["${computed}"]}}]}"#,
    );
    let (out, journal) = run_experiment(dir.path(), &file, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let j = journal.unwrap();
    assert_eq!(j["run"][0]["output"]["stdout"], "from-a-probe\n");
    let warnings = j["monkeywrench"]["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("dynamic configuration \"failing\" skipped")),
        "{warnings:?}"
    );
}
