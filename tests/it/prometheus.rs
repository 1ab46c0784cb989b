//! PromQL against a real Prometheus (Debian's `prometheus`, started here on 127.0.0.1 with a
//! throwaway storage directory) that scrapes a real `monkeywrench proxy serve`'s `/metrics`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use monkeywrench::probe::prometheus::{InstantOutput, RangeOutput, Reduce, Server};
use serde_json::Value;

use crate::harness::{TempDir, closed_port};
use crate::proxy::Server as ProxyServer;

/// A Prometheus server scraping `targets` every second, killed on drop.
pub(crate) struct Prometheus {
    child: Child,
    pub url: String,
    _dir: TempDir,
}

impl Prometheus {
    /// `None` when Prometheus is not installed and the suite does not require it.
    pub(crate) fn start(job: &str, targets: &[String]) -> Option<Prometheus> {
        let binary =
            std::env::var("MONKEYWRENCH_TEST_PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
        let dir = TempDir::new("prometheus");
        let quoted: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = crate::harness::write(
            dir.path(),
            "prometheus.yml",
            &format!(
                "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
                 scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
                quoted.join(", ")
            ),
        );
        let port = closed_port();
        let spawned = Command::new(&binary)
            .args([
                &format!("--config.file={config}"),
                &format!("--web.listen-address=127.0.0.1:{port}"),
                &format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var("MONKEYWRENCH_REQUIRE_PROMETHEUS").is_err(),
                    "prometheus ({binary}) is required: {e}"
                );
                eprintln!("prometheus not found ({e}); skipped");
                return None;
            }
        };
        Some(Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        })
    }

    /// Waits until `query` returns at least one series (the first scrapes landed).
    pub(crate) async fn wait_for(&self, query: &str) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = client
                .get(format!("{}/api/v1/query", self.url))
                .query(&[("query", query)])
                .send()
                .await;
            if let Ok(a) = answer
                && let Ok(v) = a.json::<Value>().await
                && v["data"]["result"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
            {
                return;
            }
            assert!(Instant::now() < deadline, "Prometheus never had {query}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn instant_and_range_queries_against_a_real_prometheus_scraping_our_metrics() {
    let proxy = ProxyServer::start(&["--proxy-metrics", "--runtime-metrics"]).await;
    let target = proxy.base.trim_start_matches("http://").to_string();
    let Some(prometheus) = Prometheus::start("mw", &[target]) else {
        return;
    };
    prometheus.wait_for("process_open_fds{job=\"mw\"}").await;
    let server = Server {
        base_url: prometheus.url.clone(),
        timeout: Duration::from_secs(10),
        verify_tls: true,
    };

    let fds = server
        .instant("process_open_fds{job=\"mw\"}", None, InstantOutput::Value)
        .await
        .unwrap();
    assert!(fds.as_f64().is_some_and(|n| n >= 3.0), "{fds}");
    let up = server
        .instant("up", Some("now"), InstantOutput::Series)
        .await
        .unwrap();
    assert_eq!(up[0]["metric"]["job"], "mw", "{up}");
    assert_eq!(up[0]["value"], 1.0);
    // The raw answer, as chaosprometheus returns it.
    let raw = server
        .instant("up", None, InstantOutput::Response)
        .await
        .unwrap();
    assert_eq!(raw["status"], "success");
    assert_eq!(raw["data"]["resultType"], "vector");

    let last = server
        .range(
            "up",
            "1 minute ago",
            "now",
            1.0,
            RangeOutput::Reduce(Reduce::Last),
        )
        .await
        .unwrap();
    assert_eq!(last, 1.0);
    let points = server
        .range("up", "1 minute ago", "now", 1.0, RangeOutput::Series)
        .await
        .unwrap();
    assert!(
        !points[0]["values"].as_array().unwrap().is_empty(),
        "{points}"
    );

    // Bad input, answered with what Prometheus said or what to do.
    let syntax = server
        .instant("sum(", None, InstantOutput::Value)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        syntax.contains("400") && syntax.contains("sum("),
        "{syntax}"
    );
    let empty = server
        .instant("nothing_here", None, InstantOutput::Value)
        .await
        .unwrap_err()
        .to_string();
    assert!(empty.contains("no series"), "{empty}");
    let nobody = Server {
        base_url: format!("http://127.0.0.1:{}", closed_port()),
        timeout: Duration::from_secs(2),
        verify_tls: true,
    }
    .instant("up", None, InstantOutput::Value)
    .await
    .unwrap_err()
    .to_string();
    assert!(nobody.starts_with("cannot reach Prometheus at"), "{nobody}");
}

