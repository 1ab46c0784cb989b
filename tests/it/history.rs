//! The run history with the real binary: `run` records every run (events, journal, verdict) unless
//! `--no-history`; `history` lists, filters, shows by id prefix and prunes; a SIGKILLed run is
//! found interrupted by the next opener; a store that cannot be opened costs a warning, never the
//! run; the same on a real PostgreSQL; `run --junit` writes JUnit XML that a real XML parser reads.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::harness::{TempDir, binary, stderr, write};

const PASSING: &str = r#"
title: passing check
description: the steady state holds
steady-state-hypothesis:
  title: true holds
  probes:
    - type: probe
      name: always-true
      tolerance: 0
      provider: {type: process, path: "true"}
method:
  - type: action
    name: nothing-much
    provider: {type: process, path: "true"}
"#;

/// Removes the marker the hypothesis checks: the after-hypothesis deviates.
const DEVIATING: &str = r#"
title: "deviating <check> & friends"
description: the method breaks the steady state
steady-state-hypothesis:
  title: the marker exists
  probes:
    - type: probe
      name: marker-exists
      tolerance: 0
      provider: {type: process, path: test, arguments: "-e marker"}
method:
  - type: action
    name: remove-marker
    provider: {type: process, path: rm, arguments: "-f marker"}
"#;

