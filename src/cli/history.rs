//! `monkeywrench history`: list recorded runs (newest first, filtered, paged), `show` one with its
//! journal summary or its event stream, `prune` by the retention settings.

use clap::{Args, Subcommand};
use jiff::{Span, Timestamp, ZonedDateTime as Zoned};
use serde_json::{Value, json};

use super::failure::Blameworthy;
use super::prepare::OutputFormat;
use super::state::{StateArgs, short};
use crate::exit_code;
use crate::history::{Filter, History, HistoryError, HistoryStatus, HostIdentity, Retention};
use crate::store::Store;

/// Options of `monkeywrench history`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(super) struct HistoryArgs {
    #[command(subcommand)]
    command: Option<HistoryCommand>,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(Debug, Subcommand)]
enum HistoryCommand {
    /// Print one run: its record and a summary of its journal (or, with --events, its events).
    Show(ShowArgs),
    /// Delete runs outside the retention now (a recorded run does this on its own when it ends).
    Prune(PruneArgs),
}

/// Listing options.
#[derive(Debug, Args)]
struct ListArgs {
    /// Only runs of this experiment (its name: the server's, or the file stem for `run`).
    #[arg(long, value_name = "NAME")]
    experiment: Option<String>,
    /// Only runs with this status: running, completed, failed, aborted or interrupted.
    #[arg(long, value_parser = parse_status, value_name = "STATUS")]
    status: Option<HistoryStatus>,
    /// Only runs started at or after: RFC 3339 (2026-12-01T08:00:00Z), a date (2026-12-01, local),
    /// or a time ago (2h, 30m, "3 days ago").
    #[arg(long, value_parser = parse_time, value_name = "WHEN")]
    since: Option<Timestamp>,
    /// Only runs started before (same forms as --since).
    #[arg(long, value_parser = parse_time, value_name = "WHEN")]
    before: Option<Timestamp>,
    /// How many runs at most.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    limit: i64,
    /// Skip this many of the newest matching runs (paging).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..))]
    offset: i64,
    /// Text table or a JSON list.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
    /// Where the history lives.
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The run id or a unique prefix of it (the list shows the first 8 characters).
    id: String,
    /// Print the run's event stream instead, one JSON object per line (the --events-file format).
    #[arg(long)]
    events: bool,
    /// Text or JSON (the record and the whole journal).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Debug, Args)]
struct PruneArgs {
    #[command(flatten)]
    retention: RetentionArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
    #[command(flatten)]
    state: StateArgs,
}

/// How much history to keep (applied after every recorded run, and by `history prune`).
#[derive(Debug, Clone, Args)]
pub(super) struct RetentionArgs {
    /// History retention: keep runs started in the last N days (0: no age limit).
    #[arg(
        long,
        env = "MONKEYWRENCH_HISTORY_KEEP_DAYS",
        default_value_t = 90,
        value_name = "N"
    )]
    keep_days: u32,
    /// History retention: keep the newest N runs (0: no count limit).
    #[arg(
        long,
        env = "MONKEYWRENCH_HISTORY_KEEP_RUNS",
        default_value_t = 10_000,
        value_name = "N"
    )]
    keep_runs: u64,
}

impl RetentionArgs {
    pub(super) fn retention(&self) -> Retention {
        Retention {
            keep_days: (self.keep_days > 0).then_some(self.keep_days),
            keep_runs: (self.keep_runs > 0).then_some(self.keep_runs),
        }
    }
}

fn parse_status(s: &str) -> Result<HistoryStatus, String> {
    HistoryStatus::parse(s).ok_or_else(|| {
        let hint = crate::experiment::diagnostic::nearest(s, HistoryStatus::NAMES.iter().copied())
            .map(|n| format!(" (did you mean \"{n}\"?)"))
            .unwrap_or_default();
        format!("expected one of {}{hint}", HistoryStatus::NAMES.join(", "))
    })
}

/// RFC 3339, a civil date or date-time in the local zone, or a span back from now.
fn parse_time(s: &str) -> Result<Timestamp, String> {
    parse_time_at(s, &Zoned::now())
}

