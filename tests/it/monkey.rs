//! The Chaos Monkey through its CLI with real parts: opted-in containers with a restart policy
//! killed at the planned minute (and restarted by the engine), opt-out and non-opted-in ones
//! untouched, leashed runs, history as JSON, config errors, an unreachable store and engine,
//! and the daemon's /metrics.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::docker_fixture::{DockerFixture, docker_ok};
use crate::harness::{TempDir, binary, stderr, write};

/// A work day far from today, so `--now` drives the whole schedule.
const DAY: &str = "2030-01-08";

fn monkey(dir: &TempDir, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(binary())
        .arg("monkey")
        .args(args)
        .env("MONKEYWRENCH_STATE_DIR", dir.path().join("state"))
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn json(out: &std::process::Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn restarts(name: &str) -> u64 {
    docker_ok(&["inspect", "-f", "{{.RestartCount}}", name])
        .parse()
        .unwrap()
}

fn container_config(app: &str, leashed: bool) -> String {
    format!(
        "enabled: true\nleashed: {leashed}\ngrouping: app\ntime_zone: Europe/Berlin\n\
         mean_time_between_kills_in_work_days: 1\nmin_time_between_kills_in_work_days: 2\n\
         exceptions: [{{app: never-{app}}}]\n# the group: containers labelled monkeywrench.app={app}\n\
         # only this test's containers (other tests opt theirs in on the same engine)\n\
         docker: {{labels: {{monkeywrench.test: {app}}}}}\n"
    )
}

#[test]
fn opted_in_containers_are_killed_at_the_planned_minute_and_restarted_by_the_engine() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("monkey-containers");
    let app = fx.run.clone();
    let opted = |suffix: &str, extra: &[&str]| {
        let mut args = vec![
            "--restart",
            "always",
            "--label",
            "monkeywrench.monkey=enabled",
        ];
        let app_label = format!("monkeywrench.app={app}");
        args.push("--label");
        args.push(Box::leak(app_label.into_boxed_str()));
        args.extend_from_slice(extra);
        fx.container(suffix, &args, &["sleep", "300"])
    };
    let members: Vec<String> = (1..=3).map(|i| opted(&format!("m{i}"), &[])).collect();
    let skipped = opted("skip", &["--label", "monkeywrench.skip=true"]);
    let bystander = fx.container(
        "bystander",
        &["--label", &format!("monkeywrench.app={app}")],
        &["sleep", "300"],
    );
    let config = write(dir.path(), "monkey.yaml", &container_config(&app, false));

    // The plan previewed for a coming day (drawn over the whole window, random seed) is the one
    // that is carried out: looking at it again, a tick before the window and the tick at the
    // minute all follow it.
    let previewed = json(&monkey(
        &dir,
        &[
            "plan", "--config", &config, "--date", DAY, "--output", "json",
        ],
        &[],
    ));
    let early = monkey(
        &dir,
        &[
            "tick",
            "--config",
            &config,
            "--now",
            &format!("{DAY}T07:00"),
            "--output",
            "json",
        ],
        &[],
    );
    assert_eq!(
        json(&early),
        serde_json::json!([]),
        "nothing due before the window"
    );
    let plan = json(&monkey(
        &dir,
        &[
            "plan", "--config", &config, "--date", DAY, "--output", "json",
        ],
        &[],
    ));
    assert_eq!(plan["date"], DAY);
    let kills = plan["kills"].as_array().unwrap();
    assert_eq!(kills.len(), 1, "mean 1: one kill per work day: {plan}");
    assert_eq!(kills[0]["group"], app.as_str());
    assert_eq!(
        kills[0]["instances"], 3,
        "opt-out and non-opted-in are not candidates"
    );
    let at = kills[0]["at"].as_str().unwrap().to_string();
    assert_eq!(plan, previewed, "the previewed plan stands");

    // One minute early: nothing. At the planned minute: one kill.
    let before: jiff::Timestamp = at.parse().unwrap();
    let minute_early = (before - jiff::SignedDuration::from_mins(1)).to_string();
    let none = json(&monkey(
        &dir,
        &[
            "tick",
            "--config",
            &config,
            "--now",
            &minute_early,
            "--output",
            "json",
        ],
        &[],
    ));
    assert_eq!(none, serde_json::json!([]));
    let ticked = json(&monkey(
        &dir,
        &[
            "tick", "--config", &config, "--now", &at, "--output", "json",
        ],
        &[],
    ));
    let victims = ticked[0]["victims"].as_array().unwrap();
    assert_eq!(victims.len(), 1, "{ticked}");
    assert_eq!(victims[0]["outcome"], "killed", "{ticked}");
    assert_eq!(victims[0]["instance"]["kind"], "container");
    let victim = victims[0]["instance"]["name"].as_str().unwrap().to_string();
    assert!(members.contains(&victim), "{victim}");
    assert!(
        fx.wait_for(Duration::from_secs(30), || restarts(&victim) >= 1
            && fx.state(&victim) == "running"),
        "the engine restarted the killed container"
    );
    for other in members
        .iter()
        .filter(|m| **m != victim)
        .chain([&skipped, &bystander])
    {
        assert_eq!(restarts(other), 0, "{other} untouched");
        assert_eq!(fx.state(other), "running");
    }
    // Again at the same minute: already done, nothing more.
    let again = json(&monkey(
        &dir,
        &[
            "tick", "--config", &config, "--now", &at, "--output", "json",
        ],
        &[],
    ));
    assert_eq!(again, serde_json::json!([]));

    let history = json(&monkey(&dir, &["history", "--output", "json"], &[]));
    let rows = history.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{history}");
    assert_eq!(rows[0]["outcome"], "killed");
    assert_eq!(rows[0]["planned_at"], at.as_str());
    assert_eq!(rows[0]["at"], at.as_str());

    // The next work day, within the min time (2 work days): planned, then skipped with the reason.
    let next_day = "2030-01-09";
    let plan = json(&monkey(
        &dir,
        &[
            "plan", "--config", &config, "--date", next_day, "--output", "json",
        ],
        &[],
    ));
    let at2 = plan["kills"][0]["at"].as_str().unwrap().to_string();
    let skipped_tick = json(&monkey(
        &dir,
        &[
            "tick", "--config", &config, "--now", &at2, "--output", "json",
        ],
        &[],
    ));
    let reason = skipped_tick[0]["skipped"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("min-time-between-kills"),
        "{skipped_tick}"
    );
    let status = monkey(&dir, &["status", "--config", &config], &[]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    assert!(String::from_utf8_lossy(&status.stdout).contains(&format!("{app}  3 instance(s)")));
}

#[test]
fn a_leashed_monkey_records_everything_and_kills_nothing() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("monkey-leashed");
    let app = fx.run.clone();
    let label = format!("monkeywrench.app={app}");
    let c = fx.container(
        "only",
        &[
            "--restart",
            "always",
            "--label",
            "monkeywrench.monkey=enabled",
            "--label",
            &label,
        ],
        &["sleep", "300"],
    );
    let config = write(dir.path(), "monkey.yaml", &container_config(&app, true));
    monkey(
        &dir,
        &[
            "tick",
            "--config",
            &config,
            "--now",
            &format!("{DAY}T07:00"),
            "--seed",
            "1",
        ],
        &[],
    );
    let plan = json(&monkey(
        &dir,
        &[
            "plan", "--config", &config, "--date", DAY, "--output", "json",
        ],
        &[],
    ));
    let at = plan["kills"][0]["at"].as_str().unwrap().to_string();
    let ticked = json(&monkey(
        &dir,
        &[
            "tick", "--config", &config, "--now", &at, "--output", "json",
        ],
        &[],
    ));
    assert_eq!(ticked[0]["victims"][0]["outcome"], "leashed", "{ticked}");
    assert_eq!(restarts(&c), 0);
    assert_eq!(fx.state(&c), "running");
    let history = json(&monkey(&dir, &["history", "--output", "json"], &[]));
    assert_eq!(history[0]["leashed"], true);
    assert_eq!(history[0]["outcome"], "leashed");
}

#[test]
fn an_engine_that_is_down_at_kill_time_means_a_recorded_skip_and_no_kill() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("monkey-engine-down");
    let app = fx.run.clone();
    let label = format!("monkeywrench.app={app}");
    let c = fx.container(
        "only",
        &["--label", "monkeywrench.monkey=enabled", "--label", &label],
        &["sleep", "300"],
    );
    let config = write(dir.path(), "monkey.yaml", &container_config(&app, false));
    monkey(
        &dir,
        &[
            "tick",
            "--config",
            &config,
            "--now",
            &format!("{DAY}T07:00"),
            "--seed",
            "3",
        ],
        &[],
    );
    let plan = json(&monkey(
        &dir,
        &[
            "plan", "--config", &config, "--date", DAY, "--output", "json",
        ],
        &[],
    ));
    let at = plan["kills"][0]["at"].as_str().unwrap().to_string();
    let down = [("DOCKER_HOST", "unix:///nonexistent/docker.sock")];
    // The stored plan still names the group; with the engine gone it has no instance, so the
    // attempt is skipped and the reason (the engine) is recorded.
    let ticked = json(&monkey(
        &dir,
        &[
            "tick", "--config", &config, "--now", &at, "--output", "json",
        ],
        &down,
    ));
    let reason = ticked[0]["skipped"].as_str().unwrap_or_default();
    assert!(reason.starts_with("no-eligible-instances"), "{ticked}");
    assert!(
        reason.contains("reach the Docker engine at unix:///nonexistent/docker.sock"),
        "{reason}"
    );
    assert_eq!(fx.state(&c), "running");
    let history = json(&monkey(
        &dir,
        &["history", "--outcome", "skipped", "--output", "json"],
        &[],
    ));
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    let status = monkey(&dir, &["status", "--config", &config], &down);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("reach the Docker engine"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
}

#[test]
fn bad_configs_and_an_unreachable_store_are_clear_and_kill_nothing() {
    let dir = TempDir::new("monkey-bad");
    let config = write(
        dir.path(),
        "monkey.yaml",
        "enabled: true\ntime_zone: Mars/Olympus\nstart_hour: 16\nend_hour: 10\nmean_time_between_kills_in_work_days: -1\nleashd: false\n",
    );
    let out = monkey(&dir, &["tick", "--config", &config], &[]);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    for needle in [
        "monkey.yaml:2:12: error: time_zone: unknown time zone \"Mars/Olympus\"",
        "end_hour (10) must be after start_hour (16)",
        "monkey.yaml:5:39: error: mean_time_between_kills_in_work_days",
        "monkey.yaml:6:1: error: leashd: unknown key \"leashd\" (did you mean \"leashed\"?)",
        "4 error(s) in the monkey config",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    let good = write(dir.path(), "good.yaml", "enabled: true\ndocker: false\n");
    let out = monkey(
        &dir,
        &[
            "tick",
            "--config",
            &good,
            "--store",
            "postgres://monkey@127.0.0.1:1/none",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing was killed"),
        "{}",
        stderr(&out)
    );
    let out = monkey(
        &dir,
        &["tick", "--config", &good, "--now", "next tuesday"],
        &[],
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("--now \"next tuesday\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_daemon_serves_metrics_and_stops_on_sigterm() {
    let dir = TempDir::new("monkey-daemon");
    let config = write(dir.path(), "monkey.yaml", "enabled: true\ndocker: false\n");
    let mut child = Command::new(binary())
        .args([
            "monkey",
            "run",
            "--config",
            &config,
            "--listen",
            "127.0.0.1:0",
        ])
        .env("MONKEYWRENCH_STATE_DIR", dir.path().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    for _ in 0..20 {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut reader, &mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.split("metrics on http://").nth(1) {
            addr = Some(rest.trim().trim_end_matches("/metrics").to_string());
            break;
        }
    }
    let addr = addr.expect("the daemon printed its metrics address");
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            use std::io::{Read, Write};
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            s.read_to_string(&mut body).unwrap();
            if body.contains("monkeywrench_monkey_last_plan_timestamp_seconds") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(body.contains("200 OK"), "{body}");
    assert!(
        body.contains("# TYPE monkeywrench_monkey_kills_total counter"),
        "{body}"
    );
    let exposition = body.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(exposition.contains("\nprocess_open_fds "), "{body}");
    crate::harness::promtool_check(exposition);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn monkeywrench_processes_are_never_candidates() {
    let dir = TempDir::new("monkey-self");
    // Another monkeywrench process (a proxy server) that a careless pattern would match.
    let port = crate::harness::closed_port().to_string();
    let mut other = Command::new(binary())
        .args(["proxy", "serve", "--port", &port])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let config = write(
        dir.path(),
        "monkey.yaml",
        &format!(
            "enabled: true\nleashed: false\ndocker: false\nprocesses:\n  - {{pattern: 'proxy serve --port {port}', app: oops}}\n"
        ),
    );
    let status = json(&monkey(
        &dir,
        &["status", "--config", &config, "--output", "json"],
        &[],
    ));
    assert_eq!(status["groups"], serde_json::json!([]), "{status}");
    let _ = other.kill();
    let _ = other.wait();
}

#[test]
fn the_daemon_refuses_to_listen_beyond_loopback_without_a_token() {
    let dir = TempDir::new("monkey-listen");
    let config = write(dir.path(), "monkey.yaml", "enabled: true\ndocker: false\n");
    let out = Command::new(binary())
        .args([
            "monkey",
            "run",
            "--config",
            &config,
            "--listen",
            "0.0.0.0:0",
        ])
        .env("MONKEYWRENCH_STATE_DIR", dir.path().join("state"))
        .env_remove("MONKEYWRENCH_AUTH_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("listening on 0.0.0.0:0 (beyond loopback) requires --auth-token"),
        "{}",
        stderr(&out)
    );
}
