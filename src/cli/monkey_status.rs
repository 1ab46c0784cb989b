//! `monkeywrench monkey status`: enabled/leashed/halted, the window, today's plan and what is next,
//! the eligible groups, and today's skips with their reasons.

use serde_json::json;

use super::failure::Blameworthy;
use super::monkey::{Common, config_summary, open};
use super::prepare::OutputFormat;
use crate::exit_code;
use crate::monkey::clock::Clock;
use crate::monkey::history::{self, Filter};
use crate::monkey::inventory::discover;
use crate::monkey::scheduler;

pub(super) async fn execute(common: Common, output: OutputFormat) -> anyhow::Result<i32> {
    let monkey = match open(&common, Clock::System).await {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let now = monkey.clock.now();
    let day = monkey.calendar.date_of(now);
    let halted = monkey
        .ledger
        .halt_state()
        .await
        .or_unavailable(|| "read the halt state".to_string())?;
    let plan = scheduler::plan_quietly(&monkey, day)
        .await
        .or_unavailable(|| "read the stored plan".to_string())?;
    let next = plan.kills.iter().find(|k| !k.done && k.time >= now);
    let inventory = discover(&monkey.config).await;
    let since = monkey.calendar.at_hour(day, 0);
    let today = history::list(
        &monkey.store,
        &Filter {
            since: Some(since),
            ..Filter::default()
        },
    )
    .await
    .or_unavailable(|| "read the history".to_string())?;
    let groups: Vec<serde_json::Value> = inventory
        .groups
        .values()
        .map(|g| {
            json!({
                "group": g.key,
                "instances": g.instances.iter().map(|i| i.describe()).collect::<Vec<_>>(),
                "mean_time_between_kills_in_work_days": g.mean,
                "min_time_between_kills_in_work_days": g.min,
                "kill_mode": g.kill_mode.describe(),
            })
        })
        .collect();
    if output == OutputFormat::Json {
        let doc = json!({
            "config": config_summary(&monkey.config),
            "halted": halted.as_ref().map(|h| json!({"since": h.since, "reason": h.reason})),
            "now": history::format_time(&now),
            "in_window": monkey.calendar.in_window(now),
            "plan": plan,
            "next": next,
            "groups": groups,
            "today": today,
            "warnings": inventory.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(exit_code::OK);
    }
    let c = &monkey.config;
    println!(
        "monkey: {}{}",
        if c.enabled { "enabled" } else { "disabled" },
        if c.leashed {
            ", leashed (records, never kills)"
        } else {
            ""
        }
    );
    if let Some(h) = &halted {
        println!("HALTED since {}: {}", h.since, h.reason);
    }
    println!(
        "window: {:02}:00–{:02}:00 {} on {} work day(s), {} holiday(s); now {} ({})",
        c.start_hour,
        c.end_hour,
        c.time_zone_name,
        c.work_days.len(),
        c.holidays.len(),
        crate::monkey::planner::local_time(&monkey.calendar, now),
        if monkey.calendar.in_window(now) {
            "inside the window"
        } else {
            "outside the window"
        }
    );
    let note = plan
        .note
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    println!("plan for {}: {} kill(s){note}", plan.date, plan.kills.len());
    for k in &plan.kills {
        println!(
            "  {}  {}{}",
            k.local,
            k.group,
            if k.done { "  done" } else { "" }
        );
    }
    match next {
        Some(k) => println!("next: {} at {}", k.group, k.local),
        None => println!("next: nothing more today"),
    }
    println!("groups: {}", inventory.groups.len());
    for g in inventory.groups.values() {
        println!(
            "  {}  {} instance(s), mean {} / min {} work day(s), kill mode {}",
            g.key,
            g.instances.len(),
            g.mean,
            g.min,
            g.kill_mode.describe()
        );
    }
    for w in &inventory.warnings {
        println!("warning: {w}");
    }
    for e in today.iter().filter(|e| e.outcome == "skipped") {
        println!(
            "skipped {} at {}: {}",
            e.group,
            e.at,
            e.reason.as_deref().unwrap_or("")
        );
    }
    Ok(exit_code::OK)
}
