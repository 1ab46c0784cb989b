//! The ledger over a store: recording leases before their faults apply, marking them applied,
//! reverting them (waiting for in-flight applies), listing them, and the halt switch.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::inflight::InFlight;
use super::{Lease, LeaseState, LedgerError, NewLease, RevertOutcome, Undoer, revert};

use crate::store::Store;
use crate::target::process::ProcessIdentity;

/// The halt switch as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HaltState {
    pub reason: String,
    /// Since when (RFC 3339).
    pub since: String,
}

/// What the world half of a revert found.
enum Undone {
    /// The lease was closed already (by its apply, a timer, the guard or a halt).
    Closed(RevertOutcome),
    /// Undone now (as re-read); the outcome is still to be recorded.
    Now(Box<Lease>, RevertOutcome),
}

/// How long a revert keeps trying (with backoff) before it is recorded as revert-failed.
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(10);

/// How long a revert waits at most for an apply that may still be taking effect.
const MAX_SETTLE_WAIT: Duration = Duration::from_secs(600);

/// The ledger over a store.
#[derive(Debug, Clone)]
pub struct Ledger {
    store: Store,
    undoer: Arc<dyn Undoer>,
    owner: ProcessIdentity,
    after_record: Option<AfterRecord>,
    inflight: InFlight,
    patience: Duration,
}

/// Called after a lease is committed and before its fault is applied.
#[derive(Clone)]
struct AfterRecord(std::sync::Arc<dyn Fn(&Lease) + Send + Sync>);

impl std::fmt::Debug for AfterRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AfterRecord")
    }
}

const COLUMNS: &str = "id, run_id, activity, func, target, undo, owner_pid, owner_start, created_at, deadline_ms, settle_by_ms, state, applied_at, reverted_at, error, attempts";

impl Ledger {
    /// A ledger whose new leases are owned by this process; `undoer` reverts the recipes.
    pub fn new(store: Store, undoer: Arc<dyn Undoer>) -> Ledger {
        Ledger::with_owner(store, undoer, ProcessIdentity::current())
    }

    /// A ledger whose new leases are owned by `owner` (the guard's tests and adopters use this).
    pub fn with_owner(store: Store, undoer: Arc<dyn Undoer>, owner: ProcessIdentity) -> Ledger {
        Ledger {
            store,
            undoer,
            owner,
            after_record: None,
            inflight: InFlight::default(),
            patience: DEFAULT_PATIENCE,
        }
    }

    /// How long each revert keeps trying before it is recorded as revert-failed (the guard,
    /// which retries every poll anyway, uses a short one).
    pub fn with_patience(mut self, patience: Duration) -> Ledger {
        self.patience = patience;
        self
    }

