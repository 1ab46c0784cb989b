//! Ledger behaviour against a real SQLite file and real child processes.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::store::{Store, StoreLocation};
use crate::target::process::ProcessIdentity;

struct Fixture {
    dir: std::path::PathBuf,
    location: StoreLocation,
    ledger: Ledger,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The store backends every ledger test runs against.
#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh ledger on a fresh store (see `store::testing`).
async fn fixture(backend: Backend) -> Option<Fixture> {
    let dir = std::env::temp_dir().join(format!("mw-ledger-{}", uuid::Uuid::new_v4().simple()));
    let postgres = matches!(backend, Backend::Postgres);
    let location = crate::store::testing::fresh_location(postgres, &dir, "ledger.db").await?;
    let store = Store::open(&location).await.unwrap();
    Some(Fixture {
        dir,
        location,
        ledger: Ledger::new(store, crate::fault::reverter())
            .with_patience(Duration::from_millis(300)),
    })
}

/// Runs an `async fn(Fixture)` test body against SQLite and PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let f = super::fixture(super::Backend::Sqlite).await.unwrap();
                    super::$name(f).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(f) = super::fixture(super::Backend::Postgres).await {
                        super::$name(f).await;
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    a_lease_is_recorded_applied_and_reverted_idempotently,
    leftovers_are_leases_past_deadline_or_with_a_dead_owner,
    a_vanished_target_closes_the_lease_as_gone,
    halt_reverts_everything_and_refuses_new_faults_until_resume,
    two_handles_share_one_store,
    the_guard_reverts_an_orphaned_fault_and_exits_when_idle,
    a_failing_undo_stays_active_and_the_guard_retries_it,
);

fn sleeper() -> (Child, ProcessIdentity) {
    let child = Command::new("sleep").arg("30").spawn().unwrap();
    let id = ProcessIdentity::of(child.id() as i32).unwrap();
    (child, id)
}

fn wait_for_state(id: &ProcessIdentity, stopped: bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if (id.state() == Some('T')) == stopped {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn stop_lease(victim: ProcessIdentity, in_secs: i64) -> NewLease {
    NewLease {
        run_id: "run-1".into(),
        activity: "freeze".into(),
        func: "process.stop".into(),
        target: serde_json::json!({"pid": victim.pid}),
        undo: resume_recipe(victim),
        reversible: true,
        deadline: Timestamp::now() + SignedDuration::from_secs(in_secs),
        settles_within: None,
    }
}

fn resume_recipe(victim: ProcessIdentity) -> serde_json::Value {
    crate::fault::Undo::Process(crate::fault::process::Undo::Signal {
        process: victim,
        signal: "SIGCONT".into(),
    })
    .to_value()
}

async fn a_lease_is_recorded_applied_and_reverted_idempotently(f: Fixture) {
    let (mut child, victim) = sleeper();
    let lease = f.ledger.record(&stop_lease(victim, 60)).await.unwrap();
    assert_eq!(
        f.ledger.active().await.unwrap()[0].state,
        LeaseState::Pending
    );
    victim.signal("SIGSTOP").unwrap();
    f.ledger.mark_applied(&lease).await.unwrap();
    assert!(wait_for_state(&victim, true));
    let active = f.ledger.active().await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].state, LeaseState::Applied);
    assert_eq!(active[0].undo, lease.undo);

    assert_eq!(
        f.ledger.revert(&active[0]).await.unwrap(),
        RevertOutcome::Reverted
    );
    assert!(wait_for_state(&victim, false), "victim resumed");
    assert!(f.ledger.active().await.unwrap().is_empty());
    // A second revert of the same lease changes nothing and does not fail.
    assert_eq!(
        f.ledger.revert(&active[0]).await.unwrap(),
        RevertOutcome::Reverted
    );
    let listed = f.ledger.list(10).await.unwrap();
    assert_eq!(listed[0].state, LeaseState::Reverted);
    assert_eq!(listed[0].attempts, 1);
    let _ = child.kill();
    let _ = child.wait();
}

async fn leftovers_are_leases_past_deadline_or_with_a_dead_owner(f: Fixture) {
    let (mut victim_child, victim) = sleeper();
    // Owned by a process that we then kill.
    let (mut owner_child, owner) = sleeper();
    let orphaned = Ledger::with_owner(f.ledger.store().clone(), crate::fault::reverter(), owner);
    let lease = orphaned.record(&stop_lease(victim, 3600)).await.unwrap();
    victim.signal("SIGSTOP").unwrap();
    orphaned.mark_applied(&lease).await.unwrap();
    // Owned by us, deadline in the past.
    let expired = f.ledger.record(&stop_lease(victim, -1)).await.unwrap();
    f.ledger.mark_applied(&expired).await.unwrap();
    // Owned by us, deadline ahead: not a leftover.
    let live = f.ledger.record(&stop_lease(victim, 3600)).await.unwrap();
    f.ledger.mark_applied(&live).await.unwrap();

    let ids: Vec<String> = f
        .ledger
        .leftovers(Timestamp::now())
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(ids, vec![expired.id.clone()]);
    owner_child.kill().unwrap();
    owner_child.wait().unwrap();
    let mut ids: Vec<String> = f
        .ledger
        .leftovers(Timestamp::now())
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    ids.sort();
    let mut expected = vec![expired.id.clone(), lease.id.clone()];
    expected.sort();
    assert_eq!(ids, expected);

    let reverted = f.ledger.revert_leftovers().await.unwrap();
    assert_eq!(reverted.len(), 2);
    assert!(wait_for_state(&victim, false));
    assert_eq!(
        f.ledger.active().await.unwrap().len(),
        1,
        "the live lease stays"
    );
    let _ = victim_child.kill();
    let _ = victim_child.wait();
}

async fn a_vanished_target_closes_the_lease_as_gone(f: Fixture) {
    let (mut child, victim) = sleeper();
    let lease = f.ledger.record(&stop_lease(victim, 60)).await.unwrap();
    f.ledger.mark_applied(&lease).await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        f.ledger.revert(&lease).await.unwrap(),
        RevertOutcome::TargetGone
    );
    assert_eq!(
        f.ledger.list(5).await.unwrap()[0].state,
        LeaseState::TargetGone
    );
}

