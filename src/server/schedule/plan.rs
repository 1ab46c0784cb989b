//! When one experiment fires: its trigger (cron or a plain interval), an optional working-hours
//! window with holidays, and a seeded jitter. Planned times are a pure function of the config,
//! so every server on one store plans the same instants and a firing is known by
//! (experiment, planned time).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::cron::CronExpr;
use crate::monkey::calendar::Calendar;
use crate::seed::{Fnv, SeededRng};

/// How far ahead a schedule is searched for its next firing before it counts as never firing.
const HORIZON_YEARS: i64 = 10;
/// Candidates looked at (per call) before giving up: a cron that fires every minute but only
/// outside its window would otherwise scan ten years minute by minute.
const MAX_CANDIDATES: usize = 100_000;

/// What produces the planned times.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// A cron expression read in the schedule's time zone.
    Cron(Box<CronExpr>),
    /// Every `d`, at whole multiples of `d` since 1970-01-01T00:00Z (`every 30m`: :00 and :30),
    /// so every server and every restart plans the same instants.
    Every(SignedDuration),
}

impl Trigger {
    /// The first planned time after `t` (`inclusive`: at or after), ignoring windows.
    pub fn next(&self, t: Timestamp, tz: &TimeZone, inclusive: bool) -> Option<Timestamp> {
        match self {
            Trigger::Cron(expr) => expr.next(t, tz, inclusive),
            Trigger::Every(d) => {
                let step = d.as_millis();
                if step <= 0 {
                    return None;
                }
                let ms = i128::from(t.as_millisecond());
                let mut k = ms.div_euclid(step);
                if k * step < ms || !inclusive {
                    k += 1;
                }
                i64::try_from(k * step)
                    .ok()
                    .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            }
        }
    }

    /// `cron "30 2 * * *"` or `every 30m`.
    pub fn describe(&self) -> String {
        match self {
            Trigger::Cron(expr) => format!("cron {:?}", expr.text()),
            Trigger::Every(d) => format!("every {d:#}"),
        }
    }
}

/// Whether a firing may start while the experiment's previous run is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlap {
    /// The firing is recorded as skipped (the default).
    #[default]
    Skip,
    /// The firing waits for the running one to end (one waits at most; later ones are skipped).
    Queue,
}

impl Overlap {
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Skip => "skip",
            Overlap::Queue => "queue",
        }
    }
}

/// One experiment's schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub trigger: Trigger,
    /// The zone cron fields and the window are read in.
    pub tz: TimeZone,
    /// The IANA name of `tz`.
    pub tz_name: String,
    /// Each firing starts up to this much after its planned time (drawn per firing).
    pub jitter: Option<SignedDuration>,
    /// Only planned times inside this window count.
    pub window: Option<Calendar>,
    pub overlap: Overlap,
}

