//! Store-backed tests of the server's firings and scheduler, on SQLite and on the real
//! PostgreSQL (`MONKEYWRENCH_TEST_POSTGRES`; skipped with a message without it, unless
//! `MONKEYWRENCH_REQUIRE_POSTGRES` is set).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::firings::{FiringState, Firings};
use super::schedule::{CronExpr, Overlap, Schedule, Trigger};
use crate::store::{Store, StoreLocation};

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

pub(super) fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub(super) fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mw-server-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh store location (see `store::testing`).
pub(super) async fn location(postgres: bool) -> Option<StoreLocation> {
    crate::store::testing::fresh_location(postgres, &tempdir(), "server.db").await
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

on_both_backends!(two_claimers_never_both_win, missed_paused_and_outcomes);

mod week {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    use jiff::civil::{Weekday, date};
    use jiff::{SignedDuration, Timestamp};
    use tokio_util::sync::CancellationToken;

    use super::{hourly, location, ts};
    use crate::monkey::calendar::Calendar;
    use crate::monkey::clock::Clock;
    use crate::server::firings::{Firing, FiringState, Firings};
    use crate::server::schedule::{CronExpr, Overlap, Schedule, Trigger};
    use crate::server::scheduler::{Completer, Launcher, Planned, Scheduler};
    use crate::store::Store;

    /// Finishes every run at once, except `stuck`'s, which never ends.
    #[derive(Default)]
    struct Runs {
        launched: Mutex<Vec<Firing>>,
        held: Mutex<Vec<Completer>>,
    }

    impl Launcher for Runs {
        fn launch(&self, firing: Firing, done: Completer) {
            let stuck = firing.experiment == "stuck";
            self.launched.lock().unwrap().push(firing);
            if stuck {
                self.held.lock().unwrap().push(done);
            } else {
                done.finish("completed (exit 0)");
            }
        }
    }

    fn cron(expr: &str) -> Schedule {
        Schedule {
            trigger: Trigger::Cron(Box::new(CronExpr::parse(expr).unwrap())),
            ..hourly("Europe/Berlin")
        }
    }

    fn planned(name: &str, schedule: Schedule, targets: &[&str]) -> Planned {
        Planned {
            name: name.into(),
            schedule,
            targets: targets
                .iter()
                .map(|t| t.to_string())
                .collect::<BTreeSet<_>>(),
        }
    }

    fn count(firings: &[Firing], state: FiringState, reason: &str) -> usize {
        firings
            .iter()
            .filter(|f| f.state == state && f.reason.as_deref().unwrap_or("").starts_with(reason))
            .count()
    }

    /// The week of the spring change in Europe/Berlin (Mon 2026-03-23 to Mon 2026-03-30, local),
    /// simulated: every firing, skip and miss lands in the store as planned.
    async fn a_simulated_dst_week(postgres: bool) {
        let Some(location) = location(postgres).await else {
            return;
        };
        let store = Store::open(&location).await.unwrap();
        let firings = Firings::new(store, "server-a");
        let (start, end) = (ts("2026-03-22T23:00:00Z"), ts("2026-03-29T22:00:00Z"));
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let mut workhours = Schedule {
            trigger: Trigger::Every(SignedDuration::from_mins(30)),
            ..hourly("Europe/Berlin")
        };
        workhours.window = Some(Calendar::from_parts(
            tz,
            (9, 17),
            vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
            [date(2026, 3, 25)].into_iter().collect(),
        ));
        let mut queued = cron("45 * * * *");
        queued.overlap = Overlap::Queue;
        let entries = vec![
            planned("nightly", cron("30 2 * * *"), &[]),
            planned("hourly", hourly("Europe/Berlin"), &[]),
            planned("workhours", workhours, &[]),
            planned("stuck", cron("15 * * * *"), &["db"]),
            planned("sharing", cron("45 * * * *"), &["db", "cache"]),
            planned("queued", queued, &["db"]),
        ];
        // The last server stopped a week earlier, with nightly's next firing planned then.
        firings
            .set_next(
                "nightly",
                Some(ts("2026-03-16T01:30:00Z")),
                ts("2026-03-15T12:00:00Z"),
            )
            .await
            .unwrap();
        let runs = Arc::new(Runs::default());
        let scheduler = Scheduler::new(
            entries,
            firings.clone(),
            Clock::simulated(start, Some(end)),
            42,
            runs.clone(),
        );
        scheduler.run(CancellationToken::new()).await.unwrap();

        let nightly = firings.list("nightly", 100).await.unwrap();
        assert_eq!(
            count(&nightly, FiringState::Missed, "missed"),
            7,
            "{nightly:#?}"
        );
        let ran: Vec<Timestamp> = nightly
            .iter()
            .filter(|f| f.state == FiringState::Finished)
            .map(|f| f.planned)
            .collect();
        assert_eq!(ran.len(), 7);
        assert_eq!(
            ran[0],
            ts("2026-03-29T01:00:00Z"),
            "sunday's 02:30 does not exist: 03:00 CEST"
        );
        assert_eq!(ran[1], ts("2026-03-28T01:30:00Z"));

        let hourly = firings.list("hourly", 1000).await.unwrap();
        assert_eq!(hourly.len(), 7 * 24 - 1, "the week has one hour less");
        assert_eq!(
            count(&hourly, FiringState::Finished, "completed (exit 0)"),
            hourly.len()
        );

        let work = firings.list("workhours", 1000).await.unwrap();
        assert_eq!(
            work.len(),
            4 * 16,
            "four work days (wednesday is a holiday), 09:00–16:30"
        );
        for f in &work {
            let local = f
                .planned
                .to_zoned_datetime(jiff::tz::TimeZone::get("Europe/Berlin").unwrap());
            assert!(
                (9..17).contains(&local.hour()) && local.date() != date(2026, 3, 25),
                "{local}"
            );
        }

        let stuck = firings.list("stuck", 1000).await.unwrap();
        assert_eq!(count(&stuck, FiringState::Claimed, ""), 1);
        assert_eq!(
            count(&stuck, FiringState::Skipped, "overlap: the previous run"),
            stuck.len() - 1
        );
        let sharing = firings.list("sharing", 1000).await.unwrap();
        assert_eq!(
            count(
                &sharing,
                FiringState::Skipped,
                "targets-busy: stuck is running on db"
            ),
            sharing.len()
        );
        let queued = firings.list("queued", 1000).await.unwrap();
        assert_eq!(count(&queued, FiringState::Claimed, ""), 1, "one waits");
        assert_eq!(
            count(
                &queued,
                FiringState::Skipped,
                "overlap: a firing is already queued"
            ),
            queued.len() - 1
        );

        let launched = runs.launched.lock().unwrap().clone();
        assert!(
            launched
                .iter()
                .all(|f| f.experiment != "queued" && f.experiment != "sharing")
        );
        let state = firings.state("hourly").await.unwrap();
        assert_eq!(state.next_planned, Some(ts("2026-03-29T22:00:00Z")));
        assert_eq!(
            state.last_outcome,
            Some(("finished".into(), Some("completed (exit 0)".into())))
        );
    }

    /// A paused schedule and a halted server record every due firing as skipped; jitter moves
    /// the due time but not the planned one.
    async fn paused_halted_and_jittered(postgres: bool) {
        let Some(location) = location(postgres).await else {
            return;
        };
        let firings = Firings::new(Store::open(&location).await.unwrap(), "server-a");
        let start = ts("2026-12-02T00:00:00Z");
        firings.set_paused("paused", true, start).await.unwrap();
        let mut jittered = hourly("UTC");
        jittered.jitter = Some(SignedDuration::from_mins(20));
        let entries = vec![
            planned("paused", hourly("UTC"), &[]),
            planned("jittered", jittered, &[]),
        ];
        let runs = Arc::new(Runs::default());
        let end = start + SignedDuration::from_hours(6);
        let scheduler = Scheduler::new(
            entries,
            firings.clone(),
            Clock::simulated(start, Some(end)),
            7,
            runs.clone(),
        );
        let control = scheduler.control();
        scheduler.run(CancellationToken::new()).await.unwrap();
        let paused = firings.list("paused", 100).await.unwrap();
        assert_eq!(
            count(&paused, FiringState::Skipped, "paused"),
            6,
            "{paused:#?}"
        );
        let jittered = firings.list("jittered", 100).await.unwrap();
        assert_eq!(jittered.len(), 6);
        assert!(
            jittered
                .iter()
                .all(|f| f.due >= f.planned && f.due < f.planned + SignedDuration::from_mins(20))
        );
        assert!(jittered.iter().any(|f| f.due != f.planned));
        // Another server with the same seed draws the same due times.
        let mut same = hourly("UTC");
        same.jitter = Some(SignedDuration::from_mins(20));
        let launched = runs.launched.lock().unwrap().clone();
        assert_eq!(launched.len(), 6);
        assert!(
            launched
                .iter()
                .all(|f| same.due("jittered", f.planned, 7) == f.due)
        );

        assert!(!control.is_running("jittered"), "every run finished");
        let runs = Arc::new(Runs::default());
        let mut s = hourly("UTC");
        s.jitter = Some(SignedDuration::from_mins(20));
        let scheduler = Scheduler::new(
            vec![planned("jittered", s, &[])],
            firings.clone(),
            Clock::simulated(end, Some(end + SignedDuration::from_hours(3))),
            7,
            runs.clone(),
        );
        scheduler.control().set_halted(true);
        scheduler.run(CancellationToken::new()).await.unwrap();
        let after = firings.list("jittered", 100).await.unwrap();
        assert_eq!(
            count(&after, FiringState::Skipped, "halted"),
            3,
            "{after:#?}"
        );
        assert!(runs.launched.lock().unwrap().is_empty());
    }

    /// Once for real: `every 1s` on the system clock fires on consecutive whole seconds until
    /// cancelled after three launches.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_interval_fires_on_the_system_clock() {
        struct Counting(Mutex<Vec<Firing>>, CancellationToken);
        impl Launcher for Counting {
            fn launch(&self, firing: Firing, done: Completer) {
                let mut all = self.0.lock().unwrap();
                all.push(firing);
                done.finish("completed (exit 0)");
                if all.len() == 3 {
                    self.1.cancel();
                }
            }
        }
        let location = location(false).await.unwrap();
        let firings = Firings::new(Store::open(&location).await.unwrap(), "server-a");
        let every = Schedule {
            trigger: Trigger::Every(SignedDuration::from_secs(1)),
            ..hourly("UTC")
        };
        let cancel = CancellationToken::new();
        let runs = Arc::new(Counting(Mutex::new(Vec::new()), cancel.clone()));
        let started = Timestamp::now();
        let scheduler = Scheduler::new(
            vec![planned("tick", every, &[])],
            firings.clone(),
            Clock::System,
            0,
            runs.clone(),
        );
        // Bounded: three firings take about three seconds; a hang fails here, not forever.
        tokio::time::timeout(std::time::Duration::from_secs(60), scheduler.run(cancel))
            .await
            .expect("three firings within a minute")
            .unwrap();
        let launched = runs.0.lock().unwrap().clone();
        assert_eq!(launched.len(), 3);
        for w in launched.windows(2) {
            assert_eq!(w[1].planned - w[0].planned, SignedDuration::from_secs(1));
        }
        assert!(launched.iter().all(|f| f.planned.subsec_nanosecond() == 0));
        // Of the firings due in the minute before the start only the latest runs, late.
        assert!(launched[1].planned >= started, "{launched:#?}");
        let missed = firings.list("tick", 100).await.unwrap();
        assert!(
            missed
                .iter()
                .filter(|f| f.state == FiringState::Missed)
                .count()
                >= 50
        );
        let stored = firings.list("tick", 100).await.unwrap();
        assert!(
            stored
                .iter()
                .filter(|f| f.state == FiringState::Finished)
                .count()
                >= 2
        );
    }

    on_both_backends!(a_simulated_dst_week, paused_halted_and_jittered);
}
