//! Filling a store with stored runs for the benchmarks that query the history (included by
//! `benches/history.rs` and `benches/dashboard.rs` with `#[path]`).

use monkeywrench::store::Store;

/// Inserts `runs` finished runs, one a minute up to now, spread over `experiments` experiments
/// and cycling through `statuses`, each with a 500-byte journal; then refreshes the planner's
/// statistics.
pub(crate) async fn seed_runs(store: &Store, runs: i64, experiments: i64, statuses: &[&str]) {
    let journal = format!("{{\"padding\":\"{}\"}}", "x".repeat(500));
    let now = jiff::Timestamp::now().as_millisecond();
    let per_batch = 500;
    let mut i = 0;
    while i < runs {
        let mut tx = store.pool().begin().await.unwrap();
        let rows: Vec<String> = (0..per_batch)
            .map(|k| {
                let b = k * 6;
                format!(
                    "(${}, ${}, 'a nightly check', 'f.yaml', 'h', 'schedule', 'host', 'boot', 1, 1, ${}, 's', ${}, ${}, 0, 0, ${}, 'passed')",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO runs (id, experiment, title, file_path, file_sha256, run_trigger, host, boot_id, pid, pid_start, started_ms, started_at, ended_ms, status, deviated, exit_code, journal, outcome) VALUES {}",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for k in 0..per_batch as i64 {
            let n = i + k;
            let started = now - (runs - n) * 60_000;
            q = q
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(format!("experiment-{:02}", n % experiments))
                .bind(started)
                .bind(started + 30_000)
                .bind(statuses[(n % statuses.len() as i64) as usize])
                .bind(journal.clone());
        }
        q.execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        i += per_batch as i64;
    }
    if store.location().is_sqlite() {
        sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    } else {
        sqlx::query("ANALYZE runs")
            .execute(store.pool())
            .await
            .unwrap();
    }
}
