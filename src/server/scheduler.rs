//! The loop that turns schedules into firings: at start it records what was missed while no
//! server ran, then sleeps on the injected clock until the next due firing, decides (pause,
//! halt, overlap, targets), claims it in the store and hands it to the [`Launcher`]. A run's end
//! comes back through its [`Completer`]; completions are handled before every decision, so a
//! run that ends inline (as in tests) never counts as overlapping the next firing.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::firings::{Firing, FiringError, FiringState, Firings, MISSED_AFTER};
use super::schedule::{Board, Decision, Overlap, Schedule, SkipReason};
use crate::monkey::clock::Clock;
use crate::monkey::history::format_time;

/// One scheduled experiment.
#[derive(Debug, Clone)]
pub struct Planned {
    pub name: String,
    pub schedule: Schedule,
    /// Target keys: experiments sharing one never run at once.
    pub targets: BTreeSet<String>,
}

/// Starts the run of a claimed firing; it reports the end through `done` (from any task).
pub trait Launcher: Send + Sync {
    fn launch(&self, firing: Firing, done: Completer);
}

/// Reports the end of one firing's run.
#[derive(Debug, Clone)]
pub struct Completer {
    firing: Firing,
    tx: mpsc::UnboundedSender<(Firing, String)>,
}

impl Completer {
    /// The run ended; `outcome` is stored with the firing (e.g. `deviated (exit 1)`).
    pub fn finish(self, outcome: impl Into<String>) {
        // The scheduler gone (server stopping) is fine: the firing stays `claimed` in the store.
        let _ = self.tx.send((self.firing, outcome.into()));
    }
}

/// What the scheduler shares with the rest of the server: halt, what is running, and run-now
/// requests (decided by the scheduler's loop, so they follow the same overlap and target rules
/// as scheduled firings).
#[derive(Debug, Clone)]
pub struct Control {
    board: Arc<Mutex<Board>>,
    requests: mpsc::UnboundedSender<RunNow>,
}

/// A request to run an experiment now, answered with the claimed firing.
#[derive(Debug)]
struct RunNow {
    experiment: String,
    requested_by: String,
    reply: oneshot::Sender<Result<Firing, RunNowError>>,
}

/// Why a run-now request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunNowError {
    #[error("no experiment named {0:?} is scheduled by this server")]
    Unknown(String),
    /// Halted, already running, or its targets are busy.
    #[error("{}", .0.text())]
    Refused(SkipReason),
    #[error("the scheduler is not running (the server is stopping)")]
    Stopped,
    #[error("claim the firing: {0}")]
    Store(String),
}

impl Control {
    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// While halted every due firing is skipped (and a queued one is dropped at its turn).
    pub fn set_halted(&self, halted: bool) {
        self.board().set_halted(halted);
    }

    pub fn is_halted(&self) -> bool {
        self.board().is_halted()
    }

    pub fn is_running(&self, experiment: &str) -> bool {
        self.board().is_running(experiment)
    }

    /// Starts a run of `experiment` now, unless the rules refuse it; the firing is claimed in
    /// the store (planned at now) and its run id chosen before this returns.
    pub async fn run_now(
        &self,
        experiment: &str,
        requested_by: &str,
    ) -> Result<Firing, RunNowError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(RunNow {
                experiment: experiment.to_string(),
                requested_by: requested_by.to_string(),
                reply,
            })
            .map_err(|_| RunNowError::Stopped)?;
        answer.await.unwrap_or(Err(RunNowError::Stopped))
    }
}

pub struct Scheduler {
    entries: Vec<Planned>,
    firings: Firings,
    clock: Clock,
    seed: u64,
    control: Control,
    launcher: Arc<dyn Launcher>,
    /// Firings waiting for their turn (`overlap: queue`), in arrival order.
    waiting: Vec<Firing>,
    /// Skips not yet recorded because the store was away.
    backlog: Vec<(String, Timestamp, Timestamp, String)>,
    requests: Option<mpsc::UnboundedReceiver<RunNow>>,
}

impl Scheduler {
    pub fn new(
        entries: Vec<Planned>,
        firings: Firings,
        clock: Clock,
        seed: u64,
        launcher: Arc<dyn Launcher>,
    ) -> Scheduler {
        let (requests, rx) = mpsc::unbounded_channel();
        Scheduler {
            entries,
            firings,
            clock,
            seed,
            control: Control {
                board: Arc::default(),
                requests,
            },
            launcher,
            waiting: Vec::new(),
            backlog: Vec::new(),
            requests: Some(rx),
        }
    }

    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// The first planned firing of `entry` whose due time is not yet past the missed margin.
    fn first_from(&self, entry: &Planned, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let cutoff = now - MISSED_AFTER;
        let jitter = entry.schedule.jitter.unwrap_or(SignedDuration::ZERO);
        let mut t = cutoff - jitter - SignedDuration::from_millis(1);
        loop {
            let planned = entry.schedule.next_after(t)?;
            let due = entry.schedule.due(&entry.name, planned, self.seed);
            if due >= cutoff {
                return Some((planned, due));
            }
            t = planned;
        }
    }

