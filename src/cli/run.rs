//! `monkeywrench run`: run an experiment, write its journal, exit with a meaningful code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tokio::sync::mpsc;

use super::failure::Blameworthy;
use super::prepare::{OutputFormat, SourceArgs, prepare};
use crate::exit_code;
use crate::experiment::dispatcher::{Dispatcher, EventSink};
use crate::experiment::engine::{self, Interrupt, RunSettings};
use crate::experiment::event::{Interruption, InterruptionKind, RunStatus};
use crate::experiment::journal::{DuringJournal, write_atomic};
use crate::experiment::model::{DryMode, HypothesisStrategy, RollbackStrategy};
use crate::experiment::progress::{NdjsonSink, ProgressView};
use crate::history::{HostIdentity, Recorder, RunMeta, Trigger};

/// Options of `monkeywrench run`.
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// Source and override options.
    #[command(flatten)]
    pub source: SourceArgs,
    /// When to check the steady-state hypothesis (overrides the file's runtime block).
    #[arg(long, value_parser = parse_hypothesis_strategy, value_name = "STRATEGY")]
    pub hypothesis_strategy: Option<HypothesisStrategy>,
    /// Seconds between during-method hypothesis iterations (overrides the file's runtime block;
    /// default 1).
    #[arg(long, value_name = "SECONDS")]
    pub hypothesis_frequency: Option<f64>,
    /// Stop the method at the first deviating during-iteration (cancels running work at once;
    /// also turned on by the file's runtime.hypothesis.fail_fast).
    #[arg(long)]
    pub fail_fast: bool,
    /// When to play rollbacks (overrides the file's runtime block).
    #[arg(long, value_parser = parse_rollback_strategy, value_name = "STRATEGY")]
    pub rollback_strategy: Option<RollbackStrategy>,
    /// Where to write the journal.
    #[arg(long, default_value = "./journal.json", value_name = "PATH")]
    pub journal_path: PathBuf,
    /// Don't execute the selected activities (their output is null).
    #[arg(long, value_enum, value_name = "MODE")]
    pub dry: Option<DryArg>,
    /// Print the plan (substituted, redacted activities) and execute nothing; no journal.
    #[arg(long)]
    pub dry_run: bool,
    /// Accepted for Chaos Toolkit compatibility: validation always runs (an invalid file cannot run).
    #[arg(long)]
    pub no_validation: bool,
    /// Write run events as NDJSON to this file: one object per line, `{"at", "elapsed_s", "event",
    /// …}`, the last `run-finished` with the verdict; the lines rebuild the journal exactly.
    #[arg(long, value_name = "PATH")]
    pub events_file: Option<PathBuf>,
    /// Cap on the run, e.g. 90s, 15m, 1h; expiry acts like SIGTERM.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub max_duration: Option<Duration>,
    /// Target-selection seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Keep every during iteration in the journal, or only changes.
    #[arg(long, value_enum, default_value_t = DuringArg::Full)]
    pub during_journal: DuringArg,
    /// Exit like Chaos Toolkit: 0, or 1 when the run failed or deviated.
    #[arg(long)]
    pub ctk_exit_codes: bool,
    /// Where the ledger lives (used when the experiment applies faults).
    #[command(flatten)]
    pub state: super::state::StateArgs,
    /// Don't record this run in the history (by default every run is stored with its events;
    /// see `monkeywrench history`).
    #[arg(long, env = "MONKEYWRENCH_NO_HISTORY", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_history: bool,
    /// The name the run is listed under in the history [default: the file name without its
    /// extension].
    #[arg(long, value_name = "NAME")]
    pub experiment_name: Option<String>,
    /// Also write the run as JUnit XML (one test case per steady-state probe, activity and
    /// rollback, and one for the verdict) for CI.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub retention: super::history::RetentionArgs,
    /// What started the run (a server passes schedule or api).
    #[arg(long, hide = true, value_parser = parse_trigger, default_value = "cli")]
    pub trigger: Trigger,
    /// Which schedule or API client started it.
    #[arg(long, hide = true)]
    pub trigger_detail: Option<String>,
    /// The run's id, chosen by whoever started it (a UUID).
    #[arg(long, hide = true, value_parser = parse_run_id)]
    pub run_id: Option<String>,
    /// Accepted for Chaos Toolkit compatibility; monkeywrench never phones home.
    #[arg(long, hide = true)]
    pub no_version_check: bool,
}

/// `--dry` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DryArg {
    /// Probes don't execute.
    Probes,
    /// Actions don't execute.
    Actions,
    /// Nothing executes.
    Activities,
    /// Pauses are skipped.
    Pause,
}

impl From<DryArg> for DryMode {
    fn from(d: DryArg) -> Self {
        match d {
            DryArg::Probes => DryMode::Probes,
            DryArg::Actions => DryMode::Actions,
            DryArg::Activities => DryMode::Activities,
            DryArg::Pause => DryMode::Pause,
        }
    }
}

