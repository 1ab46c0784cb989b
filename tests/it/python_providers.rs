//! Python providers and controls through the user's interpreter, compared with real `chaos run`
//! on the same files in the same venv (the CTK venv of `scripts/ctk-venv`): a local module of the
//! test's own (configuration/secrets parameters, an exception, a sleep past a timeout) and a
//! control module that records its hook calls.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::ctk_compat::{assert_same_shape, chaos, ctk_journal_with_env, entry_names, keys};
use crate::harness::{TempDir, binary, stderr, write};

const MODULE: &str = r#"
import os, time

def greet(name, configuration=None, secrets=None):
    print("a print must not corrupt the worker's protocol")
    return {"hello": name, "who": (configuration or {}).get("who"),
            "has_token": (secrets or {}).get("token") == "s3cr3t"}

def boom(x=1):
    raise ValueError("boom %s" % x)

def is_world(value=None):
    return value["hello"] == "world"

def token():
    return "dynamic-value"

def echo(text):
    return text

def slow(pid_file, seconds=60):
    with open(pid_file, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(seconds)
    return "slept"

def gone(pid_file):
    # The worker that slept past its timeout must be dead (or a zombie awaiting its reaper).
    pid = int(open(pid_file).read())
    for _ in range(100):
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    return pid != os.getpid()
        except FileNotFoundError:
            return pid != os.getpid()
        time.sleep(0.05)
    return False
"#;

const CONTROL: &str = r#"
def _record(path, what):
    with open(path, "a") as f:
        f.write(what + "\n")

def configure_control(path, experiment=None, configuration=None, secrets=None, settings=None):
    _record(path, "configure_control")

def before_experiment_control(context, path, **kwargs):
    _record(path, "before_experiment_control")

def after_experiment_control(context, state, path, **kwargs):
    _record(path, "after_experiment_control:" + str(state.get("status")))

def before_hypothesis_control(context, path, **kwargs):
    _record(path, "before_hypothesis_control:" + context.get("title", "?"))

def after_hypothesis_control(context, state, path, **kwargs):
    _record(path, "after_hypothesis_control:" + str(state.get("steady_state_met")))

def before_method_control(context, path, **kwargs):
    _record(path, "before_method_control")

def after_method_control(context, state, path, **kwargs):
    _record(path, "after_method_control:%d" % len(state))

def before_rollback_control(context, path, **kwargs):
    _record(path, "before_rollback_control")

def after_rollback_control(context, state, path, **kwargs):
    _record(path, "after_rollback_control:%d" % len(state))

def before_activity_control(context, path, **kwargs):
    _record(path, "before_activity_control:" + context.get("name", "?"))

def after_activity_control(context, state, path, **kwargs):
    _record(path, "after_activity_control:%s:%s" % (context.get("name", "?"), state.get("status")))

def cleanup_control(**kwargs):
    pass
"#;

/// The `python` of the venv that holds `chaos`.
fn venv_python(chaos: &str) -> PathBuf {
    Path::new(chaos).with_file_name("python")
}

fn setup(label: &str) -> TempDir {
    let dir = TempDir::new(label);
    write(dir.path(), "mwtestmod.py", MODULE);
    write(dir.path(), "mwtestctl.py", CONTROL);
    dir
}

fn ours(dir: &Path, python: &Path, args: &[&str], file: &str) -> (Output, Option<Value>) {
    let journal = dir.join("journal.json");
    let _ = std::fs::remove_file(&journal);
    let out = Command::new(binary())
        .args(["run", "--journal-path", &journal.to_string_lossy()])
        .args(["--python", &python.to_string_lossy()])
        .args(args)
        .arg(file)
        .env("PYTHONPATH", dir)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let doc = std::fs::read_to_string(&journal)
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    (out, doc)
}

fn theirs(chaos: &str, dir: &Path, file: &str) -> Value {
    let pythonpath = dir.to_string_lossy().into_owned();
    ctk_journal_with_env(chaos, dir, file, &[], &[("PYTHONPATH", &pythonpath)]).1
}

fn entries(j: &Value, key: &str) -> Vec<Value> {
    j[key].as_array().cloned().unwrap_or_default()
}

/// The message of a failed entry without the `activity "name": ` prefix we add.
fn failure(entry: &Value) -> String {
    let last = entry["exception"]
        .as_array()
        .and_then(|e| e.last())
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim_end()
        .to_string();
    last.trim_start_matches("chaoslib.exceptions.ActivityFailed: ")
        .split_once("\": ")
        .map(|(_, m)| m.to_string())
        .unwrap_or_else(|| {
            last.trim_start_matches("chaoslib.exceptions.ActivityFailed: ")
                .to_string()
        })
}

const EXPERIMENT: &str = r#"{"title": "python providers", "description": "d",
  "configuration": {"who": "from-configuration",
                    "token_value": {"type": "probe", "provider": {"type": "python", "module": "mwtestmod", "func": "token"}}},
  "secrets": {"grp": {"token": "s3cr3t"}},
  "steady-state-hypothesis": {"title": "h", "probes": [
    {"type": "probe", "name": "greet-world",
     "tolerance": {"type": "probe", "name": "is-world", "provider": {"type": "python", "module": "mwtestmod", "func": "is_world", "arguments": {}}},
     "provider": {"type": "python", "module": "mwtestmod", "func": "greet", "arguments": {"name": "world"}, "secrets": ["grp"]}},
    {"ref": "echo-dynamic", "tolerance": "dynamic-value"}]},
  "method": [
    {"type": "action", "name": "explode", "provider": {"type": "python", "module": "mwtestmod", "func": "boom", "arguments": {"x": 2}}},
    {"type": "probe", "name": "echo-dynamic", "provider": {"type": "python", "module": "mwtestmod", "func": "echo", "arguments": {"text": "${token_value}"}}},
    {"ref": "greet-world"}],
  "rollbacks": [
    {"type": "action", "name": "greet-rollback", "provider": {"type": "python", "module": "mwtestmod", "func": "greet", "arguments": {"name": "rollback"}}}]}"#;

