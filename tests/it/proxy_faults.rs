//! Proxy faults in experiments: `proxy.toxic` and `proxy.down` go through the ledger, revert at
//! their duration, and are removed by the guard (and by the toxic's own ttl) when the run dies.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::faults::{sigkill, spawn_run, stop_guard};
use crate::harness::{TempDir, binary, write};
use crate::proxy::{Server, echo_upstream, round_trip};

async fn toxics(s: &Server, proxy: &str) -> Vec<Value> {
    s.json("GET", &format!("/proxies/{proxy}/toxics"), None)
        .await
        .1
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_timed_toxic_slows_traffic_then_goes_and_the_probe_sees_the_traffic() {
    let s = Server::start(&[]).await;
    let listen = s.proxy("web", &echo_upstream().await).await;
    let dir = TempDir::new("proxy-fault-timed");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "method": [
                  {{"type": "action", "name": "slow-down", "duration": 1,
                    "provider": {{"type": "builtin", "func": "proxy.toxic", "arguments": {{"api": "{api}", "proxy": "web", "type": "latency", "attributes": {{"latency": 150}}}}}}}},
                  {{"type": "probe", "name": "traffic", "pauses": {{"before": 0.5}},
                    "tolerance": {{"type": "jsonpath", "path": "$.connections.total", "count": 1}},
                    "provider": {{"type": "builtin", "func": "traffic.tcp", "arguments": {{"api": "{api}", "proxy": "web"}}}}}}]}}"#,
            api = s.base
        ),
    );
    let mut run = spawn_run(dir.path(), &file);
    let deadline = Instant::now() + Duration::from_secs(5);
    while toxics(&s, "web").await.is_empty() {
        assert!(Instant::now() < deadline, "the toxic never appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut c = TcpStream::connect(&listen).await.unwrap();
    let started = Instant::now();
    round_trip(&mut c, b"x").await;
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "traffic is slowed during the fault"
    );
    let status = tokio::task::spawn_blocking(move || run.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        toxics(&s, "web").await.is_empty(),
        "removed at the end of its duration"
    );
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap();
    assert_eq!(j["monkeywrench"]["faults"][0]["func"], "proxy.toxic");
    assert_eq!(j["monkeywrench"]["faults"][0]["revert"], "reverted");
    assert!(
        j["run"][1]["output"]["connections"]["total"]
            .as_u64()
            .unwrap()
            >= 1,
        "{}",
        j["run"][1]
    );
    assert_eq!(j["run"][1]["monkeywrench"]["tolerance_met"], true);
    stop_guard(dir.path());
}

#[tokio::test]
async fn the_guard_removes_the_toxic_and_re_enables_the_proxy_after_sigkill() {
    let s = Server::start(&[]).await;
    let listen = s.proxy("db", &echo_upstream().await).await;
    let dir = TempDir::new("proxy-fault-sigkill");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "method": [
                  {{"type": "action", "name": "lag", "duration": 60,
                    "provider": {{"type": "builtin", "func": "proxy.toxic", "arguments": {{"api": "{api}", "proxy": "db", "type": "bandwidth", "attributes": {{"rate": 0}}}}}}}},
                  {{"type": "action", "name": "down", "duration": 60,
                    "provider": {{"type": "builtin", "func": "proxy.down", "arguments": {{"api": "{api}", "proxy": "db"}}}}}},
                  {{"type": "action", "name": "wait", "provider": {{"type": "process", "path": "sleep", "arguments": ["30"]}}}}]}}"#,
            api = s.base
        ),
    );
    let mut run = spawn_run(dir.path(), &file);
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.json("GET", "/proxies/db", None).await.1["enabled"] != json!(false) {
        assert!(Instant::now() < deadline, "the proxy never went down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(toxics(&s, "db").await.len(), 1);
    sigkill(&mut run);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = s.json("GET", "/proxies/db", None).await.1;
        if p["enabled"] == json!(true) && p["toxics"] == json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "the guard did not revert: {p}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut c = TcpStream::connect(&listen).await.unwrap();
    assert_eq!(round_trip(&mut c, b"ok").await, b"ok");
    stop_guard(dir.path());
}

#[tokio::test]
async fn an_unknown_proxy_fails_the_action_and_leaves_no_active_lease() {
    let s = Server::start(&[]).await;
    let dir = TempDir::new("proxy-fault-unknown");
    let file = write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "t", "description": "d",
                "method": [{{"type": "action", "name": "lag", "duration": 5,
                  "provider": {{"type": "builtin", "func": "proxy.toxic", "arguments": {{"api": "{api}", "proxy": "nope", "type": "latency"}}}}}}]}}"#,
            api = s.base
        ),
    );
    let mut run = spawn_run(dir.path(), &file);
    let status = tokio::task::spawn_blocking(move || run.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(2));
    let out = std::process::Command::new(binary())
        .args(["ledger", "--output", "json"])
        .env("MONKEYWRENCH_STATE_DIR", dir.path().join("state"))
        .output()
        .unwrap();
    let leases: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(leases[0]["state"], "apply-failed");
    assert!(
        leases[0]["error"]
            .as_str()
            .unwrap()
            .contains("proxy not found"),
        "{}",
        leases[0]
    );
}