/// Runs the binary in `dir` with `store` as its store (None: the state directory's SQLite file).
fn mw(dir: &Path, store: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    command
        .args(args)
        .current_dir(dir)
        .env("MONKEYWRENCH_STATE_DIR", dir.join("state"))
        .env_remove("MONKEYWRENCH_STORE")
        .env_remove("MONKEYWRENCH_NO_HISTORY")
        .stdin(Stdio::null());
    if let Some(store) = store {
        command.env("MONKEYWRENCH_STORE", store);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the binary starts")
}

fn run(dir: &Path, store: Option<&str>, file: &str, extra: &[&str]) -> Output {
    std::fs::write(dir.join("marker"), "").unwrap();
    let mut args = vec!["run", "--journal-path", "journal.json"];
    args.extend_from_slice(extra);
    args.push(file);
    mw(dir, store, &args, &[])
}

fn list(dir: &Path, store: Option<&str>, filters: &[&str]) -> Vec<Value> {
    let mut args = vec!["history", "--output", "json"];
    args.extend_from_slice(filters);
    let out = mw(dir, store, &args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn field<'a>(runs: &'a [Value], key: &str) -> Vec<&'a str> {
    runs.iter().map(|r| r[key].as_str().unwrap_or("")).collect()
}

/// Records two runs and checks what `history` and `history show` say about them.
fn records_and_shows(dir: &Path, store: Option<&str>) {
    let passing = write(dir, "passing.yaml", PASSING);
    let deviating = write(dir, "deviating.yaml", DEVIATING);
    let out = run(dir, store, &passing, &["--events-file", "events.ndjson"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("run recorded in the history as "),
        "{}",
        stderr(&out)
    );
    let out = run(dir, store, &deviating, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let runs = list(dir, store, &[]);
    assert_eq!(
        field(&runs, "experiment"),
        ["deviating", "passing"],
        "newest first"
    );
    assert_eq!(field(&runs, "status"), ["completed", "completed"]);
    assert_eq!(field(&runs, "outcome"), ["deviated", "passed"]);
    assert_eq!(runs[0]["deviated"], true);
    assert_eq!(runs[0]["exit_code"], 1);
    assert_eq!(runs[0]["trigger"], "cli");
    assert_eq!(runs[1]["file_path"], passing.as_str());
    let sha = sha256_hex(&std::fs::read(&passing).unwrap());
    assert_eq!(runs[1]["file_sha256"], sha.as_str());

    // Filters.
    let only = |filters: &[&str]| {
        field(&list(dir, store, filters), "experiment")
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(only(&["--experiment", "passing"]), ["passing"]);
    assert_eq!(
        only(&["--status", "completed", "--limit", "1"]),
        ["deviating"]
    );
    assert_eq!(only(&["--limit", "1", "--offset", "1"]), ["passing"]);
    assert_eq!(only(&["--status", "interrupted"]), Vec::<String>::new());
    assert_eq!(only(&["--since", "1h"]).len(), 2);
    assert_eq!(only(&["--since", "3 days ago"]).len(), 2);
    assert_eq!(
        only(&["--before", "2000-01-01T00:00:00Z"]),
        Vec::<String>::new()
    );

    // show: by prefix, with the journal, and the events exactly as --events-file wrote them.
    let id = runs[1]["id"].as_str().unwrap();
    let out = mw(
        dir,
        store,
        &["history", "show", &id[..6], "--output", "json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["id"], id);
    let journal: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("journal.json")).unwrap()).unwrap();
    assert_eq!(shown["journal"]["monkeywrench"]["run_id"], id);
    assert_eq!(
        shown["journal"]["steady_states"]["before"]["probes"][0]["activity"]["name"],
        "always-true"
    );
    assert_ne!(
        journal["monkeywrench"]["run_id"], id,
        "journal.json is the newer run's"
    );
    let out = mw(dir, store, &["history", "show", &id[..8], "--events"], &[]);
    let file = std::fs::read_to_string(dir.join("events.ndjson")).unwrap();
    let parse = |text: &str| {
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(parse(&String::from_utf8_lossy(&out.stdout)), parse(&file));
    let out = mw(dir, store, &["history", "show", id], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("status      completed, outcome passed"),
        "{text}"
    );
    assert!(
        text.contains("steady state before: met, after: met"),
        "{text}"
    );
    let table = mw(dir, store, &["history"], &[]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .starts_with("id        experiment"),
        "{table}"
    );
    assert!(
        table.contains(&id[..8]) && table.contains("deviating") && table.contains(" yes"),
        "{table}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn runs_are_recorded_with_events_and_journal_on_sqlite() {
    let dir = TempDir::new("history-sqlite");
    records_and_shows(dir.path(), None);
}

#[test]
fn runs_are_recorded_on_postgres() {
    let Some(url) = fresh_postgres() else {
        return;
    };
    let dir = TempDir::new("history-pg");
    records_and_shows(dir.path(), Some(&url));
}

/// A new database on the test PostgreSQL, or None (skipped) without one.
pub(crate) fn fresh_postgres() -> Option<String> {
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
fn an_ambiguous_prefix_is_a_clear_error_and_no_history_records_nothing() {
    let dir = TempDir::new("history-prefix");
    let file = write(dir.path(), "passing.yaml", PASSING);
    for id in [
        "abcdef01-0000-4000-8000-000000000001",
        "abcdef01-0000-4000-8000-000000000002",
    ] {
        let out = run(
            dir.path(),
            None,
            &file,
            &[
                "--run-id",
                id,
                "--trigger",
                "schedule",
                "--trigger-detail",
                "nightly",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let runs = list(dir.path(), None, &[]);
    assert_eq!(field(&runs, "trigger"), ["schedule", "schedule"]);
    assert_eq!(field(&runs, "trigger_detail"), ["nightly", "nightly"]);
    let journal: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap();
    assert_eq!(
        journal["monkeywrench"]["run_id"], "abcdef01-0000-4000-8000-000000000002",
        "--run-id names the run everywhere"
    );
    let out = run(dir.path(), None, &file, &["--run-id", "not-a-uuid"]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    let out = mw(dir.path(), None, &["history", "show", "abcdef"], &[]);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert!(err.contains("the prefix is ambiguous, it matches abcdef01-0000-4000-8000-000000000001, abcdef01-0000-4000-8000-000000000002"), "{err}");
    let out = mw(
        dir.path(),
        None,
        &["history", "show", "abcdef01-0000-4000-8000-000000000002"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = mw(dir.path(), None, &["history", "show", "0123"], &[]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("no run has an id starting with it"),
        "{}",
        stderr(&out)
    );

    let out = run(dir.path(), None, &file, &["--no-history"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!stderr(&out).contains("recorded"), "{}", stderr(&out));
    let out = mw(
        dir.path(),
        None,
        &["run", "--journal-path", "j.json", &file],
        &[("MONKEYWRENCH_NO_HISTORY", "1")],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        list(dir.path(), None, &[]).len(),
        2,
        "neither opted-out run is recorded"
    );
}

#[test]
fn retention_keeps_the_newest_runs_and_prune_applies_it_by_hand() {
    let dir = TempDir::new("history-retention");
    let file = write(dir.path(), "passing.yaml", PASSING);
    for _ in 0..3 {
        let out = mw(
            dir.path(),
            None,
            &["run", "--journal-path", "j.json", &file],
            &[("MONKEYWRENCH_HISTORY_KEEP_RUNS", "2")],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert_eq!(list(dir.path(), None, &[]).len(), 2);
    let out = mw(
        dir.path(),
        None,
        &["history", "prune", "--keep-runs", "1"],
        &[],
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("pruned 1 runs ("),
        "{said}{}",
        stderr(&out)
    );
    assert_eq!(list(dir.path(), None, &[]).len(), 1);
}

#[test]
fn a_store_that_cannot_be_opened_costs_a_warning_not_the_run() {
    let dir = TempDir::new("history-nostore");
    let file = write(dir.path(), "passing.yaml", PASSING);
    write(dir.path(), "plain-file", "x");
    let store = dir.path().join("plain-file/ledger.db");
    let out = run(dir.path(), Some(&store.to_string_lossy()), &file, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("warning: history").count(), 1, "{err}");
    assert!(
        err.contains("the run goes on without being recorded"),
        "{err}"
    );
    assert!(dir.path().join("journal.json").exists());
    // PostgreSQL that refuses connections.
    let port = crate::harness::closed_port();
    let out = run(
        dir.path(),
        Some(&format!("postgres://u@127.0.0.1:{port}/db")),
        &file,
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches("warning: history").count(),
        1,
        "{}",
        stderr(&out)
    );
}

/// Pids of the live children of `pid`.
fn children(pid: u32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let ppid: Option<u32> = after.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    found
}

#[test]
fn a_sigkilled_run_is_found_interrupted_by_the_next_opener() {
    let dir = TempDir::new("history-kill");
    let file = write(
        dir.path(),
        "long.yaml",
        &PASSING.replace(
            "name: nothing-much\n    provider: {type: process, path: \"true\"}",
            "name: long-sleep\n    provider: {type: process, path: sleep, arguments: \"60\"}",
        ),
    );
    let mut child = Command::new(binary())
        .args(["run", "--journal-path", "journal.json", &file])
        .current_dir(dir.path())
        .env("MONKEYWRENCH_STATE_DIR", dir.path().join("state"))
        .env_remove("MONKEYWRENCH_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the long activity to be running (its sleep is our run's child).
    let mut sleepers = Vec::new();
    for _ in 0..600 {
        sleepers = children(child.id());
        let running = list(dir.path(), None, &["--status", "running"]);
        if !sleepers.is_empty() && running.len() == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!sleepers.is_empty(), "the long activity started");
    assert_eq!(
        list(dir.path(), None, &["--status", "running"]).len(),
        1,
        "a live run stays running"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    for pid in sleepers {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let out = mw(dir.path(), None, &["history", "--output", "json"], &[]);
    assert!(
        stderr(&out).contains("had lost its process: marked interrupted"),
        "{}",
        stderr(&out)
    );
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs[0]["status"], "interrupted");
    assert!(runs[0]["note"].as_str().unwrap().contains("process died"));
    assert!(runs[0]["ended_at"].is_string());
    let id = runs[0]["id"].as_str().unwrap();
    let out = mw(dir.path(), None, &["history", "show", id, "--events"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"event\":\"activity-started\"") && text.contains("long-sleep"),
        "{text}"
    );
    assert!(!text.contains("run-finished"), "{text}");
}

#[test]
fn junit_has_a_case_per_probe_and_activity_that_a_real_parser_reads() {
    let dir = TempDir::new("history-junit");
    let file = write(dir.path(), "deviating.yaml", DEVIATING);
    let out = run(
        dir.path(),
        None,
        &file,
        &["--junit", "report.xml", "--no-history"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let script = r#"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
suites = root.findall("testsuite")
assert len(suites) == 1
s = suites[0]
for attr in ("name", "tests", "failures", "errors", "time", "timestamp", "hostname"):
    assert attr in s.attrib, attr
cases = s.findall("testcase")
assert int(s.get("tests")) == len(cases)
for c in cases:
    assert set(c.attrib) == {"classname", "name", "time"}, c.attrib
    float(c.get("time"))
    for f in c.findall("failure"):
        assert f.get("message") and f.get("type")
failed = [(c.get("classname"), c.get("name"), c.find("failure").get("message")) for c in cases if c.find("failure") is not None]
assert int(s.get("failures")) == len(failed)
print(s.get("name"))
for c in cases:
    print(c.get("classname"), c.get("name"))
for f in failed:
    print("FAILED", *f)
"#;
    let py = Command::new("python3")
        .args([
            "-c",
            script,
            &dir.path().join("report.xml").to_string_lossy(),
        ])
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let text = String::from_utf8_lossy(&py.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "deviating <check> & friends",
            "steady-state-hypothesis.before marker-exists",
            "steady-state-hypothesis.after marker-exists",
            "method remove-marker",
            "run verdict",
            "FAILED steady-state-hypothesis.after marker-exists tolerance not met",
            "FAILED run verdict the run deviated: status completed",
        ]
    );
    let out = run(
        dir.path(),
        None,
        &file,
        &["--junit", "/nonexistent/dir/report.xml"],
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("write the JUnit file /nonexistent/dir/report.xml"),
        "{}",
        stderr(&out)
    );
}
