//! Schema migrations, embedded and applied in order; one SQL dialect that both SQLite and
//! PostgreSQL accept. Applied versions are recorded in `schema_migrations`.

use sqlx::AnyPool;

/// (version, SQL) in order; never edit a shipped one, add a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_ledger.sql")),
    (2, include_str!("migrations/0002_monkey.sql")),
    (3, include_str!("migrations/0003_settle.sql")),
    (4, include_str!("migrations/0004_history.sql")),
    (5, include_str!("migrations/0005_schedules.sql")),
    (6, include_str!("migrations/0006_firing_trigger.sql")),
];

/// The PostgreSQL advisory lock key the migrator holds (an arbitrary constant: "mwmigr").
const PG_MIGRATION_LOCK: i64 = 0x6d77_6d69_6772;

/// Applies every migration not yet recorded, each in its own transaction. On PostgreSQL the
/// whole pass holds an advisory lock: without it two processes migrating one new database race
/// on `CREATE TABLE IF NOT EXISTS` (its catalog check is not atomic) and one fails.
pub(super) async fn run(pool: &AnyPool) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let postgres = conn.backend_name() == "PostgreSQL";
    if postgres {
        // A function returning void cannot be decoded by the Any driver: select from it.
        sqlx::query("SELECT 1 FROM pg_advisory_lock($1)")
            .bind(PG_MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let result = apply(&mut conn).await;
    if postgres {
        let unlocked = sqlx::query("SELECT 1 FROM pg_advisory_unlock($1)")
            .bind(PG_MIGRATION_LOCK)
            .execute(&mut *conn)
            .await;
        if unlocked.is_err() {
            // The lock lives as long as the session: don't hand this connection back.
            let _ = sqlx::Connection::close(conn.detach()).await;
        }
    }
    result
}

async fn apply(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
        .execute(&mut *conn)
        .await?;
    for (version, sql) in MIGRATIONS {
        let applied: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *conn)
                .await?;
        if applied.is_some() {
            continue;
        }
        let mut tx = conn.begin().await?;
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

    /// Several processes opening one new PostgreSQL database at once: the advisory lock lets one
    /// migrate while the others wait (without it, concurrent `CREATE TABLE IF NOT EXISTS` fail
    /// with a duplicate key in `pg_type`: checked by removing the lock). Needs
    /// `MONKEYWRENCH_TEST_POSTGRES`; skipped without it unless `MONKEYWRENCH_REQUIRE_POSTGRES=1`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_openers_of_a_new_postgres_database_all_migrate_it_once() {
        let Ok(base) = std::env::var("MONKEYWRENCH_TEST_POSTGRES") else {
            assert!(
                std::env::var("MONKEYWRENCH_REQUIRE_POSTGRES").is_err(),
                "MONKEYWRENCH_TEST_POSTGRES is not set but PostgreSQL tests are required"
            );
            eprintln!("SKIPPED: set MONKEYWRENCH_TEST_POSTGRES");
            return;
        };
        sqlx::any::install_default_drivers();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        for _ in 0..3 {
            let name = format!("mw_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::AnyPool::connect(&base).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .unwrap();
            let location = StoreLocation::Postgres(format!("{prefix}/{name}"));
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    let location = location.clone();
                    tokio::spawn(async move { Store::open(&location).await })
                })
                .collect();
            let mut stores = Vec::new();
            for opener in openers {
                stores.push(opener.await.unwrap().expect("every opener succeeds"));
            }
            let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM schema_migrations")
                .fetch_one(stores[0].pool())
                .await
                .unwrap();
            assert_eq!(count as usize, super::MIGRATIONS.len());
            for s in stores {
                s.close().await;
            }
            sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }
}
