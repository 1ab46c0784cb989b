//! Applies under way in this process, by lease id. A revert waits for its lease's apply to settle
//! before undoing: an undo that ran first would be overtaken by the change it meant to undo.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

#[derive(Debug, Default, Clone)]
pub(super) struct InFlight(Arc<Mutex<HashMap<String, watch::Receiver<()>>>>);

/// Held while an apply runs; dropping it marks the apply settled.
pub(super) struct Settling {
    registry: InFlight,
    id: String,
    _done: watch::Sender<()>,
}

impl Drop for Settling {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Receiver<()>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the apply of lease `id` as under way until the returned value is dropped.
    pub(super) fn begin(&self, id: &str) -> Settling {
        let (done, settled) = watch::channel(());
        self.lock().insert(id.to_string(), settled);
        Settling {
            registry: self.clone(),
            id: id.to_string(),
            _done: done,
        }
    }

    /// Waits until no apply of lease `id` is under way here.
    pub(super) async fn settled(&self, id: &str) {
        let waiting = self.lock().get(id).cloned();
        if let Some(mut settled) = waiting {
            // Resolves with an error once the sender (held by `Settling`) is dropped.
            while settled.changed().await.is_ok() {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_waiter_returns_only_after_the_apply_settles() {
        let registry = InFlight::default();
        let settling = registry.begin("lease-1");
        let waiter = {
            let registry = registry.clone();
            tokio::spawn(async move { registry.settled("lease-1").await })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiter.is_finished(), "still applying");
        drop(settling);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("settled once the apply ended")
            .unwrap();
        registry.settled("unknown").await;
    }
}
