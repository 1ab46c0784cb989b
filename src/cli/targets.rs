//! `monkeywrench targets`: preview which processes (or, with `--docker`, containers) a selector
//! matches and which victims a mode and seed would pick (a dry run; nothing is touched).

use clap::{Args, ValueEnum};

use super::state::StateArgs;
use crate::exit_code;
use crate::ledger::guard::guard_pid;
use crate::target::container_selector::ContainerSelector;
use crate::target::docker::Engine;
use crate::target::protected::Protected;
use crate::target::selector::{Pick, ProcessSelector, pick};

/// Blast-radius modes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum ModeArg {
    /// One victim.
    One,
    /// Every match.
    All,
    /// `--value` victims.
    Fixed,
    /// `--value` percent of the matches (at least one).
    FixedPercent,
    /// Up to `--value` percent, drawn at random (may be none).
    RandomMaxPercent,
}

/// Options of `monkeywrench targets`.
#[derive(Debug, Args)]
pub(super) struct TargetsArgs {
    /// Selector as JSON, e.g. '{"name": "nginx"}' or '{"pattern": "worker --queue=\\w+"}'; with
    /// --docker a container selector, e.g. '{"labels": {"app": "web"}}' or '{"service": "api"}'.
    pub selector: String,
    /// The selector picks Docker containers (running ones; `monkeywrench.skip=true` never matches).
    #[arg(long)]
    pub docker: bool,
    /// How many to pick.
    #[arg(long, value_enum, default_value_t = ModeArg::One)]
    pub mode: ModeArg,
    /// The count or percentage for fixed / fixed-percent / random-max-percent.
    #[arg(long)]
    pub value: Option<f64>,
    /// Seed for the pick (printed so a run can reproduce it).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the ledger lives (to exclude a running guard).
    #[command(flatten)]
    pub state: StateArgs,
}

/// Prints matches and the picked victims.
pub(super) async fn execute(args: TargetsArgs) -> anyhow::Result<i32> {
    let value: serde_json::Value = match serde_json::from_str(&args.selector) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("monkeywrench: selector is not JSON: {e}");
            return Ok(exit_code::USAGE);
        }
    };
    let mode = match (args.mode, args.value) {
        (ModeArg::One, _) => Pick::One,
        (ModeArg::All, _) => Pick::All,
        (ModeArg::Fixed, Some(v)) => Pick::Fixed(v as u64),
        (ModeArg::FixedPercent, Some(v)) => Pick::FixedPercent(v),
        (ModeArg::RandomMaxPercent, Some(v)) => Pick::RandomMaxPercent(v),
        (ModeArg::Fixed | ModeArg::FixedPercent | ModeArg::RandomMaxPercent, None) => {
            let name = args
                .mode
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            eprintln!("monkeywrench: --mode {name} needs --value");
            return Ok(exit_code::USAGE);
        }
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    // One row per match, in the order victims are picked from.
    let (noun, rows) = if args.docker {
        let selector = match ContainerSelector::parse(&value) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("monkeywrench: {e}");
                return Ok(exit_code::USAGE);
            }
        };
        match container_rows(&selector).await {
            Ok(rows) => ("container(s)", rows),
            Err(e) => {
                eprintln!("monkeywrench: {e}");
                return Ok(exit_code::UNAVAILABLE);
            }
        }
    } else {
        let selector = match ProcessSelector::parse(&value) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("monkeywrench: {e}");
                return Ok(exit_code::USAGE);
            }
        };
        let protected = Protected::current().with_guard(guard_pid(&args.state.dir()));
        let rows = selector
            .find(&protected)
            .iter()
            .map(|p| {
                format!(
                    "{:>7}  {:<16} {:<60}",
                    p.identity.pid,
                    p.name,
                    truncate(&p.cmdline, 60)
                )
            })
            .collect();
        ("process(es)", rows)
    };
    let picked = pick(rows.len(), &mode, seed);
    println!("{} {noun} match; seed {seed}", rows.len());
    for (i, row) in rows.iter().enumerate() {
        let mark = if picked.indices.contains(&i) {
            "→ victim"
        } else {
            ""
        };
        println!("  {row} {mark}");
    }
    if let Some(w) = picked.warning {
        println!("warning: {w}");
    }
    Ok(exit_code::OK)
}

/// The running containers a selector matches, one row each (id, name, image).
async fn container_rows(selector: &ContainerSelector) -> Result<Vec<String>, String> {
    let engine = Engine::connect().await.map_err(|e| e.to_string())?;
    let matched = selector.find(&engine).await.map_err(|e| e.to_string())?;
    Ok(matched
        .iter()
        .map(|c| {
            let id: String = c.id.chars().take(12).collect();
            format!(
                "{id}  {:<32} {:<32}",
                truncate(&c.name, 32),
                truncate(&c.image, 32)
            )
        })
        .collect())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}
