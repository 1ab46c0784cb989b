//! `monkeywrench server`: experiments on schedules. Only `--check` works yet: it loads and
//! validates `server.yaml` (and every experiment file it names) and prints the next firings.

use std::path::PathBuf;

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
    /// Check the config and every experiment it names, print the next firings, and exit (0 valid, 64 invalid). The server itself is not there yet.
    #[arg(long)]
    check: bool,
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
    if !args.check {
        eprintln!(
            "monkeywrench server: the server is not available yet; use --check to validate {} and see the next firings",
            args.config.display()
        );
        return Ok(exit_code::USAGE);
    }
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
    match args.output {
        OutputFormat::Text => {
            print_diagnostics(&config.warnings, OutputFormat::Text);
            print!("{}", text(&args, &config, now));
        }
        OutputFormat::Json => println!("{}", report(&config, now, args.next)),
    }
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
        "{}: valid: {} experiment(s), store {store}, API on {} (not started: only --check works yet)\n",
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
        "warnings": config.warnings,
    })
}
