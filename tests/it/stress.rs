//! Stress faults end to end with the real binary: CPU and memory charged to a real container's
//! cgroups (and a process's, and the host's), a disk fill that reaches its size and is removed on
//! revert, the safety floor, the OOM killer as the outcome, halt, and SIGKILL of the run (the
//! stressors die with it, the guard removes what they wrote).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use monkeywrench::target::cgroup::{self, Cgroup};
use monkeywrench::target::process::ProcessIdentity;
use serde_json::Value;

use crate::containers::{action, experiment, journal, sleep_action};
use crate::docker_fixture::{DockerFixture, docker_ok};
use crate::faults::{ledger_json, mw, sigkill, spawn_run, stop_guard};
use crate::harness::{TempDir, stderr, wait_until, write};

const MIB: u64 = 1 << 20;

/// The applied leases of `func`, once there are `n` of them.
fn applied(dir: &Path, func: &str, n: usize) -> Vec<Value> {
    let mut found = Vec::new();
    let ok = wait_until(Duration::from_secs(30), || {
        found = ledger_json(dir)
            .into_iter()
            .filter(|l| l["func"] == func && l["state"] == "applied")
            .collect();
        found.len() >= n
    });
    assert!(ok, "{n} applied {func} leases: {:?}", ledger_json(dir));
    found
}

fn stressor_of(lease: &Value) -> ProcessIdentity {
    let pid = lease["target"]["stressor"]["pid"].as_i64().unwrap() as i32;
    let recorded = &lease["undo"]["process"];
    assert_eq!(recorded["pid"].as_i64(), Some(pid as i64), "{lease}");
    ProcessIdentity {
        pid,
        start_time: recorded["start_time"].as_u64().unwrap(),
    }
}

/// The container's main process's cgroups.
fn cgroups_of(container: &str) -> Vec<Cgroup> {
    let pid: i32 = docker_ok(&["inspect", "-f", "{{.State.Pid}}", container])
        .parse()
        .unwrap();
    cgroup::of_process(pid).unwrap()
}

fn in_same_cgroups(pid: i32, groups: &[Cgroup]) -> bool {
    let Ok(mine) = cgroup::of_process(pid) else {
        return false;
    };
    groups.iter().all(|g| {
        mine.iter()
            .any(|m| m.version == g.version && m.dir == g.dir)
    })
}

/// CPU use of a cgroup over `over`, in percent of one core.
fn cpu_percent(groups: &[Cgroup], over: Duration) -> f64 {
    let (a, t0) = (cgroup::cpu_usage_usec(groups).unwrap(), Instant::now());
    std::thread::sleep(over);
    let (b, t1) = (cgroup::cpu_usage_usec(groups).unwrap(), Instant::now());
    (b - a) as f64 / (t1 - t0).as_micros() as f64 * 100.0
}

/// Files under `dir` the stressors name.
fn stress_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().contains(".monkeywrench-stress-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn cpu_at_half_a_core_is_charged_to_the_container_and_stops_on_revert() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("stress-cpu-container");
    let web = fx.container("web", &[], &["sleep", "300"]);
    let groups = cgroups_of(&web);
    let available = busy_loop_in(&web, &groups);
    let args = format!(r#"{{"scope": "container", "target": {{"name": "{web}"}}, "load": 50}}"#);
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[action("burn", "stress.cpu", &args, Some(9.0))]),
    );
    let run = spawn_run(dir.path(), &file);
    let lease = applied(dir.path(), "stress.cpu", 1).remove(0);
    let stressor = stressor_of(&lease);
    assert!(
        in_same_cgroups(stressor.pid, &groups),
        "the stressor joined every cgroup of the container: {:?} vs {:?}",
        cgroup::of_process(stressor.pid),
        groups
    );
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_percent(&groups, Duration::from_secs(5));
    let out = run.wait_with_output().unwrap();
    // 50 % ± 10 % of a core — of what the machine can give the container: on a loaded shared
    // machine a plain busy loop in the same cgroup may get less than half a core (measured
    // before and after, as the load of the machine changes).
    let after = busy_loop_in(&web, &groups);
    let expected = available.min(after).min(50.0);
    assert!(
        (expected - 10.0..=60.0).contains(&used),
        "the container's cgroup used {used:.1} % of a core (asked 50 %; a busy loop in it got {available:.1} % before, {after:.1} % after)"
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stressor.is_alive(), "stopped by the timed revert");
    assert_eq!(ledger_json(dir.path())[0]["state"], "reverted");
    assert_eq!(lease["target"]["scope"]["name"], web.as_str());
    let idle = cpu_percent(&groups, Duration::from_secs(1));
    assert!(idle < 10.0, "the container is idle again: {idle:.1} %");
    stop_guard(dir.path());
}

