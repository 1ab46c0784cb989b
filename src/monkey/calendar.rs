//! Work days, the kill window and the min-time threshold, in the configured time zone (jiff's tz
//! database, so DST changes move the window with the wall clock, never by a fixed offset).

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, ZonedDateTime};

use super::config::MonkeyConfig;

#[derive(Debug, Clone)]
pub struct Calendar {
    tz: TimeZone,
    start_hour: i8,
    end_hour: i8,
    work_days: Vec<Weekday>,
    holidays: BTreeSet<Date>,
}

impl Calendar {
    pub fn new(config: &MonkeyConfig) -> Calendar {
        Calendar::from_parts(
            config.time_zone.clone(),
            (config.start_hour, config.end_hour),
            config.work_days.clone(),
            config.holidays.clone(),
        )
    }

    /// A calendar of `hours` = (start, end) on `work_days` minus `holidays`, in `tz` (the
    /// server's schedule windows use it too).
    pub fn from_parts(
        tz: TimeZone,
        hours: (i8, i8),
        work_days: Vec<Weekday>,
        holidays: BTreeSet<Date>,
    ) -> Calendar {
        Calendar {
            tz,
            start_hour: hours.0,
            end_hour: hours.1,
            work_days,
            holidays,
        }
    }

    /// The start of the first window at or after `t`: `t` itself inside a window; None when no
    /// work day comes within ten years.
    pub fn next_window_start(&self, t: Timestamp) -> Option<Timestamp> {
        let mut date = self.date_of(t);
        for _ in 0..3660 {
            if let Some((start, end)) = self.window(date) {
                if t < start {
                    return Some(start);
                }
                if t < end {
                    return Some(t);
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    /// The local date of `t`.
    pub fn date_of(&self, t: Timestamp) -> Date {
        t.to_zoned_datetime(self.tz.clone()).date()
    }

    /// Whether `date` is a work day (a listed weekday that is not a holiday).
    pub fn is_work_day(&self, date: Date) -> bool {
        self.work_days.contains(&date.weekday()) && !self.holidays.contains(&date)
    }

    /// Why `date` is not a work day, if it is not.
    pub fn day_off_reason(&self, date: Date) -> Option<&'static str> {
        if self.holidays.contains(&date) {
            Some("holiday")
        } else if !self.work_days.contains(&date.weekday()) {
            Some("not a work day")
        } else {
            None
        }
    }

    /// `hour:00` on `date` in the time zone (a time in a DST gap moves forward, as clocks do).
    pub fn at_hour(&self, date: Date, hour: i8) -> Timestamp {
        let zoned: Option<ZonedDateTime> = if hour >= 24 {
            date.tomorrow()
                .ok()
                .and_then(|d| d.at(0, 0, 0, 0).to_zoned_datetime(self.tz.clone()).ok())
        } else {
            date.at(hour, 0, 0, 0)
                .to_zoned_datetime(self.tz.clone())
                .ok()
        };
        zoned.map(|z| z.timestamp()).unwrap_or(Timestamp::MAX)
    }

    /// The window `[start, end)` of `date`, or None on a day off.
    pub fn window(&self, date: Date) -> Option<(Timestamp, Timestamp)> {
        self.is_work_day(date).then(|| {
            (
                self.at_hour(date, self.start_hour),
                self.at_hour(date, self.end_hour),
            )
        })
    }

    /// Whether `t` lies inside the window of a work day.
    pub fn in_window(&self, t: Timestamp) -> bool {
        self.window(self.date_of(t))
            .is_some_and(|(start, end)| start <= t && t < end)
    }

    /// The start of the day after `date` (midnight, or the first instant of that day).
    pub fn next_day_start(&self, date: Date) -> Timestamp {
        date.tomorrow()
            .ok()
            .and_then(|d| d.to_zoned_datetime(self.tz.clone()).ok())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX)
    }

    /// The min-time threshold: step back from `now`'s date over work days until `epsilon` of them
    /// have passed and take `end_hour` on that day (Wednesday 14:30, ε = 1, end 17 → Tuesday
    /// 17:00). None when ε is 0 (no limit).
    pub fn min_kill_threshold(&self, now: Timestamp, epsilon: u32) -> Option<Timestamp> {
        if epsilon == 0 {
            return None;
        }
        let mut date = self.date_of(now);
        let mut passed = 0;
        // Bounded: a calendar with no work day at all would otherwise loop forever.
        for _ in 0..(epsilon as usize * 7 + 3660) {
            date = date.checked_sub(1.day()).ok()?;
            if self.is_work_day(date) {
                passed += 1;
                if passed == epsilon {
                    return Some(self.at_hour(date, self.end_hour));
                }
            }
        }
        Some(Timestamp::MIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn calendar(tz: &str, start: i8, end: i8) -> Calendar {
        let config = MonkeyConfig {
            time_zone: TimeZone::get(tz).unwrap(),
            start_hour: start,
            end_hour: end,
            holidays: [date(2026, 12, 25)].into_iter().collect(),
            ..MonkeyConfig::default()
        };
        Calendar::new(&config)
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_threshold_steps_back_over_work_days_only() {
        let c = calendar("UTC", 9, 17);
        // Wednesday 2026-12-02 14:30, ε = 1 → Tuesday 17:00.
        assert_eq!(
            c.min_kill_threshold(ts("2026-12-02T14:30:00Z"), 1),
            Some(ts("2026-12-01T17:00:00Z"))
        );
        // Monday, ε = 1 → the Friday before.
        assert_eq!(
            c.min_kill_threshold(ts("2026-12-07T10:00:00Z"), 1),
            Some(ts("2026-12-04T17:00:00Z"))
        );
        // Monday 2026-12-28, ε = 2: Friday the 25th is a holiday → Wednesday 23rd (Thu 24th is 1).
        assert_eq!(
            c.min_kill_threshold(ts("2026-12-28T10:00:00Z"), 2),
            Some(ts("2026-12-23T17:00:00Z"))
        );
        assert_eq!(c.min_kill_threshold(ts("2026-12-02T14:30:00Z"), 0), None);
    }

    #[test]
    fn windows_follow_the_wall_clock_across_dst() {
        let c = calendar("Europe/Berlin", 9, 15);
        // Before the change (CET, +01:00) and after it (CEST, +02:00): 09:00 local each time.
        assert_eq!(
            c.window(date(2026, 3, 27)).unwrap().0,
            ts("2026-03-27T08:00:00Z")
        );
        assert_eq!(
            c.window(date(2026, 3, 30)).unwrap().0,
            ts("2026-03-30T07:00:00Z")
        );
        assert!(c.window(date(2026, 3, 28)).is_none(), "saturday");
        assert!(c.window(date(2026, 12, 25)).is_none(), "holiday");
        assert_eq!(c.day_off_reason(date(2026, 12, 25)), Some("holiday"));
        assert!(c.in_window(ts("2026-03-30T07:00:00Z")));
        assert!(
            !c.in_window(ts("2026-03-30T13:00:00Z")),
            "15:00 local is outside"
        );
    }
}
