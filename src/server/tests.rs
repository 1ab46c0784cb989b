//! Store-backed tests of the server's firings and scheduler, on SQLite and on the real
//! PostgreSQL (`MONKEYWRENCH_TEST_POSTGRES`; skipped with a message without it, unless
//! `MONKEYWRENCH_REQUIRE_POSTGRES` is set).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::firings::{FiringState, Firings};
use super::schedule::{CronExpr, Overlap, Schedule, Trigger};
use crate::store::{Store, StoreLocation};

pub(super) fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub(super) fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mw-server-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh store location: a new SQLite file, or a new database on the test PostgreSQL.
pub(super) async fn location(postgres: bool) -> Option<StoreLocation> {
    if !postgres {
        return Some(StoreLocation::Sqlite(tempdir().join("server.db")));
    }
    let Ok(base) = std::env::var("MONKEYWRENCH_TEST_POSTGRES") else {
        assert!(
            std::env::var("MONKEYWRENCH_REQUIRE_POSTGRES").is_err(),
            "MONKEYWRENCH_TEST_POSTGRES is not set but PostgreSQL tests are required"
        );
        eprintln!(
            "SKIPPED: PostgreSQL variant (set MONKEYWRENCH_TEST_POSTGRES; see scripts/pg-test-server)"
        );
        return None;
    };
    let name = format!("mw_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (prefix, _) = base.rsplit_once('/').expect("a URL with a database");
    Some(StoreLocation::Postgres(format!("{prefix}/{name}")))
}

pub(super) fn hourly(tz: &str) -> Schedule {
    Schedule {
        trigger: Trigger::Cron(Box::new(CronExpr::parse("0 * * * *").unwrap())),
        tz: TimeZone::get(tz).unwrap(),
        tz_name: tz.into(),
        jitter: None,
        window: None,
        overlap: Overlap::Skip,
    }
}

/// Two servers, each with its own connection pool, claim the same 40 firings at once: each is
/// claimed exactly once.
async fn two_claimers_never_both_win(postgres: bool) {
    let Some(location) = location(postgres).await else {
        return;
    };
    let a = Firings::new(Store::open(&location).await.unwrap(), "server-a");
    let b = Firings::new(Store::open(&location).await.unwrap(), "server-b");
    let start = ts("2026-12-02T00:00:00Z");
    let planned: Vec<Timestamp> = (0..40)
        .map(|i| start + SignedDuration::from_mins(30 * i))
        .collect();
    let race = |f: Firings, planned: Vec<Timestamp>| {
        tokio::spawn(async move {
            let mut won = Vec::new();
            for p in planned {
                if f.claim("checkout", p, p, p).await.unwrap().is_some() {
                    won.push(p);
                }
            }
            won
        })
    };
    let (won_a, won_b) = (
        race(a.clone(), planned.clone()),
        race(b.clone(), planned.clone()),
    );
    let (won_a, won_b) = (won_a.await.unwrap(), won_b.await.unwrap());
    assert_eq!(
        won_a.len() + won_b.len(),
        planned.len(),
        "a: {won_a:?}\nb: {won_b:?}"
    );
    assert!(won_a.iter().all(|p| !won_b.contains(p)));
    let stored = a.list("checkout", 100).await.unwrap();
    assert_eq!(stored.len(), planned.len());
    assert!(stored.iter().all(|f| f.state == FiringState::Claimed));
    // A skip recorded for a claimed firing changes nothing.
    assert!(
        !b.record(
            "checkout",
            planned[0],
            planned[0],
            planned[0],
            FiringState::Skipped,
            "overlap"
        )
        .await
        .unwrap()
    );
    a.store().close().await;
    b.store().close().await;
}

/// Missed firings are recorded once at start, pause and outcomes are stored per schedule.
async fn missed_paused_and_outcomes(postgres: bool) {
    let Some(location) = location(postgres).await else {
        return;
    };
    let f = Firings::new(Store::open(&location).await.unwrap(), "server-a");
    let s = hourly("Europe/Berlin");
    assert_eq!(f.state("checkout").await.unwrap(), Default::default());
    // The server stopped after planning 10:00; it starts again at 13:20.
    f.set_next(
        "checkout",
        Some(ts("2026-12-02T10:00:00Z")),
        ts("2026-12-02T09:30:00Z"),
    )
    .await
    .unwrap();
    let n = f
        .record_missed("checkout", &s, 0, ts("2026-12-02T13:20:00Z"))
        .await
        .unwrap();
    assert_eq!(n, 4, "10:00, 11:00, 12:00 and 13:00 UTC were missed");
    // A second start (or a standby) records nothing twice.
    let again = Firings::new(Store::open(&location).await.unwrap(), "server-b");
    assert_eq!(
        again
            .record_missed("checkout", &s, 0, ts("2026-12-02T13:20:30Z"))
            .await
            .unwrap(),
        0
    );
    let listed = f.list("checkout", 10).await.unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|x| x.state == FiringState::Missed));
    assert_eq!(listed[0].planned, ts("2026-12-02T13:00:00Z"));
    // A firing due 30 s ago is not missed yet: the running server may be claiming it.
    f.set_next(
        "checkout",
        Some(ts("2026-12-02T14:00:00Z")),
        ts("2026-12-02T13:20:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(
        f.record_missed("checkout", &s, 0, ts("2026-12-02T14:00:30Z"))
            .await
            .unwrap(),
        0
    );

    f.set_paused("checkout", true, ts("2026-12-02T14:01:00Z"))
        .await
        .unwrap();
    assert!(
        again.state("checkout").await.unwrap().paused,
        "the pause is seen by every server"
    );
    let claimed = f
        .claim(
            "checkout",
            ts("2026-12-02T15:00:00Z"),
            ts("2026-12-02T15:00:00Z"),
            ts("2026-12-02T15:00:00Z"),
        )
        .await
        .unwrap()
        .unwrap();
    f.update(
        &claimed,
        FiringState::Started,
        None,
        Some("run-1"),
        ts("2026-12-02T15:00:01Z"),
    )
    .await
    .unwrap();
    f.update(
        &claimed,
        FiringState::Finished,
        Some("deviated (exit 1)"),
        None,
        ts("2026-12-02T15:03:00Z"),
    )
    .await
    .unwrap();
    let state = f.state("checkout").await.unwrap();
    assert!(state.paused);
    assert_eq!(
        state.last_outcome,
        Some(("finished".into(), Some("deviated (exit 1)".into())))
    );
    assert_eq!(state.next_planned, Some(ts("2026-12-02T14:00:00Z")));
    assert_eq!(
        f.list("checkout", 1).await.unwrap()[0].run_id.as_deref(),
        Some("run-1")
    );
    // An older firing recorded later does not hide the newer outcome.
    f.record(
        "checkout",
        ts("2026-12-02T09:00:00Z"),
        ts("2026-12-02T09:00:00Z"),
        ts("2026-12-02T15:04:00Z"),
        FiringState::Missed,
        "late",
    )
    .await
    .unwrap();
    assert_eq!(
        f.state("checkout").await.unwrap().last_planned,
        Some(ts("2026-12-02T15:00:00Z"))
    );
    f.set_paused("checkout", false, ts("2026-12-02T15:05:00Z"))
        .await
        .unwrap();
    assert!(!f.state("checkout").await.unwrap().paused);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(false).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(true).await;
                }
            )*
        }
    };
}

on_both_backends!(two_claimers_never_both_win, missed_paused_and_outcomes);
