//! Durable firings in the store. A firing is known by (experiment, planned time): the row is
//! inserted once (a unique key, `ON CONFLICT DO NOTHING`), so of several servers on one store
//! exactly one claims it, and a skipped or missed firing is recorded by the same insert.
//! Each schedule's row holds its pause flag, its next planned firing and its last outcome.

use jiff::Timestamp;
use sqlx::Row;

use super::schedule::Schedule;
use crate::history::Trigger;
use crate::monkey::history::format_time;
use crate::store::{Store, StoreError};

/// A firing whose due time passed longer ago than this when a server starts was missed (a live
/// server claims within milliseconds of the due time; the margin keeps a starting standby from
/// marking a firing missed that the active server is claiming).
pub const MISSED_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
/// Most missed firings recorded one by one per schedule at a start; older ones are counted in
/// the reason of the oldest recorded.
pub const MAX_MISSED_ROWS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum FiringError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored row holds a state this version does not know.
    #[error("unknown firing state {0:?} in the store")]
    UnknownState(String),
}

impl From<sqlx::Error> for FiringError {
    fn from(e: sqlx::Error) -> Self {
        FiringError::Store(StoreError::Query(e))
    }
}

/// What became of a firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FiringState {
    /// A server took it and will start its run.
    Claimed,
    /// Its run is going.
    Started,
    /// Its run ended (the reason holds the outcome).
    Finished,
    /// Not run, with the reason (overlap, targets busy, halted, paused, …).
    Skipped,
    /// Due while no server was running; not replayed.
    Missed,
}

impl FiringState {
    pub fn as_str(self) -> &'static str {
        match self {
            FiringState::Claimed => "claimed",
            FiringState::Started => "started",
            FiringState::Finished => "finished",
            FiringState::Skipped => "skipped",
            FiringState::Missed => "missed",
        }
    }

    fn parse(text: &str) -> Result<FiringState, FiringError> {
        Ok(match text {
            "claimed" => FiringState::Claimed,
            "started" => FiringState::Started,
            "finished" => FiringState::Finished,
            "skipped" => FiringState::Skipped,
            "missed" => FiringState::Missed,
            other => return Err(FiringError::UnknownState(other.to_string())),
        })
    }
}

/// One stored firing.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub id: String,
    pub experiment: String,
    pub planned: Timestamp,
    /// Planned plus jitter.
    pub due: Timestamp,
    pub state: FiringState,
    pub reason: Option<String>,
    /// The server that recorded it.
    pub server: String,
    pub run_id: Option<String>,
    /// What started it: the schedule, or a run-now request through the API.
    pub trigger: Trigger,
    /// Who asked for a run-now firing (the API client).
    pub requested_by: Option<String>,
}

/// A schedule's stored state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleState {
    pub paused: bool,
    pub next_planned: Option<Timestamp>,
    pub last_planned: Option<Timestamp>,
    /// The last firing's state and reason.
    pub last_outcome: Option<(String, Option<String>)>,
    /// What started the last firing (None before this was stored).
    pub last_trigger: Option<Trigger>,
}

/// The firings of one store as seen by one server.
#[derive(Debug, Clone)]
pub struct Firings {
    store: Store,
    /// This server's name in the rows it writes.
    server: String,
}

