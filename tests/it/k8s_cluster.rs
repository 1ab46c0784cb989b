//! Against a real cluster, when `MONKEYWRENCH_TEST_KUBECONFIG` names a kubeconfig (skipped, with
//! a message, otherwise). Written for a bare control plane — API server, controller manager,
//! scheduler, no kubelets — where pods may stay Pending: a Deployment's pod deleted is replaced
//! by its ReplicaSet, a scale is restored after the run is SIGKILLed, a NetworkPolicy is removed
//! by `halt`. Each test works in a namespace of its own (labelled `monkeywrench.test`), deleted
//! at the end. The same checks also run against the in-process fake API server (no kubelet,
//! no node), so they are known to work before a cluster is at hand.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

use crate::containers::{action, experiment, sleep_action};
use crate::faults::{ledger_json, mw, sigkill, spawn_run, stop_guard};
use crate::harness::{TempDir, stderr, write};

const WAIT: Duration = Duration::from_secs(60);

/// A namespace with Deployment `web` (2 replicas of the pause image), deleted when dropped.
struct Cluster {
    kubeconfig: String,
    namespace: String,
    client: kube::Client,
    rt: tokio::runtime::Runtime,
}

impl Cluster {
    fn start(label: &str) -> Option<Cluster> {
        let Ok(kubeconfig) = std::env::var("MONKEYWRENCH_TEST_KUBECONFIG") else {
            eprintln!(
                "skipped: MONKEYWRENCH_TEST_KUBECONFIG does not name a kubeconfig (set it to run against a real cluster)"
            );
            return None;
        };
        Some(Cluster::on(kubeconfig, label))
    }

    fn on(kubeconfig: String, label: &str) -> Cluster {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let client = rt.block_on(async {
            let config = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
            let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
                .await
                .unwrap();
            kube::Client::try_from(config).unwrap()
        });
        let namespace = format!(
            "mw-{label}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let c = Cluster {
            kubeconfig,
            namespace,
            client,
            rt,
        };
        c.rt.block_on(async {
            let ns: Namespace = serde_json::from_value(json!({"metadata": {
                "name": c.namespace, "labels": {"monkeywrench.test": "k8s"}}}))
            .unwrap();
            Api::<Namespace>::all(c.client.clone())
                .create(&PostParams::default(), &ns)
                .await
                .unwrap();
            let web: Deployment = serde_json::from_value(json!({
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web"}},
                                      "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}}
            }))
            .unwrap();
            c.deployments().create(&PostParams::default(), &web).await.unwrap();
        });
        assert!(
            c.wait(|c| c.pods().len() == 2),
            "the ReplicaSet made 2 pods"
        );
        c
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Names of the pods not being deleted.
    fn pods(&self) -> Vec<String> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let list = self.rt.block_on(api.list(&ListParams::default())).unwrap();
        list.items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.name)
            .collect()
    }

    fn replicas(&self) -> Option<i32> {
        let d = self.rt.block_on(self.deployments().get("web")).unwrap();
        d.spec.and_then(|s| s.replicas)
    }

    fn policy(&self, name: &str) -> bool {
        let api: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), &self.namespace);
        self.rt.block_on(api.get_opt(name)).unwrap().is_some()
    }

    fn wait(&self, mut check: impl FnMut(&Cluster) -> bool) -> bool {
        let deadline = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < deadline {
            if check(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        check(self)
    }

    fn args(&self, mut arguments: serde_json::Value) -> String {
        arguments["kubeconfig"] = json!(self.kubeconfig);
        arguments.to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let _ = self
            .rt
            .block_on(api.delete(&self.namespace, &DeleteParams::default()));
    }
}

#[test]
fn a_deleted_pod_of_a_deployment_is_replaced_by_its_replicaset() {
    if let Some(c) = Cluster::start("replace") {
        replaced(&c);
    }
}

#[test]
fn a_scale_is_restored_after_the_run_is_sigkilled() {
    if let Some(c) = Cluster::start("scale") {
        restored_after_sigkill(&c);
    }
}

#[test]
fn a_network_policy_is_removed_by_halt() {
    if let Some(c) = Cluster::start("halt") {
        removed_by_halt(&c);
    }
}

#[test]
fn the_real_cluster_checks_hold_against_the_fake_api_server() {
    let fake = crate::k8s_fake::FakeCluster::start();
    fake.bare();
    let dir = TempDir::new("k8s-real-fake");
    let kubeconfig = fake.kubeconfig(dir.path(), "default");
    replaced(&Cluster::on(kubeconfig.clone(), "replace"));
    restored_after_sigkill(&Cluster::on(kubeconfig.clone(), "scale"));
    removed_by_halt(&Cluster::on(kubeconfig, "halt"));
}

fn replaced(c: &Cluster) {
    let dir = TempDir::new("k8s-real-replace");
    let before = c.pods();
    let target = json!({"target": {"namespace": c.namespace, "owner": "deployment/web"}});
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[action("kill one", "k8s.pod.kill", &c.args(target), None)]),
    );
    let out = spawn_run(dir.path(), &file).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let victim = ledger_json(dir.path())[0]["target"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(before.contains(&victim));
    assert!(
        c.wait(|c| {
            let now = c.pods();
            now.len() == 2 && !now.contains(&victim)
        }),
        "the ReplicaSet replaced {victim}: {:?}",
        c.pods()
    );
    stop_guard(dir.path());
}

fn restored_after_sigkill(c: &Cluster) {
    let dir = TempDir::new("k8s-real-scale");
    let scale = json!({"name": "web", "namespace": c.namespace, "replicas": 0});
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action(
                "scale to zero",
                "k8s.deployment.scale",
                &c.args(scale),
                None,
            ),
            sleep_action(120.0),
        ]),
    );
    let mut run = spawn_run(dir.path(), &file);
    assert!(c.wait(|c| c.replicas() == Some(0)), "scaled to 0");
    sigkill(&mut run);
    assert!(
        c.wait(|c| c.replicas() == Some(2)),
        "the guard restored 2 replicas: {:?}",
        c.replicas()
    );
    stop_guard(dir.path());
}

fn removed_by_halt(c: &Cluster) {
    let dir = TempDir::new("k8s-real-halt");
    let deny =
        json!({"target": {"namespace": c.namespace, "labels": {"app": "web"}}, "name": "mw-cut"});
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action("partition", "k8s.network.deny", &c.args(deny), None),
            sleep_action(120.0),
        ]),
    );
    let run = spawn_run(dir.path(), &file);
    assert!(c.wait(|c| c.policy("mw-cut")), "the policy was created");
    let halt = mw(dir.path(), &["halt", "--reason", "real cluster test"]);
    assert_eq!(halt.status.code(), Some(0), "{}", stderr(&halt));
    assert!(!c.policy("mw-cut"), "halt deleted the policy");
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(mw(dir.path(), &["resume"]).status.code(), Some(0));
    stop_guard(dir.path());
}
