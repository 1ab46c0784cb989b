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
