//! The monkey's state at a glance — config, halt, today's plan and what is next, the eligible
//! groups, today's attempts — as `monkey status` prints it and the server's `/api/monkey` serves it.

use serde::Serialize;
use serde_json::{Value, json};

use super::config::MonkeyConfig;
use super::history::{self, Entry, Filter, HistoryError};
use super::inventory::discover;
use super::planner::{Plan, PlannedKill};
use super::{Monkey, scheduler};
use crate::ledger::{HaltState, LedgerError};

/// The state could not be read from the store.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("read the halt state: {0}")]
    Halt(#[from] LedgerError),
    #[error("read the plan or the history: {0}")]
    History(#[from] HistoryError),
}

/// One eligible group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupStatus {
    pub group: String,
    pub instances: Vec<Value>,
    pub mean_time_between_kills_in_work_days: f64,
    pub min_time_between_kills_in_work_days: u32,
    pub kill_mode: String,
}

/// What `monkey status --output json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub config: Value,
    pub halted: Option<HaltState>,
    pub now: String,
    pub in_window: bool,
    pub plan: Plan,
    pub next: Option<PlannedKill>,
    pub groups: Vec<GroupStatus>,
    /// Today's attempts and skips, newest first.
    pub today: Vec<Entry>,
    pub warnings: Vec<String>,
}

/// Reads the state now (today's plan is drawn and stored if nobody has yet, as `monkey plan` does).
pub async fn status(monkey: &Monkey) -> Result<Status, StatusError> {
    let now = monkey.clock.now();
    let day = monkey.calendar.date_of(now);
    let halted = monkey.ledger.halt_state().await?;
    let plan = scheduler::plan_quietly(monkey, day).await?;
    let next = plan
        .kills
        .iter()
        .find(|k| !k.done && k.time >= now)
        .cloned();
    let inventory = discover(&monkey.config).await;
    let today = history::list(
        &monkey.store,
        &Filter {
            since: Some(monkey.calendar.at_hour(day, 0)),
            ..Filter::default()
        },
    )
    .await?;
    let groups = inventory
        .groups
        .values()
        .map(|g| GroupStatus {
            group: g.key.clone(),
            instances: g.instances.iter().map(|i| i.describe()).collect(),
            mean_time_between_kills_in_work_days: g.mean,
            min_time_between_kills_in_work_days: g.min,
            kill_mode: g.kill_mode.describe(),
        })
        .collect();
    Ok(Status {
        config: summary(&monkey.config),
        halted,
        now: history::format_time(&now),
        in_window: monkey.calendar.in_window(now),
        plan,
        next,
        groups,
        today,
        warnings: inventory.warnings,
    })
}

/// The config's schedule-relevant settings.
pub fn summary(c: &MonkeyConfig) -> Value {
    json!({
        "enabled": c.enabled,
        "leashed": c.leashed,
        "time_zone": c.time_zone_name,
        "start_hour": c.start_hour,
        "end_hour": c.end_hour,
        "work_days": c.work_days.iter().map(|d| format!("{d:?}").to_lowercase()).collect::<Vec<_>>(),
        "holidays": c.holidays.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "kill_mode": c.kill_mode.describe(),
        "max_kills_per_day": c.max_kills_per_day,
    })
}
