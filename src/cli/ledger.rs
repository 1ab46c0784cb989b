//! `monkeywrench ledger`: list leases, active first, with age, deadline and owner.

use clap::Args;
use jiff::Timestamp;

use super::failure::Blameworthy;
use super::prepare::OutputFormat;
use super::state::{StateArgs, short};
use crate::exit_code;

/// Options of `monkeywrench ledger`.
#[derive(Debug, Args)]
pub(super) struct LedgerArgs {
    /// Where the ledger lives.
    #[command(flatten)]
    pub state: StateArgs,
    /// How many leases at most.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// Text table or a JSON list.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub(super) async fn execute(args: LedgerArgs) -> anyhow::Result<i32> {
    let ledger = args.state.open_ledger().await?;
    let read = || "read the ledger".to_string();
    let leases = ledger.list(args.limit).await.or_unavailable(read)?;
    let halt = ledger.halt_state().await.or_unavailable(read)?;
    if args.output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&leases)?);
        return Ok(exit_code::OK);
    }
    if let Some(h) = halt {
        println!("HALTED since {}: {}", h.since, h.reason);
    }
    if leases.is_empty() {
        println!("no leases");
        return Ok(exit_code::OK);
    }
    let now = Timestamp::now();
    println!(
        "{:<8}  {:<13}  {:<14}  {:>8}  {:>10}  {:<8}  target",
        "id", "state", "func", "age", "deadline", "owner"
    );
    for l in leases {
        let age = now.duration_since(l.created_at).as_secs();
        let left = l.deadline.duration_since(now).as_secs();
        let deadline = if l.state.is_active() {
            format!("in {left}s")
        } else {
            "-".to_string()
        };
        let owner = if l.owner.is_alive() {
            l.owner.pid.to_string()
        } else {
            format!("{}†", l.owner.pid)
        };
        println!(
            "{:<8}  {:<13}  {:<14}  {:>7}s  {:>10}  {:<8}  {}{}",
            short(&l.id),
            l.state.as_str(),
            l.func,
            age,
            deadline,
            owner,
            l.target,
            l.error.map(|e| format!("  ({e})")).unwrap_or_default()
        );
    }
    Ok(exit_code::OK)
}