/// What one busy thread in the container gets of a core now (a shell loop, for 2 s).
fn busy_loop_in(container: &str, groups: &[Cgroup]) -> f64 {
    let mut busy = std::process::Command::new("docker")
        .args([
            "exec",
            container,
            "sh",
            "-c",
            "sh -c 'while :; do :; done' & p=$!; sleep 3; kill $p",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let got = cpu_percent(groups, Duration::from_secs(2));
    assert!(busy.wait().unwrap().success());
    assert!(got > 5.0, "the busy loop ran in the container: {got:.1} %");
    got
}

#[test]
fn memory_is_resident_in_the_container_and_freed_on_revert() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("stress-memory-container");
    let web = fx.container("web", &[], &["sleep", "300"]);
    let groups = cgroups_of(&web);
    let before = cgroup::memory_usage(&groups).unwrap();
    let args =
        format!(r#"{{"scope": "container", "target": {{"name": "{web}"}}, "size_mib": 64}}"#);
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[action("hog", "stress.memory", &args, Some(4.0))]),
    );
    let run = spawn_run(dir.path(), &file);
    let lease = applied(dir.path(), "stress.memory", 1).remove(0);
    assert_eq!(lease["target"]["bytes"], 64 * MIB);
    let charged = cgroup::memory_usage(&groups).unwrap();
    assert!(
        charged >= before + 60 * MIB,
        "64 MiB charged to the container once applied: {before} -> {charged}"
    );
    let stressor = stressor_of(&lease);
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stressor.is_alive());
    let after = cgroup::memory_usage(&groups).unwrap();
    assert!(
        after < before + 16 * MIB,
        "freed with the stressor: {before} -> {after}"
    );
    stop_guard(dir.path());
}

#[test]
fn a_process_scope_stressor_joins_the_process_cgroups() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("stress-process");
    // A process that lives in cgroups of its own: a container's main process, picked by pid.
    let web = fx.container("web", &[], &["sleep", "300"]);
    let pid = docker_ok(&["inspect", "-f", "{{.State.Pid}}", &web]);
    let groups = cgroups_of(&web);
    let before = cgroup::memory_usage(&groups).unwrap();
    let target = format!(r#""scope": "process", "target": {{"pid": {pid}}}"#);
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action(
                "hog",
                "stress.memory",
                &format!(r#"{{{target}, "size_mib": 32}}"#),
                Some(4.0),
            ),
            action(
                "fill",
                "stress.disk",
                &format!(r#"{{{target}, "path": "/", "size_mib": 2}}"#),
                Some(4.0),
            ),
            action(
                "burn",
                "stress.cpu",
                &format!(r#"{{{target}, "load": 15}}"#),
                Some(3.0),
            ),
        ]),
    );
    let run = spawn_run(dir.path(), &file);
    let lease = applied(dir.path(), "stress.cpu", 1).remove(0);
    assert_eq!(lease["target"]["scope"]["kind"], "process");
    let stressor = stressor_of(&lease);
    assert!(in_same_cgroups(stressor.pid, &groups));
    let used = cpu_percent(&groups, Duration::from_secs(1));
    assert!(used > 5.0, "the process's cgroup is charged: {used:.1} %");
    let charged = cgroup::memory_usage(&groups).unwrap();
    assert!(
        charged >= before + 30 * MIB,
        "32 MiB charged to the process's memory cgroup: {before} -> {charged}"
    );
    let disk = applied(dir.path(), "stress.disk", 1).remove(0);
    let name = Path::new(disk["target"]["file"].as_str().unwrap())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(
        docker_ok(&["exec", &web, "ls", "-a", "/"]).contains(&name),
        "written in the process's root (/proc/<pid>/root)"
    );
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stressor.is_alive());
    assert!(!docker_ok(&["exec", &web, "ls", "-a", "/"]).contains(&name));
    stop_guard(dir.path());
}

