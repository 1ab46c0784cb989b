//! When kills happen: each day's plan is drawn once and stored with absolute times (a restarted
//! daemon, a cron `tick` and a second monkey on the same store all follow the same plan); the
//! daemon sleeps on the injected clock until each planned kill, then until the next day.

use jiff::Timestamp;
use jiff::civil::Date;
use tokio_util::sync::CancellationToken;

use super::history::{self, HistoryError, format_time};
use super::inventory::{Inventory, discover};
use super::planner::{Plan, PlannedKill, local_time, plan_day};
use super::{AttemptReport, Monkey};

/// The draw for `day` as made at `now` from the current inventory (nothing stored).
pub fn draw(monkey: &Monkey, inventory: &Inventory, day: Date, now: Timestamp, seed: u64) -> Plan {
    plan_day(&monkey.calendar, &inventory.candidates(), day, now, seed)
}

/// The plan of `day` for the groups eligible now: stored draws where they exist, the rest drawn
/// now and stored (the first monkey to store a group's day wins). A plan is stored the first time
/// anyone looks at it, `monkey plan` included: the plan people check before a kill is the one
/// that is carried out, whatever seed a later look would draw.
async fn plan_for(monkey: &Monkey, day: Date, warn: bool) -> Result<Plan, HistoryError> {
    let now = monkey.clock.now();
    let inventory = discover(&monkey.config).await;
    if warn {
        for w in &inventory.warnings {
            eprintln!("monkeywrench monkey: {w}");
        }
    }
    let seed = monkey.seed.unwrap_or_else(rand::random);
    let fresh = draw(monkey, &inventory, day, now, seed);
    let groups: Vec<String> = inventory
        .groups
        .values()
        .filter(|g| !g.instances.is_empty())
        .map(|g| g.key.clone())
        .collect();
    let name = &monkey.config.name;
    let rows = if fresh.note.is_none() {
        let draws: Vec<(String, Option<Timestamp>, u64)> = groups
            .iter()
            .map(|g| {
                let at = fresh.kills.iter().find(|k| k.group == *g).map(|k| k.time);
                (g.clone(), at, seed)
            })
            .collect();
        history::save_plan(&monkey.store, name, day, now, &draws).await?
    } else {
        history::load_plan(&monkey.store, name, day).await?
    };
    // Stored kills stand even when their group is not visible now (an engine that is down, a
    // service scaled to zero): the attempt then records why it was skipped.
    let mut kills: Vec<PlannedKill> = rows
        .iter()
        .filter_map(|row| {
            row.at.map(|time| PlannedKill {
                group: row.group.clone(),
                at: format_time(&time),
                time,
                local: local_time(&monkey.calendar, time),
                instances: inventory.groups.get(&row.group).map(|g| g.instances.len()),
                done: row.done,
            })
        })
        .collect();
    kills.extend(
        fresh
            .kills
            .iter()
            .filter(|k| !rows.iter().any(|r| r.group == k.group))
            .cloned(),
    );
    kills.sort_by(|a, b| a.time.cmp(&b.time).then(a.group.cmp(&b.group)));
    Ok(Plan {
        date: day.to_string(),
        seed: rows.first().map_or(seed, |row| row.seed),
        note: fresh.note,
        kills,
    })
}

/// The plan of `day` for `monkey plan` and `status`: drawn and stored on first look, as
/// [`plan_of`] does, but without the daemon's log lines.
pub async fn plan_quietly(monkey: &Monkey, day: Date) -> Result<Plan, HistoryError> {
    plan_for(monkey, day, false).await
}

/// The plan of `day`, drawn and stored on first use, logged.
pub async fn plan_of(monkey: &Monkey, day: Date) -> Result<Plan, HistoryError> {
    let plan = plan_for(monkey, day, true).await?;
    monkey
        .metrics
        .planned(plan.kills.len(), monkey.clock.now().as_second());
    log_plan(&plan);
    Ok(plan)
}

fn log_plan(plan: &Plan) {
    let note = plan
        .note
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    eprintln!(
        "monkeywrench monkey: plan for {} (seed {}): {} kill(s){note}",
        plan.date,
        plan.seed,
        plan.kills.len()
    );
    for k in &plan.kills {
        eprintln!("  {}  {}", k.local, k.group);
    }
}

/// Runs every planned kill of today that is due and not yet attempted (for cron).
pub async fn tick(monkey: &Monkey) -> Result<Vec<AttemptReport>, HistoryError> {
    let now = monkey.clock.now();
    let plan = plan_of(monkey, monkey.calendar.date_of(now)).await?;
    let mut reports = Vec::new();
    for k in plan.kills.iter().filter(|k| !k.done && k.time <= now) {
        reports.push(monkey.attempt(&k.group, Some(k.time)).await);
    }
    Ok(reports)
}

/// The daemon: plan each day, sleep until each kill, attempt it; until `cancel`. A store that
/// cannot be reached while planning is retried every minute (nothing is killed meanwhile).
pub async fn run(monkey: &Monkey, cancel: &CancellationToken) {
    loop {
        let now = monkey.clock.now();
        let day = monkey.calendar.date_of(now);
        let plan = match plan_of(monkey, day).await {
            Ok(plan) => plan,
            Err(e) => {
                eprintln!(
                    "monkeywrench monkey: {} cannot plan {day}: {e}; retrying in a minute",
                    format_time(&now)
                );
                monkey.metrics.skip("store-unreachable");
                if !monkey
                    .clock
                    .sleep_until(now + jiff::SignedDuration::from_mins(1), cancel)
                    .await
                {
                    return;
                }
                continue;
            }
        };
        for k in plan.kills.iter().filter(|k| !k.done) {
            if !monkey.clock.sleep_until(k.time, cancel).await {
                return;
            }
            monkey.attempt(&k.group, Some(k.time)).await;
        }
        if !monkey
            .clock
            .sleep_until(monkey.calendar.next_day_start(day), cancel)
            .await
        {
            return;
        }
    }
}
