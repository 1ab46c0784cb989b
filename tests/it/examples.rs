//! Every file in `examples/` runs as its comments say.

use serde_json::Value;

use crate::demo::start_service;
use crate::harness::{TempDir, binary, stderr};

fn example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run(
    dir: &std::path::Path,
    file: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, Value, String) {
    let journal = dir.join("journal.json");
    let out = std::process::Command::new(binary())
        .arg("run")
        .args(["--journal-path", &journal.to_string_lossy()])
        .args(args)
        .arg(file)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let j = std::fs::read_to_string(&journal)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), j, stderr(&out))
}

#[test]
fn every_example_validates() {
    for entry in std::fs::read_dir(format!("{}/examples", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("monkey"))
        {
            continue; // a monkey config, not an experiment: checked by its own test below
        }
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy() == "proxy-config.json")
        {
            continue; // a proxy server config, used by the http-proxy example's test
        }
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy() == "server.yaml")
        {
            continue; // a server config: checked by its own test below
        }
        let out = std::process::Command::new(binary())
            .args(["validate", &path.to_string_lossy()])
            .env("API_TOKEN", "x")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            stderr(&out)
        );
    }
}

#[test]
fn process_basics_holds() {
    let dir = TempDir::new("ex-process");
    let marker = dir.path().to_string_lossy().into_owned();
    let (code, j, err) = run(
        dir.path(),
        &example("process-basics.yaml"),
        &["--var", &format!("marker={marker}")],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        j["title"]
            .as_str()
            .or(j["experiment"]["title"].as_str())
            .unwrap(),
        format!("The shell is healthy and {marker} exists")
    );
    assert_eq!(j["run"][0]["output"]["stdout"], "hello from monkeywrench\n");
}

#[test]
fn http_steady_state_holds_against_the_demo_service() {
    let (url, cancel, handle) = start_service();
    let dir = TempDir::new("ex-http");
    let (code, j, err) = run(
        dir.path(),
        &example("http-steady-state.json"),
        &["--var", &format!("base_url={url}")],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        j["run"][0]["monkeywrench"]["tolerance_met"], true,
        "jsonpath on the body"
    );
    cancel.cancel();
    handle.join().unwrap();
}