/// Chaos Toolkit's own toxiproxy extension (chaostoolkit-toxiproxy from PyPI), run by the real
/// `chaos`, drives our proxy server unchanged.
#[tokio::test]
async fn chaos_toolkits_toxiproxy_extension_drives_our_server_unchanged() {
    let Ok(chaos) = std::env::var("MONKEYWRENCH_TEST_CTK") else {
        assert!(
            std::env::var("MONKEYWRENCH_REQUIRE_CTK").is_err(),
            "MONKEYWRENCH_TEST_CTK is not set but the Chaos Toolkit tests are required"
        );
        eprintln!("SKIPPED: set MONKEYWRENCH_TEST_CTK (scripts/ctk-venv)");
        return;
    };
    let s = Server::start(&[]).await;
    let upstream = echo_upstream().await;
    let (up_host, up_port) = upstream.rsplit_once(':').unwrap();
    let api_port = s.base.rsplit_once(':').unwrap().1.to_string();
    let dir = TempDir::new("ctk-toxiproxy");
    let action = |name: &str, module: &str, func: &str, args: Value| {
        json!({"type": "action", "name": name,
               "provider": {"type": "python", "module": module, "func": func, "arguments": args}})
    };
    let probe = |name: &str, func: &str, args: Value, tolerance: Value| {
        json!({"type": "probe", "name": name, "tolerance": tolerance,
               "provider": {"type": "python", "module": "chaostoxi.proxy.probes", "func": func, "arguments": args}})
    };
    let experiment = json!({
        "title": "toxiproxy extension against monkeywrench",
        "description": "chaostoolkit-toxiproxy, unchanged",
        "configuration": {"toxiproxy_host": "127.0.0.1", "toxiproxy_port": api_port},
        "method": [
            action("create", "chaostoxi.proxy.actions", "create_proxy", json!({
                "proxy_name": "ctk", "upstream_host": up_host, "upstream_port": up_port,
                "listen_host": "127.0.0.1", "listen_port": 0})),
            probe("exists", "proxy_exist", json!({"proxy_name": "ctk"}), json!(true)),
            action("lag", "chaostoxi.toxic.actions", "create_latency_toxic", json!({
                "for_proxy": "ctk", "toxic_name": "lag", "latency": 100, "jitter": 5})),
            action("slicer", "chaostoxi.toxic.actions", "create_slicer_toxic", json!({
                "for_proxy": "ctk", "toxic_name": "cut", "average_size": 64, "size_variation": 8, "delay": 10})),
            action("off", "chaostoxi.proxy.actions", "disable_proxy", json!({"proxy_name": "ctk"})),
            probe("disabled", "get_proxy_attribute", json!({"proxy_name": "ctk", "attribute": "enabled"}), json!(false)),
            action("on", "chaostoxi.proxy.actions", "enable_proxy", json!({"proxy_name": "ctk"})),
            action("no-slicer", "chaostoxi.toxic.actions", "delete_toxic", json!({"for_proxy": "ctk", "toxic_name": "cut"})),
        ]
    });
    let file = write(dir.path(), "ctk.json", &experiment.to_string());
    let out = tokio::process::Command::new(&chaos)
        .args([
            "--no-version-check",
            "run",
            "--journal-path",
            "journal.json",
            &file,
        ])
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    let journal: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap_or(Value::Null);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(journal["status"], "completed", "{journal}");
    for entry in journal["run"].as_array().unwrap() {
        assert_eq!(entry["status"], "succeeded", "{entry}");
    }
    let (_, proxy) = s.json("GET", "/proxies/ctk", None).await;
    assert_eq!(proxy["enabled"], true, "{proxy}");
    assert_eq!(
        proxy["toxics"].as_array().unwrap().len(),
        1,
        "chaos leaves the toxic nothing removed behind: {proxy}"
    );
    assert_eq!(proxy["toxics"][0]["name"], "lag");
    assert_eq!(proxy["toxics"][0]["attributes"]["latency"], 100);
    assert_eq!(proxy["toxics"][0]["attributes"]["jitter"], 5);

    // The same file through monkeywrench: the toxics and the disabling are ledger faults (named
    // as the file names them, so the Python rollback-style deletes still find them), the rest
    // runs in the extension's own interpreter.
    s.json("DELETE", "/proxies/ctk", None).await;
    let python = std::path::Path::new(&chaos).with_file_name("python");
    let ours = std::process::Command::new(binary())
        .args(["run", "--journal-path", "ours.json", "--python"])
        .arg(&python)
        .arg(&file)
        .env("MONKEYWRENCH_STATE_DIR", dir.path().join("state"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        ours.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let mine: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("ours.json")).unwrap())
            .unwrap();
    assert_eq!(mine["status"], journal["status"]);
    assert_eq!(mine["deviated"], journal["deviated"]);
    for (theirs, ours) in journal["run"]
        .as_array()
        .unwrap()
        .iter()
        .zip(mine["run"].as_array().unwrap())
    {
        let name = &theirs["activity"]["name"];
        assert_eq!(ours["status"], theirs["status"], "{name}");
        if ["lag", "slicer", "off"].contains(&name.as_str().unwrap()) {
            assert_eq!(ours["output"], json!(true), "{name}: {ours}");
            assert_eq!(ours["output"], theirs["output"], "{name}");
            assert!(
                ours["monkeywrench"]["native"]
                    .as_str()
                    .is_some_and(|n| n.contains("ran natively")),
                "{ours}"
            );
        }
    }
    let faults: Vec<&str> = mine["monkeywrench"]["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["revert"].as_str().unwrap())
        .collect();
    assert_eq!(faults, ["reverted", "reverted", "reverted"], "{mine}");
    let (_, proxy) = s.json("GET", "/proxies/ctk", None).await;
    assert_eq!(proxy["enabled"], true, "{proxy}");
    assert_eq!(
        proxy["toxics"],
        json!([]),
        "the lag toxic the file never removes is reverted with the run"
    );
    stop_guard(dir.path());
}

/// A toxiproxy extension call is a lease like a builtin's: SIGKILL of the run, and the guard
/// removes the toxic it made, under the name the experiment gave it.
#[tokio::test]
async fn a_chaostoxi_toxic_is_removed_by_the_guard_after_sigkill() {
    let s = Server::start(&[]).await;
    s.proxy("db", &echo_upstream().await).await;
    let dir = TempDir::new("chaostoxi-sigkill");
    let api_port = s.base.rsplit_once(':').unwrap().1;
    let file = write(
        dir.path(),
        "e.yaml",
        &format!(
            r#"title: t
description: d
configuration:
  toxiproxy_host: 127.0.0.1
  toxiproxy_port: "{api_port}"
method:
  - type: action
    name: lag
    provider:
      type: python
      module: chaostoxi.toxic.actions
      func: create_latency_toxic
      arguments: {{for_proxy: db, toxic_name: db-lag, latency: 250}}
  - type: action
    name: wait
    provider: {{type: process, path: sleep, arguments: ["30"]}}
"#
        ),
    );
    let mut run = spawn_run(dir.path(), &file);
    let deadline = Instant::now() + Duration::from_secs(10);
    while toxics(&s, "db").await.is_empty() {
        assert!(Instant::now() < deadline, "the toxic never appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let made = toxics(&s, "db").await;
    assert_eq!(made[0]["name"], "db-lag");
    assert_eq!(made[0]["attributes"]["latency"], 250);
    sigkill(&mut run);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !toxics(&s, "db").await.is_empty() {
        assert!(Instant::now() < deadline, "the guard did not remove db-lag");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_guard(dir.path());
}
