//! The top-level clap types, the runtime, and dispatch to one file per subcommand.

use clap::{Parser, Subcommand};

use super::{
    demo, failure, guard, halt, history, ledger, load, monkey, proxy, report, run, server,
    stressor, targets, validate, work,
};
use crate::exit_code;

/// The `--help` exit-code section, generated from [`exit_code::TABLE`] (the README's table is
/// checked against the same list).
fn exit_codes_help() -> String {
    const WIDTH: usize = 100;
    const INDENT: usize = 2 + 4 + 17;
    let mut text = String::from("Exit codes:");
    for d in exit_code::TABLE {
        let meaning = d.meaning.replace('`', "");
        let mut line = format!("\n  {:<4}{:<17}", d.code, d.name);
        let mut used = INDENT;
        for word in meaning.split(' ') {
            if used > INDENT && used + 1 + word.len() > WIDTH {
                line.push_str(&format!("\n{:INDENT$}", ""));
                used = INDENT;
            } else if used > INDENT {
                line.push(' ');
                used += 1;
            }
            line.push_str(word);
            used += word.len();
        }
        text.push_str(&line);
    }
    text.push_str(&format!(
        "\n\nWhen several apply, the first of {} wins. With --ctk-exit-codes, run exits as chaos run does: {} when the steady state held, {} when the run deviated, failed, was aborted or interrupted.",
        exit_code::precedence_text(),
        exit_code::ctk::OK,
        exit_code::ctk::FAILED
    ));
    text
}

/// monkeywrench: state the steady state, inject real faults, watch, revert.
#[derive(Debug, Parser)]
#[command(name = "monkeywrench", version, about, long_about = None, after_help = exit_codes_help())]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a chaos experiment (Chaos Toolkit JSON/YAML, unchanged).
    #[command(after_help = exit_codes_help())]
    Run(run::RunArgs),
    /// Check an experiment file and report every problem at once (exit 0 or 64).
    Validate(validate::ValidateArgs),
    /// The story on loopback: the demo service as three replicas behind a balanced proxy, load
    /// through it, an experiment that freezes a replica (holds) and one that adds 503s (breaks),
    /// live figures, HTML reports; `--serve` then keeps the dashboard up.
    Demo(demo::DemoArgs),
    /// The Toxiproxy-compatible fault proxy (`proxy serve`).
    Proxy(proxy::ProxyArgs),
    /// Revert every active fault and refuse new ones until `resume`.
    Halt(halt::HaltArgs),
    /// Allow faults again after `halt`.
    Resume(halt::ResumeArgs),
    /// List leases (active first) with age, deadline and owner.
    Ledger(ledger::LedgerArgs),
    /// List recorded runs (newest first), `show` one with its journal or events, `prune` old ones.
    History(history::HistoryArgs),
    /// A run as one self-contained HTML file (charts, faults, activities) or Markdown for CI.
    Report(report::ReportArgs),
    /// Preview which processes (with --docker: containers) a selector matches and which a mode/seed would pick.
    Targets(targets::TargetsArgs),
    /// Watch the ledger and revert faults whose deadline passed or whose owner died.
    Guard(guard::GuardArgs),
    /// The Chaos Monkey: random terminations of opted-in instances in working hours.
    Monkey(monkey::MonkeyArgs),
    /// Send HTTP load: open model (a shaped rate, coordinated-omission corrected) or closed model.
    Load(load::LoadArgs),
    /// Experiments on schedules, with an API and a dashboard at `/`; `--check` validates server.yaml.
    Server(server::ServerArgs),
    /// Run owner-bound work (started by monkeywrench itself for live faults; dies with its owner).
    #[command(hide = true)]
    Work(work::WorkArgs),
    /// Run one stressor of a stress fault (exec'd by `work` once its lease is recorded).
    #[command(hide = true)]
    Stressor(stressor::StressorArgs),
}

/// Entry point used by `main.rs`: returns the process exit code.
pub fn main() -> i32 {
    let argv = proxy::go_style_flags(std::env::args().collect());
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => exit_code::OK,
                _ => exit_code::USAGE,
            };
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // MONKEYWRENCH_WORKER_THREADS tunes the runtime (e.g. 1 for a proxy sharing a small machine).
    if let Some(n) = std::env::var("MONKEYWRENCH_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        builder.worker_threads(n);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("monkeywrench: failed to start the async runtime: {err}");
            return exit_code::INTERNAL;
        }
    };
    runtime.block_on(dispatch(cli.command))
}

async fn dispatch(command: Command) -> i32 {
    let result = match command {
        Command::Run(args) => run::execute(args).await,
        Command::Validate(args) => validate::execute(args).await,
        Command::Demo(args) => demo::execute(args).await,
        Command::Proxy(args) => proxy::execute(args).await,
        Command::Halt(args) => halt::halt(args).await,
        Command::Resume(args) => halt::resume(args).await,
        Command::Ledger(args) => ledger::execute(args).await,
        Command::History(args) => history::execute(args).await,
        Command::Report(args) => report::execute(args).await,
        Command::Targets(args) => targets::execute(args).await,
        Command::Guard(args) => guard::execute(args).await,
        Command::Monkey(args) => monkey::execute(args).await,
        Command::Load(args) => load::execute(args).await,
        Command::Server(args) => server::execute(args).await,
        Command::Work(args) => work::execute(args),
        Command::Stressor(args) => stressor::execute(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("monkeywrench: failed to {err:#}");
            failure::exit_code_of(&err)
        }
    }
}
