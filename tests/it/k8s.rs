//! Kubernetes faults end to end: the real binary against the in-process fake API server
//! (`k8s_fake`), reached through a kubeconfig. Each fault applies and its revert is read back
//! from the fake; a SIGKILLed run's scale and NetworkPolicy are reverted by the guard; `halt`
//! reverts them (the failure paths are in `k8s_failures`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::containers::{action, experiment, journal, sleep_action};
use crate::faults::{ledger_json, mw, sigkill, spawn_run, stop_guard};
use crate::harness::{TempDir, stderr, write};
use crate::k8s_fake::FakeCluster;

pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A cluster with nodes `n1`, `n2` and Deployment `web` (3 pods, `app=web`) in `shop`.
pub(crate) fn shop() -> FakeCluster {
    let fake = FakeCluster::start();
    fake.node("n1");
    fake.node("n2");
    fake.deployment("shop", "web", 3, json!({"app": "web"}));
    fake
}

/// `arguments` with the kubeconfig the fake wrote.
pub(crate) fn args(kubeconfig: &str, mut arguments: Value) -> String {
    arguments["kubeconfig"] = json!(kubeconfig);
    arguments.to_string()
}

pub(crate) fn run(dir: &TempDir, method: &[String]) -> (Option<i32>, String) {
    let file = write(dir.path(), "e.json", &experiment(method));
    let out = spawn_run(dir.path(), &file).wait_with_output().unwrap();
    (out.status.code(), stderr(&out))
}

pub(crate) fn requests(fake: &FakeCluster, method: &str, path_end: &str) -> Vec<Value> {
    fake.requests()
        .into_iter()
        .filter(|(m, p, _, _)| m == method && p.ends_with(path_end))
        .map(|(_, _, _, body)| body)
        .collect()
}

#[test]
fn a_deleted_pod_is_replaced_by_its_replicaset_and_the_delete_carries_grace_and_uid() {
    let fake = shop();
    let dir = TempDir::new("k8s-delete");
    let kc = fake.kubeconfig(dir.path(), "shop");
    let before = fake.live_pods("shop");
    assert_eq!(before.len(), 3, "{before:?}");
    let (code, err) = run(
        &dir,
        &[action(
            "delete one",
            "k8s.pod.delete",
            &args(
                &kc,
                json!({"target": {"labels": {"app": "web"}}, "grace_period_s": 1}),
            ),
            None,
        )],
    );
    assert_eq!(code, Some(0), "{err}");
    let leases = ledger_json(dir.path());
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0]["func"], "k8s.pod.delete");
    let victim = leases[0]["target"]["name"].as_str().unwrap().to_string();
    assert!(before.contains(&victim), "{victim} was one of {before:?}");
    assert_eq!(
        leases[0]["target"]["owner"],
        "ReplicaSet/".to_string() + {
            let rs = fake.list("replicasets", "shop");
            rs[0]["metadata"]["name"].as_str().unwrap().to_string()
        }
        .as_str()
    );
    let deletes: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|(m, p, _, _)| m == "DELETE" && p.ends_with(&format!("/pods/{victim}")))
        .map(|(_, _, _, b)| b)
        .collect();
    assert_eq!(deletes.len(), 1, "one DELETE of the victim");
    assert_eq!(deletes[0]["gracePeriodSeconds"], 1);
    assert_eq!(
        deletes[0]["preconditions"]["uid"],
        fake.get("pods", "shop", &victim)
            .map_or(leases[0]["target"]["uid"].clone(), |p| p["metadata"]["uid"]
                .clone()),
        "bound to the victim's uid"
    );
    let now = fake.live_pods("shop");
    assert_eq!(now.len(), 3, "the ReplicaSet replaced it: {now:?}");
    assert!(!now.contains(&victim));
    assert!(
        fake.wait_for(WAIT, || fake.get("pods", "shop", &victim).is_none()),
        "the kubelet finished the graceful deletion"
    );
    let j = journal(&dir);
    assert_eq!(j["monkeywrench"]["faults"][0]["target"]["kind"], "k8s-pod");
    stop_guard(dir.path());
}