async fn halt_reverts_everything_and_refuses_new_faults_until_resume(f: Fixture) {
    let (mut child, victim) = sleeper();
    let lease = f.ledger.record(&stop_lease(victim, 60)).await.unwrap();
    victim.signal("SIGSTOP").unwrap();
    f.ledger.mark_applied(&lease).await.unwrap();

    let reverted = f.ledger.halt("incident 42").await.unwrap();
    assert_eq!(reverted.len(), 1);
    assert!(wait_for_state(&victim, false));
    let err = f.ledger.record(&stop_lease(victim, 60)).await.unwrap_err();
    assert!(
        matches!(err, LedgerError::Halted { ref reason } if reason == "incident 42"),
        "{err}"
    );
    assert!(err.to_string().contains("monkeywrench resume"));
    assert_eq!(
        f.ledger.halt_state().await.unwrap().unwrap().reason,
        "incident 42"
    );

    f.ledger.resume().await.unwrap();
    assert!(f.ledger.halt_state().await.unwrap().is_none());
    f.ledger.record(&stop_lease(victim, 60)).await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
}

async fn two_handles_share_one_store(f: Fixture) {
    let other = Store::open(&f.location).await.unwrap();
    let other = Ledger::new(other, crate::fault::reverter());
    let (mut child, victim) = sleeper();
    let lease = f.ledger.record(&stop_lease(victim, 60)).await.unwrap();
    assert_eq!(other.active().await.unwrap()[0].id, lease.id);
    let _ = child.kill();
    let _ = child.wait();
}

