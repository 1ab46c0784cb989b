//! Whether a due firing starts now, waits, or is skipped: the pause flag, halt, the overlap
//! policy and the per-target rule (two experiments that share a target key never run at once).
//! The board is what this server is running; the caller names each experiment's target keys.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::Overlap;

/// Why a firing did not run, as recorded with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The schedule is paused.
    Paused,
    /// `monkeywrench halt` is in force.
    Halted,
    /// The experiment's previous run is still going (`overlap: skip`).
    Overlap,
    /// Another experiment is running on these targets (`overlap: skip`).
    TargetsBusy { keys: Vec<String>, holder: String },
    /// A firing is already waiting (`overlap: queue` keeps one).
    AlreadyQueued,
    /// The store could not be reached when the firing was due (recorded once it was back).
    StoreUnavailable(String),
}

impl SkipReason {
    /// The reason as stored: a kebab-case word, then details.
    pub fn text(&self) -> String {
        match self {
            SkipReason::Paused => "paused: the schedule is paused".into(),
            SkipReason::Halted => "halted: monkeywrench halt is in force".into(),
            SkipReason::Overlap => "overlap: the previous run is still going".into(),
            SkipReason::TargetsBusy { keys, holder } => {
                format!("targets-busy: {holder} is running on {}", keys.join(", "))
            }
            SkipReason::AlreadyQueued => "overlap: a firing is already queued".into(),
            SkipReason::StoreUnavailable(e) => format!("store-unavailable: {e}"),
        }
    }
}

/// What to do with a due firing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Start,
    /// Wait until what blocks it ends (`overlap: queue`).
    Queue,
    Skip(SkipReason),
}

/// What this server runs now and what waits.
#[derive(Debug, Default)]
pub struct Board {
    /// Running experiment → its target keys.
    running: BTreeMap<String, BTreeSet<String>>,
    /// Experiments with a firing waiting, in arrival order.
    queued: Vec<String>,
    halted: bool,
}

impl Board {
    pub fn set_halted(&mut self, halted: bool) {
        self.halted = halted;
    }

    pub fn is_halted(&self) -> bool {
        self.halted
    }

    pub fn is_running(&self, experiment: &str) -> bool {
        self.running.contains_key(experiment)
    }

    /// Who blocks `experiment` with `keys`: itself (still running) or the experiment holding
    /// shared keys.
    fn blocker(&self, experiment: &str, keys: &BTreeSet<String>) -> Option<SkipReason> {
        if self.running.contains_key(experiment) {
            return Some(SkipReason::Overlap);
        }
        self.running.iter().find_map(|(holder, held)| {
            let shared: Vec<String> = held.intersection(keys).cloned().collect();
            (!shared.is_empty()).then(|| SkipReason::TargetsBusy {
                keys: shared,
                holder: holder.clone(),
            })
        })
    }

    /// The decision for a firing of `experiment` that is due now.
    pub fn decide(
        &self,
        experiment: &str,
        keys: &BTreeSet<String>,
        overlap: Overlap,
        paused: bool,
    ) -> Decision {
        if paused {
            return Decision::Skip(SkipReason::Paused);
        }
        if self.halted {
            return Decision::Skip(SkipReason::Halted);
        }
        let Some(blocked) = self.blocker(experiment, keys) else {
            return Decision::Start;
        };
        match overlap {
            Overlap::Skip => Decision::Skip(blocked),
            Overlap::Queue if self.queued.iter().any(|q| q == experiment) => {
                Decision::Skip(SkipReason::AlreadyQueued)
            }
            Overlap::Queue => Decision::Queue,
        }
    }

    pub fn start(&mut self, experiment: &str, keys: &BTreeSet<String>) {
        self.running.insert(experiment.to_string(), keys.clone());
    }

    pub fn enqueue(&mut self, experiment: &str) {
        self.queued.push(experiment.to_string());
    }

    /// Marks `experiment` finished; returns the queued experiments that may start now (in
    /// arrival order, each checked against those started before it), marked running.
    pub fn finish(
        &mut self,
        experiment: &str,
        keys_of: impl Fn(&str) -> BTreeSet<String>,
    ) -> Vec<String> {
        self.running.remove(experiment);
        let mut started = Vec::new();
        let mut still = Vec::new();
        for q in std::mem::take(&mut self.queued) {
            let keys = keys_of(&q);
            if self.blocker(&q, &keys).is_none() {
                self.start(&q, &keys);
                started.push(q);
            } else {
                still.push(q);
            }
        }
        self.queued = still;
        started
    }

    /// Drops queued firings (halt: a waiting firing is skipped, not started later).
    pub fn drain_queue(&mut self) -> Vec<String> {
        std::mem::take(&mut self.queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> BTreeSet<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn overlap_and_shared_targets() {
        let mut b = Board::default();
        let db = keys(&["shop-db"]);
        assert_eq!(b.decide("a", &db, Overlap::Skip, false), Decision::Start);
        b.start("a", &db);
        assert_eq!(
            b.decide("a", &db, Overlap::Skip, false),
            Decision::Skip(SkipReason::Overlap)
        );
        let both = keys(&["shop-db", "cache"]);
        match b.decide("b", &both, Overlap::Skip, false) {
            Decision::Skip(SkipReason::TargetsBusy { keys, holder }) => {
                assert_eq!((keys, holder.as_str()), (vec!["shop-db".to_string()], "a"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            b.decide("c", &keys(&["cache"]), Overlap::Skip, false),
            Decision::Start
        );
        assert_eq!(b.decide("b", &both, Overlap::Queue, false), Decision::Queue);
        b.enqueue("b");
        assert_eq!(
            b.decide("b", &both, Overlap::Queue, false),
            Decision::Skip(SkipReason::AlreadyQueued)
        );
        let keys_of = |e: &str| if e == "b" { both.clone() } else { db.clone() };
        assert_eq!(b.finish("a", keys_of), vec!["b".to_string()]);
        assert!(b.is_running("b") && !b.is_running("a"));
        assert_eq!(
            b.decide("x", &BTreeSet::new(), Overlap::Skip, true),
            Decision::Skip(SkipReason::Paused)
        );
        b.set_halted(true);
        assert_eq!(
            b.decide("x", &BTreeSet::new(), Overlap::Skip, false),
            Decision::Skip(SkipReason::Halted)
        );
        assert!(
            SkipReason::TargetsBusy {
                keys: vec!["k".into()],
                holder: "a".into()
            }
            .text()
            .starts_with("targets-busy: a is running on k")
        );
    }
}