fn probe(name: &str, provider: Value, tolerance: Value) -> Value {
    serde_json::json!({"type": "probe", "name": name, "provider": provider, "tolerance": tolerance})
}

fn python_probe(func: &str, arguments: Value) -> Value {
    serde_json::json!({"type": "python", "module": "chaosprometheus.probes", "func": func, "arguments": arguments})
}

/// A file written for chaostoolkit-prometheus, run by the real `chaos` with the real extension
/// and by monkeywrench natively: the same verdicts, the same answers as the extension returns.
#[tokio::test]
async fn chaosprometheus_files_get_the_verdicts_and_answers_chaos_gives() {
    let Some(chaos) = crate::ctk_compat::chaos() else {
        return;
    };
    let proxy = ProxyServer::start(&["--proxy-metrics"]).await;
    let target = proxy.base.trim_start_matches("http://").to_string();
    let Some(prometheus) = Prometheus::start("mw", &[target]) else {
        return;
    };
    prometheus.wait_for("up{job=\"mw\"}").await;
    let dir = TempDir::new("chaosprometheus");
    let experiment = |expect_up: &str| {
        serde_json::json!({
            "title": "the service is scraped", "description": "chaosprometheus, unchanged",
            "configuration": {"prometheus_base_url": prometheus.url},
            "steady-state-hypothesis": {"title": "up", "probes": [
                probe("up-now", python_probe("query", serde_json::json!({"query": "up{job=\"mw\"}", "when": "now"})),
                      serde_json::json!({"type": "jsonpath", "path": "$.data.result[0].value[1]", "expect": expect_up})),
                probe("up-lately", python_probe("query_interval", serde_json::json!(
                        {"query": "up{job=\"mw\"}", "start": "30 seconds ago", "end": "now", "step": 1})),
                      serde_json::json!({"type": "jsonpath", "path": "$.data.resultType", "expect": "matrix"})),
            ]},
            "method": [probe("fds", python_probe("query", serde_json::json!({"query": "process_open_fds{job=\"mw\"}"})),
                             serde_json::json!({"type": "jsonpath", "path": "$.status", "expect": "success"}))],
        })
        .to_string()
    };
    for (label, expect_up, holds) in [("holds", "1", true), ("breaks", "0", false)] {
        let file =
            crate::harness::write(dir.path(), &format!("{label}.json"), &experiment(expect_up));
        let (ctk_code, theirs) =
            crate::ctk_compat::ctk_journal_with_env(&chaos, dir.path(), &file, &[], &[]);
        // Exit codes compared as chaos gives them (ours tell "not injected" apart by default).
        let (out, ours) = crate::harness::run_experiment(dir.path(), &file, &["--ctk-exit-codes"]);
        let ours = ours.unwrap_or_else(|| panic!("{}", crate::harness::stderr(&out)));
        let met = |j: &Value| j["steady_states"]["before"]["steady_state_met"].clone();
        assert_eq!(met(&theirs), holds, "{label}: {theirs}");
        assert_eq!(met(&ours), met(&theirs), "{label}");
        assert_eq!(ours["deviated"], theirs["deviated"], "{label}");
        assert_eq!(ours["status"], theirs["status"], "{label}");
        assert_eq!(out.status.code(), Some(ctk_code), "{label}");
        let before = |j: &Value, i: usize| j["steady_states"]["before"]["probes"][i].clone();
        // The instant answer is Prometheus's JSON as it came, as the extension returns it.
        let (c, o) = (before(&theirs, 0), before(&ours, 0));
        assert_eq!(o["output"]["status"], "success", "{o}");
        crate::ctk_compat::assert_same_shape(&c["output"], &o["output"], "up-now");
        assert_eq!(
            o["output"]["data"]["result"][0]["metric"],
            c["output"]["data"]["result"][0]["metric"]
        );
        assert_eq!(o["tolerance_met"], c["tolerance_met"], "{label}");
        if holds {
            let (c, o) = (before(&theirs, 1), before(&ours, 1));
            assert_eq!(o["output"]["data"]["resultType"], "matrix");
            assert_eq!(
                c["output"]["data"]["result"][0]["metric"],
                o["output"]["data"]["result"][0]["metric"]
            );
            assert!(
                o["monkeywrench"]["native"]
                    .as_str()
                    .is_some_and(|n| n.contains("prometheus.range")),
                "{o}"
            );
            assert_eq!(
                ours["run"][0]["output"]["status"],
                theirs["run"][0]["output"]["status"]
            );
        }
    }
}