async fn the_guard_reverts_an_orphaned_fault_and_exits_when_idle(f: Fixture) {
    let (mut victim_child, victim) = sleeper();
    let (mut owner_child, owner) = sleeper();
    let orphaned = Ledger::with_owner(f.ledger.store().clone(), crate::fault::reverter(), owner);
    let lease = orphaned.record(&stop_lease(victim, 3600)).await.unwrap();
    victim.signal("SIGSTOP").unwrap();
    orphaned.mark_applied(&lease).await.unwrap();
    assert!(wait_for_state(&victim, true));

    let cancel = tokio_util::sync::CancellationToken::new();
    let guard = {
        let ledger = f.ledger.clone();
        let cancel = cancel.clone();
        tokio::spawn(
            async move { guard::watch(&ledger, Duration::from_millis(50), 3, &cancel).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        victim.state(),
        Some('T'),
        "the owner is alive: the fault stays"
    );
    owner_child.kill().unwrap();
    owner_child.wait().unwrap();
    let report = tokio::time::timeout(Duration::from_secs(5), guard)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(report.reverted, 1);
    assert!(
        wait_for_state(&victim, false),
        "the guard resumed the victim"
    );
    let _ = victim_child.kill();
    let _ = victim_child.wait();
}

#[test]
fn only_one_guard_holds_a_state_directory() {
    let dir = std::env::temp_dir().join(format!("mw-guard-{}", uuid::Uuid::new_v4().simple()));
    let first = guard::try_lock(&dir).unwrap();
    assert!(first.is_some());
    assert!(guard::is_running(&dir));
    assert_eq!(guard::guard_pid(&dir), Some(std::process::id() as i32));
    // flock is per open file description: a second lock attempt from a new description fails.
    assert!(guard::try_lock(&dir).unwrap().is_none());
    drop(first);
    assert!(!guard::is_running(&dir));
    assert_eq!(guard::guard_pid(&dir), None);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tiny proxy API: DELETE answers the current status (500 until told otherwise); GET of the
/// toxic answers 404 "toxic not found" once DELETE succeeds.
fn flaky_api() -> (String, std::sync::Arc<std::sync::atomic::AtomicU16>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let status = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(500));
    let s = status.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2000) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let code = s.load(std::sync::atomic::Ordering::Relaxed);
            let (code, body) = if buf[..n].starts_with(b"GET") && code < 300 {
                (404, r#"{"error":"toxic not found","status":404}"#)
            } else {
                (code, "")
            };
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    (url, status)
}

async fn a_failing_undo_stays_active_and_the_guard_retries_it(f: Fixture) {
    let (api, status) = flaky_api();
    let lease = f
        .ledger
        .record(&NewLease {
            run_id: "run-1".into(),
            activity: "lag".into(),
            func: "proxy.toxic".into(),
            target: serde_json::json!({"proxy": "web"}),
            undo: crate::fault::Undo::Proxy(crate::fault::proxy::Undo::RemoveToxic {
                api,
                proxy: "web".into(),
                toxic: "t1".into(),
            })
            .to_value(),
            reversible: true,
            deadline: Timestamp::now() - SignedDuration::from_secs(1),
            settles_within: None,
        })
        .await
        .unwrap();
    f.ledger.mark_applied(&lease).await.unwrap();
    let outcome = f.ledger.revert(&lease).await.unwrap();
    assert!(
        matches!(outcome, RevertOutcome::Failed(ref e) if e.contains("500")),
        "{outcome:?}"
    );
    let listed = f.ledger.list(5).await.unwrap();
    assert_eq!(listed[0].state, LeaseState::RevertFailed);
    assert!(
        listed[0].error.as_deref().unwrap_or("").contains("500"),
        "visible in the ledger"
    );
    assert!(listed[0].state.is_active(), "kept for another attempt");

    let cancel = tokio_util::sync::CancellationToken::new();
    let guard = {
        // One attempt per poll, as the guard's short patience gives.
        let ledger = f.ledger.clone().with_patience(Duration::ZERO);
        let cancel = cancel.clone();
        tokio::spawn(
            async move { guard::watch(&ledger, Duration::from_millis(50), 3, &cancel).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        f.ledger.list(5).await.unwrap()[0].attempts >= 3,
        "the guard keeps retrying"
    );
    status.store(204, std::sync::atomic::Ordering::Relaxed);
    let report = tokio::time::timeout(Duration::from_secs(5), guard)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(report.failed >= 2 && report.reverted == 1, "{report:?}");
    assert_eq!(
        f.ledger.list(5).await.unwrap()[0].state,
        LeaseState::Reverted
    );
}
