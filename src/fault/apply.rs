//! The one apply path: a family plans what it records (target, undo recipe), the ledger commits
//! the lease, then the family's change runs as a task of its own (never cut off half-way), and
//! the lease is marked by its outcome.

use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use super::{Error, Undo};
use crate::ledger::{Lease, Ledger, NewLease};
use crate::target::protected::Protected;
use crate::target::{BlastRadius, Selection};

/// Where a fault comes from and how long it may last.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Run id (or the monkey's).
    pub run_id: String,
    pub activity: String,
    pub func: String,
    /// Latest revert time.
    pub deadline: Timestamp,
}

/// What is recorded before a fault is applied.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The target as the ledger and the journal show it.
    pub target: Value,
    pub undo: Undo,
    /// How long the change may go on taking effect once started (a container stop's grace
    /// period): a revert from another process waits that long for it.
    pub settles_within: Option<Duration>,
}

/// What a family does to one victim.
pub trait Act: Clone + Send + Sync + 'static {
    /// One target.
    type Victim: Clone + Send + Sync + 'static;
    /// What the plan hands to the apply (a toxic's name, …).
    type Planned: Send + 'static;
    /// Reads what the undo needs (before anything changes) and names the target.
    fn plan(
        &self,
        victim: &Self::Victim,
        origin: &Origin,
    ) -> impl Future<Output = Result<(Plan, Self::Planned), Error>> + Send;
    /// Changes the world.
    fn apply(
        self,
        victim: Self::Victim,
        planned: Self::Planned,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static;
}

/// What selection needs from the run: the default blast radius and seed, what is protected.
#[derive(Debug, Clone)]
pub struct Selecting {
    /// The experiment's blast radius (an activity's `blast-radius` argument beats it).
    pub radius: BlastRadius,
    /// The run's `--seed`.
    pub seed: Option<u64>,
    /// What is never a target (PID 1, monkeywrench, its guard, its container).
    pub protected: Protected,
}

/// The victims of a fault call.
#[derive(Debug, Clone)]
pub struct Victims<V> {
    /// Who is hit.
    pub list: Vec<V>,
    /// How they were picked (none for a single named target, such as a proxy or a service).
    pub selection: Option<Selection<Value>>,
}

impl<V> Victims<V> {
    /// A single named target: nothing was picked.
    pub fn named(victim: V) -> Victims<V> {
        Victims {
            list: vec![victim],
            selection: None,
        }
    }

    /// Victims picked by a selection (`describe` shows a target, `wrap` makes it a victim).
    pub fn picked<T>(
        selection: Selection<T>,
        describe: impl Fn(&T) -> Value,
        wrap: impl FnMut(T) -> V,
    ) -> Victims<V> {
        let described = selection.described(describe);
        Victims {
            list: selection.victims.into_iter().map(wrap).collect(),
            selection: Some(described),
        }
    }
}

/// A parsed fault call of one family: its victims and its act.
pub trait Family: Send + Sync {
    /// What it does to each victim.
    type Act: Act;
    /// Finds the targets and picks the victims.
    fn victims(
        &self,
        selecting: &Selecting,
    ) -> impl Future<Output = Result<Victims<<Self::Act as Act>::Victim>, Error>> + Send;
    fn act(&self) -> &Self::Act;
}

/// Records the lease, applies the fault to `victim`, marks the lease; returns it.
pub async fn apply<A: Act>(
    ledger: &Ledger,
    act: &A,
    victim: &A::Victim,
    origin: &Origin,
) -> Result<Lease, Error> {
    let (plan, planned) = act.plan(victim, origin).await?;
    let new = NewLease {
        run_id: origin.run_id.clone(),
        activity: origin.activity.clone(),
        func: origin.func.clone(),
        target: plan.target,
        reversible: plan.undo.is_reversible(),
        undo: plan.undo.to_value(),
        deadline: origin.deadline,
        settles_within: plan.settles_within,
    };
    ledger
        .apply(&new, act.clone().apply(victim.clone(), planned))
        .await?
}