#[test]
fn host_cpu_and_disk_stress_work_and_revert() {
    let dir = TempDir::new("stress-host");
    let fill = TempDir::new("stress-host-fill");
    let cpu = action(
        "burn",
        "stress.cpu",
        r#"{"load": 20, "workers": 2}"#,
        Some(4.0),
    );
    let disk_args = format!(r#"{{"path": "{}", "size_mib": 24}}"#, fill.path().display());
    let disk = action("fill", "stress.disk", &disk_args, Some(4.0));
    let io_args = format!(
        r#"{{"path": "{}", "mode": "readwrite", "ops_per_s": 50, "file_mib": 4}}"#,
        fill.path().display()
    );
    let io = action("io", "stress.io", &io_args, Some(4.0));
    let file = write(dir.path(), "e.json", &experiment(&[cpu, disk, io]));
    let run = spawn_run(dir.path(), &file);
    let cpu = stressor_of(&applied(dir.path(), "stress.cpu", 1)[0]);
    let before = ticks(cpu.pid);
    std::thread::sleep(Duration::from_secs(1));
    let burnt = ticks(cpu.pid) - before;
    assert!(burnt > 0, "the host stressor burns CPU");
    let disk = applied(dir.path(), "stress.disk", 1).remove(0);
    let written = PathBuf::from(disk["target"]["file"].as_str().unwrap());
    assert_eq!(written.parent(), Some(fill.path()));
    assert_eq!(
        std::fs::metadata(&written).unwrap().len(),
        24 * MIB,
        "applied once the fill reached its size"
    );
    let io = applied(dir.path(), "stress.io", 1).remove(0);
    assert_eq!(
        stress_files(fill.path()).len(),
        2,
        "the fill and the io scratch file"
    );
    let io_pid = stressor_of(&io).pid;
    let (reads, writes) = syscalls(io_pid);
    assert!(
        wait_until(Duration::from_secs(5), || {
            let (r, w) = syscalls(io_pid);
            r > reads && w > writes
        }),
        "the io stressor reads and writes"
    );
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stress_files(fill.path()).is_empty(),
        "both removed on revert"
    );
    assert!(!cpu.is_alive() && !stressor_of(&io).is_alive());
    let leases = ledger_json(dir.path());
    assert!(
        leases.iter().all(|l| l["state"] == "reverted"),
        "{leases:?}"
    );
    stop_guard(dir.path());
}

/// Read and write system calls of a process so far (`/proc/<pid>/io`).
fn syscalls(pid: i32) -> (u64, u64) {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    let field = |k: &str| {
        io.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap()
    };
    (field("syscr:"), field("syscw:"))
}

fn ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_disk_fill_in_a_container_writes_inside_it_and_is_removed() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("stress-disk-container");
    let web = fx.container("web", &[], &["sleep", "300"]);
    let args = format!(
        r#"{{"scope": "container", "target": {{"name": "{web}"}}, "path": "/", "size_mib": 16}}"#
    );
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[action("fill", "stress.disk", &args, Some(2.0))]),
    );
    let run = spawn_run(dir.path(), &file);
    let lease = applied(dir.path(), "stress.disk", 1).remove(0);
    let name = Path::new(lease["target"]["file"].as_str().unwrap())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let listed = docker_ok(&["exec", &web, "ls", "-l", &format!("/{name}")]);
    assert!(
        listed.contains(&(16 * MIB).to_string()),
        "the container sees the 16 MiB file: {listed}"
    );
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let root = docker_ok(&["exec", &web, "ls", "-a", "/"]);
    assert!(!root.contains(&name), "removed on revert: {root}");
    stop_guard(dir.path());
}

