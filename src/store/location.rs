//! Where the store lives: `--store` / `MONKEYWRENCH_STORE` (a `postgres://` URL or a SQLite path),
//! else `ledger.db` in the state directory (`--state-dir` / `MONKEYWRENCH_STATE_DIR`, default
//! `$XDG_DATA_HOME/monkeywrench` or `~/.local/share/monkeywrench`).

use std::fmt;
use std::path::{Path, PathBuf};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl StoreLocation {
    /// Chooses the location from an explicit store (URL or path) or the state directory.
    pub fn resolve(store: Option<&str>, state_dir: &Path) -> StoreLocation {
        match store {
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                StoreLocation::Postgres(s.to_string())
            }
            Some(s) => {
                StoreLocation::Sqlite(PathBuf::from(s.strip_prefix("sqlite://").unwrap_or(s)))
            }
            None => StoreLocation::Sqlite(state_dir.join("ledger.db")),
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, StoreLocation::Sqlite(_))
    }

    /// The sqlx URL, creating the SQLite file's directory if needed.
    pub(super) fn connect_url(&self) -> Result<String, StoreError> {
        match self {
            StoreLocation::Postgres(url) => Ok(url.clone()),
            StoreLocation::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::StateDir {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                Ok(format!("sqlite://{}?mode=rwc", path.display()))
            }
        }
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(p) => write!(f, "{}", p.display()),
            StoreLocation::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("monkeywrench");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".local/share/monkeywrench");
    }
    PathBuf::from("/tmp/monkeywrench")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_urls_and_paths() {
        let dir = Path::new("/var/lib/mw");
        assert_eq!(
            StoreLocation::resolve(None, dir),
            StoreLocation::Sqlite(PathBuf::from("/var/lib/mw/ledger.db"))
        );
        assert_eq!(
            StoreLocation::resolve(Some("postgres://u:p@h/db"), dir),
            StoreLocation::Postgres("postgres://u:p@h/db".into())
        );
        assert_eq!(
            StoreLocation::resolve(Some("sqlite:///tmp/x.db"), dir),
            StoreLocation::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(
            StoreLocation::Postgres("postgres://u:p@h/db".into()).to_string(),
            "postgres://u:***@h/db"
        );
    }
}
