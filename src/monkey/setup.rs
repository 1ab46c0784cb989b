//! A monkey assembled from its parts: config, calendar, store, ledger, clock, webhooks, metrics.

use super::{calendar, clock, config, metrics, notify};
use crate::ledger::Ledger;
use crate::store::Store;

/// A monkey: its config, store, ledger and clock.
#[derive(Debug)]
pub struct Monkey {
    /// The validated config.
    pub config: config::MonkeyConfig,
    /// Work days and windows.
    pub calendar: calendar::Calendar,
    /// History and plans.
    pub store: Store,
    /// Kills go through it (irreversible leases) and it holds the halt switch.
    pub ledger: Ledger,
    /// The one source of time.
    pub clock: clock::Clock,
    /// Webhooks.
    pub notifier: notify::Notifier,
    /// Counters for `/metrics`.
    pub metrics: std::sync::Arc<metrics::MonkeyMetrics>,
    /// Seed for plans and victim picks (random when None; a stored plan keeps its own).
    pub seed: Option<u64>,
    /// Recorded as the run id of its leases.
    pub run_id: String,
}

impl Monkey {
    /// A monkey on an open store.
    pub fn new(
        config: config::MonkeyConfig,
        store: Store,
        clock: clock::Clock,
        seed: Option<u64>,
    ) -> Monkey {
        Monkey {
            calendar: calendar::Calendar::new(&config),
            notifier: notify::Notifier::new(config.webhooks.clone()),
            ledger: Ledger::new(store.clone(), crate::fault::reverter()),
            store,
            clock,
            metrics: Default::default(),
            seed,
            run_id: format!("monkey-{}", uuid::Uuid::new_v4().simple()),
            config,
        }
    }
}