#[test]
fn sigkill_of_the_run_stops_every_stressor_and_the_guard_removes_the_files() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("stress-sigkill");
    let fill = TempDir::new("stress-sigkill-fill");
    let web = fx.container("web", &[], &["sleep", "300"]);
    let container = format!(r#""scope": "container", "target": {{"name": "{web}"}}"#);
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action(
                "burn",
                "stress.cpu",
                &format!("{{{container}, \"load\": 10}}"),
                None,
            ),
            action(
                "hog",
                "stress.memory",
                &format!("{{{container}, \"size_mib\": 16}}"),
                None,
            ),
            action(
                "fill",
                "stress.disk",
                &format!(r#"{{"path": "{}", "size_mib": 8}}"#, fill.path().display()),
                None,
            ),
            action(
                "io",
                "stress.io",
                &format!(r#"{{"path": "{}", "file_mib": 2}}"#, fill.path().display()),
                None,
            ),
            sleep_action(60.0),
        ]),
    );
    let mut run = spawn_run(dir.path(), &file);
    let stressors: Vec<ProcessIdentity> =
        ["stress.cpu", "stress.memory", "stress.disk", "stress.io"]
            .iter()
            .map(|f| stressor_of(&applied(dir.path(), f, 1)[0]))
            .collect();
    assert_eq!(stress_files(fill.path()).len(), 2);
    sigkill(&mut run);
    assert!(
        wait_until(Duration::from_secs(3), || stressors
            .iter()
            .all(|s| !s.is_alive())
            && stress_files(fill.path()).is_empty()),
        "within 3 s: stressors alive {:?}, files {:?}",
        stressors.iter().map(|s| s.is_alive()).collect::<Vec<_>>(),
        stress_files(fill.path())
    );
    assert!(
        wait_until(Duration::from_secs(10), || ledger_json(dir.path())
            .iter()
            .all(|l| l["state"] == "reverted")),
        "{:?}",
        ledger_json(dir.path())
    );
    stop_guard(dir.path());
}

#[test]
fn the_oom_killer_of_the_container_is_the_outcome_and_nothing_is_left() {
    let fx = DockerFixture::new();
    let dir = TempDir::new("stress-oom");
    let web = fx.container(
        "web",
        &["--memory", "48m", "--memory-swap", "48m"],
        &["sleep", "300"],
    );
    let groups = cgroups_of(&web);
    let args =
        format!(r#"{{"scope": "container", "target": {{"name": "{web}"}}, "size_mib": 96}}"#);
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[action("hog", "stress.memory", &args, Some(30.0))]),
    );
    let run = spawn_run(dir.path(), &file);
    let out = run.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = journal(&dir);
    let activity = j["run"][0].to_string();
    assert!(
        activity.contains("OOM killer killed the stressor") && activity.contains("48 MiB"),
        "the OOM kill is the activity's outcome: {activity}"
    );
    let leases = ledger_json(dir.path());
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0]["state"], "apply-failed", "{leases:?}");
    assert!(!stressor_of(&leases[0]).is_alive());
    assert_eq!(fx.state(&web), "running", "the container itself lives on");
    assert!(cgroup::memory_usage(&groups).unwrap() < 16 * MIB);
    stop_guard(dir.path());
}

