//! `history` query time with 100 000 stored runs, SQLite and PostgreSQL (issue 14; target < 50 ms):
//! the newest 50, the newest 50 of one experiment, of one status, a deep `--offset 50000`, a
//! `show` by id prefix, the retention pass a recorded run ends with, and the whole `history`
//! command (a process that opens the store, migrates-checks and reaps, then lists).
//!
//! Run: `cargo bench --bench history` (set MONKEYWRENCH_TEST_POSTGRES to also measure PostgreSQL).
//! Baseline in the same run: the plain one-statement page (`ORDER BY … LIMIT … OFFSET …` reading
//! whole rows), against which the page over the covering index is compared.

use std::time::{Duration, Instant};

#[path = "common/runs.rs"]
mod runs;
use runs::seed_runs;

use monkeywrench::history::{Filter, History, HistoryStatus, Retention};
use monkeywrench::store::{Store, StoreLocation};

const RUNS: i64 = 100_000;
const REPEAT: usize = 30;
const EXPERIMENTS: i64 = 20;

const STATUSES: &[&str] = &[
    "completed",
    "completed",
    "completed",
    "failed",
    "interrupted",
];

/// Median and worst of `REPEAT` timings, in ms.
fn summary(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(times[times.len() / 2]), ms(*times.last().unwrap()))
}

async fn time<F, Fut>(mut f: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    f().await; // warm the cache
    let mut times = Vec::new();
    for _ in 0..REPEAT {
        let start = Instant::now();
        let n = f().await;
        times.push(start.elapsed());
        assert!(n > 0, "the query found nothing");
    }
    summary(times)
}

