//! Choosing pods without touching them, and the monkey's Kubernetes groups, against the fake
//! API server: `targets --k8s` and `run --dry-run` show the pods a seed picks and the run hits
//! the same ones; workloads opted in by label (ours or kube-monkey's) become groups whose pods
//! the monkey deletes at the planned minute, and their controller replaces.

use serde_json::{Value, json};

use crate::containers::{action, experiment, journal};
use crate::faults::{ledger_json, mw, spawn_run, stop_guard};
use crate::harness::{TempDir, binary, stderr, write};
use crate::k8s_fake::FakeCluster;

#[test]
fn targets_dry_run_and_run_pick_the_same_pods_for_a_seed() {
    let fake = FakeCluster::start();
    fake.node("n1");
    fake.deployment("shop", "web", 4, json!({"app": "web"}));
    fake.deployment("shop", "api", 2, json!({"app": "api"}));
    let dir = TempDir::new("k8s-pick");
    let kc = fake.kubeconfig(dir.path(), "shop");
    let web = fake.live_pods("shop");
    let selector = r#"{"owner": "deployment/web"}"#;
    let preview = std::process::Command::new(binary())
        .args([
            "targets", "--k8s", selector, "--mode", "fixed", "--value", "2", "--seed", "7",
        ])
        .env("KUBECONFIG", &kc)
        .output()
        .unwrap();
    assert_eq!(preview.status.code(), Some(0), "{}", stderr(&preview));
    let text = String::from_utf8_lossy(&preview.stdout).into_owned();
    assert!(text.contains("4 pod(s) match; seed 7"), "{text}");
    let picked: Vec<String> = web
        .iter()
        .filter(|p| {
            text.lines()
                .any(|l| l.contains(&format!("shop/{p}")) && l.contains("victim"))
        })
        .cloned()
        .collect();
    assert_eq!(picked.len(), 2, "{text}");
    assert!(!text.contains("api-"), "only the Deployment's pods: {text}");

    let args = json!({"target": {"owner": "deployment/web"}, "kubeconfig": kc,
                      "blast-radius": {"mode": "fixed", "value": 2, "seed": 7}});
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[action(
            "delete two",
            "k8s.pod.kill",
            &args.to_string(),
            None,
        )]),
    );
    let plan = mw(dir.path(), &["run", "--dry-run", &file]);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        plan.contains("4 matched; fixed picks 2 with seed 7"),
        "{plan}"
    );
    for p in &picked {
        assert!(
            plan.contains(&format!("pod shop/{p} (node n1)")),
            "{p} in {plan}"
        );
    }
    assert!(plan.contains("revert: irreversible"), "{plan}");
    assert_eq!(fake.live_pods("shop").len(), 6, "a dry run deletes nothing");

    let out = spawn_run(dir.path(), &file).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut hit: Vec<String> = journal(&dir)["monkeywrench"]["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["target"]["name"].as_str().unwrap().to_string())
        .collect();
    hit.sort();
    let mut picked = picked;
    picked.sort();
    assert_eq!(hit, picked);
    stop_guard(dir.path());
}

const DAY: &str = "2030-01-08";

fn monkey(dir: &TempDir, args: &[&str]) -> Value {
    let out = std::process::Command::new(binary())
        .arg("monkey")
        .args(args)
        .env("MONKEYWRENCH_STATE_DIR", dir.path().join("state"))
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn the_monkey_groups_opted_in_workloads_and_deletes_a_pod_at_the_planned_minute() {
    let fake = FakeCluster::start();
    fake.node("n1");
    fake.deployment("shop", "web", 3, json!({"app": "web", "monkeywrench.io/monkey": "enabled", "monkeywrench.app": "storefront"}));
    fake.statefulset("shop", "db", 2, json!({"app": "db", "kube-monkey/enabled": "enabled", "kube-monkey/identifier": "database"}));
    fake.deployment("shop", "batch", 2, json!({"app": "batch"}));
    fake.deployment(
        "kube-system",
        "coredns",
        2,
        json!({"k8s-app": "dns", "monkeywrench.io/monkey": "enabled"}),
    );
    let dir = TempDir::new("k8s-monkey");
    let kc = fake.kubeconfig(dir.path(), "default");
    let config = write(
        dir.path(),
        "monkey.yaml",
        &format!(
            "enabled: true\nleashed: false\ngrouping: app\ndocker: false\n\
             mean_time_between_kills_in_work_days: 1\nkubernetes: {{kubeconfig: {kc}}}\n"
        ),
    );
    let plan = monkey(
        &dir,
        &[
            "plan", "--config", &config, "--date", DAY, "--output", "json",
        ],
    );
    let kills = plan["kills"].as_array().unwrap();
    let groups: Vec<(&str, u64)> = kills
        .iter()
        .map(|k| {
            (
                k["group"].as_str().unwrap(),
                k["instances"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        groups.len(),
        2,
        "storefront and database, never batch or kube-system: {plan}"
    );
    assert!(
        groups.contains(&("storefront", 3)) && groups.contains(&("database", 2)),
        "{plan}"
    );
    let web_before = fake.live_pods("shop");
    for kill in kills {
        let at = kill["at"].as_str().unwrap();
        let ticked = monkey(
            &dir,
            &["tick", "--config", &config, "--now", at, "--output", "json"],
        );
        let victims = ticked[0]["victims"].as_array().unwrap();
        assert_eq!(victims.len(), 1, "{ticked}");
        assert_eq!(victims[0]["outcome"], "killed", "{ticked}");
        assert_eq!(victims[0]["instance"]["kind"], "k8s-pod");
        assert_eq!(victims[0]["instance"]["namespace"], "shop");
        let name = victims[0]["instance"]["name"].as_str().unwrap();
        assert!(web_before.iter().any(|p| p == name), "{name}");
    }
    let deletes: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|(m, _, _, _)| m == "DELETE")
        .map(|(_, p, _, _)| p)
        .collect();
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    assert!(
        deletes
            .iter()
            .all(|p| p.starts_with("/api/v1/namespaces/shop/pods/")),
        "{deletes:?}"
    );
    assert_eq!(fake.live_pods("kube-system").len(), 2);
    let leases = ledger_json(dir.path());
    assert_eq!(leases.len(), 2, "each kill leased first: {leases:?}");
    assert!(leases.iter().all(|l| l["func"] == "k8s.pod.delete"));
}