    /// The firing to start with: of those due within the missed margin before `now`, only the
    /// latest runs (late); the earlier ones are recorded as missed — never a burst.
    async fn catch_up(
        &self,
        entry: &Planned,
        now: Timestamp,
    ) -> Result<Option<(Timestamp, Timestamp)>, FiringError> {
        let Some(mut first) = self.first_from(entry, now) else {
            return Ok(None);
        };
        while first.1 < now {
            let Some(planned) = entry.schedule.next_after(first.0) else {
                break;
            };
            let due = entry.schedule.due(&entry.name, planned, self.seed);
            if due >= now {
                break;
            }
            self.firings
                .record(
                    &entry.name,
                    first.0,
                    first.1,
                    now,
                    FiringState::Missed,
                    "missed: no server was running (a later firing runs instead)",
                )
                .await?;
            first = (planned, due);
        }
        Ok(Some(first))
    }

    /// Runs until `cancel`: records missed firings, then fires each schedule in turn.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), FiringError> {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Firing, String)>();
        // Taken so the loop can borrow it beside `self`; a second `run` gets no requests.
        let (_closed, none) = mpsc::unbounded_channel();
        let mut requests = self.requests.take().unwrap_or(none);
        let now = self.clock.now();
        let mut next: Vec<Option<(Timestamp, Timestamp)>> = Vec::new();
        for entry in &self.entries {
            self.firings
                .record_missed(&entry.name, &entry.schedule, self.seed, now)
                .await?;
            let first = self.catch_up(entry, now).await?;
            self.firings
                .set_next(&entry.name, first.map(|f| f.0), now)
                .await?;
            next.push(first);
        }
        loop {
            while let Ok((firing, outcome)) = rx.try_recv() {
                self.completed(firing, &outcome, &tx).await;
            }
            let earliest = next
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.map(|(_, due)| (due, i)))
                .min();
            let Some((due, i)) = earliest else {
                tokio::select! {
                    biased;
                    Some((firing, outcome)) = rx.recv() => {
                        self.completed(firing, &outcome, &tx).await;
                        continue;
                    }
                    Some(request) = requests.recv() => {
                        self.run_now(request, &tx).await;
                        continue;
                    }
                    _ = cancel.cancelled() => return Ok(()),
                }
            };
            tokio::select! {
                biased;
                Some((firing, outcome)) = rx.recv() => {
                    self.completed(firing, &outcome, &tx).await;
                    continue;
                }
                Some(request) = requests.recv() => {
                    self.run_now(request, &tx).await;
                    continue;
                }
                reached = self.clock.sleep_until(due, &cancel) => {
                    if !reached {
                        return Ok(());
                    }
                }
            }
            while let Ok((firing, outcome)) = rx.try_recv() {
                self.completed(firing, &outcome, &tx).await;
            }
            let (planned, due) = next[i].unwrap_or((due, due));
            let entry = self.entries[i].clone();
            self.fire(&entry, planned, due, &tx).await;
            let after = entry.schedule.next_after(planned);
            next[i] = after.map(|p| (p, entry.schedule.due(&entry.name, p, self.seed)));
            if let Err(e) = self
                .firings
                .set_next(&entry.name, after, self.clock.now())
                .await
            {
                eprintln!(
                    "monkeywrench server: {}: store the next firing: {e}",
                    entry.name
                );
            }
        }
    }

    fn completer(
        &self,
        firing: &Firing,
        tx: &mpsc::UnboundedSender<(Firing, String)>,
    ) -> Completer {
        Completer {
            firing: firing.clone(),
            tx: tx.clone(),
        }
    }

    async fn fire(
        &mut self,
        entry: &Planned,
        planned: Timestamp,
        due: Timestamp,
        tx: &mpsc::UnboundedSender<(Firing, String)>,
    ) {
        let now = self.clock.now();
        self.flush_backlog(now).await;
        let paused = match self.firings.state(&entry.name).await {
            Ok(state) => state.paused,
            Err(e) => {
                // No store, no claim: nobody can know whether another server ran it.
                self.defer_skip(&entry.name, planned, due, &e);
                return;
            }
        };
        let decision = self.control.board().decide(
            &entry.name,
            &entry.targets,
            entry.schedule.overlap,
            paused,
        );
        let result = match decision {
            Decision::Skip(reason) => self
                .firings
                .record(
                    &entry.name,
                    planned,
                    due,
                    now,
                    FiringState::Skipped,
                    &reason.text(),
                )
                .await
                .map(|_| ()),
            Decision::Start => match self.firings.claim(&entry.name, planned, due, now).await {
                Ok(Some(firing)) => {
                    self.control.board().start(&entry.name, &entry.targets);
                    let done = self.completer(&firing, tx);
                    self.launcher.launch(firing, done);
                    Ok(())
                }
                // Another server claimed it.
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            },
            Decision::Queue => match self.firings.claim(&entry.name, planned, due, now).await {
                Ok(Some(firing)) => {
                    self.control.board().enqueue(&entry.name);
                    self.waiting.push(firing);
                    Ok(())
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = result {
            self.defer_skip(&entry.name, planned, due, &e);
        }
    }

    /// A firing the store could not take: recorded as skipped once the store is back.
    fn defer_skip(&mut self, name: &str, planned: Timestamp, due: Timestamp, e: &FiringError) {
        eprintln!(
            "monkeywrench server: {name} (planned {}) skipped: the store is unavailable ({e}); recorded once it is back",
            format_time(&planned)
        );
        self.backlog.push((
            name.to_string(),
            planned,
            due,
            SkipReason::StoreUnavailable(e.to_string()).text(),
        ));
    }

    /// A run-now request: decided like a due firing of an `overlap: skip` schedule that is not
    /// paused (pausing stops the schedule, not a person), claimed at now, and started.
    async fn run_now(&mut self, request: RunNow, tx: &mpsc::UnboundedSender<(Firing, String)>) {
        let answer = self.start_now(&request, tx).await;
        let _ = request.reply.send(answer);
    }

    async fn start_now(
        &mut self,
        request: &RunNow,
        tx: &mpsc::UnboundedSender<(Firing, String)>,
    ) -> Result<Firing, RunNowError> {
        let Some(entry) = self
            .entries
            .iter()
            .find(|e| e.name == request.experiment)
            .cloned()
        else {
            return Err(RunNowError::Unknown(request.experiment.clone()));
        };
        let decision =
            self.control
                .board()
                .decide(&entry.name, &entry.targets, Overlap::Skip, false);
        match decision {
            Decision::Start => {}
            Decision::Skip(reason) => return Err(RunNowError::Refused(reason)),
            // Not given by an `overlap: skip` decision; refused like an overlap all the same.
            Decision::Queue => return Err(RunNowError::Refused(SkipReason::Overlap)),
        }
        let mut at = self.clock.now();
        // A scheduled firing planned at this very millisecond holds the key: take the next one.
        for _ in 0..10 {
            let claimed = self
                .firings
                .claim_now(&entry.name, at, &request.requested_by)
                .await
                .map_err(|e| RunNowError::Store(e.to_string()))?;
            if let Some(mut firing) = claimed {
                firing.run_id = Some(uuid::Uuid::new_v4().to_string());
                self.control.board().start(&entry.name, &entry.targets);
                let done = self.completer(&firing, tx);
                self.launcher.launch(firing.clone(), done);
                return Ok(firing);
            }
            at += SignedDuration::from_millis(1);
        }
        Err(RunNowError::Store(
            "every planned time tried was taken".into(),
        ))
    }

    async fn completed(
        &mut self,
        firing: Firing,
        outcome: &str,
        tx: &mpsc::UnboundedSender<(Firing, String)>,
    ) {
        let now = self.clock.now();
        if let Err(e) = self
            .firings
            .update(&firing, FiringState::Finished, Some(outcome), None, now)
            .await
        {
            eprintln!(
                "monkeywrench server: {}: store the outcome: {e}",
                firing.experiment
            );
        }
        let entries = &self.entries;
        let keys_of = |name: &str| {
            entries
                .iter()
                .find(|e| e.name == name)
                .map(|e| e.targets.clone())
                .unwrap_or_default()
        };
        let halted = self.control.board().is_halted();
        if halted {
            self.control.board().finish(&firing.experiment, keys_of);
            let dropped = self.control.board().drain_queue();
            for name in dropped {
                if let Some(pos) = self.waiting.iter().position(|w| w.experiment == name) {
                    let w = self.waiting.remove(pos);
                    let reason = SkipReason::Halted.text();
                    let _ = self
                        .firings
                        .update(&w, FiringState::Skipped, Some(&reason), None, now)
                        .await;
                }
            }
            return;
        }
        let ready = self.control.board().finish(&firing.experiment, keys_of);
        for name in ready {
            if let Some(pos) = self.waiting.iter().position(|w| w.experiment == name) {
                let w = self.waiting.remove(pos);
                let done = self.completer(&w, tx);
                self.launcher.launch(w, done);
            }
        }
    }

    async fn flush_backlog(&mut self, now: Timestamp) {
        let pending = std::mem::take(&mut self.backlog);
        for (i, (name, planned, due, reason)) in pending.iter().enumerate() {
            if let Err(e) = self
                .firings
                .record(name, *planned, *due, now, FiringState::Skipped, reason)
                .await
            {
                eprintln!("monkeywrench server: the store is still unavailable: {e}");
                self.backlog.extend(pending[i..].iter().cloned());
                return;
            }
        }
    }
}