#[test]
fn traffic_surge_holds_against_the_demo_service_and_is_reverted() {
    let (url, cancel, handle) = start_service();
    let dir = TempDir::new("ex-surge");
    let state = dir.path().join("state");
    let (code, j, err) = run(
        dir.path(),
        &example("traffic-surge.yaml"),
        &["--var", &format!("base_url={url}")],
        &[("MONKEYWRENCH_STATE_DIR", &state.to_string_lossy())],
    );
    assert_eq!(code, 0, "{err}");
    let fault = &j["monkeywrench"]["faults"][0];
    assert_eq!(fault["func"], "traffic.surge");
    assert_eq!(fault["revert"], "reverted", "{j:#}");
    assert_eq!(fault["target"]["peak_rps"], 150.0);
    let seconds = j["monkeywrench"]["surges"][0]["seconds"]
        .as_array()
        .unwrap();
    assert!(seconds.len() >= 3, "{seconds:?}");
    if let Ok(pid) = std::fs::read_to_string(state.join("guard.pid"))
        && let Ok(pid) = pid.trim().parse::<i32>()
    {
        // The guard this run started (a process of this test's).
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    cancel.cancel();
    handle.join().unwrap();
}

#[test]
fn fail_fast_stops_the_long_action_and_rolls_back() {
    let dir = TempDir::new("ex-fail-fast");
    let lock = dir.path().join("stale.lock");
    let started = std::time::Instant::now();
    let (code, j, err) = run(
        dir.path(),
        &example("fail-fast.yaml"),
        &[
            "--fail-fast",
            "--hypothesis-frequency",
            "0.2",
            "--var",
            &format!("lock={}", lock.display()),
        ],
        &[],
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the 30 s action was cancelled"
    );
    assert_eq!(code, 1, "{err}");
    assert!(!lock.exists(), "the rollback removed the lock");
    let long = j["run"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["activity"]["name"] == "long-running-work")
        .unwrap();
    assert_eq!(long["monkeywrench"]["cancelled"], "fail-fast");
}

#[test]
fn safeguard_example_holds_while_the_port_is_open_and_trips_when_it_closes() {
    let dir = TempDir::new("ex-safeguard");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let (code, _, err) = run(
        dir.path(),
        &example("safeguard.yaml"),
        &["--var", &format!("port:int={port}")],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    drop(listener);
    let (code, j, err) = run(
        dir.path(),
        &example("safeguard.yaml"),
        &["--var", &format!("port:int={port}")],
        &[],
    );
    assert_eq!(code, 5, "{err}");
    assert_eq!(j["interruption"]["name"], "port-stays-open");
}

#[test]
fn config_and_secrets_resolve_and_redact() {
    let dir = TempDir::new("ex-config");
    let (code, j, err) = run(
        dir.path(),
        &example("config-and-secrets.yaml"),
        &[],
        &[("API_TOKEN", "abcd-1234"), ("RETRIES", "5")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(j["run"][0]["output"]["stdout"], "hello 5 *** ***\n");
    let text = serde_json::to_string(&j).unwrap();
    assert!(
        !text.contains("abcd-1234") && !text.contains("correct-horse-battery"),
        "{text}"
    );
}

#[test]
fn containers_example_freezes_and_partitions_real_containers_and_restores_them() {
    let fx = crate::docker_fixture::DockerFixture::new();
    let dir = TempDir::new("ex-containers");
    let net = fx.network("shop");
    let app = format!("app={}", fx.run);
    let names: Vec<String> = (1..=3)
        .map(|i| {
            fx.container(
                &format!("web-{i}"),
                &["--network", &net, "--label", &app],
                &["httpd", "-f", "-p", "8080"],
            )
        })
        .collect();
    let state = dir.path().join("state");
    let (code, j, err) = run(
        dir.path(),
        &example("containers.yaml"),
        &[
            "--var",
            &format!("app={}", fx.run),
            "--var",
            &format!("network={net}"),
        ],
        &[("MONKEYWRENCH_STATE_DIR", &state.to_string_lossy())],
    );
    assert_eq!(code, 0, "{err}");
    let faults = j["monkeywrench"]["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 2, "{j}");
    assert!(faults.iter().all(|f| f["revert"] == "reverted"), "{j}");
    assert_eq!(j["steady_states"]["after"]["probes"][0]["output"], 3);
    for n in &names {
        assert_eq!(fx.state(n), "running");
        assert!(!fx.ip(n, &net).is_empty(), "{n} is on {net} again");
    }
    crate::faults::stop_guard(dir.path());
}

#[test]
fn the_monkey_example_config_is_valid_and_plans() {
    let dir = TempDir::new("ex-monkey");
    let out = std::process::Command::new(binary())
        .args([
            "monkey",
            "plan",
            "--config",
            &example("monkey.yaml"),
            "--date",
            "2030-01-08",
            "--seed",
            "1",
            "--output",
            "json",
        ])
        .env("MONKEYWRENCH_STATE_DIR", dir.path().join("state"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["date"], "2030-01-08");
    assert_eq!(plan["seed"], 1);
}

#[test]
fn the_server_example_config_checks_and_plans_in_its_zone() {
    let out = std::process::Command::new(binary())
        .args([
            "server",
            "--check",
            "--config",
            &example("server.yaml"),
            "--next",
            "2",
            "--from",
            "2026-12-23T15:15:00Z",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["experiments"][0]["name"], "nightly-basics");
    assert_eq!(
        report["experiments"][0]["next"][0]["local"],
        "2026-12-24T02:30:00+01:00[Europe/Berlin]"
    );
    // From 16:15 on the 23rd: 16:30, then the window closes at 17:00, the 24th and 25th are holidays, the 26th
    // and 27th a weekend: Monday the 28th at 09:00.
    assert_eq!(
        report["experiments"][1]["next"][0]["local"],
        "2026-12-23T16:30:00+01:00[Europe/Berlin]"
    );
    assert_eq!(
        report["experiments"][1]["next"][1]["local"],
        "2026-12-28T09:00:00+01:00[Europe/Berlin]"
    );
    assert_eq!(
        report["monkey"]["name"], "shop-monkey",
        "examples/monkey.yaml, beside the schedules"
    );
    assert_eq!(report["monkey"]["leashed"], true);
}

/// Runs example `name` against the demo service at `service` behind `examples/proxy-config.json`
/// (moved to free ports); `shop` turns the proxy's listen address into the example's `shop`
/// variable. The proxy server is returned for the caller's checks.
async fn run_behind_the_example_proxy(
    dir: &std::path::Path,
    service: &str,
    name: &str,
    shop: fn(&str) -> String,
) -> (crate::proxy::Server, (i32, Value, String)) {
    let listen = format!("127.0.0.1:{}", crate::harness::closed_port());
    let config = std::fs::read_to_string(example("proxy-config.json"))
        .unwrap()
        .replace("127.0.0.1:8080", service.trim_start_matches("http://"))
        .replace("127.0.0.1:8081", &listen);
    let config = crate::harness::write(dir, "proxy-config.json", &config);
    let proxy = crate::proxy::Server::start(&["--config", &config]).await;
    let (path, base, state) = (example(name), proxy.base.clone(), dir.join("state"));
    let (run_dir, shop) = (dir.to_path_buf(), shop(&listen));
    let outcome = tokio::task::spawn_blocking(move || {
        run(
            &run_dir,
            &path,
            &[
                "--var",
                &format!("shop={shop}"),
                "--var",
                &format!("proxy_api={base}"),
            ],
            &[("MONKEYWRENCH_STATE_DIR", &state.to_string_lossy())],
        )
    })
    .await
    .unwrap();
    (proxy, outcome)
}

#[tokio::test]
async fn the_http_proxy_example_deviates_at_once_and_its_fault_is_removed() {
    let (url, cancel, handle) = start_service();
    let dir = TempDir::new("ex-http-proxy");
    let started = std::time::Instant::now();
    let (proxy, (code, j, err)) =
        run_behind_the_example_proxy(dir.path(), &url, "http-proxy.yaml", |l| {
            format!("http://{l}")
        })
        .await;
    assert_eq!(code, 1, "deviated: {err}");
    // The fault lasts 30 s; runtime.hypothesis.fail_fast ends the method at the first deviation.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "stopped at once, not at the fault's deadline ({:?})",
        started.elapsed()
    );
    let during = j["steady_states"]["during"].as_array().unwrap();
    assert!(
        during.iter().any(|d| d["steady_state_met"] == false),
        "a during iteration saw the 503s: {j}"
    );
    let faults = j["monkeywrench"]["faults"].as_array().unwrap();
    assert_eq!(faults[0]["func"], "http.fault", "{j}");
    assert_eq!(faults[0]["revert"], "reverted", "{j}");
    let (_, toxics) = proxy.json("GET", "/proxies/shop/toxics", None).await;
    assert_eq!(toxics, serde_json::json!([]), "removed when reverted");
    let (_, traffic) = proxy
        .json("GET", "/proxies/shop/traffic?window_s=0", None)
        .await;
    assert!(
        traffic["http"]["routes"]["items"]["status"]["5xx"]
            .as_u64()
            .unwrap()
            > 0,
        "the proxy counted the injected 503s: {traffic}"
    );
    crate::faults::stop_guard(dir.path());
    cancel.cancel();
    handle.join().unwrap();
}

#[test]
fn python_providers_example_runs_natively_and_in_the_interpreter() {
    let dir = TempDir::new("ex-python");
    let marker = dir.path().join("marker").to_string_lossy().into_owned();
    let var = format!("marker={marker}");
    let (code, j, err) = run(
        dir.path(),
        &example("python-providers.yaml"),
        &["--var", &var],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let run_entries = j["run"].as_array().unwrap();
    assert_eq!(run_entries[1]["output"], Value::Null);
    assert!(
        run_entries[1]["monkeywrench"]["native"]
            .as_str()
            .unwrap()
            .contains("file.rename")
    );
    assert_eq!(run_entries[2]["output"], true);
    let version = run_entries[3]["output"].as_str().unwrap();
    assert!(version.starts_with('3'), "{version}");
    assert_eq!(j["rollbacks"][0]["status"], "succeeded");
    assert!(!std::path::Path::new(&format!("{marker}.moved")).exists());
}

#[tokio::test]
async fn the_prometheus_example_holds_against_a_real_prometheus_and_reverts_its_toxic() {
    let proxy = crate::proxy::Server::start(&["--proxy-metrics", "--runtime-metrics"]).await;
    proxy
        .proxy("web", &crate::proxy::echo_upstream().await)
        .await;
    let target = proxy.base.trim_start_matches("http://").to_string();
    let Some(prometheus) = crate::prometheus::Prometheus::start("proxy", &[target]) else {
        return;
    };
    prometheus.wait_for("process_open_fds{job=\"proxy\"}").await;
    let dir = TempDir::new("example-prometheus");
    let state = dir.path().join("state").to_string_lossy().into_owned();
    let (code, j, err) = run(
        dir.path(),
        &example("prometheus-slo.yaml"),
        &[],
        &[
            ("PROMETHEUS_URL", &prometheus.url),
            ("PROXY_API", &proxy.base),
            ("MONKEYWRENCH_STATE_DIR", &state),
        ],
    );
    assert_eq!(code, 0, "{err}\n{j}");
    assert_eq!(j["deviated"], false);
    for phase in ["before", "after"] {
        for p in j["steady_states"][phase]["probes"].as_array().unwrap() {
            assert_eq!(p["tolerance_met"], true, "{phase}: {p}");
        }
    }
    assert_eq!(j["steady_states"]["before"]["probes"][0]["output"], 1.0);
    assert_eq!(j["monkeywrench"]["faults"][0]["revert"], "reverted", "{j}");
    let (_, toxics) = proxy.json("GET", "/proxies/web/toxics", None).await;
    assert_eq!(toxics, serde_json::json!([]));
    crate::faults::stop_guard(dir.path());
}

#[tokio::test]
async fn the_cohorts_example_stops_itself_on_the_experiment_cohort_while_the_overall_rate_holds() {
    let (url, cancel, handle) = start_service();
    let dir = TempDir::new("ex-cohorts");
    let (proxy, (code, j, err)) =
        run_behind_the_example_proxy(dir.path(), &url, "cohorts.yaml", str::to_string).await;
    assert_eq!(code, 5, "the safeguard trips: {err}");
    assert_eq!(
        j["monkeywrench"]["safeguards"][0]["name"],
        "experiment-cohort-no-worse-than-control"
    );
    let last = &j["monkeywrench"]["safeguards"][0]["last_output"];
    assert_eq!(last["verdict"], "worse", "{j}");
    assert_eq!(last["experiment"]["error_rate"], 1.0, "{last}");
    assert_eq!(last["control"]["error_rate"], 0.0, "{last}");
    let before = &j["steady_states"]["before"]["probes"][0];
    assert_eq!(before["tolerance_met"], true, "{before}");
    let (_, traffic) = proxy
        .json("GET", "/proxies/shop/traffic?window_s=0", None)
        .await;
    let overall = traffic["http"]["error_rate"].as_f64().unwrap();
    assert!(
        overall < 0.05,
        "the overall error rate barely moved: {overall}"
    );
    for f in j["monkeywrench"]["faults"].as_array().unwrap() {
        assert_eq!(f["revert"], "reverted", "{f}");
    }
    let (status, _) = proxy.json("GET", "/proxies/shop/cohorts", None).await;
    assert_eq!(status, 404, "the split is cleared");
    // The report shows both cohorts side by side, from the journal alone.
    let report = dir.path().join("report.html");
    let out = std::process::Command::new(binary())
        .arg("report")
        .arg(dir.path().join("journal.json"))
        .arg("-o")
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = std::fs::read_to_string(&report).unwrap();
    let cohorts = &html[html.find("id=\"cohorts\"").expect("a cohorts section")..];
    assert!(
        cohorts.contains("<th>control</th><th>experiment</th>")
            && cohorts.contains(
                "<th>error rate</th><td class=\"num\">0.00 %</td><td class=\"num\">100.00 %</td>"
            )
            && cohorts.contains(">worse</span>"),
        "{cohorts}"
    );
    crate::faults::stop_guard(dir.path());
    cancel.cancel();
    handle.join().unwrap();
}

#[test]
fn the_k8s_partition_example_runs_against_the_fake_api_server_and_leaves_nothing_behind() {
    let fake = crate::k8s_fake::FakeCluster::start();
    fake.node("n1");
    fake.deployment("shop", "web", 3, serde_json::json!({"app": "web"}));
    let dir = TempDir::new("ex-k8s");
    let kubeconfig = fake.kubeconfig(dir.path(), "default");
    let state = dir.path().join("state");
    let (code, j, err) = run(
        dir.path(),
        &example("k8s-partition.yaml"),
        &[],
        &[
            ("MONKEYWRENCH_STATE_DIR", &state.to_string_lossy()),
            ("KUBECONFIG", &kubeconfig),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let faults = j["monkeywrench"]["faults"].as_array().unwrap();
    let reverts: Vec<&str> = faults.iter().filter_map(|f| f["revert"].as_str()).collect();
    assert_eq!(reverts.len(), 3, "{j}");
    assert_eq!(
        reverts.iter().filter(|r| **r == "reverted").count(),
        2,
        "{j}"
    );
    assert!(reverts.contains(&"irreversible"), "{j}");
    assert_eq!(j["steady_states"]["after"]["probes"][0]["output"], true);
    assert!(fake.list("networkpolicies", "shop").is_empty());
    assert_eq!(fake.replicas("deployments", "shop", "web"), Some(3));
    assert_eq!(fake.live_pods("shop").len(), 3);
    crate::faults::stop_guard(dir.path());
}

#[test]
fn the_k8s_rollback_example_runs_against_the_fake_api_server_and_puts_the_release_back() {
    let fake = crate::k8s_fake::FakeCluster::start();
    fake.node("n1");
    fake.deployment("shop", "web", 2, serde_json::json!({"app": "web"}));
    fake.set_image("shop", "web", "nginx:1.28");
    let dir = TempDir::new("ex-k8s-rollback");
    let kubeconfig = fake.kubeconfig(dir.path(), "default");
    let state = dir.path().join("state");
    let (code, j, err) = run(
        dir.path(),
        &example("k8s-rollback.yaml"),
        &[],
        &[
            ("MONKEYWRENCH_STATE_DIR", &state.to_string_lossy()),
            ("KUBECONFIG", &kubeconfig),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let faults = j["monkeywrench"]["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 1, "{j}");
    assert_eq!(faults[0]["revert"], "reverted", "{j}");
    assert_eq!(faults[0]["target"]["to_revision"], 1, "{j}");
    assert_eq!(fake.image("shop", "web").as_deref(), Some("nginx:1.28"));
    crate::faults::stop_guard(dir.path());
}