fn cli_time(location: &StoreLocation, args: &[&str]) -> (f64, f64) {
    let url = match location {
        StoreLocation::Sqlite(p) => p.display().to_string(),
        StoreLocation::Postgres(u) => u.clone(),
    };
    let mut times = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_monkeywrench"))
            .arg("history")
            .args(args)
            .args(["--store", &url])
            .output()
            .unwrap();
        times.push(start.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    summary(times)
}

async fn bench(label: &str, location: StoreLocation) {
    let store = Store::open(&location).await.unwrap();
    let seeded = Instant::now();
    seed_runs(&store, RUNS, EXPERIMENTS, STATUSES).await;
    println!(
        "\n{label}: {RUNS} runs seeded in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let history = History::new(store.clone());
    let page = |filter: Filter| {
        let history = history.clone();
        move || {
            let history = history.clone();
            let filter = filter.clone();
            async move { history.list(&filter).await.unwrap().len() }
        }
    };
    let baseline = |offset: i64| {
        let store = store.clone();
        move || {
            let store = store.clone();
            async move {
                sqlx::query(&format!(
                    "SELECT id, experiment, title, file_path, file_sha256, run_trigger, trigger_detail, host, pid, started_ms, ended_ms, status, outcome, deviated, exit_code, note FROM runs ORDER BY started_ms DESC, id DESC LIMIT 50 OFFSET {offset}"
                ))
                .fetch_all(store.pool())
                .await
                .unwrap()
                .len()
            }
        }
    };
    let newest = time(page(Filter::default())).await;
    let by_experiment = time(page(Filter {
        experiment: Some("experiment-07".into()),
        ..Filter::default()
    }))
    .await;
    let by_status = time(page(Filter {
        status: Some(HistoryStatus::Interrupted),
        ..Filter::default()
    }))
    .await;
    let deep = time(page(Filter {
        offset: 50_000,
        ..Filter::default()
    }))
    .await;
    let base_newest = time(baseline(0)).await;
    let base_deep = time(baseline(50_000)).await;
    let some_id = history.list(&Filter::default()).await.unwrap()[7]
        .id
        .clone();
    let prefix = some_id[..8].to_string();
    let show = time(|| {
        let history = history.clone();
        let prefix = prefix.clone();
        async move { usize::from(history.resolve(&prefix).await.is_ok()) }
    })
    .await;
    let cli = cli_time(&location, &["--limit", "50"]);
    let cli_deep = cli_time(&location, &["--limit", "50", "--offset", "50000"]);
    // Retention at the default (90 days, 10 000 runs): the first pass deletes 90 000 runs; the
    // passes after it are what every recorded run pays.
    let retention = Retention::default();
    let first = Instant::now();
    let pruned = retention
        .apply(&store, jiff::Timestamp::now())
        .await
        .unwrap();
    let first = first.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(pruned.runs, (RUNS - 10_000) as u64);
    let prune = time(|| {
        let store = store.clone();
        async move {
            retention
                .apply(&store, jiff::Timestamp::now())
                .await
                .unwrap();
            1
        }
    })
    .await;
    println!(
        "{:<44} {:>10} {:>10}",
        "query (median / worst of 30, ms)", "median", "worst"
    );
    for (name, (median, worst)) in [
        ("list newest 50", newest),
        ("  baseline: one-statement page", base_newest),
        ("list newest 50 of one experiment", by_experiment),
        ("list newest 50 interrupted", by_status),
        ("list --offset 50000", deep),
        ("  baseline: one-statement page, offset 50000", base_deep),
        ("show by 8-char id prefix", show),
        ("`monkeywrench history` process, 10 runs", cli),
        ("`history --offset 50000` process, 10 runs", cli_deep),
    ] {
        println!("{name:<44} {median:>10.2} {worst:>10.2}");
    }
    println!(
        "{:<44} {first:>10.2}",
        "retention: first pass, 90 000 runs deleted"
    );
    println!(
        "{:<44} {:>10.2} {:>10.2}",
        "retention pass at 10 000 runs (nothing due)", prune.0, prune.1
    );
    println!(
        "ratios: newest page / baseline {:.2}; deep page / baseline {:.2}",
        newest.0 / base_newest.0,
        deep.0 / base_deep.0
    );
    store.close().await;
}

/// What recording costs a run: the same trivial experiment run by the real binary with the
/// history (a fresh SQLite store, so the open includes creating and migrating it the first time)
/// and with `--no-history`, alternating, 10 each.
fn recording_overhead() {
    let dir =
        std::env::temp_dir().join(format!("mw-bench-record-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("e.yaml");
    std::fs::write(
        &file,
        "title: t\ndescription: d\nsteady-state-hypothesis:\n  title: h\n  probes:\n    - type: probe\n      name: p\n      tolerance: 0\n      provider: {type: process, path: \"true\"}\nmethod:\n  - type: action\n    name: a\n    provider: {type: process, path: \"true\"}\n",
    )
    .unwrap();
    let once = |extra: &[&str]| {
        let start = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_monkeywrench"))
            .args(["run", "--journal-path"])
            .arg(dir.join("j.json"))
            .args(extra)
            .arg(&file)
            .env("MONKEYWRENCH_STATE_DIR", dir.join("state"))
            .env_remove("MONKEYWRENCH_STORE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        start.elapsed()
    };
    once(&[]);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        with.push(once(&[]));
        without.push(once(&["--no-history"]));
    }
    let (w, _) = summary(with);
    let (wo, _) = summary(without);
    println!(
        "\nrun of a 2-activity experiment (median of 10, ms): recorded {w:.1}, --no-history {wo:.1}, ratio {:.2}",
        w / wo
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    recording_overhead();
    let dir = std::env::temp_dir().join(format!(
        "mw-bench-history-{}",
        uuid::Uuid::new_v4().simple()
    ));
    bench("SQLite", StoreLocation::Sqlite(dir.join("ledger.db"))).await;
    let _ = std::fs::remove_dir_all(&dir);
    match std::env::var("MONKEYWRENCH_TEST_POSTGRES") {
        Ok(base) => {
            sqlx::any::install_default_drivers();
            let name = format!("mw_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::AnyPool::connect(&base).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .unwrap();
            let (prefix, _) = base.rsplit_once('/').unwrap();
            bench(
                "PostgreSQL",
                StoreLocation::Postgres(format!("{prefix}/{name}")),
            )
            .await;
            sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
        Err(_) => println!("\nPostgreSQL: skipped (set MONKEYWRENCH_TEST_POSTGRES)"),
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nload average: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
