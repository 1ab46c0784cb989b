//! `monkeywrench monkey run|plan|tick|history|status`: the Chaos Monkey daemon, its daily plan, a
//! one-shot run for cron, the termination history and the current state.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use tokio_util::sync::CancellationToken;

use super::failure::Blameworthy;
use super::prepare::OutputFormat;
use super::state::StateArgs;
use crate::exit_code;
use crate::http_serve::{self, ServeError};
use crate::monkey::clock::Clock;
use crate::monkey::config::{self, ConfigError, MonkeyConfig};
use crate::monkey::history::{self, Filter};
use crate::monkey::{Monkey, scheduler};
use crate::store::Store;

/// Options of `monkeywrench monkey`.
#[derive(Debug, Args)]
pub(super) struct MonkeyArgs {
    /// What to do.
    #[command(subcommand)]
    command: MonkeyCommand,
}

#[derive(Debug, Subcommand)]
enum MonkeyCommand {
    /// The daemon: plan each work day, kill at the planned minutes, until SIGINT/SIGTERM.
    Run(RunArgs),
    /// Print a day's plan: the stored one, else drawn and stored now, so it is the plan carried out.
    Plan(PlanArgs),
    /// Attempt every planned kill that is due now, once, and exit (for cron).
    Tick(TickArgs),
    /// Terminations and skipped kills, newest first.
    History(HistoryArgs),
    /// Today's plan, what is next, eligible groups and why kills were skipped.
    Status(StatusArgs),
}

/// The config file and the store.
#[derive(Debug, Args)]
pub(super) struct Common {
    /// The monkey's config file (YAML or JSON).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Where history and plans live.
    #[command(flatten)]
    state: StateArgs,
    /// Seed for plans and victim picks (a stored plan keeps the seed it was drawn with).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    common: Common,
    /// Serve /metrics on this address (loopback unless --auth-token is given).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Bearer token required on /metrics (needed to listen beyond loopback).
    #[arg(long, env = "MONKEYWRENCH_AUTH_TOKEN")]
    auth_token: Option<String>,
}