#[test]
fn python_providers_match_chaos_toolkit() {
    let Some(chaos) = chaos() else { return };
    let python = venv_python(&chaos);
    let dir = setup("py-providers");
    let file = write(dir.path(), "e.json", EXPERIMENT);
    let ctk = theirs(&chaos, dir.path(), &file);
    let (out, ours) = ours(dir.path(), &python, &[], &file);
    let ours = ours.unwrap_or_else(|| panic!("no journal: {}", stderr(&out)));
    for key in ["status", "deviated"] {
        assert_eq!(ctk[key], ours[key], "{key}: {}", stderr(&out));
    }
    assert_eq!(ctk["status"], "completed");
    let ours_top: Vec<String> = keys(&ours)
        .into_iter()
        .filter(|k| k != "monkeywrench")
        .collect();
    assert_eq!(keys(&ctk), ours_top);
    for section in ["run", "rollbacks"] {
        assert_eq!(
            entry_names(&ctk[section]),
            entry_names(&ours[section]),
            "{section}"
        );
        for (c, o) in entries(&ctk, section)
            .iter()
            .zip(entries(&ours, section).iter())
        {
            assert_eq!(
                c["status"], o["status"],
                "{section} {}",
                c["activity"]["name"]
            );
            assert_eq!(
                c["output"], o["output"],
                "{section} {}",
                c["activity"]["name"]
            );
            if c["status"] == "failed" {
                assert_eq!(failure(c), failure(o));
            }
            // CTK writes `value` into a probe tolerance's arguments in place; compare the rest.
            let strip = |e: &Value| {
                let mut e = e.clone();
                e.as_object_mut().unwrap().shift_remove("activity");
                e
            };
            assert_same_shape(&strip(c), &strip(o), section);
        }
    }
    let run = entries(&ours, "run");
    assert_eq!(failure(&run[0]), "ValueError: boom 2");
    assert_eq!(run[1]["output"], "dynamic-value");
    assert_eq!(
        run[2]["output"],
        serde_json::json!({"hello": "world", "who": "from-configuration", "has_token": true})
    );
    assert!(
        run[0]["monkeywrench"]["undo"]
            .as_str()
            .unwrap()
            .contains("not in the ledger")
    );
    for phase in ["before", "after"] {
        let c = &ctk["steady_states"][phase];
        let o = &ours["steady_states"][phase];
        assert_eq!(c["steady_state_met"], o["steady_state_met"], "{phase}");
        assert_eq!(
            entry_names(&c["probes"]),
            entry_names(&o["probes"]),
            "{phase}"
        );
        for (cp, op) in entries(c, "probes").iter().zip(entries(o, "probes").iter()) {
            assert_eq!(cp["output"], op["output"]);
            assert_eq!(cp["tolerance_met"], op["tolerance_met"]);
        }
    }
}

