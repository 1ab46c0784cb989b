//! JUnit XML from a journal, the format CI systems already display (`run --junit FILE`): one
//! `testsuite` per run; one `testcase` per steady-state probe (before and after), per method
//! activity and per rollback, failing when the probe's tolerance was unmet or the activity failed;
//! and one `verdict` case that fails when the run did not pass (a deviation seen only by a during
//! iteration, an interruption), so the build goes red exactly when `run` exits non-zero. The shape
//! follows the common JUnit schema (Ant's, which Jenkins and GitLab read).

use serde_json::Value;

struct Case {
    classname: &'static str,
    name: String,
    time: f64,
    failure: Option<(String, &'static str, String)>,
}

/// The JUnit document for `journal`.
pub fn from_journal(journal: &Value) -> String {
    let mut cases = Vec::new();
    for (phase, classname) in [
        ("before", "steady-state-hypothesis.before"),
        ("after", "steady-state-hypothesis.after"),
    ] {
        for probe in entries(&journal["steady_states"][phase]["probes"]) {
            let failure = if probe["status"] == "failed" {
                Some(exception(probe))
            } else if probe["tolerance_met"] == Value::Bool(false) {
                Some((
                    "tolerance not met".to_string(),
                    "ToleranceNotMet",
                    format!("output: {}", probe["output"]),
                ))
            } else {
                None
            };
            cases.push(case(classname, probe, failure));
        }
    }
    for (key, classname) in [("run", "method"), ("rollbacks", "rollbacks")] {
        for entry in entries(&journal[key]) {
            let failure = (entry["status"] == "failed").then(|| exception(entry));
            cases.push(case(classname, entry, failure));
        }
    }
    let mw = &journal["monkeywrench"];
    let outcome = mw["outcome"].as_str().unwrap_or("unknown");
    let status = journal["status"].as_str().unwrap_or("unknown");
    cases.push(Case {
        classname: "run",
        name: "verdict".to_string(),
        time: journal["duration"].as_f64().unwrap_or(0.0),
        failure: (outcome != "passed").then(|| {
            let detail = journal["interruption"]["reason"]
                .as_str()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            (
                format!("the run {outcome}: status {status}{detail}"),
                "RunVerdict",
                format!(
                    "outcome: {outcome}\nstatus: {status}\ndeviated: {}\nexit code: {}",
                    journal["deviated"], mw["exit_code"]
                ),
            )
        }),
    });

    let title = journal["experiment"]["title"]
        .as_str()
        .unwrap_or("experiment");
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let time = journal["duration"].as_f64().unwrap_or(0.0);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"monkeywrench\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.6}\">\n",
        cases.len()
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time:.6}\" timestamp=\"{}\" hostname=\"{}\">\n",
        escape(title),
        cases.len(),
        escape(journal["start"].as_str().unwrap_or("").get(..19).unwrap_or("")),
        escape(journal["node"].as_str().unwrap_or("")),
    ));
    xml.push_str("    <properties>\n");
    for (name, value) in [
        ("run_id", mw["run_id"].as_str().unwrap_or("").to_string()),
        ("outcome", outcome.to_string()),
        ("status", status.to_string()),
        ("deviated", journal["deviated"].to_string()),
        ("exit_code", mw["exit_code"].to_string()),
    ] {
        xml.push_str(&format!(
            "      <property name=\"{name}\" value=\"{}\"/>\n",
            escape(&value)
        ));
    }
    xml.push_str("    </properties>\n");
    for c in &cases {
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.6}\"",
            c.classname,
            escape(&c.name),
            c.time
        );
        match &c.failure {
            None => xml.push_str(&format!("{open}/>\n")),
            Some((message, kind, body)) => xml.push_str(&format!(
                "{open}>\n      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n    </testcase>\n",
                escape(message),
                escape(body)
            )),
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn entries(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn case(
    classname: &'static str,
    entry: &Value,
    failure: Option<(String, &'static str, String)>,
) -> Case {
    Case {
        classname,
        name: entry["activity"]["name"]
            .as_str()
            .unwrap_or("unnamed")
            .to_string(),
        time: entry["duration"].as_f64().unwrap_or(0.0),
        failure,
    }
}

/// The failure of an entry that errored: its message, and the whole exception list as the body.
fn exception(entry: &Value) -> (String, &'static str, String) {
    let lines: Vec<&str> = entries(&entry["exception"])
        .filter_map(Value::as_str)
        .collect();
    let last = lines
        .last()
        .copied()
        .unwrap_or("the activity failed")
        .trim_end();
    let message = last
        .strip_prefix("chaoslib.exceptions.ActivityFailed: ")
        .unwrap_or(last)
        .to_string();
    (message, "ActivityFailed", lines.concat())
}

/// Escapes text for an attribute or element; characters XML 1.0 cannot hold at all (most control
/// characters) become U+FFFD.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push_str(&format!("&#{};", c as u32)),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn journal() -> Value {
        json!({
            "experiment": {"title": "checkout <latency> & \"more\""},
            "start": "2026-12-02T10:00:00.000000+00:00",
            "node": "host-1",
            "status": "completed",
            "deviated": true,
            "duration": 2.5,
            "steady_states": {
                "before": {"steady_state_met": true, "probes": [
                    {"activity": {"name": "up"}, "status": "succeeded", "tolerance_met": true, "duration": 0.1, "output": 200}
                ]},
                "after": {"steady_state_met": false, "probes": [
                    {"activity": {"name": "up"}, "status": "succeeded", "tolerance_met": false, "duration": 0.2, "output": 503}
                ]},
                "during": []
            },
            "run": [
                {"activity": {"name": "kill\u{1}it"}, "status": "failed", "duration": 0.3,
                 "exception": ["chaoslib.exceptions.ActivityFailed: exit 1: <boom> 'x'\n"]}
            ],
            "rollbacks": [],
            "monkeywrench": {"run_id": "abc", "outcome": "deviated", "exit_code": 1}
        })
    }

    #[test]
    fn one_case_per_probe_and_activity_plus_the_verdict_escaped() {
        let xml = from_journal(&journal());
        assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
        assert!(xml.contains("tests=\"4\" failures=\"3\""), "{xml}");
        assert!(xml.contains("name=\"checkout &lt;latency&gt; &amp; &quot;more&quot;\""));
        assert!(
            xml.contains("message=\"exit 1: &lt;boom&gt; &apos;x&apos;\""),
            "{xml}"
        );
        assert!(xml.contains("name=\"kill\u{FFFD}it\""), "{xml}");
        assert!(xml.contains("message=\"the run deviated: status completed\""));
        assert!(
            xml.contains(
                "classname=\"steady-state-hypothesis.after\" name=\"up\" time=\"0.200000\""
            )
        );
        assert!(xml.contains("timestamp=\"2026-12-02T10:00:00\""));
    }

    #[test]
    fn a_passed_run_has_no_failures() {
        let mut j = journal();
        j["steady_states"]["after"]["probes"][0]["tolerance_met"] = json!(true);
        j["run"][0]["status"] = json!("succeeded");
        j["monkeywrench"]["outcome"] = json!("passed");
        let xml = from_journal(&j);
        assert!(!xml.contains("<failure"), "{xml}");
        assert!(xml.contains("failures=\"0\""));
    }
}