    /// Calls `hook` after each lease is committed, before the caller applies the fault (a run uses
    /// it to make sure a guard watches every lease it may die holding).
    pub fn on_record(mut self, hook: impl Fn(&Lease) + Send + Sync + 'static) -> Ledger {
        self.after_record = Some(AfterRecord(std::sync::Arc::new(hook)));
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Fails with [`LedgerError::Halted`] while halted.
    pub async fn ensure_not_halted(&self) -> Result<(), LedgerError> {
        match self.halt_state().await? {
            Some(h) => Err(LedgerError::Halted { reason: h.reason }),
            None => Ok(()),
        }
    }

    /// Records a lease in state `pending` and commits it; call before applying the fault.
    /// Refuses while halted (checked in the same transaction).
    pub async fn record(&self, new: &NewLease) -> Result<Lease, LedgerError> {
        let pool = self.store.pool();
        // The write comes first: SQLite then takes its write lock before anything is read, so a
        // concurrent writer (another run, the guard, a monkey) makes this wait instead of failing
        // with a stale snapshot (SQLITE_BUSY_SNAPSHOT); the halt check below sees the latest state.
        let mut tx = pool.begin().await?;
        let lease = Lease {
            id: uuid::Uuid::new_v4().to_string(),
            run_id: new.run_id.clone(),
            activity: new.activity.clone(),
            func: new.func.clone(),
            target: new.target.clone(),
            undo: new.undo.clone(),
            reversible: new.reversible,
            owner: self.owner,
            created_at: Timestamp::now(),
            deadline: new.deadline,
            settle_by: new.settles_within.map(|d| {
                Timestamp::now() + SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
            }),
            state: LeaseState::Pending,
            applied_at: None,
            reverted_at: None,
            error: None,
            attempts: 0,
        };
        sqlx::query(
            "INSERT INTO leases (id, run_id, activity, func, target, undo, owner_pid, owner_start, created_at, deadline_ms, settle_by_ms, state, attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0)",
        )
        .bind(&lease.id)
        .bind(&lease.run_id)
        .bind(&lease.activity)
        .bind(&lease.func)
        .bind(lease.target.to_string())
        .bind(lease.undo.to_string())
        .bind(i64::from(lease.owner.pid))
        .bind(lease.owner.start_time as i64)
        .bind(fixed_time(&lease.created_at))
        .bind(lease.deadline.as_millisecond())
        .bind(lease.settle_by.map(|t| t.as_millisecond()))
        .bind(LeaseState::Pending.as_str())
        .execute(&mut *tx)
        .await?;
        let halted: Option<(Option<String>,)> =
            sqlx::query_as("SELECT reason FROM halt WHERE id = 1 AND halted = 1")
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((reason,)) = halted {
            tx.rollback().await?;
            return Err(LedgerError::Halted {
                reason: reason.unwrap_or_default(),
            });
        }
        tx.commit().await?;
        if let Some(AfterRecord(hook)) = &self.after_record {
            hook(&lease);
        }
        Ok(lease)
    }

    /// Records `new`, then runs `apply` (a lazy future: nothing happens before the lease is
    /// committed), then marks the lease applied or apply-failed by its outcome. The outer error is
    /// the ledger's (halted, store down: nothing applied), the inner one the fault's.
    ///
    /// The apply runs as a task of its own: a caller that stops waiting (a timeout, fail-fast, a
    /// signal) does not cut a change off half-way, and a revert of the lease waits for it.
    pub async fn apply<E>(
        &self,
        new: &NewLease,
        apply: impl std::future::Future<Output = Result<(), E>> + Send + 'static,
    ) -> Result<Result<Lease, E>, LedgerError>
    where
        E: std::fmt::Display + Send + 'static,
    {
        let lease = self.record(new).await?;
        let settling = self.inflight.begin(&lease.id);
        let (ledger, marked_lease) = (self.clone(), lease.clone());
        let task = tokio::spawn(async move {
            let _settling = settling;
            let outcome = apply.await;
            let marked = match &outcome {
                Ok(()) => ledger.mark_applied(&marked_lease).await,
                Err(e) => {
                    ledger
                        .mark_apply_failed(&marked_lease, &e.to_string())
                        .await
                }
            };
            (outcome, marked)
        });
        match task.await {
            Ok((outcome, marked)) => {
                marked?;
                Ok(outcome.map(|()| lease))
            }
            Err(_) => Err(LedgerError::ApplyLost(lease.id)),
        }
    }

    /// Marks a lease applied (or irreversible when it has no undo). A lease that a halt or the
    /// guard closed while its fault was being applied was undone *before* the change landed:
    /// it is undone again now.
    pub async fn mark_applied(&self, lease: &Lease) -> Result<(), LedgerError> {
        let state = if lease.reversible {
            LeaseState::Applied
        } else {
            LeaseState::Irreversible
        };
        let marked = self.set_state(&lease.id, state, "applied_at", None).await?;
        if !marked && lease.reversible {
            let outcome = revert::undo_verified(&*self.undoer, &lease.undo, self.patience).await;
            if let RevertOutcome::Failed(why) = outcome {
                let error = format!("reverted while it was being applied; undoing again: {why}");
                sqlx::query("UPDATE leases SET state = $1, error = $2 WHERE id = $3")
                    .bind(LeaseState::RevertFailed.as_str())
                    .bind(error)
                    .bind(&lease.id)
                    .execute(self.store.pool())
                    .await?;
            }
        }
        Ok(())
    }

    /// Marks a lease whose apply failed. A reversible fault is undone first (and checked): an
    /// error or a timeout may hide a change that did take effect.
    pub async fn mark_apply_failed(&self, lease: &Lease, error: &str) -> Result<(), LedgerError> {
        if lease.reversible {
            match revert::undo_verified(&*self.undoer, &lease.undo, self.patience).await {
                RevertOutcome::Failed(why) => {
                    let error = format!("{error}; and its undo did not hold: {why}");
                    return self
                        .set_state(
                            &lease.id,
                            LeaseState::RevertFailed,
                            "reverted_at",
                            Some(&error),
                        )
                        .await
                        .map(|_| ());
                }
                RevertOutcome::Reverted | RevertOutcome::TargetGone | RevertOutcome::Nothing => {}
            }
        }
        self.set_state(
            &lease.id,
            LeaseState::ApplyFailed,
            "reverted_at",
            Some(error),
        )
        .await
        .map(|_| ())
    }

    async fn set_state(
        &self,
        id: &str,
        state: LeaseState,
        time_column: &str,
        error: Option<&str>,
    ) -> Result<bool, LedgerError> {
        // Only active leases change: a lease reverted by the guard stays reverted.
        let sql = format!(
            "UPDATE leases SET state = $1, {time_column} = $2, error = COALESCE($3, error) \
             WHERE id = $4 AND state IN ('pending', 'applied', 'revert-failed')"
        );
        let done = sqlx::query(&sql)
            .bind(state.as_str())
            .bind(fixed_time(&Timestamp::now()))
            .bind(error.map(str::to_string))
            .bind(id)
            .execute(self.store.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every lease that may still be in effect, newest first.
    pub async fn active(&self) -> Result<Vec<Lease>, LedgerError> {
        self.query(
            "WHERE state IN ('pending', 'applied', 'revert-failed') ORDER BY created_at DESC",
        )
        .await
    }

    /// Every lease, active first, then newest first; at most `limit`.
    pub async fn list(&self, limit: i64) -> Result<Vec<Lease>, LedgerError> {
        let mut all = self
            .query(&format!("ORDER BY created_at DESC LIMIT {}", limit.max(1)))
            .await?;
        all.sort_by_key(|l| !l.state.is_active());
        Ok(all)
    }

    /// One lease by id.
    pub async fn get(&self, id: &str) -> Result<Option<Lease>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM leases WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref().map(|r| self.row_to_lease(r)).transpose()
    }

    /// Leases of one run, oldest first.
    pub async fn of_run(&self, run_id: &str) -> Result<Vec<Lease>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM leases WHERE run_id = $1 ORDER BY created_at");
        let rows = sqlx::query(&sql)
            .bind(run_id)
            .fetch_all(self.store.pool())
            .await?;
        rows.iter().map(|r| self.row_to_lease(r)).collect()
    }

    async fn query(&self, tail: &str) -> Result<Vec<Lease>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM leases {tail}");
        let rows = sqlx::query(&sql).fetch_all(self.store.pool()).await?;
        rows.iter().map(|r| self.row_to_lease(r)).collect()
    }