/// `--during-journal` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum DuringArg {
    /// Every iteration.
    Full,
    /// First, last and changed iterations.
    Changes,
}

fn parse_hypothesis_strategy(s: &str) -> Result<HypothesisStrategy, String> {
    if s == "continously" {
        return Ok(HypothesisStrategy::Continuously);
    }
    HypothesisStrategy::parse(s).ok_or_else(|| {
        let hint = crate::experiment::diagnostic::nearest(s, HypothesisStrategy::NAMES)
            .map(|n| format!(" (did you mean \"{n}\"?)"))
            .unwrap_or_default();
        format!(
            "expected one of {}{hint}",
            HypothesisStrategy::NAMES.join(", ")
        )
    })
}

fn parse_rollback_strategy(s: &str) -> Result<RollbackStrategy, String> {
    RollbackStrategy::parse(s).ok_or_else(|| {
        let hint = crate::experiment::diagnostic::nearest(s, RollbackStrategy::NAMES)
            .map(|n| format!(" (did you mean \"{n}\"?)"))
            .unwrap_or_default();
        format!(
            "expected one of {}{hint}",
            RollbackStrategy::NAMES.join(", ")
        )
    })
}

fn parse_trigger(s: &str) -> Result<Trigger, String> {
    Trigger::parse(s).ok_or_else(|| format!("expected one of {}", Trigger::NAMES.join(", ")))
}

fn parse_run_id(s: &str) -> Result<String, String> {
    uuid::Uuid::parse_str(s)
        .map(|u| u.hyphenated().to_string())
        .map_err(|e| format!("expected a UUID: {e}"))
}

/// The history name of a source: its file name without the extension.
fn experiment_name(source: &str) -> String {
    let last = source
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(source);
    let last = last.split(['?', '#']).next().unwrap_or(last);
    let stem = std::path::Path::new(last)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stem.is_empty() {
        source.to_string()
    } else {
        stem
    }
}

