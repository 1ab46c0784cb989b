//! The server process: open the store (refusing to start without it), mark the runs that died
//! with a previous process interrupted, revert leftover faults, then run the scheduler on the
//! real clock, the API, and a housekeeping loop (the halt switch as the ledger holds it — a
//! `monkeywrench halt` from a shell reaches the server — and retention). A stop (SIGTERM,
//! SIGINT) stops firing, interrupts the children and waits for them before the API closes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::api::{self, Mount};
use super::config::ServerConfig;
use super::firings::Firings;
use super::metrics::Metrics;
use super::notify::{self, Notifier};
use super::runner::{Children, Runner, Spawn};
use super::scheduler::{Control, Planned, Scheduler};
use super::traffic::Traffic;
use crate::history::{History, HostIdentity, reap_interrupted};
use crate::ledger::{Lease, Ledger, RevertOutcome};
use crate::monkey::Monkey;
use crate::monkey::clock::Clock;
use crate::store::{Store, StoreError, StoreLocation};

/// How often the halt switch is read from the ledger.
const HALT_POLL: Duration = Duration::from_secs(1);
/// How often retention is applied.
const RETENTION_EVERY: Duration = Duration::from_secs(600);
/// How long a stop waits for interrupted children before the server exits anyway (they die
/// with it: see [`super::runner`]).
const STOP_WAIT: Duration = Duration::from_secs(120);

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store opened but could not be read or written.
    #[error("prepare the store: {0}")]
    Prepare(String),
    /// The runs directory could not be created.
    #[error("create the runs directory {path}: {source}")]
    RunsDir {
        path: String,
        source: std::io::Error,
    },
}

/// What the server process is started with.
#[derive(Debug)]
pub struct Options {
    pub config: ServerConfig,
    /// The store (the config's, else `--store`, else the state directory's ledger.db).
    pub location: StoreLocation,
    pub state_dir: PathBuf,
    /// The binary the children run.
    pub exe: PathBuf,
    /// The config's directory, where the children start.
    pub config_dir: PathBuf,
    pub token: Option<String>,
}

/// Everything the API and the housekeeping share.
#[derive(Debug)]
pub struct Shared {
    pub config: ServerConfig,
    pub store: Store,
    pub history: History,
    pub firings: Firings,
    pub ledger: Ledger,
    pub control: Control,
    pub children: Children,
    pub metrics: Metrics,
    pub notifier: Notifier,
    /// The proxies' live traffic (`proxies:` in the config).
    pub traffic: Traffic,
    pub started_at: Timestamp,
    /// This server's name in the firings it records (`host:pid`).
    pub name: String,
    /// The Chaos Monkey, when the config names one: it kills on its own plan, beside the schedules.
    pub monkey: Option<Arc<Monkey>>,
}

/// How long `POST /api/halt` waits for the ledger's reverts before it answers: the halt is the
/// safety lever and answers within a second even when the store is slow; the reverts go on.
pub const HALT_ANSWER_WITHIN: Duration = Duration::from_millis(800);

/// What a halt did by the time it answered.
#[derive(Debug)]
pub struct Halted {
    /// The runs interrupted (at once, by signal).
    pub interrupted: Vec<String>,
    /// The ledger's reverts, or None while they still go on (a slow store).
    pub reverted: Option<Result<Vec<(Lease, RevertOutcome)>, String>>,
}

impl Shared {
    /// Halts: no firing starts and running children are interrupted at once; the ledger's halt
    /// (the switch, every active fault reverted) runs as a task of its own, waited for at most
    /// `wait`; the hooks are told.
    pub async fn halt(self: &Arc<Self>, reason: &str, wait: Duration) -> Halted {
        self.control.set_halted(true);
        let interrupted = self.children.interrupt_all();
        let ledger = self.ledger.clone();
        let why = reason.to_string();
        let task = tokio::spawn(async move {
            let out = ledger.halt(&why).await;
            match &out {
                Ok(reverted) => eprintln!(
                    "monkeywrench server: halted ({why}); {} fault(s) reverted",
                    reverted.len()
                ),
                Err(e) => eprintln!("monkeywrench server: halt ({why}): failed to {e}"),
            }
            out
        });
        self.notifier
            .send(
                super::config::HookEvent::Halt,
                notify::about_halt(reason, &interrupted),
            )
            .await;
        let reverted = match tokio::time::timeout(wait, task).await {
            Ok(Ok(out)) => Some(out.map_err(|e| e.to_string())),
            Ok(Err(e)) => Some(Err(format!("the halt task ended without an answer: {e}"))),
            Err(_) => None,
        };
        Halted {
            interrupted,
            reverted,
        }
    }
}

