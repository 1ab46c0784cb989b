//! `monkeywrench server`: experiments on schedules, with a run history, an HTTP API, metrics,
//! webhooks and the dashboard at `/`. `--check` loads and validates `server.yaml` (and every
//! experiment file it names) and prints the next firings; without it the server runs until
//! SIGTERM or SIGINT.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::prepare::{OutputFormat, print_diagnostics};
use crate::exit_code;
use crate::server::config::{self, ConfigError, LoadConfig, ServerConfig};
use crate::server::schedule::Overlap;

/// Options of `monkeywrench server`.
#[derive(Debug, Args)]
pub(super) struct ServerArgs {
    /// The server config (YAML or JSON).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Check the config and every experiment it names, print the next firings, and exit (0 valid, 64 invalid).
    #[arg(long)]
    check: bool,
    /// Address of the API, `host:port` (overrides the config's `listen`; port 0 picks a free
    /// port). Beyond loopback a token is required.
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Write the bound address (`127.0.0.1:PORT`) to this file once the API listens.
    #[arg(long, value_name = "PATH")]
    address_file: Option<PathBuf>,
    /// The state directory and the store (the config's `store` wins over `--store`).
    #[command(flatten)]
    state: super::state::StateArgs,
    /// How many upcoming firings to print per experiment.
    #[arg(long, value_name = "N", default_value_t = 5)]
    next: usize,
    /// Plan from this time instead of now (RFC 3339, e.g. 2026-03-28T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    from: Option<Timestamp>,
    /// Bearer token the API will require (needed to listen beyond loopback).
    #[arg(long, env = "MONKEYWRENCH_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Text, or JSON on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

/// Runs the subcommand; returns the exit code.
pub(super) async fn execute(args: ServerArgs) -> anyhow::Result<i32> {
    let now = args.from.unwrap_or_else(Timestamp::now);
    let options = LoadConfig {
        token_given: args.auth_token.as_deref().is_some_and(|t| !t.is_empty()),
        now,
    };
    let config = match config::load(&args.config, &options).await {
        Ok(c) => c,
        Err(ConfigError::Invalid(diagnostics)) => {
            print_diagnostics(&diagnostics, args.output);
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            eprintln!(
                "monkeywrench server: {errors} error(s) in {}; nothing was scheduled",
                args.config.display()
            );
            return Ok(exit_code::USAGE);
        }
        Err(e @ ConfigError::Read { .. }) => {
            eprintln!("monkeywrench server: failed to {e}");
            return Ok(exit_code::USAGE);
        }
    };
    if !args.check {
        print_diagnostics(&config.warnings, OutputFormat::Text);
        return serve(args, config).await;
    }
    match args.output {
        OutputFormat::Text => {
            print_diagnostics(&config.warnings, OutputFormat::Text);
            print!("{}", text(&args, &config, now));
        }
        OutputFormat::Json => println!("{}", report(&config, now, args.next)),
    }
    Ok(exit_code::OK)
}

/// Runs the server until SIGTERM or SIGINT.
async fn serve(args: ServerArgs, config: ServerConfig) -> anyhow::Result<i32> {
    use crate::server::daemon::{Options, Server, ServerError};
    let listen = args.listen.clone().unwrap_or_else(|| config.listen.clone());
    let token = args.auth_token.clone().filter(|t| !t.is_empty());
    let listener = match crate::http_serve::bind(&listen, token.as_deref()).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("monkeywrench server: failed to {e}");
            return Ok(exit_code::USAGE);
        }
    };
    let location = config
        .store
        .clone()
        .unwrap_or_else(|| args.state.location());
    let options = Options {
        config,
        location,
        state_dir: args.state.dir(),
        exe: std::env::current_exe().context("find the monkeywrench binary")?,
        config_dir: std::path::absolute(
            args.config
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new(".")),
        )
        .context("resolve the config's directory")?,
        token: token.clone(),
    };
    let server = match Server::open(options, crate::monkey::clock::Clock::System).await {
        Ok(s) => s,
        Err(e @ (ServerError::Store(_) | ServerError::Prepare(_))) => {
            eprintln!("monkeywrench server: failed to {e}; nothing was scheduled");
            return Ok(exit_code::UNAVAILABLE);
        }
        Err(e @ ServerError::RunsDir { .. }) => {
            eprintln!("monkeywrench server: failed to {e}");
            return Ok(exit_code::USAGE);
        }
    };
    let addr = listener.local_addr().context("read the bound address")?;
    if let Some(path) = &args.address_file {
        // Written whole under a temporary name, so a reader never sees half an address.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, addr.to_string())
            .and_then(|()| std::fs::rename(&tmp, path))
            .with_context(|| format!("write the address file {}", path.display()))?;
    }
    eprintln!(
        "monkeywrench server: listening on http://{addr} (dashboard at http://{addr}/; {} experiment(s); SIGTERM or SIGINT stops it)",
        server.shared().config.experiments.len()
    );
    let stop = tokio_util::sync::CancellationToken::new();
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("listen for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("listen for SIGINT")?;
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            eprintln!(
                "monkeywrench server: stopping: no new firings; running runs are interrupted"
            );
            stop.cancel();
        });
    }
    server.run(listener, token, Vec::new(), stop).await;
    eprintln!("monkeywrench server: stopped");
    Ok(exit_code::OK)
}

