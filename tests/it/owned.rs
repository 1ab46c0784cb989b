//! Owner-bound work (the base of live faults such as stressors and surges): a real child process
//! that runs only once its lease is recorded, stops on revert, dies with its owner, never starts
//! for an owner that is gone, and is stopped by the guard's revert when its owner was killed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use monkeywrench::fault::owned::{Host, Work, registry};
use monkeywrench::fault::{self, Error, Origin, Undo};
use monkeywrench::ledger::{LeaseState, Ledger, NewLease, RevertOutcome};
use monkeywrench::store::{Store, StoreLocation};
use monkeywrench::target::process::ProcessIdentity;
use serde_json::json;

use crate::harness::{TempDir, binary, wait_until};

async fn ledger_in(dir: &TempDir) -> Ledger {
    let store = Store::open(&StoreLocation::Sqlite(dir.path().join("ledger.db")))
        .await
        .unwrap();
    Ledger::new(store, fault::reverter())
}

fn origin() -> Origin {
    Origin {
        run_id: "owned".into(),
        activity: "work".into(),
        func: "test.work".into(),
        deadline: Timestamp::now() + SignedDuration::from_secs(600),
    }
}

fn sleep_work(marker: &str) -> Work {
    Work {
        exe: binary(),
        program: "sleep".into(),
        args: vec![marker.into()],
        pipe_stdout: false,
    }
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Pids whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| ProcessIdentity::of(*pid).is_some_and(|p| p.is_alive()))
        .filter(|pid| cmdline(*pid).contains(needle))
        .collect()
}

/// A `sleep` duration no other process on the machine has: it marks this test's work.
fn marker() -> String {
    format!("{}.{}", 3000 + rand_part(), std::process::id())
}

fn rand_part() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32 % 1000
}

#[tokio::test]
async fn work_runs_once_its_lease_is_recorded_and_stops_on_revert() {
    let dir = TempDir::new("owned-revert");
    let ledger = ledger_in(&dir).await;
    let marker = marker();
    let lease = fault::apply(&ledger, &sleep_work(&marker), &Host, &origin())
        .await
        .unwrap();
    assert_eq!(lease.undo["kind"], "stop-work");
    let pid = lease.target["pid"].as_i64().unwrap() as i32;
    assert!(
        wait_until(Duration::from_secs(5), || cmdline(pid)
            == format!("sleep {marker} ")),
        "the wrapper exec'd the work after the go: {:?}",
        cmdline(pid)
    );
    assert!(registry().is_running(pid));
    assert_eq!(
        ledger.get(&lease.id).await.unwrap().unwrap().state,
        LeaseState::Applied
    );
    assert_eq!(
        ledger.revert(&lease).await.unwrap(),
        RevertOutcome::Reverted
    );
    assert!(wait_until(Duration::from_secs(3), || !registry().is_running(pid)));
    let status = registry().exit_of(pid).expect("ended").expect("reaped");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "stopped by the revert's SIGKILL"
    );
    assert!(processes_with(&marker).is_empty());
}

#[tokio::test]
async fn a_refused_lease_leaves_no_work_behind() {
    let dir = TempDir::new("owned-halted");
    let ledger = ledger_in(&dir).await;
    ledger.halt("owned-work test").await.unwrap();
    let marker = marker();
    let refused = fault::apply(&ledger, &sleep_work(&marker), &Host, &origin()).await;
    assert!(matches!(refused, Err(Error::Halted { .. })), "{refused:?}");
    assert!(
        wait_until(Duration::from_secs(3), || processes_with(&marker)
            .is_empty()),
        "the idle wrapper was killed, and the work never ran"
    );
    assert!(ledger.active().await.unwrap().is_empty());
}

#[test]
fn work_dies_with_its_owner() {
    let marker = marker();
    // The owner: a process of this test's that starts the wrapper as monkeywrench does (its own
    // pid and start time, stdin piped), says go, and then just waits.
    let owner_script = format!(
        r#"
import os, subprocess, sys, time
stat = open("/proc/self/stat").read()
start = stat[stat.rindex(")") + 2:].split()[19]
child = subprocess.Popen([{exe:?}, "work", "--owner", f"{{os.getpid()}}:{{start}}", "--", "sleep", {marker:?}],
                         stdin=subprocess.PIPE)
child.stdin.write(b"go\n"); child.stdin.flush()
print(child.pid, flush=True)
time.sleep(300)
"#,
        exe = binary().to_string_lossy().to_string(),
    );
    let mut owner = Command::new("python3")
        .args(["-c", &owner_script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(owner.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let work: i32 = line.trim().parse().unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || cmdline(work)
            == format!("sleep {marker} ")),
        "the work runs: {:?}",
        cmdline(work)
    );
    let work = ProcessIdentity::of(work).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(owner.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    owner.wait().unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || !work.is_alive()),
        "the work died with its owner"
    );
}

#[test]
fn work_never_starts_for_an_owner_that_is_gone() {
    let marker = marker();
    // Our parent is this test, not PID 1: the wrapper must refuse.
    let out = Command::new(binary())
        .args(["work", "--owner", "1:0", "--", "sleep", &marker])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is gone"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without the go (stdin closed), nothing runs either.
    let me = ProcessIdentity::current();
    let out = Command::new(binary())
        .args([
            "work",
            "--owner",
            &format!("{}:{}", me.pid, me.start_time),
            "--",
            "sleep",
            &marker,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "an owner that never said go");
    assert!(processes_with(&marker).is_empty());
}

#[tokio::test]
async fn the_guard_stops_work_whose_owner_died() {
    let dir = TempDir::new("owned-guard");
    let store = Store::open(&StoreLocation::Sqlite(dir.path().join("ledger.db")))
        .await
        .unwrap();
    let mut gone = Command::new("true").spawn().unwrap();
    let dead_owner = ProcessIdentity::of(gone.id() as i32).unwrap_or(ProcessIdentity {
        pid: gone.id() as i32,
        start_time: 1,
    });
    gone.wait().unwrap();
    let orphaned = Ledger::with_owner(store.clone(), fault::reverter(), dead_owner);
    let mut work = Command::new("sleep").arg("300").spawn().unwrap();
    let identity = ProcessIdentity::of(work.id() as i32).unwrap();
    let undo = Undo::Owned(fault::owned::Undo::StopWork { process: identity });
    let lease = orphaned
        .record(&NewLease {
            run_id: "dead-run".into(),
            activity: "work".into(),
            func: "test.work".into(),
            target: json!({"pid": identity.pid}),
            reversible: true,
            undo: undo.to_value(),
            deadline: Timestamp::now() + SignedDuration::from_secs(600),
            settles_within: None,
        })
        .await
        .unwrap();
    orphaned.mark_applied(&lease).await.unwrap();

    let guard_side = Ledger::new(store, fault::reverter());
    let reverted = guard_side.revert_leftovers().await.unwrap();
    assert_eq!(reverted.len(), 1);
    assert_eq!(reverted[0].1, RevertOutcome::Reverted);
    let status = work.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
}