/// A server ready to run: its store open and prepared.
pub struct Server {
    shared: Arc<Shared>,
    scheduler: Scheduler,
}

impl Server {
    /// Opens the store, marks dead runs interrupted and reverts leftover faults (each reported
    /// on stderr), and sets up the scheduler on `clock`.
    pub async fn open(options: Options, clock: Clock) -> Result<Server, ServerError> {
        let store = Store::open(&options.location).await?;
        let me = HostIdentity::current();
        for id in reap_interrupted(&store, &me)
            .await
            .map_err(|e| ServerError::Prepare(e.to_string()))?
        {
            eprintln!(
                "monkeywrench server: run {id} had lost its process: marked interrupted in the history"
            );
        }
        let ledger = Ledger::new(store.clone(), crate::fault::reverter());
        for (lease, outcome) in ledger
            .revert_leftovers()
            .await
            .map_err(|e| ServerError::Prepare(e.to_string()))?
        {
            eprintln!(
                "monkeywrench server: leftover fault {} ({} on {}) from run {}: {outcome:?}",
                lease.id, lease.func, lease.target, lease.run_id
            );
        }
        let runs_dir = options.state_dir.join("server-runs");
        std::fs::create_dir_all(&runs_dir).map_err(|source| ServerError::RunsDir {
            path: runs_dir.display().to_string(),
            source,
        })?;
        let name = format!("{}:{}", me.host, std::process::id());
        let firings = Firings::new(store.clone(), name.clone());
        for (experiment, reason) in firings
            .settle_orphans(&me.host, Timestamp::now())
            .await
            .map_err(|e| ServerError::Prepare(e.to_string()))?
        {
            eprintln!(
                "monkeywrench server: a firing of {experiment} was left unfinished: {reason}"
            );
        }
        let history = History::new(store.clone());
        let children = Children::default();
        let metrics = Metrics::default();
        let notifier = Notifier::new(options.config.notifications.clone());
        let config = options.config;
        let store_arg = match &options.location {
            StoreLocation::Sqlite(p) => p.display().to_string(),
            StoreLocation::Postgres(url) => url.clone(),
        };
        let runner = Runner {
            spawn: Spawn {
                exe: options.exe,
                state_dir: options.state_dir,
                store: Some(store_arg),
                runs_dir,
                keep_days: config.retention.days.unwrap_or(0),
                cwd: options.config_dir,
            },
            experiments: Arc::new(config.experiments.clone()),
            children: children.clone(),
            firings: firings.clone(),
            history: history.clone(),
            metrics: metrics.clone(),
            notifier: notifier.clone(),
        };
        let planned = config
            .experiments
            .iter()
            .map(|e| Planned {
                name: e.name.clone(),
                schedule: e.schedule.clone(),
                targets: e.targets.clone(),
            })
            .collect();
        let clock_for_monkey = clock.clone();
        let scheduler = Scheduler::new(
            planned,
            firings.clone(),
            clock,
            config.seed,
            Arc::new(runner),
        );
        let control = scheduler.control();
        let monkey = config
            .monkey
            .clone()
            .map(|m| Arc::new(Monkey::new(m, store.clone(), clock_for_monkey, None)));
        let config_proxies = config.proxies.clone();
        if let Ok(Some(_)) = ledger.halt_state().await {
            control.set_halted(true);
        }
        let shared = Arc::new(Shared {
            config,
            store,
            history,
            firings,
            ledger,
            control,
            children,
            metrics,
            notifier,
            traffic: Traffic::new(config_proxies),
            started_at: Timestamp::now(),
            name,
            monkey,
        });
        Ok(Server { shared, scheduler })
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Serves on `listener` and fires schedules until `stop`; then stops firing, interrupts the
    /// children, waits for them, and closes the API. The dashboard is always mounted (first);
    /// `mounts` come after it.
    pub async fn run(
        self,
        listener: TcpListener,
        token: Option<String>,
        mounts: Vec<Arc<dyn Mount>>,
        stop: CancellationToken,
    ) {
        let Server { shared, scheduler } = self;
        let firing = CancellationToken::new();
        let scheduling = {
            let firing = firing.clone();
            tokio::spawn(async move {
                if let Err(e) = scheduler.run(firing).await {
                    eprintln!("monkeywrench server: the scheduler stopped: {e}");
                }
            })
        };
        let serving = CancellationToken::new();
        let mut all: Vec<Arc<dyn Mount>> = vec![Arc::new(super::dashboard::Dashboard)];
        all.extend(mounts);
        let api = tokio::spawn(api::serve(
            listener,
            shared.clone(),
            token,
            all,
            serving.clone(),
        ));
        let watching = (!shared.traffic.is_empty())
            .then(|| tokio::spawn(shared.traffic.clone().watch(serving.clone())));
        let housekeeping = tokio::spawn(housekeeping(shared.clone(), firing.clone()));
        let monkey = shared.monkey.clone().map(|monkey| {
            let firing = firing.clone();
            tokio::spawn(async move { crate::monkey::scheduler::run(&monkey, &firing).await })
        });
        stop.cancelled().await;
        firing.cancel();
        let _ = scheduling.await;
        let _ = housekeeping.await;
        if let Some(monkey) = monkey {
            let _ = monkey.await;
        }
        let interrupted = shared.children.interrupt_all();
        if !interrupted.is_empty() {
            eprintln!(
                "monkeywrench server: stopping: interrupted {} run(s), waiting for them to revert",
                interrupted.len()
            );
        }
        if tokio::time::timeout(STOP_WAIT, shared.children.wait_empty())
            .await
            .is_err()
        {
            eprintln!(
                "monkeywrench server: runs still going after {STOP_WAIT:?}; exiting (they die with the server, the guard reverts their faults)"
            );
        }
        shared.notifier.drain(Duration::from_secs(5)).await;
        if let Some(monkey) = &shared.monkey {
            monkey.notifier.drain(Duration::from_secs(5)).await;
        }
        serving.cancel();
        let _ = api.await;
        if let Some(w) = watching {
            let _ = w.await;
        }
        shared.store.close().await;
    }
}

/// Follows the ledger's halt switch (a halt from the command line stops firings and interrupts
/// the children here too) and applies retention, until `stop`.
async fn housekeeping(shared: Arc<Shared>, stop: CancellationToken) {
    let mut last_retention: Option<tokio::time::Instant> = None;
    // Only a change of the stored switch is followed: a halt through the API holds here even
    // while its write still waits for a slow store.
    let mut seen: Option<bool> = None;
    loop {
        if let Ok(state) = shared.ledger.halt_state().await {
            let halted = state.is_some();
            if seen != Some(halted) {
                if halted && !shared.control.is_halted() {
                    let interrupted = shared.children.interrupt_all();
                    eprintln!(
                        "monkeywrench server: halted from the ledger; {} run(s) interrupted",
                        interrupted.len()
                    );
                }
                shared.control.set_halted(halted);
                seen = Some(halted);
            }
        }
        if last_retention.is_none_or(|t| t.elapsed() >= RETENTION_EVERY) {
            last_retention = Some(tokio::time::Instant::now());
            match super::retention::apply(&shared, Timestamp::now()).await {
                Ok(pruned) if pruned.runs > 0 => eprintln!(
                    "monkeywrench server: retention removed {} run(s) and {} event(s)",
                    pruned.runs, pruned.events
                ),
                Ok(_) => {}
                Err(e) => eprintln!("monkeywrench server: retention: failed to {e}"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(HALT_POLL) => {}
            _ = stop.cancelled() => return,
        }
    }
}
