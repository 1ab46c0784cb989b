//! Kubernetes failure paths end to end, against the in-process fake API server: an RBAC
//! refusal names the verb, the resource, the namespace and the Role rule; a selector matching
//! nothing, kube-system, a PodDisruptionBudget, an HPA-owned Deployment and a Deployment gone at
//! revert each say what happened and apply nothing more; an unreachable, unconfigured or
//! unauthorised API server is named with its reason.

use serde_json::json;

use crate::containers::{action, experiment, journal, sleep_action};
use crate::faults::{ledger_json, spawn_run, stop_guard};
use crate::harness::{TempDir, stderr, write};
use crate::k8s::{WAIT, args, requests, run, shop};

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
    // The run exits 69 (unavailable), not 2, naming the server; the journal says why.
    assert_eq!(code, Some(69), "{err}");
    let server = format!("reach the Kubernetes API at http://127.0.0.1:{port}");
    assert!(err.contains(&server), "{err}");
    let text = journal(&dir);
    assert!(text.to_string().contains(&server), "{text}");
    assert_eq!(text["monkeywrench"]["exit_code"], 69, "{text}");
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
    // A run whose before-hypothesis asks a server that refuses the credentials: 69 as well.
    let refused_kc = fake.kubeconfig(dir.path(), "shop");
    let probe = format!(
        r#"{{"type": "probe", "name": "pods", "tolerance": 3, "provider": {{"type": "builtin", "func": "k8s.pods", "arguments": {}}}}}"#,
        args(
            &refused_kc,
            json!({"target": {"labels": {"app": "web"}}, "output": "count"})
        )
    );
    let file = write(
        dir.path(),
        "refused.json",
        &format!(
            r#"{{"title": "refused", "description": "d", "steady-state-hypothesis": {{"title": "pods", "probes": [{probe}]}}, "method": [{}]}}"#,
            sleep_action(0.1)
        ),
    );
    let out = spawn_run(dir.path(), &file).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refused the credentials (401 Unauthorized)"),
        "{}",
        stderr(&out)
    );
    assert!(ledger_json(dir.path()).is_empty());
    stop_guard(dir.path());
}
