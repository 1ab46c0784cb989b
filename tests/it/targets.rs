//! The one protected-target policy, through every path that selects processes: `targets`,
//! `run --dry-run` (the run's own selection) and the monkey's inventory. A second monkeywrench
//! process whose command line a pattern matches is never picked; an ordinary process it matches is.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{TempDir, binary, run_in, stderr, write};

/// A child killed (with its process group) when dropped.
struct Running(Child);

impl Running {
    /// Starts `cmd` and waits until its command line shows `marker` (it has exec'd).
    fn start(cmd: &mut Command, marker: &str) -> Running {
        let child = std::os::unix::process::CommandExt::process_group(cmd, 0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let running = Running(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let cmdline =
                std::fs::read(format!("/proc/{}/cmdline", running.pid())).unwrap_or_default();
            let words: Vec<u8> = cmdline
                .iter()
                .map(|b| if *b == 0 { b' ' } else { *b })
                .collect();
            if String::from_utf8_lossy(&words).contains(marker) {
                return running;
            }
            assert!(Instant::now() < deadline, "{marker} never started");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

#[test]
fn a_second_monkeywrench_process_is_never_matched_by_any_path() {
    let dir = TempDir::new("protected");
    let seed = format!(
        "{}",
        1_000_000_000 + u64::from(uuid::Uuid::new_v4().as_u128() as u32)
    );
    let marker = format!("--seed {seed}");
    let port = crate::harness::closed_port().to_string();
    let proxy = Running::start(
        Command::new(binary()).args(["proxy", "serve", "--port", &port, "--seed", &seed]),
        &marker,
    );
    // An ordinary process the same pattern matches: the pattern itself works.
    let ordinary = Running::start(
        Command::new("sh").args(["-c", &format!("sleep 30; echo {marker}")]),
        &marker,
    );
    let pattern = format!("{marker}$");
    let state = dir.path().join("state").display().to_string();

    // `targets`
    let selector = serde_json::json!({ "pattern": pattern }).to_string();
    let out = run_in(
        dir.path(),
        &["targets", &selector, "--mode", "all", "--state-dir", &state],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("1 process(es) match"), "{text}");
    assert!(text.contains(&format!(" {} ", ordinary.pid())), "{text}");
    assert!(!text.contains(&format!(" {} ", proxy.pid())), "{text}");

    // The run's selection, as `run --dry-run` previews it.
    let experiment = write(
        dir.path(),
        "stop.json",
        &serde_json::json!({
            "title": "t", "description": "d",
            "blast-radius": {"mode": "all"},
            "method": [{"type": "action", "name": "freeze", "provider": {
                "type": "builtin", "func": "process.stop",
                "arguments": {"target": {"pattern": pattern}}}}]
        })
        .to_string(),
    );
    let out = run_in(
        dir.path(),
        &["run", "--dry-run", "--state-dir", &state, &experiment],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("targets: 1 matched"), "{plan}");
    assert!(plan.contains(&ordinary.pid().to_string()), "{plan}");
    assert!(!plan.contains(&proxy.pid().to_string()), "{plan}");

    // The monkey's inventory.
    let config = write(
        dir.path(),
        "monkey.yaml",
        &format!(
            "enabled: true\nleashed: false\ndocker: false\nprocesses:\n  - {{pattern: '{pattern}', app: web}}\n"
        ),
    );
    let out = run_in(
        dir.path(),
        &[
            "monkey",
            "status",
            "--config",
            &config,
            "--state-dir",
            &state,
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pids: Vec<u64> = status["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["instances"].as_array().unwrap().iter())
        .map(|i| i["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids, [u64::from(ordinary.pid())], "{status}");
}