impl Firings {
    pub fn new(store: Store, server: impl Into<String>) -> Firings {
        Firings {
            store,
            server: server.into(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Claims the firing of `experiment` planned at `planned`: `Some` for exactly one claimer
    /// across every server on the store, `None` when it was already claimed or recorded.
    pub async fn claim(
        &self,
        experiment: &str,
        planned: Timestamp,
        due: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Firing>, FiringError> {
        self.insert(experiment, planned, due, now, FiringState::Claimed, None)
            .await
    }

    /// Claims a run-now firing at `at` for `requested_by` (see [`Firings::claim`]).
    pub async fn claim_now(
        &self,
        experiment: &str,
        at: Timestamp,
        requested_by: &str,
    ) -> Result<Option<Firing>, FiringError> {
        self.insert_as(
            experiment,
            (at, at, at),
            FiringState::Claimed,
            None,
            (Trigger::Api, Some(requested_by)),
        )
        .await
    }

    /// Records a firing that did not run (skipped or missed), unless it is already recorded.
    pub async fn record(
        &self,
        experiment: &str,
        planned: Timestamp,
        due: Timestamp,
        now: Timestamp,
        state: FiringState,
        reason: &str,
    ) -> Result<bool, FiringError> {
        Ok(self
            .insert(experiment, planned, due, now, state, Some(reason))
            .await?
            .is_some())
    }

    async fn insert(
        &self,
        experiment: &str,
        planned: Timestamp,
        due: Timestamp,
        now: Timestamp,
        state: FiringState,
        reason: Option<&str>,
    ) -> Result<Option<Firing>, FiringError> {
        self.insert_as(
            experiment,
            (planned, due, now),
            state,
            reason,
            (Trigger::Schedule, None),
        )
        .await
    }

    async fn insert_as(
        &self,
        experiment: &str,
        (planned, due, now): (Timestamp, Timestamp, Timestamp),
        state: FiringState,
        reason: Option<&str>,
        (trigger, requested_by): (Trigger, Option<&str>),
    ) -> Result<Option<Firing>, FiringError> {
        let id = uuid::Uuid::new_v4().to_string();
        let inserted = sqlx::query(
            "INSERT INTO firings (id, experiment, planned_ms, planned_at, due_ms, state, reason, server, recorded_at, trigger_name, requested_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (experiment, planned_ms) DO NOTHING",
        )
        .bind(&id)
        .bind(experiment)
        .bind(planned.as_millisecond())
        .bind(format_time(&planned))
        .bind(due.as_millisecond())
        .bind(state.as_str())
        .bind(reason.map(str::to_string))
        .bind(&self.server)
        .bind(format_time(&now))
        .bind(trigger.name())
        .bind(requested_by.map(str::to_string))
        .execute(self.store.pool())
        .await?
        .rows_affected();
        if inserted != 1 {
            return Ok(None);
        }
        self.note_outcome(experiment, planned, state, reason, now)
            .await?;
        Ok(Some(Firing {
            id,
            experiment: experiment.to_string(),
            planned,
            due,
            state,
            reason: reason.map(str::to_string),
            server: self.server.clone(),
            run_id: None,
            trigger,
            requested_by: requested_by.map(str::to_string),
        }))
    }

    /// Moves a claimed firing on (started with its run, finished with its outcome).
    pub async fn update(
        &self,
        firing: &Firing,
        state: FiringState,
        reason: Option<&str>,
        run_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), FiringError> {
        let finished = matches!(state, FiringState::Finished).then(|| format_time(&now));
        sqlx::query(
            "UPDATE firings SET state = $1, reason = $2, run_id = COALESCE($3, run_id), finished_at = $4 WHERE id = $5",
        )
        .bind(state.as_str())
        .bind(reason.map(str::to_string))
        .bind(run_id.map(str::to_string))
        .bind(finished)
        .bind(&firing.id)
        .execute(self.store.pool())
        .await?;
        self.note_outcome(&firing.experiment, firing.planned, state, reason, now)
            .await
    }

    async fn note_outcome(
        &self,
        experiment: &str,
        planned: Timestamp,
        state: FiringState,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<(), FiringError> {
        // Only a firing at least as new as the last one noted changes the schedule's outcome
        // (a missed firing recorded at start must not hide a newer run's outcome).
        sqlx::query(
            "INSERT INTO schedules (experiment, paused, last_planned_ms, last_state, last_reason, changed_at, last_trigger) \
             VALUES ($1, 0, $2, $3, $4, $5, (SELECT trigger_name FROM firings WHERE experiment = $1 AND planned_ms = $2)) \
             ON CONFLICT (experiment) DO UPDATE SET last_planned_ms = $2, last_state = $3, last_reason = $4, changed_at = $5, \
             last_trigger = (SELECT trigger_name FROM firings WHERE experiment = $1 AND planned_ms = $2) \
             WHERE schedules.last_planned_ms IS NULL OR schedules.last_planned_ms <= $2",
        )
        .bind(experiment)
        .bind(planned.as_millisecond())
        .bind(state.as_str())
        .bind(reason.map(str::to_string))
        .bind(format_time(&now))
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Stores the next planned firing of `experiment` (None: it never fires again).
    pub async fn set_next(
        &self,
        experiment: &str,
        next: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), FiringError> {
        sqlx::query(
            "INSERT INTO schedules (experiment, paused, next_planned_ms, changed_at) VALUES ($1, 0, $2, $3) \
             ON CONFLICT (experiment) DO UPDATE SET next_planned_ms = $2, changed_at = $3",
        )
        .bind(experiment)
        .bind(next.map(|t| t.as_millisecond()))
        .bind(format_time(&now))
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Pauses or resumes a schedule (for every server on the store).
    pub async fn set_paused(
        &self,
        experiment: &str,
        paused: bool,
        now: Timestamp,
    ) -> Result<(), FiringError> {
        sqlx::query(
            "INSERT INTO schedules (experiment, paused, changed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (experiment) DO UPDATE SET paused = $2, changed_at = $3",
        )
        .bind(experiment)
        .bind(i64::from(paused))
        .bind(format_time(&now))
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// The stored state of a schedule (defaults when it has none yet).
    pub async fn state(&self, experiment: &str) -> Result<ScheduleState, FiringError> {
        let row = sqlx::query(
            "SELECT paused, next_planned_ms, last_planned_ms, last_state, last_reason, last_trigger FROM schedules WHERE experiment = $1",
        )
        .bind(experiment)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else {
            return Ok(ScheduleState::default());
        };
        let ms = |v: Option<i64>| v.and_then(|ms| Timestamp::from_millisecond(ms).ok());
        let last_state: Option<String> = row.try_get("last_state")?;
        let last_reason: Option<String> = row.try_get("last_reason")?;
        Ok(ScheduleState {
            paused: row.try_get::<i64, _>("paused")? != 0,
            next_planned: ms(row.try_get("next_planned_ms")?),
            last_planned: ms(row.try_get("last_planned_ms")?),
            last_outcome: last_state.map(|s| (s, last_reason)),
            last_trigger: row
                .try_get::<Option<String>, _>("last_trigger")?
                .as_deref()
                .and_then(Trigger::parse),
        })
    }

    /// At a server's start: every firing of `experiment` planned from its stored next firing
    /// up to `now` whose due time passed more than [`MISSED_AFTER`] ago and that no server
    /// recorded is recorded as missed (not run). Returns how many were recorded.
    pub async fn record_missed(
        &self,
        experiment: &str,
        schedule: &Schedule,
        seed: u64,
        now: Timestamp,
    ) -> Result<usize, FiringError> {
        let Some(first) = self.state(experiment).await?.next_planned else {
            return Ok(0);
        };
        let cutoff = now - MISSED_AFTER;
        let before_first = first - jiff::SignedDuration::from_millis(1);
        let (planned, dropped) = schedule.planned_between(before_first, now, MAX_MISSED_ROWS);
        let mut recorded = 0;
        for (i, at) in planned.iter().enumerate() {
            let due = schedule.due(experiment, *at, seed);
            if due >= cutoff {
                continue;
            }
            let reason = if i == 0 && dropped > 0 {
                format!("missed: no server was running (and {dropped} earlier firings)")
            } else {
                "missed: no server was running".to_string()
            };
            if self
                .record(experiment, *at, due, now, FiringState::Missed, &reason)
                .await?
            {
                recorded += 1;
            }
        }
        Ok(recorded)
    }

    /// At a server's start: firings left `claimed` or `started` by a server that is gone are
    /// finished with the truth — their run's status when the history has it (the run was marked
    /// interrupted by the reaper), else, for a server of this host whose process is gone,
    /// interrupted before the run started. Firings of other hosts' live-or-unknown servers stay
    /// (only their host can tell). Returns (experiment, reason) of each one settled.
    pub async fn settle_orphans(
        &self,
        host: &str,
        now: Timestamp,
    ) -> Result<Vec<(String, String)>, FiringError> {
        let rows = sqlx::query(
            "SELECT f.id, f.experiment, f.planned_ms, f.server, r.status FROM firings f \
             LEFT JOIN runs r ON r.id = f.run_id WHERE f.state IN ('claimed', 'started')",
        )
        .fetch_all(self.store.pool())
        .await?;
        let mut settled = Vec::new();
        for row in rows {
            let server: String = row.try_get("server")?;
            if server == self.server {
                continue;
            }
            let status: Option<String> = row.try_get("status")?;
            let reason = match status.as_deref() {
                Some("running") => continue,
                Some(status) => {
                    format!("{status}: its server {server} stopped before the run ended")
                }
                None if server_gone(&server, host) => {
                    format!("interrupted: its server {server} stopped before the run started")
                }
                None => continue,
            };
            let id: String = row.try_get("id")?;
            let experiment: String = row.try_get("experiment")?;
            let planned = Timestamp::from_millisecond(row.try_get("planned_ms")?)
                .unwrap_or(Timestamp::UNIX_EPOCH);
            sqlx::query(
                "UPDATE firings SET state = 'finished', reason = $1, finished_at = $2 WHERE id = $3 AND state IN ('claimed', 'started')",
            )
            .bind(&reason)
            .bind(format_time(&now))
            .bind(&id)
            .execute(self.store.pool())
            .await?;
            self.note_outcome(
                &experiment,
                planned,
                FiringState::Finished,
                Some(&reason),
                now,
            )
            .await?;
            settled.push((experiment, reason));
        }
        Ok(settled)
    }

    /// The firings of `experiment`, newest planned first, at most `limit`.
    pub async fn list(&self, experiment: &str, limit: i64) -> Result<Vec<Firing>, FiringError> {
        let rows = sqlx::query(
            "SELECT id, experiment, planned_ms, due_ms, state, reason, server, run_id, trigger_name, requested_by FROM firings \
             WHERE experiment = $1 ORDER BY planned_ms DESC LIMIT $2",
        )
        .bind(experiment)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let ms = |name: &str| -> Result<Timestamp, FiringError> {
                    let v: i64 = r.try_get(name)?;
                    Ok(Timestamp::from_millisecond(v).unwrap_or(Timestamp::UNIX_EPOCH))
                };
                let state: String = r.try_get("state")?;
                Ok(Firing {
                    id: r.try_get("id")?,
                    experiment: r.try_get("experiment")?,
                    planned: ms("planned_ms")?,
                    due: ms("due_ms")?,
                    state: FiringState::parse(&state)?,
                    reason: r.try_get("reason")?,
                    server: r.try_get("server")?,
                    run_id: r.try_get("run_id")?,
                    trigger: Trigger::parse(&r.try_get::<String, _>("trigger_name")?)
                        .unwrap_or(Trigger::Schedule),
                    requested_by: r.try_get("requested_by")?,
                })
            })
            .collect()
    }
}

/// Whether `server` (`host:pid`) names a process of `host` that no longer exists.
fn server_gone(server: &str, host: &str) -> bool {
    match server.rsplit_once(':') {
        Some((h, pid)) if h == host => pid
            .parse::<u32>()
            .is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()),
        _ => false,
    }
}
