//! The daily draw: for each eligible group, a kill that day with probability 1/mean, at a uniform
//! minute of what is left of the window when the plan is made. Reproducible from a seed: each
//! group's draw depends only on (seed, day, group), not on the other groups.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::calendar::Calendar;
use super::history::format_time;
use crate::seed::{Fnv, SeededRng};

/// What a group's draw needs.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub key: String,
    /// Mean work days between kills (> 0).
    pub mean: f64,
    /// Eligible instances now.
    pub instances: usize,
}

/// One planned kill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedKill {
    pub group: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The same instant as a timestamp.
    #[serde(skip)]
    pub time: Timestamp,
    /// The time in the monkey's zone, for people.
    pub local: String,
    /// Eligible instances when planned (unknown for a plan read back from the store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<usize>,
    /// Whether it was attempted already.
    pub done: bool,
}

/// A day's plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The local date.
    pub date: String,
    /// The seed it was drawn with.
    pub seed: u64,
    /// Why nothing is planned (day off, window over), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Kills by time.
    pub kills: Vec<PlannedKill>,
}

/// The rng of one group's draw on one day (stable across versions and platforms).
pub fn group_rng(seed: u64, day: Date, group: &str, purpose: &str) -> SeededRng {
    let h = Fnv::new()
        .u64(seed)
        .i64(day.year().into())
        .i64(day.month().into())
        .i64(day.day().into())
        .str(group)
        .str(purpose)
        .finish();
    SeededRng::new(h)
}

/// Draws the plan of `day` as made at `now` (only the rest of the window is used).
pub fn plan_day(
    calendar: &Calendar,
    candidates: &[Candidate],
    day: Date,
    now: Timestamp,
    seed: u64,
) -> Plan {
    let mut plan = Plan {
        date: day.to_string(),
        seed,
        note: None,
        kills: Vec::new(),
    };
    let Some((start, end)) = calendar.window(day) else {
        plan.note = calendar.day_off_reason(day).map(str::to_string);
        return plan;
    };
    let from = round_up_to_minute(start.max(now));
    let minutes = (end.as_second() - from.as_second()).max(0) / 60;
    if minutes == 0 {
        plan.note = Some("the window is over".into());
        return plan;
    }
    for c in candidates.iter().filter(|c| c.instances > 0) {
        let mut rng = group_rng(seed, day, &c.key, "plan");
        if rng.unit() >= 1.0 / c.mean {
            continue;
        }
        let minute = rng.below(minutes as u64) as i64;
        let time = from + SignedDuration::from_mins(minute);
        plan.kills.push(PlannedKill {
            group: c.key.clone(),
            at: format_time(&time),
            time,
            local: local_time(calendar, time),
            instances: Some(c.instances),
            done: false,
        });
    }
    plan.kills
        .sort_by(|a, b| a.time.cmp(&b.time).then(a.group.cmp(&b.group)));
    plan
}

/// `2026-12-02 10:17 CET`: a time as people in the monkey's zone read it.
pub fn local_time(calendar: &Calendar, time: Timestamp) -> String {
    time.to_zoned_datetime(calendar.tz().clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

fn round_up_to_minute(t: Timestamp) -> Timestamp {
    let s = t.as_second();
    let rounded = if t.subsec_nanosecond() == 0 && s % 60 == 0 {
        s
    } else {
        (s.div_euclid(60) + 1) * 60
    };
    Timestamp::from_second(rounded).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monkey::config::MonkeyConfig;
    use jiff::civil::date;

    fn candidates(n: usize, mean: f64) -> Vec<Candidate> {
        (0..n)
            .map(|i| Candidate {
                key: format!("app{i}"),
                mean,
                instances: 3,
            })
            .collect()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn mean_one_kills_every_group_inside_the_rest_of_the_window() {
        let cal = Calendar::new(&MonkeyConfig::default());
        let day = date(2026, 12, 2);
        let plan = plan_day(
            &cal,
            &candidates(50, 1.0),
            day,
            ts("2026-12-02T12:30:10Z"),
            7,
        );
        assert_eq!(plan.kills.len(), 50);
        for k in &plan.kills {
            assert!(k.time >= ts("2026-12-02T12:31:00Z") && k.time < ts("2026-12-02T15:00:00Z"));
            assert_eq!(k.time.as_second() % 60, 0, "whole minutes");
        }
        assert_eq!(
            plan,
            plan_day(
                &cal,
                &candidates(50, 1.0),
                day,
                ts("2026-12-02T12:30:10Z"),
                7
            ),
            "reproducible from the seed"
        );
        let late = plan_day(
            &cal,
            &candidates(5, 1.0),
            day,
            ts("2026-12-02T15:00:00Z"),
            7,
        );
        assert!(late.kills.is_empty() && late.note.is_some());
        let weekend = plan_day(
            &cal,
            &candidates(5, 1.0),
            date(2026, 12, 5),
            ts("2026-12-05T08:00:00Z"),
            7,
        );
        assert_eq!(weekend.note.as_deref(), Some("not a work day"));
    }

    #[test]
    fn the_share_of_groups_planned_follows_one_over_the_mean() {
        let cal = Calendar::new(&MonkeyConfig::default());
        let plan = plan_day(
            &cal,
            &candidates(4000, 4.0),
            date(2026, 12, 2),
            ts("2026-12-02T00:00:00Z"),
            1,
        );
        // Binomial(4000, 0.25): sd ≈ 27; ±5 sd.
        let n = plan.kills.len() as i64;
        assert!((n - 1000).abs() < 140, "{n}");
        // Each group's draw is its own: adding groups does not change the others'.
        let fewer = plan_day(
            &cal,
            &candidates(100, 4.0),
            date(2026, 12, 2),
            ts("2026-12-02T00:00:00Z"),
            1,
        );
        for k in &fewer.kills {
            assert!(
                plan.kills
                    .iter()
                    .any(|p| p.group == k.group && p.time == k.time)
            );
        }
    }

    // A literal plan: the same seed and day plan the same kills on every version and platform
    // (checked against an independent implementation of the draw).
    #[test]
    fn a_seed_plans_the_same_day_everywhere() {
        let cal = Calendar::new(&MonkeyConfig::default());
        let plan = plan_day(
            &cal,
            &candidates(6, 2.0),
            date(2026, 12, 2),
            ts("2026-12-02T00:00:00Z"),
            7,
        );
        let kills: Vec<(&str, &str)> = plan
            .kills
            .iter()
            .map(|k| (k.group.as_str(), k.at.as_str()))
            .collect();
        // app2 draws no kill today; the others' minutes count from 09:00, the window's start.
        assert_eq!(
            kills,
            [
                ("app0", "2026-12-02T09:21:00Z"),
                ("app4", "2026-12-02T10:30:00Z"),
                ("app3", "2026-12-02T13:08:00Z"),
                ("app5", "2026-12-02T13:17:00Z"),
                ("app1", "2026-12-02T13:37:00Z"),
            ]
        );
    }
}
