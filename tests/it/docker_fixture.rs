//! Real containers for the tests, on the machine's Docker engine: a tiny image imported from
//! Debian's busybox-static (no image can be pulled), and containers, networks and services that
//! carry `monkeywrench.test=<run id>` and are removed when the fixture drops.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The local test image (built once per machine, shared by tests).
pub(crate) const IMAGE: &str = "monkeywrench-test-busybox:1";

/// Runs the docker CLI; returns its output.
pub(crate) fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the docker CLI runs (the engine is part of this machine)")
}

/// Runs the docker CLI and returns trimmed stdout, panicking with stderr on failure.
pub(crate) fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Builds the test image unless it exists (under a lock: tests run in parallel processes).
fn ensure_image() {
    assert!(
        std::path::Path::new("/bin/busybox").exists(),
        "the container tests need Debian's busybox-static (scripts/test installs it)"
    );
    let script = format!(
        r#"docker image inspect {IMAGE} >/dev/null 2>&1 && exit 0
root=$(mktemp -d) && mkdir -p "$root/bin" && cp /bin/busybox "$root/bin/" &&
for a in sh sleep httpd nc cat echo ls; do ln -s busybox "$root/bin/$a"; done &&
tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' -c 'LABEL monkeywrench.test=image' - {IMAGE} >/dev/null;
rc=$?; rm -rf "$root"; exit $rc"#
    );
    let out = Command::new("flock")
        .args(["/tmp/monkeywrench-test-image.lock", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "build the test image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Everything one test creates on the engine.
pub(crate) struct DockerFixture {
    /// The value of the `monkeywrench.test` label.
    pub run: String,
}

impl DockerFixture {
    /// Builds the image if needed and names this test's objects.
    pub(crate) fn new() -> DockerFixture {
        ensure_image();
        DockerFixture {
            run: format!("mwt{}", &uuid::Uuid::new_v4().simple().to_string()[..10]),
        }
    }

    /// A name unique to this test.
    pub(crate) fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.run)
    }

    /// Starts a labelled container running `cmd`; `extra` goes before the image (labels, network,
    /// restart policy). Returns its name.
    pub(crate) fn container(&self, suffix: &str, extra: &[&str], cmd: &[&str]) -> String {
        let name = self.name(suffix);
        let label = format!("monkeywrench.test={}", self.run);
        let mut args = vec!["run", "-d", "--name", &name, "--label", &label];
        args.extend_from_slice(extra);
        args.push(IMAGE);
        args.extend_from_slice(cmd);
        docker_ok(&args);
        name
    }

    /// Creates a labelled bridge network; returns its name.
    pub(crate) fn network(&self, suffix: &str) -> String {
        let name = self.name(suffix);
        docker_ok(&[
            "network",
            "create",
            "--label",
            &format!("monkeywrench.test={}", self.run),
            &name,
        ]);
        name
    }

    /// `running`, `paused`, `exited`, … (empty when the container is gone).
    pub(crate) fn state(&self, name: &str) -> String {
        let out = docker(&["inspect", "-f", "{{.State.Status}}", name]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The container's address on `network` (empty when not attached).
    pub(crate) fn ip(&self, name: &str, network: &str) -> String {
        let format = format!(
            "{{{{with index .NetworkSettings.Networks \"{network}\"}}}}{{{{.IPAddress}}}}{{{{end}}}}"
        );
        let out = docker(&["inspect", "-f", &format, name]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Polls `check` every 50 ms until it holds or `within` passes.
    pub(crate) fn wait_for(&self, within: Duration, check: impl FnMut() -> bool) -> bool {
        crate::harness::wait_until(within, check)
    }
}

impl Drop for DockerFixture {
    fn drop(&mut self) {
        let filter = format!("label=monkeywrench.test={}", self.run);
        let services = docker(&["service", "ls", "-q", "--filter", &filter]);
        for id in String::from_utf8_lossy(&services.stdout).split_whitespace() {
            docker(&["service", "rm", id]);
        }
        let containers = docker(&["ps", "-aq", "--filter", &filter]);
        let ids: Vec<String> = String::from_utf8_lossy(&containers.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            docker(&args);
        }
        let networks = docker(&["network", "ls", "-q", "--filter", &filter]);
        for id in String::from_utf8_lossy(&networks.stdout).split_whitespace() {
            docker(&["network", "rm", id]);
        }
    }
}