    /// Active leases whose deadline passed or whose owner died.
    pub async fn leftovers(&self, now: Timestamp) -> Result<Vec<Lease>, LedgerError> {
        Ok(self
            .active()
            .await?
            .into_iter()
            .filter(|l| l.deadline <= now || !l.owner.is_alive())
            .collect())
    }

    /// Reverts every leftover (deadline passed or owner dead); returns the outcomes.
    pub async fn revert_leftovers(&self) -> Result<Vec<(Lease, RevertOutcome)>, LedgerError> {
        let mut out = Vec::new();
        for lease in self.leftovers(Timestamp::now()).await? {
            let outcome = self.revert(&lease).await?;
            out.push((lease, outcome));
        }
        Ok(out)
    }

    /// Waits until no apply of lease `id` is under way in this process.
    pub async fn settled(&self, id: &str) {
        self.inflight.settled(id).await;
    }

    /// Reverts one lease (idempotent) and records the outcome. Waits first for an apply of the
    /// lease that is under way here, or that may still be taking effect elsewhere (its
    /// `settle_by`); then undoes and checks the world, retrying within the patience.
    pub async fn revert(&self, lease: &Lease) -> Result<RevertOutcome, LedgerError> {
        match self.undo_in_world(lease).await? {
            Undone::Closed(outcome) => Ok(outcome),
            Undone::Now(lease, outcome) => {
                self.record_revert(&lease, &outcome).await?;
                Ok(outcome)
            }
        }
    }

