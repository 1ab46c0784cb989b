//! Kubernetes probes and the chaosk8s functions run natively, against the in-process fake API
//! server: the probes' outputs in the journal, and a Chaos Toolkit experiment written for
//! chaostoolkit-kubernetes whose actions go through the ledger (their leases revert the scale and
//! the NetworkPolicy the rollbacks would have).

use serde_json::{Value, json};

use crate::faults::{ledger_json, stop_guard};
use crate::harness::{TempDir, binary, stderr, write};
use crate::k8s_fake::FakeCluster;

fn run_with_kubeconfig(
    dir: &TempDir,
    kubeconfig: &str,
    experiment: &Value,
) -> (Option<i32>, String, Value) {
    let file = write(dir.path(), "e.json", &experiment.to_string());
    let out = std::process::Command::new(binary())
        .args(["run", "--journal-path", "journal.json", &file])
        .env("MONKEYWRENCH_STATE_DIR", dir.path().join("state"))
        .env("KUBECONFIG", kubeconfig)
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let journal = std::fs::read_to_string(dir.path().join("journal.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (out.status.code(), stderr(&out), journal)
}

fn builtin(kind: &str, name: &str, func: &str, arguments: Value) -> Value {
    json!({"type": kind, "name": name, "provider": {"type": "builtin", "func": func, "arguments": arguments}})
}

fn python(kind: &str, name: &str, module: &str, func: &str, arguments: Value) -> Value {
    json!({"type": kind, "name": name, "provider": {"type": "python", "module": module, "func": func, "arguments": arguments}})
}

fn output<'a>(journal: &'a Value, name: &str) -> &'a Value {
    journal["run"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            journal["steady_states"]["before"]["probes"]
                .as_array()
                .into_iter()
                .flatten(),
        )
        .find(|r| r["activity"]["name"] == name)
        .map(|r| &r["output"])
        .unwrap_or_else(|| panic!("no activity {name} in {journal}"))
}

#[test]
fn the_probes_count_pods_read_a_deployment_and_grep_logs() {
    let fake = FakeCluster::start();
    fake.node("n1");
    fake.deployment("shop", "web", 2, json!({"app": "web"}));
    let pods = fake.live_pods("shop");
    fake.set_log("shop", &pods[0], "started\nGET / 200\nGET /x 500\n");
    fake.set_log("shop", &pods[1], "started\n");
    // A bare control plane: the StatefulSet's pods stay Pending.
    fake.bare();
    fake.statefulset("shop", "db", 1, json!({"app": "db"}));
    let dir = TempDir::new("k8s-probes");
    let kc = fake.kubeconfig(dir.path(), "shop");
    let experiment = json!({
        "title": "probes", "description": "d",
        "steady-state-hypothesis": {"title": "web is up", "probes": [
            {"type": "probe", "name": "web healthy", "tolerance": true,
             "provider": {"type": "builtin", "func": "k8s.deployment", "arguments": {"name": "web", "output": "healthy"}}}
        ]},
        "method": [
            builtin("probe", "web pods", "k8s.pods", json!({"target": {"labels": {"app": "web"}}})),
            builtin("probe", "db pods", "k8s.pods", json!({"target": {"owner": "statefulset/db"}})),
            builtin("probe", "web status", "k8s.deployment", json!({"name": "web"})),
            builtin("probe", "errors", "k8s.pod.logs", json!({"target": {"labels": {"app": "web"}}, "regex": " 5\\d\\d$"})),
        ]
    });
    let (code, err, journal) = run_with_kubeconfig(&dir, &kc, &experiment);
    assert_eq!(code, Some(0), "{err}");
    let web = output(&journal, "web pods");
    assert_eq!(web["total"], 2);
    assert_eq!(web["ready"], 2);
    assert_eq!(web["phases"], json!({"Running": 2}));
    let db = output(&journal, "db pods");
    assert_eq!(db["phases"], json!({"Pending": 1}), "{db}");
    assert_eq!(db["ready"], 0);
    let status = output(&journal, "web status");
    assert_eq!(status["desired"], 2);
    assert_eq!(status["available"], 2);
    assert_eq!(status["healthy"], true);
    assert_eq!(status["conditions"][0]["type"], "Available");
    let errors = output(&journal, "errors");
    assert_eq!(errors["lines"], 4);
    assert_eq!(errors["matches"], 1);
    assert_eq!(
        errors["matched"][0],
        json!({"pod": pods[0], "line": "GET /x 500"})
    );
    assert!(ledger_json(dir.path()).is_empty(), "probes lease nothing");
}