#[test]
fn halt_stops_the_stressors_removes_the_fill_and_interrupts_the_run() {
    let dir = TempDir::new("stress-halt");
    let fill = TempDir::new("stress-halt-fill");
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[
            action("burn", "stress.cpu", r#"{"load": 10}"#, None),
            action(
                "fill",
                "stress.disk",
                &format!(r#"{{"path": "{}", "size_mib": 4}}"#, fill.path().display()),
                None,
            ),
            action("hog", "stress.memory", r#"{"size_mib": 8}"#, None),
            action(
                "io",
                "stress.io",
                &format!(r#"{{"path": "{}", "file_mib": 1}}"#, fill.path().display()),
                None,
            ),
            sleep_action(30.0),
        ]),
    );
    let run = spawn_run(dir.path(), &file);
    let stressors: Vec<ProcessIdentity> =
        ["stress.cpu", "stress.disk", "stress.memory", "stress.io"]
            .iter()
            .map(|f| stressor_of(&applied(dir.path(), f, 1)[0]))
            .collect();
    assert_eq!(stress_files(fill.path()).len(), 2);
    let halt = mw(dir.path(), &["halt", "--reason", "stop the load"]);
    assert_eq!(halt.status.code(), Some(0), "{}", stderr(&halt));
    assert!(
        stressors.iter().all(|s| !s.is_alive()),
        "every stressor stopped by the halt"
    );
    assert!(stress_files(fill.path()).is_empty());
    let leases = ledger_json(dir.path());
    assert!(
        leases.iter().all(|l| l["state"] == "reverted"),
        "{leases:?}"
    );
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(mw(dir.path(), &["resume"]).status.code(), Some(0));
    stop_guard(dir.path());
}

#[test]
fn bad_input_and_a_full_disk_are_refused_before_anything_runs() {
    let dir = TempDir::new("stress-refused");
    let fill = TempDir::new("stress-refused-fill");
    let bad = write(
        dir.path(),
        "bad.json",
        &experiment(&[
            action("burn", "stress.cpu", r#"{"load": 150}"#, None),
            action("hog", "stress.memory", r#"{"percent": 120}"#, None),
            action("fill", "stress.disk", r#"{"size_mib": 1}"#, None),
            action(
                "io",
                "stress.io",
                r#"{"path": "/tmp", "mode": "append"}"#,
                None,
            ),
        ]),
    );
    let out = mw(dir.path(), &["validate", &bad]);
    assert_ne!(out.status.code(), Some(0));
    let err = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    for expected in [
        "150 is out of range 1..=100",
        "120 is out of range 0..=100",
        "path",
        "expected read, write or readwrite",
        "bad.json:",
    ] {
        assert!(err.contains(expected), "{expected:?} in: {err}");
    }
    // The floor is above the free space already: a full disk, as far as this fault may go.
    let args = format!(
        r#"{{"path": "{}", "size_mib": 1, "keep_free_percent": 99.9}}"#,
        fill.path().display()
    );
    let file = write(
        dir.path(),
        "full.json",
        &experiment(&[action("fill", "stress.disk", &args, None)]),
    );
    let run = spawn_run(dir.path(), &file);
    let out = run.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let j = journal(&dir).to_string();
    assert!(j.contains("below the safety floor"), "{j}");
    assert!(stress_files(fill.path()).is_empty(), "nothing written");
    assert!(
        ledger_json(dir.path()).is_empty(),
        "refused before any lease"
    );
    let gone = write(
        dir.path(),
        "gone.json",
        &experiment(&[action(
            "burn",
            "stress.cpu",
            r#"{"scope": "container", "target": {"name": "mw-no-such-container-x"}}"#,
            None,
        )]),
    );
    let out = spawn_run(dir.path(), &gone).wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(ledger_json(dir.path()).is_empty());
}

/// A cgroup of the v2 hierarchy (on a hybrid host, the controller-less one), removed on drop.
struct V2Cgroup(PathBuf);

impl V2Cgroup {
    fn create() -> Option<V2Cgroup> {
        let mount = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .find(|l| l.contains(" - cgroup2 "))?
            .split(' ')
            .nth(4)?
            .to_string();
        let dir = Path::new(&mount).join(format!(
            "monkeywrench-test-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        ));
        std::fs::create_dir(&dir).ok()?;
        Some(V2Cgroup(dir))
    }
}

impl Drop for V2Cgroup {
    fn drop(&mut self) {
        let _ = wait_until(Duration::from_secs(5), || {
            std::fs::remove_dir(&self.0).is_ok()
        });
    }
}

#[test]
fn the_v2_path_joins_the_unified_cgroup_and_reads_its_cpu_stat() {
    let dir = TempDir::new("stress-v2");
    let group = V2Cgroup::create().expect("this machine has a writable cgroup2 hierarchy");
    let mut victim = std::process::Command::new("sleep")
        .arg("120")
        .spawn()
        .unwrap();
    std::fs::write(group.0.join("cgroup.procs"), victim.id().to_string()).unwrap();
    let v2: Vec<Cgroup> = cgroup::of_process(victim.id() as i32)
        .unwrap()
        .into_iter()
        .filter(|g| g.version == cgroup::Version::V2)
        .collect();
    assert_eq!(v2.len(), 1);
    assert_eq!(v2[0].dir, group.0);
    let args = format!(
        r#"{{"scope": "process", "target": {{"pid": {}}}, "load": 40}}"#,
        victim.id()
    );
    let file = write(
        dir.path(),
        "e.json",
        &experiment(&[action("burn", "stress.cpu", &args, Some(3.0))]),
    );
    let run = spawn_run(dir.path(), &file);
    let stressor = stressor_of(&applied(dir.path(), "stress.cpu", 1)[0]);
    let procs = std::fs::read_to_string(group.0.join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|p| p == stressor.pid.to_string()),
        "the stressor is in the v2 cgroup: {procs}"
    );
    let used = cpu_percent(&v2, Duration::from_secs(1));
    assert!(
        used > 5.0,
        "cpu.stat usage_usec of the v2 cgroup rises: {used:.1} %"
    );
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stressor.is_alive());
    victim.kill().unwrap();
    victim.wait().unwrap();
    stop_guard(dir.path());
}

fn run_example(dir: &TempDir, name: &str, vars: &[String]) -> Value {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut args = vec![
        "run".to_string(),
        "--journal-path".into(),
        dir.path().join("journal.json").display().to_string(),
    ];
    for v in vars {
        args.extend(["--var".to_string(), v.clone()]);
    }
    args.push(path);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = mw(dir.path(), &args);
    assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
    let j = journal(dir);
    let faults = j["monkeywrench"]["faults"].as_array().unwrap().clone();
    assert_eq!(faults.len(), 1, "{j}");
    assert_eq!(faults[0]["revert"], "reverted", "{j}");
    stop_guard(dir.path());
    faults[0].clone()
}

#[test]
fn the_stress_examples_run_as_their_comments_say() {
    let fx = DockerFixture::new();
    let web = fx.container(
        "web",
        &["--label", &format!("app={}-web", fx.run)],
        &["sleep", "300"],
    );
    let cache = fx.container(
        "cache",
        &[
            "--label",
            &format!("app={}-cache", fx.run),
            "--memory",
            "128m",
        ],
        &["sleep", "300"],
    );
    let dir = TempDir::new("stress-ex-cpu");
    let cpu = run_example(&dir, "stress-cpu.yaml", &[format!("app={}-web", fx.run)]);
    assert_eq!(cpu["target"]["scope"]["name"], web.as_str());
    assert_eq!(cpu["target"]["workers"], 2);
    let dir = TempDir::new("stress-ex-memory");
    let memory = run_example(
        &dir,
        "stress-memory.yaml",
        &[format!("app={}-cache", fx.run)],
    );
    assert_eq!(memory["target"]["scope"]["name"], cache.as_str());
    assert_eq!(
        memory["target"]["bytes"],
        64 * MIB,
        "half of the 128 MiB limit"
    );
    for example in ["stress-disk.yaml", "stress-io.yaml"] {
        let dir = TempDir::new("stress-ex-disk");
        let data = TempDir::new("stress-ex-data");
        let fault = run_example(&dir, example, &[format!("dir={}", data.path().display())]);
        assert!(
            fault["target"]["file"]
                .as_str()
                .unwrap()
                .starts_with(&*data.path().to_string_lossy())
        );
        assert!(stress_files(data.path()).is_empty(), "{example}: removed");
    }
}

#[test]
fn a_fill_is_removed_from_a_container_that_restarted_or_stopped_meanwhile() {
    let fx = DockerFixture::new();
    let web = fx.container("web", &[], &["sleep", "300"]);
    let args = format!(
        r#"{{"scope": "container", "target": {{"name": "{web}"}}, "path": "/", "size_mib": 4}}"#
    );
    for (i, what) in ["restart", "stop"].into_iter().enumerate() {
        let dir = TempDir::new(&format!("stress-disk-{what}"));
        let file = write(
            dir.path(),
            "e.json",
            &experiment(&[
                action("fill", "stress.disk", &args, None),
                sleep_action(60.0),
            ]),
        );
        let run = spawn_run(dir.path(), &file);
        let lease = applied(dir.path(), "stress.disk", 1).remove(0);
        let name = Path::new(lease["target"]["file"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(docker_ok(&["exec", &web, "ls", "-a", "/"]).contains(&name));
        docker_ok(&[what, "-t", "0", &web]);
        let halt = mw(dir.path(), &["halt", "--reason", "revert"]);
        assert_eq!(halt.status.code(), Some(0), "{}", stderr(&halt));
        let out = run.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        let leases = ledger_json(dir.path());
        assert_eq!(leases[0]["state"], "reverted", "{what}: {leases:?}");
        if what == "stop" {
            docker_ok(&["start", &web]);
        }
        let root = docker_ok(&["exec", &web, "ls", "-a", "/"]);
        assert!(
            !root.contains(&name),
            "{what} ({i}): the fill is gone: {root}"
        );
        assert_eq!(mw(dir.path(), &["resume"]).status.code(), Some(0));
        stop_guard(dir.path());
    }
}