fn parse_time_at(s: &str, now: &Zoned) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned_datetime(now.time_zone().clone())
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string());
    }
    if let Ok(span) = s.parse::<Span>() {
        // "2h" and "2h ago" both mean two hours before now.
        return now
            .checked_sub(span.abs())
            .map(|z| z.timestamp())
            .map_err(|e| format!("{s:?} reaches too far back: {e}"));
    }
    Err(format!(
        "expected RFC 3339 (2026-12-01T08:00:00Z), a date (2026-12-01) or a time ago (2h, 30m, \"3 days ago\"), got {s:?}"
    ))
}

/// Opens the history and marks runs whose process died as interrupted.
async fn open(state: &StateArgs) -> anyhow::Result<History> {
    let store = Store::open(&state.location())
        .await
        .or_unavailable(|| "open the history".to_string())?;
    for id in crate::history::reap_interrupted(&store, &HostIdentity::current())
        .await
        .or_unavailable(|| "read the history".to_string())?
    {
        eprintln!(
            "monkeywrench: run {} had lost its process: marked interrupted",
            short(&id)
        );
    }
    Ok(History::new(store))
}

pub(super) async fn execute(args: HistoryArgs) -> anyhow::Result<i32> {
    match args.command {
        None => list(args.list).await,
        Some(HistoryCommand::Show(show_args)) => show(show_args).await,
        Some(HistoryCommand::Prune(prune_args)) => prune(prune_args).await,
    }
}

async fn list(args: ListArgs) -> anyhow::Result<i32> {
    let history = open(&args.state).await?;
    let filter = Filter {
        experiment: args.experiment.clone(),
        status: args.status,
        since: args.since,
        before: args.before,
        limit: args.limit,
        offset: args.offset,
    };
    let runs = history
        .list(&filter)
        .await
        .or_unavailable(|| "read the history".to_string())?;
    history.store().close().await;
    if args.output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(exit_code::OK);
    }
    if runs.is_empty() {
        println!("no runs");
        return Ok(exit_code::OK);
    }
    let width = runs
        .iter()
        .map(|r| r.experiment.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(10, 40);
    println!(
        "{:<8}  {:<width$}  {:<8}  {:<19}  {:>9}  {:<11}  deviated",
        "id", "experiment", "trigger", "started (UTC)", "duration", "status"
    );
    for r in runs {
        let duration = match r.ended_at {
            Some(_) => format!("{:.1}s", r.duration_s()),
            None => "-".to_string(),
        };
        println!(
            "{:<8}  {:<width$}  {:<8}  {:<19}  {:>9}  {:<11}  {}",
            short(&r.id),
            truncate(&r.experiment, width),
            r.trigger.name(),
            r.started_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            duration,
            r.status.name(),
            if r.deviated { "yes" } else { "no" }
        );
    }
    Ok(exit_code::OK)
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}

async fn show(args: ShowArgs) -> anyhow::Result<i32> {
    let history = open(&args.state).await?;
    let id = match history.resolve(&args.id).await {
        Ok(id) => id,
        Err(
            e @ (HistoryError::NotFound(_)
            | HistoryError::Ambiguous { .. }
            | HistoryError::BadPrefix(_)),
        ) => {
            return Err(e).or_usage(|| "show the run".to_string());
        }
        Err(e) => return Err(e).or_unavailable(|| "read the history".to_string()),
    };
    let read = || "read the history".to_string();
    if args.events {
        for e in history.events(&id).await.or_unavailable(read)? {
            println!("{}", serde_json::to_string(&e.event)?);
        }
        return Ok(exit_code::OK);
    }
    let Some(run) = history.get(&id).await.or_unavailable(read)? else {
        return Err(HistoryError::NotFound(id)).or_usage(|| "show the run".to_string());
    };
    let journal = history.journal(&id).await.or_unavailable(read)?;
    history.store().close().await;
    if args.output == OutputFormat::Json {
        let mut doc = serde_json::to_value(&run)?;
        doc["journal"] = journal.unwrap_or(Value::Null);
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(exit_code::OK);
    }
    println!("run         {}", run.id);
    println!("experiment  {} ({})", run.experiment, run.title);
    println!("file        {} (sha256 {})", run.file_path, run.file_sha256);
    println!(
        "trigger     {}{}",
        run.trigger.name(),
        run.trigger_detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    );
    println!("host        {} (pid {})", run.host, run.pid);
    println!("started     {}", run.started_at);
    match run.ended_at {
        Some(end) => println!("ended       {end} ({:.1}s)", run.duration_s()),
        None => println!("ended       - (running for {:.0}s)", run.duration_s()),
    }
    println!(
        "status      {}{}",
        run.status.name(),
        run.outcome
            .as_deref()
            .map(|o| format!(", outcome {o}"))
            .unwrap_or_default()
    );
    println!("deviated    {}", if run.deviated { "yes" } else { "no" });
    if let Some(code) = run.exit_code {
        println!("exit code   {code}");
    }
    if let Some(note) = &run.note {
        println!("note        {note}");
    }
    if let Some(j) = journal {
        for line in journal_summary(&j) {
            println!("{line}");
        }
    }
    Ok(exit_code::OK)
}