#[test]
fn control_hooks_run_in_chaos_toolkit_order() {
    let Some(chaos) = chaos() else { return };
    let python = venv_python(&chaos);
    let dir = setup("py-controls");
    let experiment = |log: &str| {
        format!(
            r#"{{"title": "controls", "description": "d",
  "controls": [{{"name": "recorder", "provider": {{"type": "python", "module": "mwtestctl", "arguments": {{"path": "{log}"}}}}}}],
  "steady-state-hypothesis": {{"title": "h", "probes": [
    {{"type": "probe", "name": "p", "tolerance": "x", "provider": {{"type": "python", "module": "mwtestmod", "func": "echo", "arguments": {{"text": "x"}}}}}}]}},
  "method": [
    {{"type": "action", "name": "a1", "provider": {{"type": "python", "module": "mwtestmod", "func": "echo", "arguments": {{"text": "1"}}}}}},
    {{"type": "action", "name": "a2", "provider": {{"type": "python", "module": "mwtestmod", "func": "boom"}}}}],
  "rollbacks": [{{"type": "action", "name": "rb", "provider": {{"type": "python", "module": "mwtestmod", "func": "echo", "arguments": {{"text": "r"}}}}}}]}}"#
        )
    };
    let ctk_log = dir.path().join("ctk-hooks.log");
    let our_log = dir.path().join("our-hooks.log");
    let ctk_file = write(
        dir.path(),
        "ctk.json",
        &experiment(&ctk_log.to_string_lossy()),
    );
    let our_file = write(
        dir.path(),
        "ours.json",
        &experiment(&our_log.to_string_lossy()),
    );
    let ctk = theirs(&chaos, dir.path(), &ctk_file);
    let (out, ours) = ours(dir.path(), &python, &[], &our_file);
    let ours = ours.unwrap_or_else(|| panic!("no journal: {}", stderr(&out)));
    assert_eq!(ctk["status"], ours["status"]);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let (ctk_hooks, our_hooks) = (read(&ctk_log), read(&our_log));
    assert!(
        ctk_hooks.contains("before_activity_control:a1"),
        "{ctk_hooks}"
    );
    assert_eq!(ctk_hooks, our_hooks, "stderr: {}", stderr(&out));
}

#[test]
fn a_python_activity_past_its_timeout_kills_the_worker_and_the_next_runs() {
    let Some(chaos) = chaos() else { return };
    let python = venv_python(&chaos);
    let dir = setup("py-timeout");
    let pid_file = dir.path().join("slow.pid");
    let pid = pid_file.to_string_lossy();
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d", "method": [
  {{"type": "action", "name": "slow", "timeout": 1, "provider": {{"type": "python", "module": "mwtestmod", "func": "slow", "arguments": {{"pid_file": "{pid}"}}}}}},
  {{"type": "probe", "name": "gone", "provider": {{"type": "python", "module": "mwtestmod", "func": "gone", "arguments": {{"pid_file": "{pid}"}}}}}}],
  "rollbacks": [{{"type": "action", "name": "rb", "provider": {{"type": "python", "module": "mwtestmod", "func": "echo", "arguments": {{"text": "after"}}}}}}]}}"#
        ),
    );
    let (out, journal) = ours(dir.path(), &python, &[], &file);
    let journal = journal.unwrap_or_else(|| panic!("no journal: {}", stderr(&out)));
    let run = entries(&journal, "run");
    assert_eq!(run[0]["status"], "failed");
    assert_eq!(run[0]["monkeywrench"]["cancelled"], "timeout");
    assert!(
        failure(&run[0]).contains("timed out after 1 s"),
        "{}",
        run[0]
    );
    assert_eq!(run[1]["status"], "succeeded", "{}", run[1]);
    assert_eq!(
        run[1]["output"], true,
        "the timed-out worker is still alive"
    );
    assert_eq!(entries(&journal, "rollbacks")[0]["output"], "after");
}

