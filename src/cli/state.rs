//! `--state-dir` / `--store` and opening the ledger (which first reverts leftovers: faults whose
//! deadline passed or whose owner died while no guard was running).

use std::path::PathBuf;

use clap::Args;

use super::failure::Blameworthy;
use crate::ledger::{Ledger, RevertOutcome};
use crate::store::{Store, StoreLocation, default_state_dir};

/// Where monkeywrench keeps its ledger.
#[derive(Debug, Clone, Args)]
pub(super) struct StateArgs {
    /// State directory (SQLite ledger, guard lock) [default: $XDG_DATA_HOME/monkeywrench]
    #[arg(long, env = "MONKEYWRENCH_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Store: a postgres:// URL, or a SQLite file path [default: <state-dir>/ledger.db]
    #[arg(long, env = "MONKEYWRENCH_STORE", value_name = "URL|PATH")]
    pub store: Option<String>,
}

impl StateArgs {
    /// The state directory in force.
    pub(super) fn dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(default_state_dir)
    }

    /// The store location in force.
    pub(super) fn location(&self) -> StoreLocation {
        StoreLocation::resolve(self.store.as_deref(), &self.dir())
    }

    /// Opens the ledger and reverts leftovers, reporting each on stderr.
    pub(super) async fn open_ledger(&self) -> anyhow::Result<Ledger> {
        let location = self.location();
        let store = Store::open(&location)
            .await
            .or_unavailable(|| "open the ledger (no fault was applied)".to_string())?;
        // Anything that opens the store marks runs whose process died as interrupted.
        match crate::history::reap_interrupted(&store, &crate::history::HostIdentity::current())
            .await
        {
            Ok(ids) => {
                for id in ids {
                    eprintln!(
                        "monkeywrench: run {} had lost its process: marked interrupted in the history",
                        short(&id)
                    );
                }
            }
            Err(e) => eprintln!("monkeywrench: warning: history: failed to {e}"),
        }
        let ledger = Ledger::new(store, crate::fault::reverter());
        for (lease, outcome) in ledger
            .revert_leftovers()
            .await
            .or_unavailable(|| "revert leftover faults".to_string())?
        {
            let what = match outcome {
                RevertOutcome::Reverted => "reverted".to_string(),
                RevertOutcome::TargetGone => "closed (target gone)".to_string(),
                RevertOutcome::Nothing => "closed (irreversible)".to_string(),
                RevertOutcome::Failed(e) => format!("revert FAILED: {e}"),
            };
            eprintln!(
                "monkeywrench: leftover fault {} ({} on {}) from run {}: {what}",
                short(&lease.id),
                lease.func,
                lease.target,
                short(&lease.run_id)
            );
        }
        Ok(ledger)
    }
}

/// The first 8 characters of an id.
pub(super) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