/// The journal in a few lines: steady states, activities, faults, interruption, warnings.
fn journal_summary(j: &Value) -> Vec<String> {
    let met = |phase: &str| match &j["steady_states"][phase] {
        Value::Null => "not checked".to_string(),
        s => match s["steady_state_met"] {
            Value::Bool(true) => "met".to_string(),
            Value::Bool(false) => "NOT met".to_string(),
            _ => "not judged".to_string(),
        },
    };
    let count = |v: &Value| -> (usize, usize) {
        let list = v.as_array().map(Vec::as_slice).unwrap_or_default();
        let failed = list.iter().filter(|e| e["status"] == "failed").count();
        (list.len(), failed)
    };
    let (run, run_failed) = count(&j["run"]);
    let (rollbacks, rollbacks_failed) = count(&j["rollbacks"]);
    let faults = j["monkeywrench"]["faults"].as_array().map_or(0, Vec::len);
    let mut lines = vec![
        format!(
            "steady state before: {}, after: {}",
            met("before"),
            met("after")
        ),
        format!(
            "activities  {run} in the method ({run_failed} failed), {rollbacks} rollbacks ({rollbacks_failed} failed), {faults} faults"
        ),
    ];
    if let Some(reason) = j["interruption"]["reason"].as_str() {
        lines.push(format!("interrupted {reason}"));
    }
    for w in j["monkeywrench"]["warnings"]
        .as_array()
        .into_iter()
        .flatten()
    {
        lines.push(format!(
            "warning     {}",
            w.as_str().unwrap_or(&w.to_string())
        ));
    }
    lines
}

async fn prune(args: PruneArgs) -> anyhow::Result<i32> {
    let history = open(&args.state).await?;
    let pruned = args
        .retention
        .retention()
        .apply(history.store(), Timestamp::now())
        .await
        .or_unavailable(|| "prune the history".to_string())?;
    history.store().close().await;
    if args.output == OutputFormat::Json {
        println!("{}", json!(pruned));
    } else {
        println!("pruned {} runs ({} events)", pruned.runs, pruned.events);
    }
    Ok(exit_code::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_every_documented_form() {
        let now: Zoned = "2026-12-02T12:00:00+01:00[Europe/Berlin]".parse().unwrap();
        let at = |s: &str| parse_time_at(s, &now).unwrap().to_string();
        assert_eq!(at("2026-12-01T08:00:00Z"), "2026-12-01T08:00:00Z");
        assert_eq!(at("2026-12-01"), "2026-11-30T23:00:00Z");
        assert_eq!(at("2h"), "2026-12-02T09:00:00Z");
        assert_eq!(at("2h ago"), "2026-12-02T09:00:00Z");
        assert_eq!(at("3 days ago"), "2026-11-29T11:00:00Z");
        assert_eq!(at("30m"), "2026-12-02T10:30:00Z");
        let err = parse_time_at("yesterday-ish", &now).unwrap_err();
        assert!(err.contains("expected RFC 3339"), "{err}");
    }

    #[test]
    fn statuses_suggest_the_nearest_word() {
        assert_eq!(parse_status("failed").unwrap(), HistoryStatus::Failed);
        let err = parse_status("interupted").unwrap_err();
        assert!(err.contains("did you mean \"interrupted\""), "{err}");
    }
}