#[test]
fn a_chaosk8s_experiment_runs_natively_and_its_actions_are_leased_and_reverted() {
    let fake = FakeCluster::start();
    fake.node("n1");
    fake.deployment("shop", "web", 3, json!({"app": "web"}));
    let dir = TempDir::new("k8s-chaosk8s");
    // chaosk8s finds its cluster through KUBECONFIG; its functions default to namespace
    // `default`, so the experiment names `shop` as its users do.
    let kc = fake.kubeconfig(dir.path(), "default");
    let experiment = json!({
        "title": "web survives losing a pod and its ingress", "description": "d",
        "steady-state-hypothesis": {"title": "web is healthy", "probes": [
            {"type": "probe", "name": "available", "tolerance": true, "provider":
                {"type": "python", "module": "chaosk8s.deployment.probes", "func": "deployment_available_and_healthy",
                 "arguments": {"name": "web", "ns": "shop"}}},
            {"type": "probe", "name": "enough pods", "tolerance": [2, 3], "provider":
                {"type": "python", "module": "chaosk8s.pod.probes", "func": "count_pods",
                 "arguments": {"label_selector": "app=web", "ns": "shop", "phase": "Running"}}}
        ]},
        "method": [
            python("action", "terminate", "chaosk8s.pod.actions", "terminate_pods",
                   json!({"label_selector": "app=web", "ns": "shop", "qty": 1, "grace_period": 0})),
            python("action", "scale", "chaosk8s.deployment.actions", "scale_deployment",
                   json!({"name": "web", "replicas": 2, "ns": "shop"})),
            python("action", "deny", "chaosk8s.networking.actions", "deny_all_ingress",
                   json!({"label_selectors": {"app": "web"}, "ns": "shop"})),
            python("probe", "running", "chaosk8s.pod.probes", "pods_in_phase",
                   json!({"label_selector": "app=web", "ns": "shop"})),
            python("probe", "logs", "chaosk8s.pod.probes", "read_pod_logs",
                   json!({"label_selector": "app=web", "ns": "shop"})),
        ],
        "rollbacks": [
            python("action", "allow", "chaosk8s.networking.actions", "remove_deny_all_ingress", json!({"ns": "shop"})),
        ]
    });
    let (code, err, journal) = run_with_kubeconfig(&dir, &kc, &experiment);
    assert!(
        err.contains("python function chaosk8s.pod.actions.terminate_pods runs natively as the builtin k8s.pod.delete"),
        "{err}"
    );
    let deleted = output(&journal, "terminate");
    assert_eq!(
        deleted.as_array().map(Vec::len),
        Some(1),
        "the names deleted, as chaosk8s returns: {deleted}"
    );
    assert!(deleted[0].as_str().unwrap().starts_with("web-"));
    assert_eq!(output(&journal, "scale"), &Value::Null);
    assert_eq!(output(&journal, "deny"), &Value::Null);
    assert_eq!(output(&journal, "running"), &json!(true));
    let logs = output(&journal, "logs");
    assert_eq!(
        logs.as_object().map(|m| m.len()),
        Some(2),
        "one log per pod: {logs}"
    );
    assert_eq!(code, Some(0), "{err}");
    // The policy chaosk8s names, created then deleted; the scale restored by its lease.
    let created: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|(m, p, _, _)| {
            m == "POST" && p == "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies"
        })
        .map(|(_, _, _, b)| b)
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0]["metadata"]["name"],
        "chaostoolkit-deny-all-ingress"
    );
    assert_eq!(created[0]["spec"]["policyTypes"], json!(["Ingress"]));
    assert!(
        fake.get("networkpolicies", "shop", "chaostoolkit-deny-all-ingress")
            .is_none()
    );
    assert_eq!(fake.replicas("deployments", "shop", "web"), Some(3));
    let leases = ledger_json(dir.path());
    let funcs: Vec<&str> = leases.iter().filter_map(|l| l["func"].as_str()).collect();
    for f in ["k8s.pod.delete", "k8s.deployment.scale", "k8s.network.deny"] {
        assert!(funcs.contains(&f), "{f} leased: {funcs:?}");
    }
    assert!(
        leases
            .iter()
            .filter(|l| l["func"] != "k8s.pod.delete")
            .all(|l| l["state"] == "reverted"),
        "{leases:?}"
    );
    stop_guard(dir.path());
}

#[test]
fn rollback_deployment_puts_the_previous_template_back_and_the_lease_restores_the_newer_one() {
    let fake = FakeCluster::start();
    fake.node("n1");
    fake.deployment("shop", "web", 2, json!({"app": "web"}));
    fake.set_image("shop", "web", "nginx:1.28");
    fake.deployment("shop", "api", 1, json!({"app": "api"}));
    let dir = TempDir::new("k8s-rollback");
    let kc = fake.kubeconfig(dir.path(), "shop");
    let rollback = |name: &str| {
        python(
            "action",
            &format!("undo {name}"),
            "chaosk8s.deployment.actions",
            "rollback_deployment",
            json!({"name": name, "ns": "shop"}),
        )
    };
    let experiment = json!({
        "title": "rollback", "description": "d",
        "method": [rollback("web")],
    });
    let (code, err, journal) = run_with_kubeconfig(&dir, &kc, &experiment);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        output(&journal, "undo web"),
        &Value::Null,
        "chaosk8s returns None"
    );
    let patches: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|(m, p, _, _)| m == "PATCH" && p.ends_with("/deployments/web"))
        .map(|(_, _, _, body)| body)
        .collect();
    assert_eq!(patches.len(), 2, "the rollback and its revert: {patches:?}");
    let image = |patch: &Value| patch["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    assert_eq!(image(&patches[0]), "nginx:1.27", "revision 1's template");
    assert_eq!(
        image(&patches[1]),
        "nginx:1.28",
        "the template it had, put back"
    );
    assert_eq!(fake.image("shop", "web").as_deref(), Some("nginx:1.28"));
    let leases = ledger_json(dir.path());
    let lease = leases
        .iter()
        .find(|l| l["func"] == "k8s.deployment.rollback")
        .unwrap();
    assert_eq!(lease["target"]["from_revision"], 2, "{lease}");
    assert_eq!(lease["target"]["to_revision"], 1, "{lease}");
    assert_eq!(lease["state"], "reverted", "{lease}");

    // A Deployment with one revision has nothing to roll back to: said so, nothing changed.
    let experiment = json!({
        "title": "rollback", "description": "d",
        "method": [rollback("api")],
    });
    let (code, _, journal) = run_with_kubeconfig(&dir, &kc, &experiment);
    assert_eq!(code, Some(2));
    assert!(
        journal
            .to_string()
            .contains("it has no earlier revision to roll back to"),
        "{journal}"
    );
    assert_eq!(fake.image("shop", "api").as_deref(), Some("nginx:1.27"));
    stop_guard(dir.path());
}
