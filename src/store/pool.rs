//! Opening the store: one checked connection, then the pool (SQLite tuned for several processes
//! on one file), then the migrations.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Connection};

use super::{StoreError, StoreLocation, migrate};

/// An open store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    location: StoreLocation,
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `location`.
    pub async fn open(location: &StoreLocation) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let url = location.connect_url()?;
        // One direct connection first: a corrupt file, a refused connection or bad credentials
        // fail here at once, instead of being retried by the pool until its acquire timeout.
        let open_error = |source| StoreError::Open {
            location: location.to_string(),
            source,
        };
        let mut probe = AnyConnection::connect(&url).await.map_err(open_error)?;
        sqlx::query("SELECT 1")
            .execute(&mut probe)
            .await
            .map_err(open_error)?;
        if location.is_sqlite() {
            sqlx::query("PRAGMA schema_version")
                .execute(&mut probe)
                .await
                .map_err(open_error)?;
        }
        let _ = probe.close().await;
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    if conn.backend_name() == "SQLite" {
                        // Several processes (runs, guard, CLI) share the file: wait on locks.
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|source| StoreError::Open {
                location: location.to_string(),
                source,
            })?;
        if location.is_sqlite() {
            wal_mode(&pool).await.map_err(|source| StoreError::Open {
                location: location.to_string(),
                source,
            })?;
        }
        migrate::run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                location: location.to_string(),
                source,
            })?;
        Ok(Store {
            pool,
            location: location.clone(),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Where the store lives.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Switches a SQLite file to WAL. The switch needs the file to itself, and SQLite answers "database
/// is locked" at once (no busy wait) while another process opens the same new file: try again.
async fn wal_mode(pool: &sqlx::AnyPool) -> Result<(), sqlx::Error> {
    let mut attempt = 0;
    loop {
        match sqlx::query("PRAGMA journal_mode = WAL").execute(pool).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt < 50 && is_busy(&e) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20 * attempt.min(10))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6).
fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "5" || code == "6")
}