#[test]
fn scale_partition_and_cordon_apply_then_revert_and_each_revert_is_read_back() {
    let fake = shop();
    let dir = TempDir::new("k8s-reverts");
    let kc = fake.kubeconfig(dir.path(), "shop");
    let (code, err) = run(
        &dir,
        &[
            action(
                "scale down",
                "k8s.deployment.scale",
                &args(&kc, json!({"name": "web", "replicas": 1})),
                None,
            ),
            action(
                "partition",
                "k8s.network.deny",
                &args(
                    &kc,
                    json!({"target": {"labels": {"app": "web"}}, "name": "cut-web", "direction": "ingress"}),
                ),
                None,
            ),
            action(
                "cordon",
                "k8s.node.cordon",
                &args(&kc, json!({"node": "n1"})),
                None,
            ),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    // Applied: the scale patch, the policy, the node patch reached the API.
    let scales = requests(&fake, "PATCH", "/deployments/web/scale");
    assert_eq!(scales[0], json!({"spec": {"replicas": 1}}), "{scales:?}");
    assert_eq!(
        scales.last().unwrap(),
        &json!({"spec": {"replicas": 3}}),
        "restored"
    );
    let created = requests(&fake, "POST", "/networkpolicies");
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0]["spec"]["podSelector"]["matchLabels"],
        json!({"app": "web"})
    );
    assert_eq!(created[0]["spec"]["policyTypes"], json!(["Ingress"]));
    assert_eq!(
        created[0]["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "monkeywrench"
    );
    let nodes = requests(&fake, "PATCH", "/nodes/n1");
    assert_eq!(
        nodes.first().unwrap(),
        &json!({"spec": {"unschedulable": true}})
    );
    // Reverted, as the fake shows now.
    assert_eq!(fake.replicas("deployments", "shop", "web"), Some(3));
    assert_eq!(fake.live_pods("shop").len(), 3);
    assert!(fake.get("networkpolicies", "shop", "cut-web").is_none());
    assert!(!fake.unschedulable("n1"));
    let leases = ledger_json(dir.path());
    assert_eq!(leases.len(), 3, "{leases:?}");
    assert!(
        leases.iter().all(|l| l["state"] == "reverted"),
        "{leases:?}"
    );
    let scale = leases
        .iter()
        .find(|l| l["func"] == "k8s.deployment.scale")
        .unwrap();
    assert_eq!(
        scale["target"]["replicas"], 3,
        "the count before, recorded first"
    );
    assert_eq!(scale["target"]["scaled_to"], 1);
    stop_guard(dir.path());
}

#[test]
fn a_sigkilled_run_leaves_no_policy_and_no_changed_scale_behind() {
    let fake = shop();
    fake.statefulset("shop", "db", 2, json!({"app": "db"}));
    let dir = TempDir::new("k8s-guard");
    let kc = fake.kubeconfig(dir.path(), "shop");
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action(
                "scale web",
                "k8s.deployment.scale",
                &args(&kc, json!({"name": "web", "replicas": 0})),
                None,
            ),
            action(
                "scale db",
                "k8s.statefulset.scale",
                &args(&kc, json!({"name": "db", "replicas": 1})),
                None,
            ),
            action(
                "partition",
                "k8s.network.deny",
                &args(
                    &kc,
                    json!({"target": {"labels": {"app": "db"}}, "name": "cut-db"}),
                ),
                None,
            ),
            sleep_action(60.0),
        ]),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert!(
        fake.wait_for(WAIT, || fake
            .get("networkpolicies", "shop", "cut-db")
            .is_some()),
        "all three applied"
    );
    assert_eq!(fake.replicas("deployments", "shop", "web"), Some(0));
    assert_eq!(fake.replicas("statefulsets", "shop", "db"), Some(1));
    sigkill(&mut run);
    assert!(
        fake.wait_for(WAIT, || fake
            .get("networkpolicies", "shop", "cut-db")
            .is_none()
            && fake.replicas("deployments", "shop", "web") == Some(3)
            && fake.replicas("statefulsets", "shop", "db") == Some(2)),
        "the guard reverted both scales and the policy: web {:?}, db {:?}, policy {}",
        fake.replicas("deployments", "shop", "web"),
        fake.replicas("statefulsets", "shop", "db"),
        fake.get("networkpolicies", "shop", "cut-db").is_some()
    );
    assert!(
        fake.wait_for(WAIT, || ledger_json(dir.path())
            .iter()
            .all(|l| l["state"] == "reverted")),
        "{:?}",
        ledger_json(dir.path())
    );
    stop_guard(dir.path());
}

#[test]
fn halt_reverts_scale_and_policy_and_refuses_new_faults() {
    let fake = shop();
    let dir = TempDir::new("k8s-halt");
    let kc = fake.kubeconfig(dir.path(), "shop");
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action(
                "scale",
                "k8s.deployment.scale",
                &args(&kc, json!({"name": "web", "replicas": 1})),
                None,
            ),
            action(
                "partition",
                "k8s.network.deny",
                &args(
                    &kc,
                    json!({"target": {"labels": {"app": "web"}}, "name": "cut"}),
                ),
                None,
            ),
            sleep_action(30.0),
        ]),
    );
    let run = spawn_run(dir.path(), &file);
    assert!(fake.wait_for(WAIT, || {
        fake.get("networkpolicies", "shop", "cut").is_some()
    }));
    let halt = mw(dir.path(), &["halt", "--reason", "game day over"]);
    assert_eq!(halt.status.code(), Some(0), "{}", stderr(&halt));
    assert!(
        fake.get("networkpolicies", "shop", "cut").is_none(),
        "halt deleted the policy"
    );
    assert_eq!(
        fake.replicas("deployments", "shop", "web"),
        Some(3),
        "halt restored the scale"
    );
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let posts = requests(&fake, "POST", "/networkpolicies").len();
    let refused = mw(dir.path(), &["run", "--journal-path", "r.json", &file]);
    assert_ne!(refused.status.code(), Some(0));
    assert_eq!(
        requests(&fake, "POST", "/networkpolicies").len(),
        posts,
        "nothing applied while halted"
    );
    assert_eq!(mw(dir.path(), &["resume"]).status.code(), Some(0));
    stop_guard(dir.path());
}