#[derive(Debug, Args)]
struct PlanArgs {
    #[command(flatten)]
    common: Common,
    /// The day (YYYY-MM-DD, in the config's time zone) [default: today]
    #[arg(long)]
    date: Option<Date>,
    /// Text or JSON.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
struct TickArgs {
    #[command(flatten)]
    common: Common,
    /// Act as if it were this time (RFC 3339, or YYYY-MM-DDTHH:MM in the config's time zone).
    #[arg(long)]
    now: Option<String>,
    /// Text or JSON (a list of attempts).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
struct HistoryArgs {
    /// Where history lives.
    #[command(flatten)]
    state: StateArgs,
    /// Only this group.
    #[arg(long)]
    group: Option<String>,
    /// Only since this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long)]
    since: Option<String>,
    /// Only this outcome: killed, failed, target-gone, leashed, skipped, pending.
    #[arg(long)]
    outcome: Option<String>,
    /// At most this many rows.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Text table or a JSON list.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[command(flatten)]
    common: Common,
    /// Text or JSON.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

pub(super) async fn execute(args: MonkeyArgs) -> anyhow::Result<i32> {
    match args.command {
        MonkeyCommand::Run(a) => run(a).await,
        MonkeyCommand::Plan(a) => plan(a).await,
        MonkeyCommand::Tick(a) => tick(a).await,
        MonkeyCommand::History(a) => history_cmd(a).await,
        MonkeyCommand::Status(a) => super::monkey_status::execute(a.common, a.output).await,
    }
}

/// Loads the config (every problem printed, exit 64) and opens the store (exit 69 if it cannot).
pub(super) async fn open(common: &Common, clock: Clock) -> Result<Monkey, i32> {
    let config = load_config(&common.config)?;
    let store = open_store(&common.state).await?;
    Ok(Monkey::new(config, store, clock, common.seed))
}

fn load_config(path: &std::path::Path) -> Result<MonkeyConfig, i32> {
    config::load(path).map_err(|e| {
        match e {
            ConfigError::Invalid(diagnostics) => {
                for d in &diagnostics {
                    eprintln!("{d}");
                }
                eprintln!(
                    "monkeywrench: {} error(s) in the monkey config; nothing ran",
                    diagnostics.len()
                );
            }
            other => eprintln!("monkeywrench: {other}"),
        }
        exit_code::USAGE
    })
}

async fn open_store(state: &StateArgs) -> Result<Store, i32> {
    Store::open(&state.location()).await.map_err(|e| {
        eprintln!("monkeywrench: failed to {e}; nothing was killed");
        exit_code::UNAVAILABLE
    })
}

async fn run(args: RunArgs) -> anyhow::Result<i32> {
    let monkey = match open(&args.common, Clock::System).await {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let cancel = CancellationToken::new();
    // Registered before anything is announced: a SIGTERM right after start must stop us cleanly.
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("listen for SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("listen for SIGTERM")?;
    let mut server = None;
    if let Some(listen) = &args.listen {
        let listener = match http_serve::bind(listen, args.auth_token.as_deref()).await {
            Ok(l) => l,
            Err(ServeError::TokenRequired { .. }) => {
                eprintln!(
                    "monkeywrench: listening on {listen} (beyond loopback) requires --auth-token"
                );
                return Ok(exit_code::USAGE);
            }
            Err(e) => return Err(e.into()),
        };
        eprintln!(
            "monkeywrench monkey: metrics on http://{}/metrics",
            listener.local_addr()?
        );
        server = Some(tokio::spawn(crate::monkey::server::serve(
            listener,
            Arc::clone(&monkey.metrics),
            args.auth_token.clone(),
            cancel.clone(),
        )));
    }
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        stop.cancel();
    });
    let c = &monkey.config;
    eprintln!(
        "monkeywrench monkey: {}{}, window {:02}:00–{:02}:00 {}",
        if c.enabled { "enabled" } else { "disabled" },
        if c.leashed {
            ", leashed (records, never kills)"
        } else {
            ""
        },
        c.start_hour,
        c.end_hour,
        c.time_zone_name
    );
    scheduler::run(&monkey, &cancel).await;
    cancel.cancel();
    if let Some(server) = server {
        // Scrapes in flight are answered before the daemon exits.
        let _ = server.await;
    }
    monkey.notifier.drain(monkey.notifier.longest()).await;
    Ok(exit_code::OK)
}

async fn plan(args: PlanArgs) -> anyhow::Result<i32> {
    let config = match load_config(&args.common.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let today = Timestamp::now()
        .to_zoned_datetime(config.time_zone.clone())
        .date();
    let day = args.date.unwrap_or(today);
    // A plan for a later day is drawn as if made before that day starts (the whole window).
    let clock = if day > today {
        Clock::simulated(
            day.to_zoned_datetime(config.time_zone.clone())
                .map(|z| z.timestamp())
                .unwrap_or_else(|_| Timestamp::now()),
            None,
        )
    } else {
        Clock::System
    };
    let store = match open_store(&args.common.state).await {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let monkey = Monkey::new(config, store, clock, args.common.seed);
    let plan = scheduler::plan_quietly(&monkey, day)
        .await
        .or_unavailable(|| "read the stored plan".to_string())?;
    if args.output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(exit_code::OK);
    }
    let note = plan
        .note
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    println!(
        "plan for {} (seed {}): {} kill(s){note}",
        plan.date,
        plan.seed,
        plan.kills.len()
    );
    for k in &plan.kills {
        let instances = k
            .instances
            .map(|n| format!("  {n} instance(s)"))
            .unwrap_or_default();
        let done = if k.done { "  done" } else { "" };
        println!("  {}  {}{instances}{done}", k.local, k.group);
    }
    Ok(exit_code::OK)
}

/// `--now` as RFC 3339, or a civil date-time in the config's zone.
fn parse_now(text: &str, config: &MonkeyConfig) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    text.parse::<DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned_datetime(config.time_zone.clone()).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            format!(
                "--now {text:?}: expected RFC 3339 (2026-12-02T10:17:00Z) or 2026-12-02T10:17 in {}",
                config.time_zone_name
            )
        })
}

async fn tick(args: TickArgs) -> anyhow::Result<i32> {
    let config = match load_config(&args.common.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let clock = match &args.now {
        Some(text) => match parse_now(text, &config) {
            Ok(t) => Clock::simulated(t, None),
            Err(e) => {
                eprintln!("monkeywrench: {e}");
                return Ok(exit_code::USAGE);
            }
        },
        None => Clock::System,
    };
    let store = match open_store(&args.common.state).await {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let monkey = Monkey::new(config, store, clock, args.common.seed);
    let reports = match scheduler::tick(&monkey).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("monkeywrench: failed to read or store the plan: {e}; nothing was killed");
            return Ok(exit_code::UNAVAILABLE);
        }
    };
    monkey.notifier.drain(monkey.notifier.longest()).await;
    if args.output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else if reports.is_empty() {
        println!("nothing due");
    } else {
        for r in &reports {
            match &r.skipped {
                Some(reason) => println!("{}  {}  skipped: {reason}", r.at, r.group),
                None => {
                    for v in &r.victims {
                        println!(
                            "{}  {}  {}  {}",
                            r.at,
                            r.group,
                            v["instance"]["name"].as_str().unwrap_or("?"),
                            v["outcome"].as_str().unwrap_or("?")
                        );
                    }
                }
            }
        }
    }
    Ok(exit_code::OK)
}

async fn history_cmd(args: HistoryArgs) -> anyhow::Result<i32> {
    let since = match args.since.as_deref().map(parse_since).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("monkeywrench: {e}");
            return Ok(exit_code::USAGE);
        }
    };
    let store = match open_store(&args.state).await {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let filter = Filter {
        group: args.group,
        since,
        outcome: args.outcome,
        limit: Some(args.limit),
    };
    let entries = history::list(&store, &filter)
        .await
        .or_unavailable(|| "read the history".to_string())?;
    if args.output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(exit_code::OK);
    }
    if entries.is_empty() {
        println!("no terminations or skipped kills recorded");
        return Ok(exit_code::OK);
    }
    println!(
        "{:<20}  {:<24}  {:<24}  {:<18}  {:<7}  {:<11}  reason",
        "at", "group", "instance", "mode", "leashed", "outcome"
    );
    for e in &entries {
        let instance = e.instance["name"].as_str().unwrap_or("-");
        println!(
            "{:<20}  {:<24}  {:<24}  {:<18}  {:<7}  {:<11}  {}",
            e.at,
            e.group,
            instance,
            e.mode,
            if e.leashed { "yes" } else { "no" },
            e.outcome,
            e.reason.as_deref().unwrap_or("")
        );
    }
    Ok(exit_code::OK)
}

fn parse_since(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>()
        .ok()
        .or_else(|| {
            text.parse::<Date>()
                .ok()
                .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
                .map(|z| z.timestamp())
        })
        .ok_or_else(|| format!("--since {text:?}: expected RFC 3339 or YYYY-MM-DD"))
}
