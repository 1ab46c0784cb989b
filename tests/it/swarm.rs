//! Swarm faults on a real single-node swarm: the clear error before `swarm init`, then a
//! service whose killed task the orchestrator replaces, and a scale-down reverted to the recorded
//! replica count. The test initialises the swarm itself and leaves it afterwards (only if it was
//! not active before); nextest runs it alone (test group `docker-swarm`).

use std::time::Duration;

use serde_json::Value;

use crate::docker_fixture::{DockerFixture, IMAGE, docker, docker_ok};
use crate::faults::{ledger_json, mw, stop_guard};
use crate::harness::{TempDir, stderr, write};

/// Leaves the swarm on drop when this test created it, and removes the `docker_gwbridge` network
/// that `swarm init` made (when it did not exist before).
struct SwarmMembership {
    created: bool,
    had_gwbridge: bool,
}

impl Drop for SwarmMembership {
    fn drop(&mut self) {
        if self.created {
            docker(&["swarm", "leave", "--force"]);
            if !self.had_gwbridge {
                docker(&["network", "rm", "docker_gwbridge"]);
            }
        }
    }
}

fn swarm_state() -> String {
    docker_ok(&["info", "-f", "{{.Swarm.LocalNodeState}}"])
}

/// `(running, desired)` as `docker service ls` shows them.
fn replicas(service: &str) -> (u64, u64) {
    let text = docker_ok(&[
        "service",
        "ls",
        "--filter",
        &format!("name={service}"),
        "--format",
        "{{.Replicas}}",
    ]);
    let (running, desired) = text.split_once('/').unwrap_or(("0", "0"));
    let desired = desired.split_whitespace().next().unwrap_or("0");
    (running.parse().unwrap_or(0), desired.parse().unwrap_or(0))
}

/// Creates a 2-replica test service (labelled for cleanup, plus `labels`) and waits until both
/// replicas run.
fn create_service(fx: &DockerFixture, name: &str, labels: &[&str]) {
    let test_label = format!("monkeywrench.test={}", fx.run);
    let mut args = vec!["service", "create", "-d", "--name", name];
    for label in std::iter::once(test_label.as_str()).chain(labels.iter().copied()) {
        args.extend(["--label", label]);
    }
    args.extend(["--replicas", "2", IMAGE, "sleep", "300"]);
    docker_ok(&args);
    assert!(
        fx.wait_for(Duration::from_secs(60), || replicas(name) == (2, 2)),
        "service {name} up: {:?}",
        replicas(name)
    );
}

