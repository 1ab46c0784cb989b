//! Time from `halt` to every fault reverted, with 1, 10 and 100 active leases (issue: faults that
//! always revert). Real processes are stopped with SIGSTOP through the ledger, then `Ledger::halt`
//! reverts them; we stop the clock when the last victim is running again (read from /proc).
//!
//! Run: `cargo bench --bench revert` (set MONKEYWRENCH_TEST_POSTGRES to also measure PostgreSQL).
//! Baseline in the same run: sending SIGCONT to the same victims directly, without the ledger.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use monkeywrench::fault::{self, Undo};
use monkeywrench::ledger::{Ledger, NewLease};
use monkeywrench::store::{Store, StoreLocation};
use monkeywrench::target::process::ProcessIdentity;

fn victims(n: usize) -> Vec<(Child, ProcessIdentity)> {
    (0..n)
        .map(|_| {
            let child = Command::new("sleep")
                .arg("300")
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let id = ProcessIdentity::of(child.id() as i32).unwrap();
            (child, id)
        })
        .collect()
}

fn all_running(v: &[(Child, ProcessIdentity)]) -> bool {
    v.iter().all(|(_, id)| id.state() != Some('T'))
}

fn all_stopped(v: &[(Child, ProcessIdentity)]) -> bool {
    v.iter().all(|(_, id)| id.state() == Some('T'))
}

fn wait(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_micros(200));
    }
}

async fn measure(location: &StoreLocation, n: usize) -> (Duration, Duration) {
    let ledger = Ledger::new(Store::open(location).await.unwrap(), fault::reverter());
    ledger.resume().await.unwrap();
    let mut v = victims(n);
    for (_, id) in &v {
        let lease = ledger
            .record(&NewLease {
                run_id: "bench".into(),
                activity: "freeze".into(),
                func: "process.stop".into(),
                target: serde_json::json!({"pid": id.pid}),
                undo: Undo::Process(fault::process::Undo::Signal {
                    process: *id,
                    signal: "SIGCONT".into(),
                })
                .to_value(),
                reversible: true,
                deadline: Timestamp::now() + SignedDuration::from_secs(600),
                settles_within: None,
            })
            .await
            .unwrap();
        id.signal("SIGSTOP").unwrap();
        ledger.mark_applied(&lease).await.unwrap();
    }
    wait(|| all_stopped(&v));
    let start = Instant::now();
    ledger.halt("bench").await.unwrap();
    wait(|| all_running(&v));
    let with_ledger = start.elapsed();
    ledger.resume().await.unwrap();

    // Baseline: the same signals without the ledger.
    for (_, id) in &v {
        id.signal("SIGSTOP").unwrap();
    }
    wait(|| all_stopped(&v));
    let start = Instant::now();
    for (_, id) in &v {
        id.signal("SIGCONT").unwrap();
    }
    wait(|| all_running(&v));
    let direct = start.elapsed();
    for (c, _) in v.iter_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
    (with_ledger, direct)
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("mw-bench-revert-{}", std::process::id()));
    let mut stores = vec![("sqlite", StoreLocation::Sqlite(dir.join("ledger.db")))];
    if let Ok(url) = std::env::var("MONKEYWRENCH_TEST_POSTGRES") {
        stores.push(("postgres", StoreLocation::Postgres(url)));
    }
    println!(
        "{:<9} {:>7} {:>14} {:>14} {:>8}",
        "store", "leases", "halt→reverted", "direct SIGCONT", "ratio"
    );
    for (name, location) in &stores {
        for n in [1usize, 10, 100] {
            let (halt, direct) = measure(location, n).await;
            println!(
                "{:<9} {:>7} {:>11.2} ms {:>11.2} ms {:>7.1}x",
                name,
                n,
                halt.as_secs_f64() * 1000.0,
                direct.as_secs_f64() * 1000.0,
                halt.as_secs_f64() / direct.as_secs_f64().max(1e-9)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