#[test]
fn a_missing_extension_names_its_package_at_the_provider_and_chaos_refuses_too() {
    let Some(chaos) = chaos() else { return };
    let python = venv_python(&chaos);
    let dir = setup("py-missing");
    let file = write(
        dir.path(),
        "e.yaml",
        "title: t\ndescription: d\nmethod:\n  - type: action\n    name: kill\n    provider:\n      type: python\n      module: chaosk8s.pod.actions\n      func: exec_in_pods\n      arguments: {cmd: ls, label_selector: app=x}\n",
    );
    let out = Command::new(binary())
        .args(["validate", "--python", &python.to_string_lossy(), &file])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{file}:8:15: error: method[0].provider.module:"))
            && err.contains("pip install chaostoolkit-kubernetes"),
        "{err}"
    );
    let ctk = Command::new(&chaos)
        .args(["--no-version-check", "validate", &file])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_ne!(
        ctk.status.code(),
        Some(0),
        "chaos validate accepted a missing module"
    );
}

#[test]
fn without_an_interpreter_validation_says_so_once_with_the_fix() {
    let dir = setup("py-none");
    let file = write(
        dir.path(),
        "e.yaml",
        "title: t\ndescription: d\nmethod:\n  - type: probe\n    name: a\n    provider: {type: python, module: mwtestmod, func: echo, arguments: {text: a}}\n  - type: probe\n    name: b\n    provider: {type: python, module: mwtestmod, func: echo, arguments: {text: b}}\n",
    );
    let out = Command::new(binary())
        .args(["validate", &file])
        .env("MONKEYWRENCH_PYTHON", "/nonexistent")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert_eq!(err.matches("no Python interpreter").count(), 1, "{err}");
    assert!(
        err.contains("MONKEYWRENCH_PYTHON=/nonexistent") && err.contains("--python PATH"),
        "{err}"
    );
    // Experiments without Python need no interpreter at all.
    let plain = write(
        dir.path(),
        "plain.yaml",
        "title: t\ndescription: d\nmethod:\n  - type: probe\n    name: a\n    provider: {type: process, path: 'true'}\n",
    );
    let out = Command::new(binary())
        .args([
            "run",
            "--journal-path",
            &dir.path().join("j.json").to_string_lossy(),
            &plain,
        ])
        .env("MONKEYWRENCH_PYTHON", "/nonexistent")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn the_worker_dies_with_monkeywrench() {
    let Some(chaos) = chaos() else { return };
    let python = venv_python(&chaos);
    let dir = setup("py-orphan");
    let pid_file = dir.path().join("slow.pid");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d", "method": [
  {{"type": "action", "name": "slow", "provider": {{"type": "python", "module": "mwtestmod", "func": "slow", "arguments": {{"pid_file": "{}", "seconds": 120}}}}}}]}}"#,
            pid_file.to_string_lossy()
        ),
    );
    let mut child = Command::new(binary())
        .args([
            "run",
            "--journal-path",
            &dir.path().join("j.json").to_string_lossy(),
        ])
        .args(["--python", &python.to_string_lossy(), &file])
        .env("PYTHONPATH", dir.path())
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut worker = None;
    for _ in 0..300 {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            worker = Some(pid);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let worker = worker.expect("the worker wrote its pid");
    child.kill().unwrap(); // SIGKILL to the monkeywrench we started: no cleanup code runs
    child.wait().unwrap();
    let alive = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().next())
                    != Some("Z")
            })
            .unwrap_or(false)
    };
    for _ in 0..200 {
        if !alive(worker) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the Python worker {worker} outlived the killed monkeywrench");
}

