//! Journals compared with real Chaos Toolkit journals for the same files (spec §12 items marked
//! "CTK"): same top-level keys in the same order, same entry shapes and types, same verdicts.
//! `scripts/ctk-venv` installs `chaos` from PyPI; `scripts/test` sets MONKEYWRENCH_TEST_CTK.

use serde_json::Value;

use crate::harness::{TempDir, run_experiment, write};

pub(crate) fn chaos() -> Option<String> {
    match std::env::var("MONKEYWRENCH_TEST_CTK") {
        Ok(path) => Some(path),
        Err(_) => {
            assert!(
                std::env::var("MONKEYWRENCH_REQUIRE_CTK").is_err(),
                "MONKEYWRENCH_TEST_CTK is not set but the Chaos Toolkit comparison is required"
            );
            eprintln!(
                "SKIPPED: set MONKEYWRENCH_TEST_CTK to a `chaos` executable (scripts/ctk-venv)"
            );
            None
        }
    }
}

fn ctk_journal(chaos: &str, dir: &std::path::Path, file: &str, args: &[&str]) -> (i32, Value) {
    ctk_journal_with_env(chaos, dir, file, args, &[])
}

/// `chaos run` on `file` in `dir` with extra environment variables; its exit code and journal.
pub(crate) fn ctk_journal_with_env(
    chaos: &str,
    dir: &std::path::Path,
    file: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, Value) {
    let journal = dir.join("ctk-journal.json");
    let _ = std::fs::remove_file(&journal);
    let out = std::process::Command::new(chaos)
        .envs(env.iter().copied())
        .args([
            "--no-version-check",
            "run",
            "--journal-path",
            &journal.to_string_lossy(),
        ])
        .args(args)
        .arg(file)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&journal).unwrap_or_else(|_| {
        panic!(
            "chaos wrote no journal: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&text).unwrap(),
    )
}

pub(crate) fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key CTK writes appears in ours, in the same order and with the same JSON type.
pub(crate) fn assert_same_shape(ctk: &Value, ours: &Value, path: &str) {
    match (ctk, ours) {
        (Value::Object(c), Value::Object(o)) => {
            let ours_keys: Vec<&String> = o.keys().filter(|k| c.contains_key(*k)).collect();
            let ctk_keys: Vec<&String> = c.keys().collect();
            assert_eq!(ctk_keys, ours_keys, "key order at {path}");
            for (k, cv) in c {
                assert_same_shape(cv, &o[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(c), Value::Array(o)) => {
            assert_eq!(c.len(), o.len(), "length at {path}");
            for (i, (cv, ov)) in c.iter().zip(o).enumerate() {
                assert_same_shape(cv, ov, &format!("{path}[{i}]"));
            }
        }
        (c, o) => assert_eq!(kind(c), kind(o), "type at {path}: ctk {c} vs ours {o}"),
    }
}

#[test]
fn continuously_sample_journal_matches_chaos_toolkit() {
    let Some(chaos) = chaos() else { return };
    let dir = TempDir::new("ctk-continuously");
    let file = write(
        dir.path(),
        "e.json",
        r#"{"title": "t ${x}", "description": "d", "configuration": {"x": "1"},
            "steady-state-hypothesis": {"title": "h", "probes": [
              {"type": "probe", "name": "p", "tolerance": 0, "provider": {"type": "process", "path": "true"}},
              {"type": "probe", "name": "tmp", "tolerance": true, "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": "/tmp"}}}]},
            "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "sleep", "arguments": ["1.3"]}},
                       {"ref": "p"}],
            "rollbacks": [{"type": "action", "name": "rb", "provider": {"type": "process", "path": "echo", "arguments": ["x"]}}]}"#,
    );
    let args = [
        "--hypothesis-strategy",
        "continuously",
        "--hypothesis-frequency",
        "1",
    ];
    let (ctk_code, ctk) = ctk_journal(&chaos, dir.path(), &file, &args);
    let (out, ours) = run_experiment(dir.path(), &file, &args);
    let ours = ours.unwrap();
    assert_eq!(ctk_code, 0);
    assert_eq!(out.status.code(), Some(0));
    let ctk_top = keys(&ctk);
    let ours_top: Vec<String> = keys(&ours)
        .into_iter()
        .filter(|k| k != "monkeywrench")
        .collect();
    assert_eq!(ctk_top, ours_top);
    for key in ["status", "deviated"] {
        assert_eq!(ctk[key], ours[key], "{key}");
    }
    assert_eq!(ctk["experiment"]["title"], ours["experiment"]["title"]);
    assert_eq!(ctk["experiment"]["dry"], ours["experiment"]["dry"]);
    // During iterations are timing-dependent in count; compare the shape of the first.
    let mut ctk_cmp = ctk.clone();
    let mut ours_cmp = ours.clone();
    for j in [&mut ctk_cmp, &mut ours_cmp] {
        let during = j["steady_states"]["during"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        j["steady_states"]["during"] = Value::Array(during.into_iter().take(1).collect());
        j.as_object_mut().unwrap().shift_remove("experiment");
    }
    assert_same_shape(&ctk_cmp, &ours_cmp, "journal");
    assert_eq!(entry_names(&ctk["run"]), entry_names(&ours["run"]));
}

pub(crate) fn entry_names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["activity"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn verdicts_match_chaos_toolkit_for_the_ctk_items_of_the_spec() {
    let Some(chaos) = chaos() else { return };
    let dir = TempDir::new("ctk-verdicts");
    let cases = [
        // §12.4: exact placeholder tolerance keeps the type.
        r#"{"title": "t", "description": "d", "configuration": {"expected": 0},
            "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "p", "tolerance": "${expected}", "provider": {"type": "process", "path": "true"}}]},
            "method": []}"#,
        // §12.7: a failing command is a succeeded action.
        r#"{"title": "t", "description": "d", "method": [{"type": "action", "name": "f", "provider": {"type": "process", "path": "false"}}]}"#,
        // §12.9: an unmet gate skips the method.
        r#"{"title": "t", "description": "d",
            "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "p", "tolerance": 0, "provider": {"type": "process", "path": "false"}}]},
            "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "true"}}],
            "rollbacks": [{"type": "action", "name": "rb", "provider": {"type": "process", "path": "true"}}]}"#,
        // §12.5: escapes with configuration.
        r#"{"title": "t", "description": "d", "configuration": {"k": 1},
            "method": [{"type": "action", "name": "echo", "provider": {"type": "process", "path": "echo", "arguments": ["$$x", "${nope}", "${k}"]}}]}"#,
    ];
    for (i, text) in cases.iter().enumerate() {
        let file = write(dir.path(), &format!("case{i}.json"), text);
        let (_, ctk) = ctk_journal(&chaos, dir.path(), &file, &[]);
        let (_, ours) = run_experiment(dir.path(), &file, &[]);
        let ours = ours.unwrap();
        for key in ["status", "deviated"] {
            assert_eq!(ctk[key], ours[key], "case {i}: {key}");
        }
        assert_eq!(
            entry_names(&ctk["run"]),
            entry_names(&ours["run"]),
            "case {i}: run"
        );
        assert_eq!(
            entry_names(&ctk["rollbacks"]),
            entry_names(&ours["rollbacks"]),
            "case {i}: rollbacks"
        );
        for (c, o) in ctk["run"]
            .as_array()
            .unwrap()
            .iter()
            .zip(ours["run"].as_array().unwrap())
        {
            assert_eq!(c["output"], o["output"], "case {i}: output");
            assert_eq!(c["status"], o["status"], "case {i}: entry status");
        }
        assert_eq!(
            ctk["steady_states"]["before"]["steady_state_met"],
            ours["steady_states"]["before"]["steady_state_met"],
            "case {i}: before"
        );
    }
}
