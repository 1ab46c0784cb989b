//! Schema migrations, embedded and applied in order; one SQL dialect that both SQLite and
//! PostgreSQL accept. Applied versions are recorded in `schema_migrations`.

use sqlx::AnyPool;

/// (version, SQL) in order; never edit a shipped one, add a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_ledger.sql")),
    (2, include_str!("migrations/0002_monkey.sql")),
    (3, include_str!("migrations/0003_settle.sql")),
    (5, include_str!("migrations/0005_schedules.sql")),
];

/// Applies every migration not yet recorded, each in its own transaction.
pub(super) async fn run(pool: &AnyPool) -> Result<(), sqlx::Error> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
        .execute(pool)
        .await?;
    for (version, sql) in MIGRATIONS {
        let applied: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(pool)
                .await?;
        if applied.is_some() {
            continue;
        }
        let mut tx = pool.begin().await?;
        // Write first: SQLite then takes its write lock (waiting for another process migrating
        // the same file) before reading; a read first would make the later write fail at once
        // with "database is locked", and the loser would apply a migration twice.
        sqlx::query("UPDATE schema_migrations SET version = version WHERE version < 0")
            .execute(&mut *tx)
            .await?;
        let done: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *tx)
                .await?;
        if done.is_some() {
            continue;
        }
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        // Two processes may migrate at once: the loser's insert conflicts and its tables exist.
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(*version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::store::{Store, StoreLocation};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_openers_of_a_new_sqlite_file_all_migrate_it_once() {
        let dir =
            std::env::temp_dir().join(format!("mw-migrate-{}", uuid::Uuid::new_v4().simple()));
        let location = StoreLocation::Sqlite(dir.join("ledger.db"));
        for _ in 0..5 {
            let _ = std::fs::remove_dir_all(&dir);
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    let location = location.clone();
                    tokio::spawn(async move { Store::open(&location).await.map(|_| ()) })
                })
                .collect();
            for opener in openers {
                opener.await.unwrap().expect("every opener succeeds");
            }
            let store = Store::open(&location).await.unwrap();
            let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM schema_migrations")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(count as usize, super::MIGRATIONS.len());
            store.close().await;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