/// The next `n` firings of each experiment: (planned, due) pairs.
fn upcoming(config: &ServerConfig, now: Timestamp, n: usize) -> Vec<Vec<(Timestamp, Timestamp)>> {
    config
        .experiments
        .iter()
        .map(|e| {
            let mut out = Vec::new();
            let mut t = now;
            while out.len() < n {
                let Some(planned) = e.schedule.next_after(t) else {
                    break;
                };
                out.push((planned, e.schedule.due(&e.name, planned, config.seed)));
                t = planned;
            }
            out
        })
        .collect()
}

fn text(args: &ServerArgs, config: &ServerConfig, now: Timestamp) -> String {
    let store = config.store.as_ref().map_or(
        "the state directory's ledger.db".to_string(),
        ToString::to_string,
    );
    let mut out = format!(
        "{}: valid: {} experiment(s), store {store}, API on {}\n",
        args.config.display(),
        config.experiments.len(),
        config.listen
    );
    for (e, next) in config
        .experiments
        .iter()
        .zip(upcoming(config, now, args.next))
    {
        let s = &e.schedule;
        let mut rules = vec![
            format!("in {}", s.tz_name),
            format!("overlap {}", s.overlap.as_str()),
        ];
        if let Some(j) = s.jitter {
            rules.push(format!("jitter up to {j:#}"));
        }
        if s.window.is_some() {
            rules.push("inside its window".into());
        }
        if !e.targets.is_empty() {
            rules.push(format!(
                "targets {}",
                e.targets.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        out.push_str(&format!(
            "\n{} ({}): {} ({})\n",
            e.name,
            e.file_text,
            s.trigger.describe(),
            rules.join(", ")
        ));
        for (planned, due) in next {
            let local = planned.to_zoned_datetime(s.tz.clone());
            let mut line = format!(
                "  {}  ({})",
                local.strftime("%Y-%m-%d %H:%M:%S %Z (%:z)"),
                crate::monkey::history::format_time(&planned)
            );
            if due != planned {
                line.push_str(&format!(
                    ", starts {}",
                    crate::monkey::history::format_time(&due)
                ));
            }
            out.push_str(&line);
            out.push('\n');
        }
        if s.overlap == Overlap::Queue {
            out.push_str("  (a firing due while the previous run goes on waits for it)\n");
        }
    }
    if let Some(m) = &config.monkey {
        out.push_str(&format!(
            "\nmonkey {}: {}{}, window {:02}:00–{:02}:00 {} (`monkeywrench monkey plan` shows its day)\n",
            m.name,
            if m.enabled { "enabled" } else { "disabled" },
            if m.leashed { ", leashed" } else { "" },
            m.start_hour,
            m.end_hour,
            m.time_zone_name
        ));
    }
    out
}

fn report(config: &ServerConfig, now: Timestamp, n: usize) -> Value {
    let experiments: Vec<Value> = config
        .experiments
        .iter()
        .zip(upcoming(config, now, n))
        .map(|(e, next)| {
            json!({
                "name": e.name,
                "file": e.file.display().to_string(),
                "schedule": e.schedule.trigger.describe(),
                "time_zone": e.schedule.tz_name,
                "overlap": e.schedule.overlap.as_str(),
                "targets": e.targets,
                "next": next.iter().map(|(planned, due)| json!({
                    "planned": crate::monkey::history::format_time(planned),
                    "local": planned.to_zoned_datetime(e.schedule.tz.clone()).to_string(),
                    "due": crate::monkey::history::format_time(due),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "listen": config.listen,
        "store": config.store.as_ref().map(ToString::to_string),
        "experiments": experiments,
        "monkey": config.monkey.as_ref().map(|m| {
            let mut summary = crate::monkey::status::summary(m);
            summary["name"] = json!(m.name);
            summary
        }),
        "warnings": config.warnings,
    })
}
