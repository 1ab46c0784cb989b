//! The history against both backends: a fresh SQLite file, and a fresh database on the test
//! PostgreSQL (`MONKEYWRENCH_TEST_POSTGRES`; skipped without it unless
//! `MONKEYWRENCH_REQUIRE_POSTGRES=1`).

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::*;
use crate::experiment::dispatcher::EventSink;
use crate::experiment::event::{Outcome, RunEvent, RunStatus, Stamped, Verdict};
use crate::experiment::journal;
use crate::store::{Store, StoreLocation};
use crate::target::process::ProcessIdentity;

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Fixture {
    location: StoreLocation,
    store: Store,
    /// The PostgreSQL server URL (for dropping the database), if any.
    admin: Option<String>,
}

async fn fixture(backend: Backend) -> Option<Fixture> {
    let (location, admin) = match backend {
        Backend::Sqlite => {
            let dir =
                std::env::temp_dir().join(format!("mw-history-{}", uuid::Uuid::new_v4().simple()));
            (StoreLocation::Sqlite(dir.join("ledger.db")), None)
        }
        Backend::Postgres => {
            let Ok(base) = std::env::var("MONKEYWRENCH_TEST_POSTGRES") else {
                assert!(
                    std::env::var("MONKEYWRENCH_REQUIRE_POSTGRES").is_err(),
                    "MONKEYWRENCH_TEST_POSTGRES is not set but PostgreSQL tests are required"
                );
                eprintln!("SKIPPED: PostgreSQL variant (set MONKEYWRENCH_TEST_POSTGRES)");
                return None;
            };
            let name = format!("mw_{}", uuid::Uuid::new_v4().simple());
            sqlx::any::install_default_drivers();
            let admin = sqlx::AnyPool::connect(&base).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
            let (prefix, _) = base.rsplit_once('/').unwrap();
            (
                StoreLocation::Postgres(format!("{prefix}/{name}")),
                Some(base),
            )
        }
    };
    let store = Store::open(&location).await.unwrap();
    Some(Fixture {
        location,
        store,
        admin,
    })
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let f = super::fixture(super::Backend::Sqlite).await.unwrap();
                    super::$name(f).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    a_recorded_run_has_its_events_verdict_and_journal,
    filters_paging_and_prefixes,
    retention_keeps_the_newest_runs_and_recent_days,
    a_run_whose_process_died_is_reaped_as_interrupted,
);

fn meta(id: &str, experiment: &str) -> RunMeta {
    RunMeta {
        id: id.to_string(),
        experiment: experiment.to_string(),
        title: format!("{experiment} title"),
        file_path: format!("/x/{experiment}.yaml"),
        file_sha256: "ab".repeat(32),
        trigger: Trigger::Cli,
        trigger_detail: None,
    }
}

fn stamped(event: RunEvent) -> Stamped {
    Stamped {
        at: crate::experiment::event::now_micros(),
        elapsed_s: 0.0,
        event,
    }
}

fn verdict(status: RunStatus, outcome: Outcome, deviated: bool, exit_code: i32) -> Verdict {
    Verdict {
        status,
        deviated,
        outcome,
        exit_code,
        interruption: None,
    }
}

/// Records a run of `n` warning events with `verdict`; returns the events sent.
async fn record(f: &Fixture, meta: RunMeta, n: usize, verdict: &Verdict) -> (bool, Vec<Stamped>) {
    let (recorder, mut sink) =
        Recorder::start(f.location.clone(), meta, HostIdentity::current(), false);
    let mut sent = Vec::new();
    for i in 0..n {
        let s = stamped(RunEvent::Warning {
            message: format!("event {i}"),
        });
        sink.on_event(&s);
        sent.push(s);
    }
    drop(sink);
    let journal = journal::from_events(&sent);
    let (recorded, _) = recorder
        .finish(
            &journal,
            verdict,
            Retention {
                keep_days: None,
                keep_runs: None,
            },
        )
        .await;
    (recorded, sent)
}

async fn a_recorded_run_has_its_events_verdict_and_journal(f: Fixture) {
    let id = uuid::Uuid::new_v4().to_string();
    let v = verdict(RunStatus::Completed, Outcome::Deviated, true, 1);
    // More than one batch.
    let (recorded, sent) = record(&f, meta(&id, "checkout"), 450, &v).await;
    assert!(recorded);
    let history = History::new(f.store.clone());
    let run = history.get(&id).await.unwrap().expect("recorded");
    assert_eq!(run.status, HistoryStatus::Completed);
    assert_eq!(run.outcome.as_deref(), Some("deviated"));
    assert!(run.deviated);
    assert_eq!(run.exit_code, Some(1));
    assert_eq!(run.experiment, "checkout");
    assert_eq!(run.pid, i64::from(std::process::id()));
    assert!(run.ended_at.is_some() && run.note.is_none());
    let events = history.events(&id).await.unwrap();
    assert_eq!(events.len(), 450);
    for (i, (stored, sent)) in events.iter().zip(&sent).enumerate() {
        assert_eq!(stored.seq, i as i64 + 1);
        let back: Stamped = serde_json::from_value(stored.event.clone()).unwrap();
        assert_eq!(&back, sent);
    }
    let journal = history.journal(&id).await.unwrap().expect("journal stored");
    assert_eq!(
        journal["monkeywrench"]["warnings"]
            .as_array()
            .unwrap()
            .len(),
        450
    );
}

