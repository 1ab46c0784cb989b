//! Kubernetes faults end to end: the real binary against the in-process fake API server
//! (`k8s_fake`), reached through a kubeconfig. Each fault applies and its revert is read back
//! from the fake; a SIGKILLed run's scale and NetworkPolicy are reverted by the guard; `halt`
//! reverts them; the failure paths name what went wrong.

use std::time::Duration;

use serde_json::{Value, json};

use crate::containers::{action, experiment, journal, sleep_action};
use crate::faults::{ledger_json, mw, sigkill, spawn_run, stop_guard};
use crate::harness::{TempDir, stderr, write};
use crate::k8s_fake::FakeCluster;

const WAIT: Duration = Duration::from_secs(20);

/// A cluster with nodes `n1`, `n2` and Deployment `web` (3 pods, `app=web`) in `shop`.
fn shop() -> FakeCluster {
    let fake = FakeCluster::start();
    fake.node("n1");
    fake.node("n2");
    fake.deployment("shop", "web", 3, json!({"app": "web"}));
    fake
}

/// `arguments` with the kubeconfig the fake wrote.
fn args(kubeconfig: &str, mut arguments: Value) -> String {
    arguments["kubeconfig"] = json!(kubeconfig);
    arguments.to_string()
}

fn run(dir: &TempDir, method: &[String]) -> (Option<i32>, String) {
    let file = write(dir.path(), "e.json", &experiment(method));
    let out = spawn_run(dir.path(), &file).wait_with_output().unwrap();
    (out.status.code(), stderr(&out))
}