/// The builtins judge numbers directly: one value for a range tolerance, a range reduced to its
/// maximum, and a failing query is a failed probe with Prometheus's own reason.
#[tokio::test]
async fn prometheus_builtins_give_tolerances_one_number() {
    let proxy = ProxyServer::start(&["--proxy-metrics"]).await;
    let target = proxy.base.trim_start_matches("http://").to_string();
    let Some(prometheus) = Prometheus::start("mw", &[target]) else {
        return;
    };
    prometheus.wait_for("up{job=\"mw\"}").await;
    let dir = TempDir::new("prometheus-builtins");
    let builtin = |func: &str, arguments: Value| serde_json::json!({"type": "builtin", "func": func, "arguments": arguments});
    let file = crate::harness::write(
        dir.path(),
        "e.json",
        &serde_json::json!({
            "title": "scraped", "description": "native PromQL",
            "configuration": {"prom": prometheus.url},
            "steady-state-hypothesis": {"title": "up", "probes": [
                probe("up", builtin("prometheus.query", serde_json::json!({"base_url": "${prom}", "query": "sum(up{job=\"mw\"})"})),
                      serde_json::json!({"type": "range", "range": [1, 1]})),
                probe("worst", builtin("prometheus.range", serde_json::json!(
                        {"base_url": "${prom}", "query": "up{job=\"mw\"}", "start": "20 seconds ago", "output": "max"})),
                      serde_json::json!({"type": "range", "range": [1, 1]})),
            ]},
            "method": [{"type": "probe", "name": "bad-promql",
                        "provider": builtin("prometheus.query", serde_json::json!({"base_url": "${prom}", "query": "sum(", "output": "series"}))}],
        })
        .to_string(),
    );
    let (out, journal) = crate::harness::run_experiment(dir.path(), &file, &[]);
    let j = journal.unwrap_or_else(|| panic!("{}", crate::harness::stderr(&out)));
    assert_eq!(j["deviated"], false, "{j}");
    let probes = &j["steady_states"]["before"]["probes"];
    assert_eq!(probes[0]["output"], 1.0, "{}", probes[0]);
    assert_eq!(probes[1]["output"], 1.0, "{}", probes[1]);
    let bad = &j["run"][0];
    assert_eq!(bad["status"], "failed", "{bad}");
    let why = bad["exception"].to_string();
    assert!(
        why.contains("Prometheus answered 400") && why.contains("parse error"),
        "{why}"
    );
}

#[test]
fn prometheus_arguments_are_checked_before_anything_runs() {
    let dir = TempDir::new("prometheus-validate");
    let file = crate::harness::write(
        dir.path(),
        "e.yaml",
        "title: t\ndescription: d\nmethod:\n  - type: probe\n    name: q\n    provider:\n      type: builtin\n      func: prometheus.range\n      arguments: {query: up, start: yesterday-ish, output: median}\n",
    );
    let out = crate::harness::run_in(dir.path(), &["validate", &file]);
    let err = crate::harness::stderr(&out);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("e.yaml:9:") && err.contains("start") && err.contains("RFC 3339"),
        "{err}"
    );
    assert!(
        err.contains("output \"median\": expected one of series, response, min, max, mean, last"),
        "{err}"
    );
}