/// Inserts a finished run started `ago` before now.
async fn insert(f: &Fixture, id: &str, experiment: &str, status: &str, ago: SignedDuration) {
    let started = Timestamp::now() - ago;
    sqlx::query(
        "INSERT INTO runs (id, experiment, title, file_path, file_sha256, run_trigger, host, boot_id, pid, pid_start, started_ms, started_at, ended_ms, status, deviated) VALUES ($1, $2, 't', 'f', 'h', 'schedule', 'h', 'b', 1, 1, $3, $4, $5, $6, 0)",
    )
    .bind(id)
    .bind(experiment)
    .bind(started.as_millisecond())
    .bind(started.to_string())
    .bind(started.as_millisecond() + 1000)
    .bind(status)
    .execute(f.store.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO run_events (run_id, seq, at_ms, event) VALUES ($1, 1, 0, '{}')")
        .bind(id)
        .execute(f.store.pool())
        .await
        .unwrap();
}

async fn filters_paging_and_prefixes(f: Fixture) {
    for i in 0..10i64 {
        let id = format!("{:08x}-0000-4000-8000-{:012x}", 0xa0 + i, i);
        let (experiment, status) = if i % 2 == 0 {
            ("even", "completed")
        } else {
            ("odd", "failed")
        };
        insert(
            &f,
            &id,
            experiment,
            status,
            SignedDuration::from_mins(10 * (10 - i)),
        )
        .await;
    }
    let history = History::new(f.store.clone());
    let ids = |runs: Vec<RunRecord>| {
        runs.into_iter()
            .map(|r| r.id[6..8].to_string())
            .collect::<Vec<_>>()
    };
    let all = history.list(&Filter::default()).await.unwrap();
    assert_eq!(
        ids(all),
        ["a9", "a8", "a7", "a6", "a5", "a4", "a3", "a2", "a1", "a0"]
    );
    let odd = Filter {
        experiment: Some("odd".into()),
        limit: 2,
        offset: 1,
        ..Filter::default()
    };
    assert_eq!(ids(history.list(&odd).await.unwrap()), ["a7", "a5"]);
    let completed = Filter {
        status: Some(HistoryStatus::Completed),
        since: Some(Timestamp::now() - SignedDuration::from_mins(45)),
        ..Filter::default()
    };
    assert_eq!(ids(history.list(&completed).await.unwrap()), ["a8", "a6"]);
    let before = Filter {
        before: Some(Timestamp::now() - SignedDuration::from_mins(75)),
        ..Filter::default()
    };
    assert_eq!(
        ids(history.list(&before).await.unwrap()),
        ["a2", "a1", "a0"]
    );
    let one = history.list(&Filter::default()).await.unwrap()[0].clone();
    assert_eq!(one.trigger, Trigger::Schedule);
    assert_eq!(
        history.resolve("000000a3").await.unwrap(),
        "000000a3-0000-4000-8000-000000000003"
    );
    assert_eq!(
        history.resolve("000000A3-0000").await.unwrap(),
        "000000a3-0000-4000-8000-000000000003"
    );
    match history.resolve("000000a").await {
        Err(HistoryError::Ambiguous { matches, .. }) => assert_eq!(matches.len(), 5),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        history.resolve("ffff").await,
        Err(HistoryError::NotFound(_))
    ));
    assert!(matches!(
        history.resolve("a%").await,
        Err(HistoryError::BadPrefix(_))
    ));
    assert!(matches!(
        history.resolve("a*").await,
        Err(HistoryError::BadPrefix(_))
    ));
}

async fn count(f: &Fixture, table: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(f.store.pool())
        .await
        .unwrap();
    n
}

async fn retention_keeps_the_newest_runs_and_recent_days(f: Fixture) {
    for i in 0..6i64 {
        insert(
            &f,
            &format!("r{i}"),
            "e",
            "completed",
            SignedDuration::from_hours(24 * i),
        )
        .await;
    }
    // A run still going is never pruned, however old.
    insert(
        &f,
        "running",
        "e",
        "running",
        SignedDuration::from_hours(24 * 30),
    )
    .await;
    let by_count = Retention {
        keep_days: None,
        keep_runs: Some(4),
    };
    let pruned = by_count.apply(&f.store, Timestamp::now()).await.unwrap();
    assert_eq!(
        pruned,
        Pruned { runs: 2, events: 2 },
        "r4 and r5 are beyond the newest 4"
    );
    let by_age = Retention {
        keep_days: Some(1),
        keep_runs: None,
    };
    let pruned = by_age
        .apply(&f.store, Timestamp::now() + SignedDuration::from_mins(1))
        .await
        .unwrap();
    assert_eq!(pruned.runs, 3, "r1 to r3 are more than a day old");
    assert_eq!(count(&f, "runs").await, 2);
    assert_eq!(count(&f, "run_events").await, 2);
    let none = Retention {
        keep_days: None,
        keep_runs: None,
    };
    assert_eq!(
        none.apply(&f.store, Timestamp::now()).await.unwrap(),
        Pruned::default()
    );
}

