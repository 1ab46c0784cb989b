//! Control and experiment cohorts on a real http proxy with real clients: users split stably, a
//! toxic limited to the experiment cohort hits only it, the comparison sees it, and in an
//! experiment a `traffic.compare` safeguard stops the run and both faults are reverted.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::faults::{spawn_run, stop_guard};
use crate::harness::{StatusServer, TempDir, write};
use crate::proxy::Server;

async fn http_proxy(s: &Server, name: &str, upstream: &StatusServer) -> String {
    let upstream = upstream.url().trim_start_matches("http://").to_string();
    let (status, p) = s
        .json(
            "POST",
            "/proxies",
            Some(json!({"name": name, "listen": "127.0.0.1:0", "upstream": upstream, "protocol": "http"})),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    format!("http://{}", p["listen"].as_str().unwrap())
}

/// One GET as `user` (no header when `None`); the status.
async fn get(client: &reqwest::Client, url: &str, user: Option<&str>) -> u16 {
    let mut req = client.get(format!("{url}/"));
    if let Some(u) = user {
        req = req.header("x-user", u);
    }
    req.send().await.map_or(0, |r| r.status().as_u16())
}

#[tokio::test]
async fn users_split_stably_and_a_cohort_toxic_hits_only_its_cohort() {
    let s = Server::start(&["--proxy-metrics"]).await;
    let upstream = StatusServer::start(200);
    let url = http_proxy(&s, "web", &upstream).await;
    let (status, split) = s
        .json(
            "POST",
            "/proxies/web/cohorts",
            Some(json!({"key": "header:X-User", "control": 20, "experiment": 20, "salt": "t1"})),
        )
        .await;
    assert_eq!(status, 200, "{split}");
    assert_eq!(split["key"], "header:x-user");
    let (status, toxic) = s
        .json(
            "POST",
            "/proxies/web/toxics",
            Some(json!({"type": "http_status", "attributes": {"status": 503, "cohort": "experiment"}})),
        )
        .await;
    assert_eq!(status, 200, "{toxic}");

    let client = reqwest::Client::new();
    let mut seen: HashMap<String, Vec<u16>> = HashMap::new();
    for _ in 0..2 {
        for u in 0..300 {
            let user = format!("user-{u}");
            let code = get(&client, &url, Some(&user)).await;
            seen.entry(user).or_default().push(code);
        }
    }
    for _ in 0..20 {
        assert_eq!(
            get(&client, &url, None).await,
            200,
            "no key: never in a cohort"
        );
    }
    for (user, codes) in &seen {
        assert_eq!(codes[0], codes[1], "{user} stays in its cohort");
    }
    let failed = seen.values().filter(|c| c[0] == 503).count();
    // 20 % of 300 users: 60 expected; a binomial's 4 standard deviations (≈ 28) either side.
    assert!(
        (32..=88).contains(&failed),
        "{failed} of 300 users in the experiment cohort"
    );

    let (_, state) = s.json("GET", "/proxies/web/cohorts", None).await;
    let r = &state["requests"];
    assert_eq!(r["experiment"], json!(failed * 2), "{state}");
    assert_eq!(r["unkeyed"], 20);
    let total = r["control"].as_u64().unwrap()
        + r["experiment"].as_u64().unwrap()
        + r["outside"].as_u64().unwrap();
    assert_eq!(total, 600, "{state}");

    let (status, verdict) = s
        .json(
            "GET",
            "/proxies/web/cohorts/compare?max_error_rate_increase=0.005",
            None,
        )
        .await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["verdict"], "worse", "{verdict}");
    assert_eq!(verdict["experiment"]["error_rate"], 1.0);
    assert_eq!(verdict["control"]["error_rate"], 0.0);
    assert!(
        verdict["method"]
            .as_str()
            .unwrap()
            .starts_with("sequential")
    );
    let (_, windowed) = s
        .json("GET", "/proxies/web/cohorts/compare?window_s=60", None)
        .await;
    assert_eq!(windowed["verdict"], "worse");
    assert!(
        windowed["method"]
            .as_str()
            .unwrap()
            .starts_with("fixed horizon")
    );
    let (_, traffic) = s.json("GET", "/proxies/web/traffic", None).await;
    assert_eq!(traffic["http"]["cohorts"]["salt"], "t1", "{traffic}");
    assert_eq!(traffic["http"]["cohorts"]["experiment"]["error_rate"], 1.0);
    let metrics = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    crate::harness::promtool_check(&metrics);
    let line = format!(
        "monkeywrench_http_cohort_errors_total{{cohort=\"experiment\",proxy=\"web\"}} {}",
        failed * 2
    );
    assert!(metrics.contains(&line), "{line} in\n{metrics}");

    // Bad input, said plainly.
    for (body, says) in [
        (
            json!({"key": "header:x-user", "control": 60, "experiment": 1}),
            "at most 50",
        ),
        (
            json!({"key": "ip", "control": 1, "experiment": 1}),
            "expected \"header:NAME\"",
        ),
        (
            json!({"key": "client", "control": 1}),
            "experiment is required",
        ),
        (
            json!({"key": "client", "control": 1, "experiment": 1, "share": 3}),
            "unknown field \"share\"",
        ),
    ] {
        let (status, e) = s.json("POST", "/proxies/web/cohorts", Some(body)).await;
        assert_eq!(status, 400, "{e}");
        assert!(e["error"].as_str().unwrap().contains(says), "{e}");
    }
    for (query, says) in [
        ("alpha=2", "alpha=2"),
        (
            "max_p99_increase_ms=-1",
            "max_p99_increase_ms=-1: expected milliseconds",
        ),
    ] {
        let (status, e) = s
            .json(
                "GET",
                &format!("/proxies/web/cohorts/compare?{query}"),
                None,
            )
            .await;
        assert_eq!(status, 400);
        assert!(e["error"].as_str().unwrap().contains(says), "{e}");
    }
    let (status, e) = s
        .json("GET", "/proxies/web/cohorts/compare?route=nope", None)
        .await;
    assert_eq!(status, 404);
    assert!(
        e["error"].as_str().unwrap().contains("no route \"nope\""),
        "{e}"
    );
    s.proxy("plain", "127.0.0.1:9").await;
    let (status, e) = s
        .json(
            "POST",
            "/proxies/plain/cohorts",
            Some(json!({"key": "client", "control": 1, "experiment": 1})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("TCP proxy"), "{e}");

    let (status, _) = s.json("DELETE", "/proxies/web/cohorts", None).await;
    assert_eq!(status, 204);
    let (status, e) = s.json("GET", "/proxies/web/cohorts/compare", None).await;
    assert_eq!(status, 404);
    assert!(
        e["error"].as_str().unwrap().contains("has no cohorts"),
        "{e}"
    );
    // Without a split a cohort toxic hits nobody.
    assert_eq!(get(&client, &url, Some("user-1")).await, 200);
}

#[tokio::test]
async fn a_compare_safeguard_stops_the_run_when_the_experiment_cohort_is_worse_and_both_faults_go()
{
    let s = Server::start(&[]).await;
    let upstream = StatusServer::start(200);
    let url = http_proxy(&s, "shop", &upstream).await;
    let dir = TempDir::new("cohort-safeguard");
    let file = write(
        dir.path(),
        "e.yaml",
        &format!(
            r#"title: the experiment cohort is no worse than control
description: 20 % + 20 % of users; every request of the experiment cohort fails
safeguards:
  - type: probe
    name: no-worse-than-control
    frequency: 0.25
    tolerance: {{type: jsonpath, path: "$.worse", expect: false}}
    provider:
      type: builtin
      func: traffic.compare
      arguments: {{api: "{api}", proxy: shop, max_error_rate_increase: 0.005}}
method:
  - type: action
    name: split
    provider:
      type: builtin
      func: cohort.split
      arguments: {{api: "{api}", proxy: shop, key: "header:x-user", control: 20, experiment: 20}}
  - type: action
    name: break-the-experiment-cohort
    provider:
      type: builtin
      func: http.fault
      arguments: {{api: "{api}", proxy: shop, cohort: experiment, status: 503}}
  - type: action
    name: wait
    provider: {{type: process, path: sleep, arguments: ["30"]}}
"#,
            api = s.base
        ),
    );
    let mut run = spawn_run(dir.path(), &file);
    let client = reqwest::Client::new();
    let traffic_url = url.clone();
    let traffic = tokio::spawn(async move {
        let mut statuses = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut u = 0u64;
        while Instant::now() < deadline && statuses.len() < 20_000 {
            statuses.push(get(&client, &traffic_url, Some(&format!("u{}", u % 500))).await);
            u += 1;
        }
        statuses
    });
    let status = tokio::task::spawn_blocking(move || run.wait().unwrap())
        .await
        .unwrap();
    traffic.abort();
    assert_eq!(status.code(), Some(5), "the safeguard trips: exit 5");
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap();
    let faults = j["monkeywrench"]["faults"].as_array().unwrap();
    let funcs: Vec<&str> = faults.iter().map(|f| f["func"].as_str().unwrap()).collect();
    assert_eq!(funcs, ["cohort.split", "http.fault"], "{j}");
    for f in faults {
        assert_eq!(f["revert"], "reverted", "{f}");
    }
    let (status, _) = s.json("GET", "/proxies/shop/cohorts", None).await;
    assert_eq!(status, 404, "the split is cleared");
    let (_, toxics) = s.json("GET", "/proxies/shop/toxics", None).await;
    assert_eq!(toxics, json!([]));
    stop_guard(dir.path());
}

/// A/A through the real proxy: both cohorts get the same service, the comparison is looked at
/// every 100 requests, and it never says worse (α = 0.001 here, so a chance alarm is out of the
/// question for a test; the rate at α = 0.05 is measured on simulated runs in
/// `proxy::http::compare::tests`) and ends up `same`.
#[tokio::test]
async fn a_a_through_the_real_proxy_never_says_worse_however_often_it_looks() {
    let s = Server::start(&[]).await;
    let upstream = StatusServer::start(200);
    let url = http_proxy(&s, "aa", &upstream).await;
    let (status, _) = s
        .json(
            "POST",
            "/proxies/aa/cohorts",
            Some(json!({"key": "header:x-user", "control": 30, "experiment": 30})),
        )
        .await;
    assert_eq!(status, 200);
    let client = reqwest::Client::new();
    let mut verdicts = Vec::new();
    for i in 0..3000u32 {
        assert_eq!(
            get(&client, &url, Some(&format!("aa-{}", i % 1000))).await,
            200
        );
        if i % 100 == 99 {
            let (_, v) = s
                .json(
                    "GET",
                    "/proxies/aa/cohorts/compare?alpha=0.001&max_latency_increase_ms=0&max_p99_increase_ms=0",
                    None,
                )
                .await;
            verdicts.push(v["verdict"].as_str().unwrap().to_string());
        }
    }
    assert!(!verdicts.iter().any(|v| v == "worse"), "{verdicts:?}");
    assert_eq!(
        verdicts.last().map(String::as_str),
        Some("same"),
        "{verdicts:?}"
    );
}