fn method_experiment(actions: &str) -> String {
    format!(r#"{{"title": "swarm", "description": "d", "method": [{actions}]}}"#)
}

#[test]
fn swarm_faults_from_an_uninitialised_engine_to_a_rescheduled_task_and_a_restored_scale() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("swarm");
    let service = fx.name("svc");
    let scale = |replicas: u64, duration: f64| {
        format!(
            r#"{{"type": "action", "name": "scale", "duration": {duration},
                "provider": {{"type": "builtin", "func": "swarm.scale", "arguments": {{"service": "{service}", "replicas": {replicas}}}}}}}"#
        )
    };

    let mut membership = SwarmMembership {
        created: false,
        had_gwbridge: docker(&["network", "inspect", "docker_gwbridge"])
            .status
            .success(),
    };
    if swarm_state() != "active" {
        let file = write(
            dir.path(),
            "inactive.json",
            &method_experiment(&scale(0, 1.0)),
        );
        let out = mw(dir.path(), &["run", "--journal-path", "i.json", &file]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let journal = std::fs::read_to_string(dir.path().join("i.json")).unwrap();
        assert!(journal.contains("not a swarm manager"), "{journal}");
        let init = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        if !init.status.success() {
            eprintln!(
                "skipped: the engine refused `docker swarm init`: {}",
                String::from_utf8_lossy(&init.stderr)
            );
            return;
        }
        membership.created = true;
    }

    create_service(&fx, &service, &[]);

    // Kill one task: the journal names it, its container dies, the orchestrator replaces it.
    let file = write(
        dir.path(),
        "kill.json",
        &method_experiment(&format!(
            r#"{{"type": "action", "name": "kill-one", "provider": {{"type": "builtin", "func": "swarm.kill_task", "arguments": {{"service": "{service}"}}}}}},
               {{"type": "probe", "name": "replicas", "provider": {{"type": "builtin", "func": "swarm.replicas", "arguments": {{"service": "{service}"}}}}}}"#
        )),
    );
    let out = mw(dir.path(), &["run", "--journal-path", "k.json", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let journal: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("k.json")).unwrap()).unwrap();
    let killed = journal["run"][0]["output"]["faults"][0]["target"].clone();
    assert_eq!(killed["kind"], "swarm-task", "{journal}");
    assert_eq!(killed["service"], service.as_str());
    assert_eq!(journal["run"][1]["output"]["desired"], 2, "{journal}");
    let killed_container = killed["container"].as_str().unwrap().to_string();
    assert!(
        fx.wait_for(Duration::from_secs(30), || fx.state(&killed_container)
            != "running"),
        "the task's container was killed"
    );
    assert!(
        fx.wait_for(Duration::from_secs(60), || replicas(&service) == (2, 2)),
        "the orchestrator replaced the task: {:?}",
        replicas(&service)
    );

    // Scale to zero for 3 s: the lease restores the recorded count of 2.
    let file = write(dir.path(), "scale.json", &method_experiment(&scale(0, 3.0)));
    let mut run = crate::faults::spawn_run(dir.path(), &file);
    assert!(
        fx.wait_for(Duration::from_secs(20), || replicas(&service).1 == 0),
        "scaled down during the fault"
    );
    assert_eq!(run.wait().unwrap().code(), Some(0));
    assert_eq!(replicas(&service).1, 2, "desired count restored");
    let scaled = ledger_json(dir.path())
        .into_iter()
        .find(|l| l["func"] == "swarm.scale")
        .unwrap();
    assert_eq!(scaled["state"], "reverted", "{scaled}");
    assert_eq!(scaled["target"]["replicas"], 2);
    assert!(
        fx.wait_for(Duration::from_secs(60), || replicas(&service) == (2, 2)),
        "running again: {:?}",
        replicas(&service)
    );

    // A scale lease recorded but never applied (its run cut off in between) reverts cleanly:
    // the undo restores 2, which it already is, and the check sees 2.
    let id = crate::docker_fixture::docker_ok(&["service", "inspect", "-f", "{{.ID}}", &service]);
    let reverted = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use monkeywrench::fault::{self, Undo};
        let store = monkeywrench::store::Store::open(&monkeywrench::store::StoreLocation::Sqlite(
            dir.path().join("pending.db"),
        ))
        .await
        .unwrap();
        let ledger = monkeywrench::ledger::Ledger::new(store, fault::reverter());
        let undo = Undo::Swarm(fault::swarm::Undo::ScaleService {
            id,
            name: service.clone(),
            replicas: 2,
        });
        ledger
            .record(&monkeywrench::ledger::NewLease {
                run_id: "cut-off".into(),
                activity: "scale".into(),
                func: "swarm.scale".into(),
                target: serde_json::json!({"service": service}),
                reversible: true,
                undo: undo.to_value(),
                deadline: jiff::Timestamp::now() + jiff::SignedDuration::from_secs(600),
                settles_within: None,
            })
            .await
            .unwrap();
        ledger.revert_run("cut-off").await.unwrap()
    });
    assert_eq!(reverted.len(), 1);
    assert_eq!(reverted[0].1, monkeywrench::ledger::RevertOutcome::Reverted);
    assert_eq!(replicas(&service).1, 2);

    // The Chaos Monkey: a service that opts in by label; a planned kill takes one task and the
    // orchestrator replaces it. (Created with its labels: a label update through this machine's
    // newer CLI would redeploy every task first.)
    let monkey_service = fx.name("monkeyed");
    create_service(
        &fx,
        &monkey_service,
        &[
            "monkeywrench.monkey=enabled",
            &format!("monkeywrench.app={monkey_service}"),
        ],
    );
    let service = monkey_service;
    let config = write(
        dir.path(),
        "monkey.yaml",
        &format!(
            "enabled: true\nleashed: false\ngrouping: app\nmean_time_between_kills_in_work_days: 1\n\
             docker: {{labels: {{monkeywrench.test: {}}}}}\n",
            fx.run
        ),
    );
    let monkey = |args: &[&str]| {
        let out = mw(dir.path(), &[&["monkey"][..], args].concat());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)
    };
    monkey(&[
        "tick",
        "--config",
        &config,
        "--now",
        "2030-01-08T07:00:00Z",
        "--seed",
        "5",
    ]);
    let plan = monkey(&[
        "plan",
        "--config",
        &config,
        "--date",
        "2030-01-08",
        "--output",
        "json",
    ]);
    assert_eq!(plan["kills"][0]["group"], service.as_str(), "{plan}");
    assert_eq!(plan["kills"][0]["instances"], 2, "{plan}");
    let at = plan["kills"][0]["at"].as_str().unwrap().to_string();
    let ticked = monkey(&[
        "tick", "--config", &config, "--now", &at, "--output", "json",
    ]);
    let victim = &ticked[0]["victims"][0];
    assert_eq!(victim["outcome"], "killed", "{ticked}");
    assert!(
        victim["instance"]["name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{service}.")),
        "{ticked}"
    );
    let killed = victim["instance"]["id"].as_str().unwrap().to_string();
    assert!(
        fx.wait_for(Duration::from_secs(30), || fx.state(&killed) != "running"),
        "the task's container died"
    );
    assert!(
        fx.wait_for(Duration::from_secs(60), || replicas(&service) == (2, 2)),
        "the orchestrator replaced the killed task: {:?}",
        replicas(&service)
    );
    stop_guard(dir.path());
}
