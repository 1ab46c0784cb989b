//! `monkeywrench monkey status`: enabled/leashed/halted, the window, today's plan and what is next,
//! the eligible groups, and today's skips with their reasons.

use super::failure::Blameworthy;
use super::monkey::{Common, open};
use super::prepare::OutputFormat;
use crate::exit_code;
use crate::monkey::clock::Clock;
use crate::monkey::status::status;

pub(super) async fn execute(common: Common, output: OutputFormat) -> anyhow::Result<i32> {
    let monkey = match open(&common, Clock::System).await {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let s = status(&monkey)
        .await
        .or_unavailable(|| "read the monkey's state".to_string())?;
    if output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&s)?);
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
    if let Some(h) = &s.halted {
        println!("HALTED since {}: {}", h.since, h.reason);
    }
    println!(
        "window: {:02}:00–{:02}:00 {} on {} work day(s), {} holiday(s); now {} ({})",
        c.start_hour,
        c.end_hour,
        c.time_zone_name,
        c.work_days.len(),
        c.holidays.len(),
        crate::monkey::planner::local_time(&monkey.calendar, monkey.clock.now()),
        if s.in_window {
            "inside the window"
        } else {
            "outside the window"
        }
    );
    let plan = &s.plan;
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
    match &s.next {
        Some(k) => println!("next: {} at {}", k.group, k.local),
        None => println!("next: nothing more today"),
    }
    println!("groups: {}", s.groups.len());
    for g in &s.groups {
        println!(
            "  {}  {} instance(s), mean {} / min {} work day(s), kill mode {}",
            g.group,
            g.instances.len(),
            g.mean_time_between_kills_in_work_days,
            g.min_time_between_kills_in_work_days,
            g.kill_mode
        );
    }
    for w in &s.warnings {
        println!("warning: {w}");
    }
    for e in s.today.iter().filter(|e| e.outcome == "skipped") {
        println!(
            "skipped {} at {}: {}",
            e.group,
            e.at,
            e.reason.as_deref().unwrap_or("")
        );
    }
    Ok(exit_code::OK)
}