async fn a_run_whose_process_died_is_reaped_as_interrupted(f: Fixture) {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = ProcessIdentity::of(child.id() as i32).unwrap_or(ProcessIdentity {
        pid: child.id() as i32,
        start_time: 1,
    });
    child.wait().unwrap();
    let me = HostIdentity::current();
    let dead_run = HostIdentity {
        process: dead,
        ..me.clone()
    };
    // A recorder that "dies": its events and running row are written, its end never comes.
    let id = uuid::Uuid::new_v4().to_string();
    let (recorder, mut sink) =
        Recorder::start(f.location.clone(), meta(&id, "killed"), dead_run, false);
    let started = stamped(RunEvent::Warning {
        message: "before the kill".into(),
    });
    sink.on_event(&started);
    drop(sink);
    recorder.vanish().await;
    let history = History::new(f.store.clone());
    assert_eq!(
        history.get(&id).await.unwrap().unwrap().status,
        HistoryStatus::Running
    );
    let reaped = reap_interrupted(&f.store, &me).await.unwrap();
    assert_eq!(reaped, vec![id.clone()]);
    // The next recorder (any opener of the history) reaps too; a live process's run stays.
    let alive_id = uuid::Uuid::new_v4().to_string();
    let (alive, alive_sink) = Recorder::start(
        f.location.clone(),
        meta(&alive_id, "alive"),
        me.clone(),
        false,
    );
    drop(alive_sink);
    alive.vanish().await;
    let run = history.get(&id).await.unwrap().unwrap();
    assert_eq!(run.status, HistoryStatus::Interrupted);
    assert!(run.note.unwrap().contains("process died"));
    assert_eq!(
        run.ended_at.unwrap().as_millisecond(),
        started.at.as_millisecond()
    );
    let journal = history
        .journal(&id)
        .await
        .unwrap()
        .expect("rebuilt from the events");
    assert_eq!(
        journal["monkeywrench"]["warnings"],
        json!(["before the kill"])
    );
    assert!(
        reap_interrupted(&f.store, &me).await.unwrap().is_empty(),
        "once"
    );
    assert_eq!(
        history.get(&alive_id).await.unwrap().unwrap().status,
        HistoryStatus::Running
    );
}

#[tokio::test]
async fn a_store_that_cannot_be_opened_warns_and_records_nothing() {
    let file =
        std::env::temp_dir().join(format!("mw-history-file-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, "not a directory").unwrap();
    let location = StoreLocation::Sqlite(file.join("ledger.db"));
    let (recorder, mut sink) =
        Recorder::start(location, meta("x", "e"), HostIdentity::current(), false);
    sink.on_event(&stamped(RunEvent::FailFastTripped));
    drop(sink);
    let v = verdict(RunStatus::Completed, Outcome::Passed, false, 0);
    let warnings = recorder.warnings_handle();
    let (recorded, pruned) = recorder
        .finish(&Value::Null, &v, Retention::default())
        .await;
    assert!(!recorded && pruned.is_none());
    let warnings = warnings.lock().unwrap().clone();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("create the state directory"),
        "{warnings:?}"
    );
    let _ = std::fs::remove_file(&file);
}

/// The store goes away mid-run (its database is dropped under it): the recorder warns once and
/// the run ends normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_goes_away_mid_run_warns_once() {
    let Some(f) = fixture(Backend::Postgres).await else {
        return;
    };
    let id = uuid::Uuid::new_v4().to_string();
    let (recorder, mut sink) = Recorder::start(
        f.location.clone(),
        meta(&id, "e"),
        HostIdentity::current(),
        false,
    );
    sink.on_event(&stamped(RunEvent::FailFastTripped));
    // Wait until the run row is there.
    let history = History::new(f.store.clone());
    for _ in 0..200 {
        if history.get(&id).await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    f.store.close().await;
    let StoreLocation::Postgres(url) = &f.location else {
        unreachable!()
    };
    let name = url.rsplit_once('/').unwrap().1;
    let admin = sqlx::AnyPool::connect(f.admin.as_deref().unwrap())
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    for i in 0..20 {
        sink.on_event(&stamped(RunEvent::Warning {
            message: format!("after {i}"),
        }));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(sink);
    let v = verdict(RunStatus::Completed, Outcome::Passed, false, 0);
    let warnings = recorder.warnings_handle();
    let (recorded, _) = recorder
        .finish(&Value::Null, &v, Retention::default())
        .await;
    assert!(!recorded, "not recorded completely");
    let warnings = warnings.lock().unwrap().clone();
    assert!(warnings[0].contains("store run events"), "{warnings:?}");
}