/// Parses `90`, `90s`, `1.5m`, `2h`, `500ms`.
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 90s, 15m or 1h, got {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown duration unit {unit:?}; use ms, s, m or h")),
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("duration must be positive, got {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Runs the subcommand; returns the exit code.
pub(super) async fn execute(args: RunArgs) -> anyhow::Result<i32> {
    if args
        .hypothesis_frequency
        .is_some_and(|f| !(f.is_finite() && f > 0.0))
    {
        eprintln!("monkeywrench: --hypothesis-frequency must be a positive number of seconds");
        return Ok(exit_code::USAGE);
    }
    let dry = args.dry.map(DryMode::from);
    let Ok(prepared) = prepare(&args.source, dry, OutputFormat::Text).await else {
        return Ok(exit_code::USAGE);
    };
    let state = engine::StateConfig {
        dir: args.state.dir(),
        store: args.state.store.clone(),
        exe: std::env::current_exe().ok(),
    };
    if args.dry_run {
        super::plan::print_plan(&prepared.experiment, &prepared, Some(&state), args.seed).await?;
        return Ok(exit_code::OK);
    }
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let settings = RunSettings {
        hypothesis_strategy: args.hypothesis_strategy,
        rollback_strategy: args.rollback_strategy,
        hypothesis_frequency: args.hypothesis_frequency.map(Duration::from_secs_f64),
        fail_fast: args.fail_fast,
        dry,
        during_journal: match args.during_journal {
            DuringArg::Full => DuringJournal::Full,
            DuringArg::Changes => DuringJournal::Changes,
        },
        max_duration: args.max_duration,
        verify_tls: !args.source.no_verify_tls,
        seed: args.seed,
        cwd: std::env::current_dir().context("read the working directory")?,
        env_overlay: prepared
            .env_overlay
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        state: Some(state),
        python: Some(prepared.python.clone()),
        run_id: Some(run_id.clone()),
    };

    let mut sinks: Vec<Box<dyn EventSink>> = Vec::new();
    let json_output = args.source.output == OutputFormat::Json;
    sinks.push(Box::new(ProgressView::new(
        std::io::stderr().is_terminal(),
        json_output,
    )));
    if json_output {
        sinks.push(Box::new(NdjsonSink::new(std::io::stdout())));
    }
    // Both outputs are checked before anything runs: a run whose journal cannot be written is
    // wasted, and its faults were real.
    probe_writable(&args.journal_path)
        .or_usage(|| format!("write the journal {}", args.journal_path.display()))?;
    if let Some(path) = &args.events_file {
        let file = std::fs::File::create(path)
            .or_usage(|| format!("create the events file {}", path.display()))?;
        sinks.push(Box::new(NdjsonSink::new(std::io::BufWriter::new(file))));
    }
    if let Some(path) = &args.junit {
        probe_writable(path).or_usage(|| format!("write the JUnit file {}", path.display()))?;
    }
    let recorder = (!args.no_history).then(|| {
        let meta = RunMeta {
            id: run_id.clone(),
            experiment: args
                .experiment_name
                .clone()
                .unwrap_or_else(|| experiment_name(&args.source.source)),
            title: prepared.experiment.title.clone(),
            file_path: absolute(&args.source.source),
            file_sha256: prepared.source_sha256.clone(),
            trigger: args.trigger,
            trigger_detail: args.trigger_detail.clone(),
        };
        let (recorder, sink) =
            Recorder::start(args.state.location(), meta, HostIdentity::current(), true);
        sinks.push(Box::new(sink));
        recorder
    });
    let (dispatcher, events) = Dispatcher::start(sinks);
    let (interrupt_tx, interrupt_rx) = mpsc::unbounded_channel();
    let signals = spawn_signal_listeners(interrupt_tx)?;

    let super::prepare::Prepared {
        experiment,
        env_overlay,
        ..
    } = prepared;
    let env = |k: &str| super::prepare::lookup(&env_overlay, k);
    let result = engine::run(experiment, settings, events, interrupt_rx, &env).await;
    for s in signals {
        s.abort();
    }
    let report = match result {
        Ok(report) => report,
        Err(err) => {
            eprintln!("monkeywrench: failed to {err}");
            if let Some(recorder) = recorder {
                drop(dispatcher);
                recorder.abandon(&format!("failed to {err}")).await;
            }
            return Ok(exit_code::USAGE);
        }
    };
    let Some(journal) = dispatcher.finish().await else {
        eprintln!("monkeywrench: the event dispatcher stopped unexpectedly; no journal written");
        if let Some(recorder) = recorder {
            recorder
                .abandon("the event dispatcher stopped unexpectedly")
                .await;
        }
        return Ok(exit_code::INTERNAL);
    };
    let doc = journal.to_json();
    // Stored before the files are written, so a journal path that broke meanwhile still leaves
    // the run's verdict in the history.
    if let Some(recorder) = recorder {
        let (recorded, _) = recorder
            .finish(&doc, &report.verdict, args.retention.retention())
            .await;
        if recorded && !json_output {
            eprintln!(
                "run recorded in the history as {}",
                super::state::short(&run_id)
            );
        }
    }
    if let Err(err) = write_atomic(&args.journal_path, &doc) {
        // Writable when the run started, so something changed under us (a full disk, a removed
        // directory): still the journal path's fault, but say what the run itself concluded.
        eprintln!(
            "monkeywrench: failed to write the journal {}: {err} (the run itself would have exited {})",
            args.journal_path.display(),
            report.verdict.exit_code
        );
        return Ok(exit_code::USAGE);
    }
    if !json_output {
        eprintln!("journal written to {}", args.journal_path.display());
    }
    if let Some(path) = &args.junit
        && let Err(err) = std::fs::write(path, crate::history::junit::from_journal(&doc))
    {
        eprintln!(
            "monkeywrench: failed to write the JUnit file {}: {err} (the run itself would have exited {})",
            path.display(),
            report.verdict.exit_code
        );
        return Ok(exit_code::USAGE);
    }
    let verdict = report.verdict;
    // Unavailable keeps its code under `--ctk-exit-codes`, as it does before the run starts.
    if args.ctk_exit_codes && verdict.exit_code != exit_code::UNAVAILABLE {
        let failed = verdict.deviated
            || matches!(
                verdict.status,
                RunStatus::Failed | RunStatus::Aborted | RunStatus::Interrupted
            );
        return Ok(if failed {
            exit_code::ctk::FAILED
        } else {
            exit_code::ctk::OK
        });
    }
    Ok(verdict.exit_code)
}

/// The source as an absolute path (URLs as they are).
fn absolute(source: &str) -> String {
    if source.contains("://") {
        return source.to_string();
    }
    std::path::absolute(source)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| source.to_string())
}

/// Whether the journal can be written where `write_atomic` will write it: a temporary file beside
/// it, renamed over it (so the directory must take new files and the path must not be a directory).
fn probe_writable(path: &std::path::Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let probe = dir.join(format!(".monkeywrench-probe.{}.tmp", std::process::id()));
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
}

/// SIGINT, SIGTERM, SIGUSR1 interrupt (rollbacks follow); SIGUSR2 interrupts without rollbacks.
fn spawn_signal_listeners(
    tx: mpsc::UnboundedSender<Interrupt>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    use tokio::signal::unix::{SignalKind, signal};
    let kinds = [
        (SignalKind::interrupt(), "SIGINT", false),
        (SignalKind::terminate(), "SIGTERM", false),
        (SignalKind::user_defined1(), "SIGUSR1", false),
        (SignalKind::user_defined2(), "SIGUSR2", true),
    ];
    let mut handles = Vec::new();
    for (kind, name, skip_rollbacks) in kinds {
        let mut stream = signal(kind).with_context(|| format!("listen for {name}"))?;
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            while stream.recv().await.is_some() {
                let _ = tx.send(Interrupt {
                    interruption: Interruption {
                        kind: InterruptionKind::Signal,
                        name: name.into(),
                        reason: format!("received {name}"),
                    },
                    skip_rollbacks,
                });
            }
        }));
    }
    Ok(handles)
}
