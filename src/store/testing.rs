//! Fresh stores for tests: a new SQLite file, or a new database on the test PostgreSQL server
//! (`MONKEYWRENCH_TEST_POSTGRES`, started by `scripts/pg-test-server`). Without that server the
//! PostgreSQL variants are skipped with a message, unless `MONKEYWRENCH_REQUIRE_POSTGRES=1` (set by
//! `scripts/test`, so CI never skips them silently).

use super::StoreLocation;

/// A fresh location: `dir/<file>` for SQLite, a new database for PostgreSQL; None when the
/// PostgreSQL variant is skipped.
pub(crate) async fn fresh_location(
    postgres: bool,
    dir: &std::path::Path,
    file: &str,
) -> Option<StoreLocation> {
    if !postgres {
        return Some(StoreLocation::Sqlite(dir.join(file)));
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