fn requests(fake: &FakeCluster, method: &str, path_end: &str) -> Vec<Value> {
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

#[test]
fn an_rbac_refusal_names_the_verb_the_resource_the_namespace_and_the_role_rule() {
    let fake = shop();
    fake.forbid("delete", "pods");
    let dir = TempDir::new("k8s-rbac");
    let kc = fake.kubeconfig(dir.path(), "shop");
    let (code, err) = run(
        &dir,
        &[action(
            "delete",
            "k8s.pod.kill",
            &args(&kc, json!({"target": {"labels": {"app": "web"}}})),
            None,
        )],
    );
    assert_eq!(code, Some(2), "{err}");
    let text = journal(&dir).to_string();
    for part in [
        "forbidden to delete pods",
        "in namespace shop",
        &format!(
            "User \\\"{}\\\" cannot delete resource \\\"pods\\\"",
            crate::k8s_fake::USER
        ),
        "a Role rule {apiGroups: [\\\"\\\"], resources: [\\\"pods\\\"], verbs: [\\\"delete\\\"]} allows it",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert_eq!(fake.live_pods("shop").len(), 3, "nothing deleted");
    fake.forbid("patch", "nodes");
    let (code, _) = run(
        &dir,
        &[action(
            "cordon",
            "k8s.node.cordon",
            &args(&kc, json!({"node": "n2"})),
            None,
        )],
    );
    assert_eq!(code, Some(2));
    let text = journal(&dir).to_string();
    assert!(
        text.contains("forbidden to patch nodes \\\"n2\\\""),
        "{text}"
    );
    assert!(text.contains("a ClusterRole rule"), "{text}");
    assert!(!fake.unschedulable("n2"));
    stop_guard(dir.path());
}

#[test]
fn the_failure_paths_are_named_and_apply_nothing() {
    let fake = shop();
    let dir = TempDir::new("k8s-failures");
    let kc = fake.kubeconfig(dir.path(), "shop");

    // A selector matching nothing.
    let (code, err) = run(
        &dir,
        &[action(
            "delete",
            "k8s.pod.delete",
            &args(&kc, json!({"target": {"labels": {"app": "nosuch"}}})),
            None,
        )],
    );
    assert_eq!(code, Some(2), "{err}");
    let text = journal(&dir).to_string();
    assert!(
        text.contains("pods in namespace shop labelled app=nosuch"),
        "{text}"
    );

    // kube-system is never reached through the context's default namespace.
    fake.deployment("kube-system", "coredns", 2, json!({"k8s-app": "kube-dns"}));
    let system = fake.kubeconfig(dir.path(), "kube-system");
    let (code, _) = run(
        &dir,
        &[action(
            "delete",
            "k8s.pod.kill",
            &args(
                &system,
                json!({"target": {"labels": {"k8s-app": "kube-dns"}}}),
            ),
            None,
        )],
    );
    assert_eq!(code, Some(2));
    assert!(
        journal(&dir)
            .to_string()
            .contains("pods in kube-system are never targets")
    );
    assert_eq!(fake.live_pods("kube-system").len(), 2);
    // … unless named.
    let (code, err) = run(
        &dir,
        &[action(
            "delete",
            "k8s.pod.kill",
            &args(
                &system,
                json!({"target": {"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}}}),
            ),
            None,
        )],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        requests(&fake, "DELETE", "").len(),
        1,
        "one coredns pod deleted"
    );

    // A PodDisruptionBudget refuses the eviction: said so, with the API's reason.
    fake.pdb("shop", "web-pdb", json!({"app": "web"}), 3);
    let (code, _) = run(
        &dir,
        &[action(
            "evict",
            "k8s.pod.evict",
            &args(&kc, json!({"target": {"labels": {"app": "web"}}})),
            None,
        )],
    );
    assert_eq!(code, Some(2));
    let text = journal(&dir).to_string();
    assert!(
        text.contains("a PodDisruptionBudget refuses the eviction"),
        "{text}"
    );
    assert!(
        text.contains("would violate the pod's disruption budget"),
        "{text}"
    );
    assert_eq!(fake.live_pods("shop").len(), 3);

    // A scale on a Deployment an HPA owns warns that the HPA will fight it.
    fake.hpa("shop", "web-hpa", "Deployment", "web");
    let (code, err) = run(
        &dir,
        &[action(
            "scale",
            "k8s.deployment.scale",
            &args(&kc, json!({"name": "web", "replicas": 2})),
            None,
        )],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("HorizontalPodAutoscaler web-hpa scales deployment/web in namespace shop: it will fight this fault"),
        "{err}"
    );

    // A Deployment deleted while scaled: the lease closes as target-gone.
    let file = write(
        dir.path(),
        "gone.json",
        &experiment(&[
            action(
                "scale",
                "k8s.deployment.scale",
                &args(&kc, json!({"name": "web", "replicas": 1})),
                None,
            ),
            sleep_action(30.0),
        ]),
    );
    let before = ledger_json(dir.path()).len();
    let run_gone = spawn_run(dir.path(), &file);
    assert!(
        fake.wait_for(WAIT, || fake.replicas("deployments", "shop", "web")
            == Some(1))
    );
    fake.remove("deployments", "shop", "web");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run_gone.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = run_gone.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let leases = ledger_json(dir.path());
    assert_eq!(leases.len(), before + 1);
    assert_eq!(leases[0]["state"], "target-gone", "{:?}", leases[0]);
    stop_guard(dir.path());
}

#[test]
fn an_unreachable_or_unauthorised_api_server_is_reported_with_the_reason() {
    let dir = TempDir::new("k8s-unreachable");
    let port = crate::harness::closed_port();
    let kc = write(
        dir.path(),
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n\
             contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n"
        ),
    );
    let preview = std::process::Command::new(crate::harness::binary())
        .args(["targets", "--k8s", r#"{"labels": {"app": "web"}}"#])
        .env("KUBECONFIG", &kc)
        .output()
        .unwrap();
    assert_eq!(preview.status.code(), Some(69), "{}", stderr(&preview));
    assert!(
        stderr(&preview).contains(&format!(
            "reach the Kubernetes API at http://127.0.0.1:{port}"
        )),
        "{}",
        stderr(&preview)
    );
    let (code, err) = run(
        &dir,
        &[action(
            "delete",
            "k8s.pod.delete",
            &args(&kc, json!({"target": {"labels": {"app": "web"}}})),
            None,
        )],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        journal(&dir)
            .to_string()
            .contains("reach the Kubernetes API")
    );
    let none = std::process::Command::new(crate::harness::binary())
        .args(["targets", "--k8s", "{}"])
        .env("KUBECONFIG", dir.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(69), "{}", stderr(&none));
    assert!(
        stderr(&none).contains("no Kubernetes configuration"),
        "{}",
        stderr(&none)
    );
    let fake = shop();
    fake.refuse_credentials();
    let refused = std::process::Command::new(crate::harness::binary())
        .args(["targets", "--k8s", "{}"])
        .env("KUBECONFIG", fake.kubeconfig(dir.path(), "shop"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(69), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("refused the credentials (401 Unauthorized)"),
        "{}",
        stderr(&refused)
    );
    assert!(ledger_json(dir.path()).is_empty());
    stop_guard(dir.path());
}