impl Schedule {
    /// The first planned time strictly after `t` that lies inside the window; None when there
    /// is none within ten years (the schedule never fires).
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let horizon = t
            .checked_add(SignedDuration::from_hours(24 * 366 * HORIZON_YEARS))
            .ok()?;
        let mut candidate = self.trigger.next(t, &self.tz, false)?;
        for _ in 0..MAX_CANDIDATES {
            if candidate > horizon {
                return None;
            }
            let Some(window) = &self.window else {
                return Some(candidate);
            };
            if window.in_window(candidate) {
                return Some(candidate);
            }
            // Jump to the next window rather than stepping through the night.
            let start = window.next_window_start(candidate)?;
            candidate = self.trigger.next(start, &self.tz, true)?;
        }
        None
    }

    /// The planned times in `(from, to]`, at most `limit` of them (the newest `limit`).
    pub fn planned_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> (Vec<Timestamp>, usize) {
        let mut all = std::collections::VecDeque::new();
        let mut dropped = 0;
        let mut t = from;
        while let Some(next) = self.next_after(t).filter(|n| *n <= to) {
            all.push_back(next);
            if all.len() > limit {
                all.pop_front();
                dropped += 1;
            }
            t = next;
        }
        (all.into(), dropped)
    }

    /// When the firing planned at `planned` is due: planned plus its jitter, drawn from `seed`,
    /// the experiment's name and the planned time (the same on every server).
    pub fn due(&self, experiment: &str, planned: Timestamp, seed: u64) -> Timestamp {
        let Some(jitter) = self.jitter.filter(|j| j.is_positive()) else {
            return planned;
        };
        let key = Fnv::new()
            .u64(seed)
            .str(experiment)
            .i64(planned.as_millisecond())
            .finish();
        let offset =
            SeededRng::new(key).between(0, i64::try_from(jitter.as_millis()).unwrap_or(i64::MAX));
        planned
            .checked_add(SignedDuration::from_millis(offset))
            .unwrap_or(planned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Weekday, date};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn schedule(trigger: Trigger, tz: &str) -> Schedule {
        Schedule {
            trigger,
            tz: TimeZone::get(tz).unwrap(),
            tz_name: tz.into(),
            jitter: None,
            window: None,
            overlap: Overlap::Skip,
        }
    }

    #[test]
    fn intervals_fall_on_multiples_since_the_epoch() {
        let s = schedule(Trigger::Every(SignedDuration::from_mins(30)), "UTC");
        assert_eq!(
            s.next_after(ts("2026-12-02T12:17:09Z")),
            Some(ts("2026-12-02T12:30:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2026-12-02T12:30:00Z")),
            Some(ts("2026-12-02T13:00:00Z"))
        );
        let (got, dropped) =
            s.planned_between(ts("2026-12-02T00:00:00Z"), ts("2026-12-03T00:00:00Z"), 10);
        assert_eq!((got.len(), dropped), (10, 38));
        assert_eq!(got[9], ts("2026-12-03T00:00:00Z"));
    }

    #[test]
    fn windows_and_holidays_move_firings_to_work_hours() {
        let mut s = schedule(
            Trigger::Every(SignedDuration::from_hours(1)),
            "Europe/Berlin",
        );
        s.window = Some(Calendar::from_parts(
            s.tz.clone(),
            (9, 17),
            vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
            [date(2026, 12, 24)].into_iter().collect(),
        ));
        // Wednesday 15:30 local → 16:00 local; from 16:30 the next in-window hour is 17:00,
        // outside, and Thursday the 24th is a holiday: Friday 09:00 local.
        assert_eq!(
            s.next_after(ts("2026-12-23T14:30:00Z")),
            Some(ts("2026-12-23T15:00:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2026-12-23T15:30:00Z")),
            Some(ts("2026-12-25T08:00:00Z"))
        );
        // A cron that only fires on Saturdays never fires in a Monday–Friday window.
        let mut weekend = schedule(
            Trigger::Cron(Box::new(CronExpr::parse("0 10 * * sat").unwrap())),
            "Europe/Berlin",
        );
        weekend.window = s.window.clone();
        assert_eq!(weekend.next_after(ts("2026-12-02T00:00:00Z")), None);
    }

    #[test]
    fn jitter_is_seeded_bounded_and_shared_by_servers() {
        let mut s = schedule(Trigger::Every(SignedDuration::from_hours(1)), "UTC");
        s.jitter = Some(SignedDuration::from_mins(10));
        let planned = ts("2026-12-02T10:00:00Z");
        let due = s.due("checkout", planned, 7);
        assert_eq!(due, s.due("checkout", planned, 7));
        assert!(due >= planned && due < planned + SignedDuration::from_mins(10));
        let spread: std::collections::BTreeSet<Timestamp> = (0..20)
            .map(|h| {
                s.due("checkout", planned + SignedDuration::from_hours(h), 7)
                    - SignedDuration::from_hours(h)
            })
            .collect();
        assert!(spread.len() > 10, "draws differ per firing");
    }
}
