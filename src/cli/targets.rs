//! `monkeywrench targets`: preview which processes (or, with `--docker`, containers) a selector
//! matches and which victims a mode and seed would pick (a dry run; nothing is touched).

use clap::{Args, ValueEnum};

use super::state::StateArgs;
use crate::exit_code;
use crate::ledger::guard::guard_pid;
use crate::target::container_selector::ContainerSelector;
use crate::target::docker::Engine;
use crate::target::selector::{Pick, ProcessSelector, pick};

/// Blast-radius modes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
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
pub struct TargetsArgs {
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
pub async fn execute(args: TargetsArgs) -> anyhow::Result<i32> {
    let value: serde_json::Value = match serde_json::from_str(&args.selector) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("monkeywrench: selector is not JSON: {e}");
            return Ok(exit_code::USAGE);
        }
    };
    if args.docker
        && let Err(e) = ContainerSelector::parse(&value)
    {
        eprintln!("monkeywrench: {e}");
        return Ok(exit_code::USAGE);
    }
    let need_value = |what: &str| -> anyhow::Result<f64> {
        args.value
            .ok_or_else(|| anyhow::anyhow!("--mode {what} needs --value"))
    };
    let mode = match args.mode {
        ModeArg::One => Pick::One,
        ModeArg::All => Pick::All,
        ModeArg::Fixed => Pick::Fixed(need_value("fixed")? as u64),
        ModeArg::FixedPercent => Pick::FixedPercent(need_value("fixed-percent")?),
        ModeArg::RandomMaxPercent => Pick::RandomMaxPercent(need_value("random-max-percent")?),
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let picked = if args.docker {
        match preview_containers(&value, &mode, seed).await {
            Ok(p) => p,
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
        let protected: Vec<i32> = guard_pid(&args.state.dir()).into_iter().collect();
        let matched = selector.find(&protected);
        let picked = pick(matched.len(), &mode, seed);
        println!("{} process(es) match; seed {seed}", matched.len());
        for (i, p) in matched.iter().enumerate() {
            let mark = if picked.indices.contains(&i) {
                "→ victim"
            } else {
                ""
            };
            println!(
                "  {:>7}  {:<16} {:<60} {mark}",
                p.identity.pid,
                p.name,
                truncate(&p.cmdline, 60)
            );
        }
        picked
    };
    if let Some(w) = picked.warning {
        println!("warning: {w}");
    }
    Ok(exit_code::OK)
}

/// Lists the running containers a selector matches and marks the victims.
async fn preview_containers(
    selector: &serde_json::Value,
    mode: &Pick,
    seed: u64,
) -> Result<crate::target::selector::Picked, String> {
    let selector = ContainerSelector::parse(selector).map_err(|e| e.to_string())?;
    let engine = Engine::connect().await.map_err(|e| e.to_string())?;
    let matched = selector.find(&engine).await.map_err(|e| e.to_string())?;
    let picked = pick(matched.len(), mode, seed);
    println!("{} container(s) match; seed {seed}", matched.len());
    for (i, c) in matched.iter().enumerate() {
        let mark = if picked.indices.contains(&i) {
            "→ victim"
        } else {
            ""
        };
        let id: String = c.id.chars().take(12).collect();
        println!(
            "  {id}  {:<32} {:<32} {mark}",
            truncate(&c.name, 32),
            truncate(&c.image, 32)
        );
    }
    Ok(picked)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}