#[test]
fn a_control_raising_interrupt_execution_interrupts_the_run_like_chaos() {
    let Some(chaos) = chaos() else { return };
    let python = venv_python(&chaos);
    let dir = setup("py-interrupt");
    write(
        dir.path(),
        "mwstopper.py",
        "from chaoslib.exceptions import InterruptExecution\n\ndef before_method_control(context, **kwargs):\n    raise InterruptExecution(\"stop here\")\n",
    );
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t", "description": "d",
  "controls": [{"name": "stopper", "provider": {"type": "python", "module": "mwstopper"}}],
  "steady-state-hypothesis": {"title": "h", "probes": [
    {"type": "probe", "name": "p", "tolerance": "x", "provider": {"type": "python", "module": "mwtestmod", "func": "echo", "arguments": {"text": "x"}}}]},
  "method": [{"type": "action", "name": "a", "provider": {"type": "python", "module": "mwtestmod", "func": "echo", "arguments": {"text": "a"}}}],
  "rollbacks": [{"type": "action", "name": "rb", "provider": {"type": "python", "module": "mwtestmod", "func": "echo", "arguments": {"text": "r"}}}]}"#,
    );
    let ctk = theirs(&chaos, dir.path(), &file);
    let (out, ours) = ours(dir.path(), &python, &[], &file);
    let ours = ours.unwrap_or_else(|| panic!("no journal: {}", stderr(&out)));
    assert_eq!(ctk["status"], "interrupted");
    assert_eq!(ctk["status"], ours["status"]);
    assert_eq!(entry_names(&ctk["run"]), entry_names(&ours["run"]));
    assert_eq!(
        entry_names(&ctk["rollbacks"]),
        entry_names(&ours["rollbacks"])
    );
    assert_eq!(ours["monkeywrench"]["outcome"], "interrupted");
    assert!(
        stderr(&out).contains("control \"stopper\" interrupted the run in before_method_control"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn background_python_activities_run_side_by_side_in_their_own_workers() {
    let Some(chaos) = chaos() else { return };
    let python = venv_python(&chaos);
    let dir = setup("py-background");
    write(
        dir.path(),
        "mwpair.py",
        "import os, time\n\ndef wait_for(mine, other):\n    open(mine, 'w').write(str(os.getpid()))\n    for _ in range(200):\n        if os.path.exists(other):\n            return os.getpid()\n        time.sleep(0.05)\n    raise TimeoutError('the other activity never ran alongside')\n",
    );
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d", "method": [
  {{"type": "action", "name": "a", "background": true, "provider": {{"type": "python", "module": "mwpair", "func": "wait_for", "arguments": {{"mine": "{a}", "other": "{b}"}}}}}},
  {{"type": "action", "name": "b", "background": true, "provider": {{"type": "python", "module": "mwpair", "func": "wait_for", "arguments": {{"mine": "{b}", "other": "{a}"}}}}}}]}}"#,
            a = a.to_string_lossy(),
            b = b.to_string_lossy()
        ),
    );
    let (out, journal) = ours(dir.path(), &python, &[], &file);
    let journal = journal.unwrap_or_else(|| panic!("no journal: {}", stderr(&out)));
    let run = entries(&journal, "run");
    assert_eq!(run.len(), 2);
    for e in &run {
        assert_eq!(e["status"], "succeeded", "{e}");
    }
    assert_ne!(run[0]["output"], run[1]["output"], "one worker each");
}

/// A control that keeps state from `configure_control` on: it stays in one process, as in
/// chaos, even when a provider's timeout kills the worker that ran it.
const STATEFUL_CONTROL: &str = r#"
import os
_configured = None
_log = None

def configure_control(path, **kwargs):
    global _configured, _log
    _configured, _log = os.getpid(), path

def after_activity_control(context, state, path, **kwargs):
    with open(path, "a") as f:
        f.write("%s:%s\n" % (context.get("name"), "same" if _configured == os.getpid() else "lost"))

def cleanup_control():
    with open(_log, "a") as f:
        f.write("cleanup:%s\n" % ("same" if _configured == os.getpid() else "lost"))
"#;

#[test]
fn controls_keep_their_state_when_a_provider_timeout_replaces_the_worker() {
    let Some(chaos) = chaos() else { return };
    let python = venv_python(&chaos);
    let dir = setup("py-control-state");
    write(dir.path(), "mwstatectl.py", STATEFUL_CONTROL);
    let log = dir.path().join("hooks.log");
    let pid = dir.path().join("slow.pid");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
  "controls": [{{"name": "state", "provider": {{"type": "python", "module": "mwstatectl", "arguments": {{"path": "{log}"}}}}}}],
  "method": [
    {{"type": "action", "name": "slow", "timeout": 1, "provider": {{"type": "python", "module": "mwtestmod", "func": "slow", "arguments": {{"pid_file": "{pid}"}}}}}},
    {{"type": "action", "name": "quick", "provider": {{"type": "python", "module": "mwtestmod", "func": "echo", "arguments": {{"text": "q"}}}}}}]}}"#,
            log = log.display(),
            pid = pid.display()
        ),
    );
    let (out, journal) = ours(dir.path(), &python, &[], &file);
    let journal = journal.unwrap_or_else(|| panic!("no journal: {}", stderr(&out)));
    assert_eq!(
        entries(&journal, "run")[0]["monkeywrench"]["cancelled"],
        "timeout"
    );
    assert_eq!(entries(&journal, "run")[1]["status"], "succeeded");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "slow:same\nquick:same\ncleanup:same\n",
        "stderr: {}",
        stderr(&out)
    );
}