    /// The world half of [`Ledger::revert`]: waits for the apply, re-reads the lease, undoes
    /// and checks; nothing is written.
    async fn undo_in_world(&self, lease: &Lease) -> Result<Undone, LedgerError> {
        self.inflight.settled(&lease.id).await;
        // The apply, a timer, the guard or a halt may have closed it meanwhile.
        let lease = self.get(&lease.id).await?.unwrap_or_else(|| lease.clone());
        match lease.state {
            LeaseState::Pending | LeaseState::Applied | LeaseState::RevertFailed => {}
            LeaseState::Reverted | LeaseState::ApplyFailed => {
                return Ok(Undone::Closed(RevertOutcome::Reverted));
            }
            LeaseState::TargetGone => return Ok(Undone::Closed(RevertOutcome::TargetGone)),
            LeaseState::Irreversible => return Ok(Undone::Closed(RevertOutcome::Nothing)),
        }
        if lease.state == LeaseState::Pending
            && let Some(settle_by) = lease.settle_by
        {
            let left = settle_by.duration_since(Timestamp::now());
            if left.is_positive() {
                let left = std::time::Duration::try_from(left).unwrap_or_default();
                tokio::time::sleep(left.min(MAX_SETTLE_WAIT)).await;
            }
        }
        let outcome = if lease.reversible {
            revert::undo_verified(&*self.undoer, &lease.undo, self.patience).await
        } else {
            RevertOutcome::Nothing
        };
        Ok(Undone::Now(Box::new(lease), outcome))
    }

