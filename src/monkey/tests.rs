//! Weeks of schedule on a simulated clock, with real child processes as instances and a real
//! SQLite store (PostgreSQL too when the suite provides one).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::config::{MonkeyConfig, parse};

use super::history::{self, Entry, Filter};
use super::inventory::{Instance, InstanceRef};
use super::{Monkey, scheduler};
use crate::experiment::source::Format;
use crate::store::{Store, StoreLocation};

/// Processes with a unique command line, killed (by pid) when dropped.
pub(crate) struct Herd {
    pub(crate) marker: String,
    children: Vec<Child>,
}

impl Herd {
    pub(crate) fn start(n: usize) -> Herd {
        let marker = format!("mw-monkey-{}", uuid::Uuid::new_v4().simple());
        let children: Vec<Child> = (0..n)
            .map(|_| {
                let mut cmd = Command::new("bash");
                cmd.args(["-c", &format!("exec -a {marker} sleep 600")]);
                cmd.stdout(Stdio::null()).spawn().unwrap()
            })
            .collect();
        for c in &children {
            for _ in 0..500 {
                let cmdline =
                    std::fs::read(format!("/proc/{}/cmdline", c.id())).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&marker) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Herd { marker, children }
    }

    /// How many are still alive (reaping the dead).
    pub(crate) fn alive(&mut self) -> usize {
        self.children
            .iter_mut()
            .map(|c| matches!(c.try_wait(), Ok(None)))
            .filter(|alive| *alive)
            .count()
    }

    fn wait_alive(&mut self, n: usize) -> bool {
        for _ in 0..500 {
            if self.alive() == n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

impl Drop for Herd {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn config(herd: &Herd, extra: &str) -> MonkeyConfig {
    let text = format!(
        "enabled: true\nleashed: false\ndocker: false\nmean_time_between_kills_in_work_days: 1\n\
         min_time_between_kills_in_work_days: 0\n\
         processes:\n  - {{pattern: '{}', app: billing}}\n{extra}",
        herd.marker
    );
    parse(&text, Format::Yaml, "monkey.yaml").unwrap_or_else(|e| panic!("{e}"))
}

async fn store(dir: &std::path::Path) -> Store {
    Store::open(&StoreLocation::resolve(None, dir))
        .await
        .unwrap()
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mw-monkey-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn history_of(store: &Store) -> Vec<Entry> {
    let mut h = history::list(store, &Filter::default()).await.unwrap();
    h.reverse();
    h
}

async fn run_between(monkey: &Monkey) {
    scheduler::run(monkey, &CancellationToken::new()).await;
}

#[tokio::test]
async fn a_week_kills_on_work_days_at_the_planned_minute_never_on_weekends_or_holidays() {
    let mut herd = Herd::start(7);
    let dir = tempdir();
    let store = store(&dir).await;
    // Monday 2026-11-30 to Monday 2026-12-07; Wednesday the 2nd is a holiday.
    let clock = Clock::simulated(ts("2026-11-30T00:00:00Z"), Some(ts("2026-12-07T00:00:00Z")));
    let monkey = Monkey::new(
        config(&herd, "holidays: [2026-12-02]\n"),
        store.clone(),
        clock,
        Some(11),
    );
    run_between(&monkey).await;
    let h = history_of(&store).await;
    let days: Vec<&str> = h.iter().map(|e| &e.at[..10]).collect();
    assert_eq!(
        days,
        ["2026-11-30", "2026-12-01", "2026-12-03", "2026-12-04"],
        "{h:#?}"
    );
    for e in &h {
        assert_eq!(e.outcome, "killed", "{e:?}");
        assert_eq!(
            e.planned_at.as_deref(),
            Some(e.at.as_str()),
            "at the planned minute"
        );
        let hour: u32 = e.at[11..13].parse().unwrap();
        assert!((9..15).contains(&hour), "{e:?}");
    }
    assert!(herd.wait_alive(3), "exactly four of seven killed");
    for day in ["2026-12-02", "2026-12-05", "2026-12-06"] {
        let rows = history::load_plan(&store, "monkey", day.parse().unwrap())
            .await
            .unwrap();
        assert!(rows.is_empty(), "nothing drawn on {day}: {rows:?}");
    }
    let monday = history::load_plan(&store, "monkey", "2026-11-30".parse().unwrap())
        .await
        .unwrap();
    assert!(monday[0].done && monday[0].at.is_some());
    let leases = monkey.ledger.list(100).await.unwrap();
    assert_eq!(leases.len(), 4, "every kill went through the ledger");
    assert!(leases.iter().all(|l| l.func == "process.kill"));
}

#[tokio::test]
async fn leashed_runs_everything_and_records_but_kills_nothing() {
    let mut herd = Herd::start(3);
    let dir = tempdir();
    let store = store(&dir).await;
    let clock = Clock::simulated(ts("2026-11-30T00:00:00Z"), Some(ts("2026-12-02T00:00:00Z")));
    let monkey = Monkey::new(
        config(&herd, "leashed: true\n"),
        store.clone(),
        clock,
        Some(3),
    );
    run_between(&monkey).await;
    let h = history_of(&store).await;
    assert_eq!(h.len(), 2, "{h:#?}");
    assert!(h.iter().all(|e| e.outcome == "leashed" && e.leashed));
    assert!(h.iter().all(|e| e.instance["kind"] == "process"));
    assert!(herd.wait_alive(3), "leashed kills nothing");
    assert!(monkey.ledger.list(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn min_time_between_kills_holds_across_a_daemon_restart() {
    let mut herd = Herd::start(5);
    let dir = tempdir();
    // Monday only, then a new daemon (same store) for Tuesday and Wednesday.
    let first = Monkey::new(
        config(&herd, "min_time_between_kills_in_work_days: 2\n"),
        store(&dir).await,
        Clock::simulated(ts("2026-11-30T00:00:00Z"), Some(ts("2026-12-01T00:00:00Z"))),
        Some(5),
    );
    run_between(&first).await;
    first.store.close().await;
    drop(first);
    let store = store(&dir).await;
    let second = Monkey::new(
        config(&herd, "min_time_between_kills_in_work_days: 2\n"),
        store.clone(),
        Clock::simulated(ts("2026-12-01T00:00:00Z"), Some(ts("2026-12-03T00:00:00Z"))),
        Some(5),
    );
    run_between(&second).await;
    let h = history_of(&store).await;
    let summary: Vec<(String, String)> = h
        .iter()
        .map(|e| (e.at[..10].to_string(), e.outcome.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("2026-11-30".to_string(), "killed".to_string()),
            ("2026-12-01".to_string(), "skipped".to_string()),
            ("2026-12-02".to_string(), "killed".to_string()),
        ],
        "{h:#?}"
    );
    assert!(
        h[1].reason
            .as_deref()
            .unwrap()
            .starts_with("min-time-between-kills"),
        "{:?}",
        h[1]
    );
    assert!(herd.wait_alive(3));
}

#[tokio::test]
async fn kill_counts_are_exact_for_each_mode_and_never_repeat_an_instance() {
    for (mode, expected) in [
        ("one", Some(1)),
        ("{mode: fixed, value: 3}", Some(3)),
        ("{mode: fixed-percent, value: 50}", Some(5)),
        ("{mode: random-max-percent, value: 40}", None),
    ] {
        let mut herd = Herd::start(10);
        let dir = tempdir();
        let store = store(&dir).await;
        let monkey = Monkey::new(
            config(&herd, &format!("kill_mode: {mode}\n")),
            store.clone(),
            Clock::simulated(ts("2026-12-01T10:00:00Z"), None),
            Some(9),
        );
        let report = monkey.attempt("billing//", None).await;
        let killed = report.victims.len();
        match expected {
            Some(n) => assert_eq!(killed, n, "{mode}: {report:?}"),
            None => assert!(killed <= 4, "{mode}: {report:?}"),
        }
        let mut pids: Vec<i64> = report
            .victims
            .iter()
            .map(|v| v["instance"]["pid"].as_i64().unwrap())
            .collect();
        pids.sort();
        pids.dedup();
        assert_eq!(pids.len(), killed, "never the same instance twice");
        assert!(report.victims.iter().all(|v| v["outcome"] == "killed"));
        assert!(herd.wait_alive(10 - killed), "{mode}");
    }
}

#[tokio::test]
async fn skips_outside_the_window_when_disabled_or_halted_are_recorded_with_reasons() {
    let mut herd = Herd::start(2);
    let dir = tempdir();
    let store = store(&dir).await;
    let at = |t: &str| Clock::simulated(ts(t), None);
    let saturday = Monkey::new(
        config(&herd, ""),
        store.clone(),
        at("2026-12-05T10:00:00Z"),
        None,
    );
    let r = saturday.attempt("billing//", None).await;
    assert!(
        r.skipped
            .unwrap()
            .contains("2026-12-05 is a not a work day")
    );
    let evening = Monkey::new(
        config(&herd, ""),
        store.clone(),
        at("2026-12-01T16:00:00Z"),
        None,
    );
    assert!(
        evening
            .attempt("billing//", None)
            .await
            .skipped
            .unwrap()
            .starts_with("outside-window")
    );
    let disabled = Monkey::new(
        config(&herd, "enabled: false\n"),
        store.clone(),
        at("2026-12-01T10:00:00Z"),
        None,
    );
    assert!(
        disabled
            .attempt("billing//", None)
            .await
            .skipped
            .unwrap()
            .starts_with("disabled")
    );
    let halted = Monkey::new(
        config(&herd, ""),
        store.clone(),
        at("2026-12-01T10:00:00Z"),
        None,
    );
    halted.ledger.halt("game day postponed").await.unwrap();
    assert!(
        halted
            .attempt("billing//", None)
            .await
            .skipped
            .unwrap()
            .contains("game day postponed")
    );
    let h = history_of(&store).await;
    assert_eq!(h.len(), 4);
    assert!(h.iter().all(|e| e.outcome == "skipped"));
    assert!(herd.wait_alive(2), "nothing killed");
}

/// An HTTP server answering every request with the current status.
async fn status_server(status: std::sync::Arc<std::sync::atomic::AtomicU16>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let code = status.load(std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    format!("http://{addr}/health")
}

#[tokio::test]
async fn the_outage_gate_skips_kills_while_the_service_reports_errors() {
    let mut herd = Herd::start(2);
    let status = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(500));
    let url = status_server(status.clone()).await;
    let dir = tempdir();
    let store = store(&dir).await;
    let gate = format!(
        "outage_gate:\n  - type: probe\n    name: service-healthy\n    tolerance: 200\n    provider: {{type: http, url: '{url}', timeout: 2}}\n"
    );
    let monkey = Monkey::new(
        config(&herd, &gate),
        store.clone(),
        Clock::simulated(ts("2026-12-01T10:00:00Z"), None),
        Some(1),
    );
    let r = monkey.attempt("billing//", None).await;
    let reason = r.skipped.unwrap();
    assert!(
        reason.starts_with("outage-gate: service-healthy not met"),
        "{reason}"
    );
    assert!(herd.wait_alive(2));
    status.store(200, std::sync::atomic::Ordering::SeqCst);
    let r = monkey.attempt("billing//", None).await;
    assert_eq!(r.skipped, None, "{r:?}");
    assert!(herd.wait_alive(1));
    // A gate whose probe cannot run at all fails closed.
    drop(herd);
    let herd = Herd::start(1);
    let broken = Monkey::new(
        config(
            &herd,
            "outage_gate:\n  - type: probe\n    name: no-server\n    tolerance: 200\n    provider: {type: http, url: 'http://127.0.0.1:9/', timeout: 1}\n",
        ),
        store.clone(),
        Clock::simulated(ts("2026-12-01T10:00:00Z"), None),
        None,
    );
    let reason = broken.attempt("billing//", None).await.skipped.unwrap();
    assert!(reason.contains("no-server"), "{reason}");
}

#[tokio::test]
async fn an_unreachable_store_means_no_kill_and_a_vanished_victim_is_target_gone() {
    let mut herd = Herd::start(2);
    let dir = tempdir();
    let store = store(&dir).await;
    let monkey = Monkey::new(
        config(&herd, ""),
        store.clone(),
        Clock::simulated(ts("2026-12-01T10:00:00Z"), None),
        None,
    );
    store.close().await;
    let reason = monkey.attempt("billing//", None).await.skipped.unwrap();
    assert!(reason.starts_with("store-unreachable"), "{reason}");
    assert!(herd.wait_alive(2), "no kill without a record");

    let store = super::tests::store(&dir).await;
    let monkey = Monkey::new(
        config(&herd, ""),
        store,
        Clock::simulated(ts("2026-12-01T10:00:00Z"), None),
        None,
    );
    let inventory = super::inventory::discover(&monkey.config).await;
    let victim: Instance = inventory.groups["billing//"].instances[0].clone();
    let InstanceRef::Process { pid, .. } = victim.target else {
        panic!()
    };
    let child = herd
        .children
        .iter_mut()
        .find(|c| c.id() as i32 == pid)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let (outcome, reason) = monkey.terminate(&victim).await;
    assert_eq!(outcome, history::Outcome::TargetGone, "{reason:?}");
}

#[tokio::test]
async fn a_hanging_webhook_never_delays_a_kill_and_a_working_one_gets_json() {
    let mut herd = Herd::start(2);
    // One endpoint accepts and never answers; one records bodies.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_addr = hang.local_addr().unwrap();
    let held = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let held2 = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = hang.accept().await {
            held2.lock().await.push(s);
        }
    });
    let bodies = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::<String>::new()));
    let sink = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_addr = sink.local_addr().unwrap();
    let bodies2 = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = sink.accept().await {
            let bodies = bodies2.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 8192];
                // Read until the JSON body is complete (it ends with '}').
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    data.extend_from_slice(&buf[..n]);
                    if data.ends_with(b"}") {
                        break;
                    }
                }
                let text = String::from_utf8_lossy(&data).to_string();
                bodies
                    .lock()
                    .await
                    .push(text.split("\r\n\r\n").nth(1).unwrap_or("").to_string());
                let _ = s
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    let dir = tempdir();
    let hooks = format!(
        "webhooks:\n  - {{url: 'http://{hang_addr}/hook', timeout_s: 0.5, retries: 1}}\n  - 'http://{sink_addr}/hook'\n"
    );
    let monkey = Monkey::new(
        config(&herd, &hooks),
        store(&dir).await,
        Clock::simulated(ts("2026-12-01T10:00:00Z"), None),
        None,
    );
    let report = monkey.attempt("billing//", None).await;
    assert_eq!(report.victims.len(), 1);
    assert!(
        herd.wait_alive(1),
        "killed while the hanging webhook is still open"
    );
    monkey.notifier.drain(monkey.notifier.longest()).await;
    let bodies = bodies.lock().await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let event: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(event["event"], "termination");
    assert_eq!(event["outcome"], "killed");
    assert_eq!(event["group"], "billing//");
    assert!(
        !held.lock().await.is_empty(),
        "the hanging endpoint was called"
    );
}

#[tokio::test]
async fn plans_follow_local_working_hours_across_a_dst_change() {
    let mut herd = Herd::start(8);
    let dir = tempdir();
    let store = store(&dir).await;
    // Berlin switches to summer time on Sunday 2026-03-29.
    let monkey = Monkey::new(
        config(&herd, "time_zone: Europe/Berlin\n"),
        store.clone(),
        Clock::simulated(ts("2026-03-26T00:00:00Z"), Some(ts("2026-04-01T00:00:00Z"))),
        Some(21),
    );
    run_between(&monkey).await;
    let h = history_of(&store).await;
    assert_eq!(h.len(), 4, "Thu, Fri, Mon, Tue: {h:#?}");
    for e in &h {
        let local =
            e.at.parse::<Timestamp>()
                .unwrap()
                .to_zoned_datetime(monkey.calendar.tz().clone());
        assert!((9..15).contains(&local.hour()), "{e:?} is {local}");
    }
    assert!(herd.wait_alive(4));
}

#[tokio::test]
async fn two_monkeys_sharing_a_store_never_kill_the_same_planned_group_twice() {
    let mut herd = Herd::start(4);
    let pg = std::env::var("MONKEYWRENCH_TEST_POSTGRES").ok();
    let dir = tempdir();
    let location = StoreLocation::resolve(pg.as_deref(), &dir);
    let store_a = Store::open(&location).await.unwrap();
    let store_b = Store::open(&location).await.unwrap();
    // A fresh day for this test run so other tests on the shared PostgreSQL do not interfere.
    let group_suffix = uuid::Uuid::new_v4().simple().to_string();
    let cfg = config(&herd, "grouping: app\n");
    let mut cfg_a = cfg.clone();
    cfg_a.processes[0].app = format!("billing-{group_suffix}");
    // Both share one name (a standby pair); unique per test run on a shared PostgreSQL.
    cfg_a.name = format!("pair-{group_suffix}");
    let cfg_b = cfg_a.clone();
    let start = ts("2026-12-01T00:00:00Z");
    let end = Some(ts("2026-12-02T00:00:00Z"));
    let a = Monkey::new(cfg_a, store_a, Clock::simulated(start, end), Some(1));
    let b = Monkey::new(cfg_b, store_b, Clock::simulated(start, end), Some(2));
    tokio::join!(run_between(&a), run_between(&b));
    let h = history::list(
        &a.store,
        &Filter {
            group: Some(format!("billing-{group_suffix}")),
            ..Filter::default()
        },
    )
    .await
    .unwrap();
    let kills: Vec<&Entry> = h.iter().filter(|e| e.outcome == "killed").collect();
    assert_eq!(kills.len(), 1, "{h:#?}");
    assert!(herd.wait_alive(3));
}

#[tokio::test]
async fn exceptions_and_max_kills_per_day_hold() {
    let mut herd = Herd::start(4);
    let dir = tempdir();
    let store = store(&dir).await;
    let at = Clock::simulated(ts("2026-12-01T10:00:00Z"), None);
    let excepted = Monkey::new(
        config(&herd, "exceptions: [{app: billing}]\n"),
        store.clone(),
        at.clone(),
        None,
    );
    let r = excepted.attempt("billing//", None).await;
    assert!(
        r.skipped.unwrap().starts_with("no-eligible-instances"),
        "an excepted app has no candidates"
    );
    let capped = Monkey::new(
        config(
            &herd,
            "max_kills_per_day: 2\nkill_mode: {mode: fixed, value: 2}\n",
        ),
        store.clone(),
        at.clone(),
        None,
    );
    assert_eq!(capped.attempt("billing//", None).await.victims.len(), 2);
    let r = capped.attempt("billing//", None).await;
    assert!(
        r.skipped.unwrap().starts_with("max-kills-per-day: 2 of 2"),
        "the third and fourth kill of the day are refused"
    );
    assert!(herd.wait_alive(2));
}

#[test]
fn labels_override_the_group_settings_and_bad_labels_are_warnings() {
    let instance = |name: &str, labels: &[(&str, &str)]| Instance {
        name: name.into(),
        target: InstanceRef::Container { id: name.into() },
        app: "web".into(),
        stack: String::new(),
        cluster: String::new(),
        overrides: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let config = MonkeyConfig::default();
    let inventory = super::inventory::group(
        &config,
        vec![
            instance(
                "web-1",
                &[
                    (super::inventory::MEAN_LABEL, "5"),
                    (super::inventory::KILL_MODE_LABEL, "fixed-percent:50"),
                    (super::inventory::MIN_LABEL, "soon"),
                ],
            ),
            instance("web-2", &[]),
        ],
    );
    let g = &inventory.groups["web//"];
    assert_eq!(g.instances.len(), 2);
    assert_eq!(g.mean, 5.0);
    assert_eq!(g.kill_mode, super::config::KillMode::FixedPercent(50.0));
    assert_eq!(g.min, config.min_time_between_kills);
    assert_eq!(inventory.warnings.len(), 1, "{:?}", inventory.warnings);
    assert!(inventory.warnings[0].contains("\"soon\""));
}

#[tokio::test]
async fn a_daemon_whose_store_is_gone_keeps_retrying_and_kills_nothing() {
    let mut herd = Herd::start(2);
    let dir = tempdir();
    let store = store(&dir).await;
    let monkey = Monkey::new(
        config(&herd, ""),
        store.clone(),
        Clock::simulated(ts("2026-12-01T08:00:00Z"), Some(ts("2026-12-01T16:00:00Z"))),
        Some(1),
    );
    store.close().await;
    run_between(&monkey).await;
    assert!(herd.wait_alive(2), "no plan, no kill");
    assert!(
        monkey
            .metrics
            .render()
            .contains("monkeywrench_monkey_skips_total{reason=\"store-unreachable\"}"),
        "{}",
        monkey.metrics.render()
    );
}

#[tokio::test]
async fn concurrent_claims_on_postgres_serialise_and_the_later_one_sees_the_kill() {
    let Ok(url) = std::env::var("MONKEYWRENCH_TEST_POSTGRES") else {
        assert!(
            std::env::var("MONKEYWRENCH_REQUIRE_POSTGRES").is_err(),
            "MONKEYWRENCH_TEST_POSTGRES is required"
        );
        eprintln!("SKIPPED: set MONKEYWRENCH_TEST_POSTGRES");
        return;
    };
    let dir = tempdir();
    let store = Store::open(&StoreLocation::resolve(Some(&url), &dir))
        .await
        .unwrap();
    let attempt = history::Attempt {
        at: ts("2026-12-01T10:00:00Z"),
        day: "2026-12-01".parse().unwrap(),
        group: format!("race-{}", uuid::Uuid::new_v4().simple()),
        mode: "one".into(),
        leashed: false,
        planned_at: None,
    };
    let victim = [serde_json::json!({"name": "x"})];
    let limits = history::Limits {
        not_since: Some(ts("2026-11-30T15:00:00Z")),
        max_per_day: None,
    };
    // Another monkey's claim on the same group, held open while ours starts.
    let mut other = store.pool().begin().await.unwrap();
    for sql in [
        "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "INSERT INTO monkey_lock (group_key, n) VALUES ($1, 1) ON CONFLICT (group_key) DO UPDATE SET n = monkey_lock.n + 1",
        "INSERT INTO monkey_events (id, at, at_ms, day, group_key, mode, leashed, outcome) \
         VALUES ($2, '2026-12-01T10:00:00Z', $3, '2026-12-01', $1, 'one', 0, 'killed')",
    ] {
        let q = sqlx::query(sql);
        let q = if sql.contains("$2") {
            q.bind(&attempt.group)
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(attempt.at.as_millisecond())
        } else if sql.contains("$1") {
            q.bind(&attempt.group)
        } else {
            q
        };
        q.execute(&mut *other).await.unwrap();
    }
    let ours = {
        let (store, attempt, limits) = (store.clone(), attempt.clone(), limits.clone());
        tokio::spawn(async move { history::claim(&store, &attempt, &victim, &limits).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    other.commit().await.unwrap();
    match ours.await.unwrap().unwrap() {
        history::Claim::Denied(reason) => {
            assert!(reason.starts_with("min-time-between-kills"), "{reason}")
        }
        granted => panic!("the later claim must see the first kill, got {granted:?}"),
    }
}