    /// The store half of [`Ledger::revert`]: the outcome recorded (an open lease only).
    async fn record_revert(
        &self,
        lease: &Lease,
        outcome: &RevertOutcome,
    ) -> Result<(), LedgerError> {
        let (state, error) = match &outcome {
            RevertOutcome::Reverted => (LeaseState::Reverted, None),
            RevertOutcome::TargetGone => (LeaseState::TargetGone, None),
            RevertOutcome::Nothing => (LeaseState::Irreversible, None),
            RevertOutcome::Failed(e) => (LeaseState::RevertFailed, Some(e.as_str())),
        };
        sqlx::query(
            "UPDATE leases SET state = $1, reverted_at = $2, error = COALESCE($3, error), attempts = attempts + 1 \
             WHERE id = $4 AND state IN ('pending', 'applied', 'revert-failed')",
        )
        .bind(state.as_str())
        .bind(fixed_time(&Timestamp::now()))
        .bind(error.map(str::to_string))
        .bind(&lease.id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Reverts every lease of `run_id` that may still be in effect, newest first — read from the
    /// ledger, so a lease recorded just before its run was cut short is reverted too.
    pub async fn revert_run(
        &self,
        run_id: &str,
    ) -> Result<Vec<(Lease, RevertOutcome)>, LedgerError> {
        let mut out = Vec::new();
        for lease in self.of_run(run_id).await?.into_iter().rev() {
            if lease.state.is_active() {
                let outcome = self.revert(&lease).await?;
                out.push((lease, outcome));
            }
        }
        Ok(out)
    }

    /// Reverts every active lease, newest first.
    pub async fn revert_all(&self) -> Result<Vec<(Lease, RevertOutcome)>, LedgerError> {
        let mut out = Vec::new();
        for lease in self.active().await? {
            let outcome = self.revert(&lease).await?;
            out.push((lease, outcome));
        }
        Ok(out)
    }

    /// Sets the halt switch (new faults refuse to start), then reverts everything active.
    ///
    /// The switch is written while the world is reverted, not before: a store slow to take a
    /// write (another writer holding SQLite's lock) must not hold back the reverts, which only
    /// read (WAL readers do not wait for a writer). Every active fault is undone in the world
    /// first, newest first, and only then are the outcomes recorded. Once the switch is down, a
    /// second pass reverts any fault recorded while it was being written.
    pub async fn halt(&self, reason: &str) -> Result<Vec<(Lease, RevertOutcome)>, LedgerError> {
        let (switch, first) = tokio::join!(self.set_halt(true, Some(reason)), async {
            let mut undone = Vec::new();
            for lease in self.active().await? {
                undone.push((lease.clone(), self.undo_in_world(&lease).await?));
            }
            let mut out = Vec::new();
            let mut failed = None;
            for (lease, undone) in undone {
                let outcome = match undone {
                    Undone::Closed(outcome) => outcome,
                    Undone::Now(current, outcome) => {
                        // One write failing does not keep the others' outcomes from the record.
                        if let Err(e) = self.record_revert(&current, &outcome).await {
                            failed.get_or_insert(e);
                        }
                        outcome
                    }
                };
                out.push((lease, outcome));
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(out),
            }
        });
        switch?;
        let mut out = first?;
        out.extend(self.revert_all().await?);
        Ok(out)
    }

    /// Clears the halt switch.
    pub async fn resume(&self) -> Result<(), LedgerError> {
        // Only a real halt is resumed, so the halt epoch changes only when a halt happened.
        sqlx::query("UPDATE halt SET halted = 0, changed_at = $1 WHERE id = 1 AND halted = 1")
            .bind(fixed_time(&Timestamp::now()))
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// When the halt switch last changed (empty if never): a run that sees it change knows a
    /// halt happened, even one that was resumed before the run looked.
    pub async fn halt_epoch(&self) -> Result<String, LedgerError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT changed_at FROM halt WHERE id = 1")
            .fetch_optional(self.store.pool())
            .await?;
        Ok(row.map(|(c,)| c).unwrap_or_default())
    }

    async fn set_halt(&self, halted: bool, reason: Option<&str>) -> Result<(), LedgerError> {
        sqlx::query(
            "INSERT INTO halt (id, halted, reason, changed_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET halted = $1, reason = $2, changed_at = $3",
        )
        .bind(i64::from(halted))
        .bind(reason.map(str::to_string))
        .bind(fixed_time(&Timestamp::now()))
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// The halt switch, if set.
    pub async fn halt_state(&self) -> Result<Option<HaltState>, LedgerError> {
        let row: Option<(Option<String>, String)> =
            sqlx::query_as("SELECT reason, changed_at FROM halt WHERE id = 1 AND halted = 1")
                .fetch_optional(self.store.pool())
                .await?;
        Ok(row.map(|(reason, since)| HaltState {
            reason: reason.unwrap_or_default(),
            since,
        }))
    }
}

/// Fixed-width UTC text so that text order is time order in both backends.
fn fixed_time(ts: &Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

impl Ledger {
    fn row_to_lease(&self, row: &AnyRow) -> Result<Lease, LedgerError> {
        let id: String = row.try_get("id")?;
        let corrupt = |message: String| LedgerError::Corrupt {
            id: id.clone(),
            message,
        };
        let time = |v: Option<String>| v.and_then(|s| s.parse::<Timestamp>().ok());
        let state_text: String = row.try_get("state")?;
        let undo_text: String = row.try_get("undo")?;
        let target_text: String = row.try_get("target")?;
        let created: String = row.try_get("created_at")?;
        let undo: serde_json::Value =
            serde_json::from_str(&undo_text).map_err(|e| corrupt(format!("undo: {e}")))?;
        let settle_by: Option<i64> = row.try_get("settle_by_ms")?;
        Ok(Lease {
            run_id: row.try_get("run_id")?,
            activity: row.try_get("activity")?,
            func: row.try_get("func")?,
            target: serde_json::from_str(&target_text)
                .map_err(|e| corrupt(format!("target: {e}")))?,
            reversible: self.undoer.is_reversible(&undo),
            undo,
            owner: ProcessIdentity {
                pid: row.try_get::<i64, _>("owner_pid")? as i32,
                start_time: row.try_get::<i64, _>("owner_start")? as u64,
            },
            created_at: created
                .parse()
                .map_err(|e| corrupt(format!("created_at: {e}")))?,
            deadline: Timestamp::from_millisecond(row.try_get("deadline_ms")?)
                .map_err(|e| corrupt(format!("deadline: {e}")))?,
            settle_by: settle_by
                .map(Timestamp::from_millisecond)
                .transpose()
                .map_err(|e| corrupt(format!("settle_by: {e}")))?,
            state: LeaseState::parse(&state_text)
                .ok_or_else(|| corrupt(format!("unknown state {state_text:?}")))?,
            applied_at: time(row.try_get("applied_at")?),
            reverted_at: time(row.try_get("reverted_at")?),
            error: row.try_get("error")?,
            attempts: row.try_get("attempts")?,
            id,
        })
    }
}
