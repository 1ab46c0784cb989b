//! Cron expressions (five fields, `@daily`-style nicknames) evaluated by the `croner` crate on
//! jiff's time zones. croner is generic over the date type; the adapter below gives it jiff
//! `Zoned` values, so the zone rules (and DST) are jiff's tz database, the same the monkey uses.
//!
//! DST, as croner implements it (Vixie cron's rules, documented in the README):
//! - a fixed-time job (one minute and one hour, e.g. `30 2 * * *`) whose time falls in a
//!   spring-forward gap fires once, at the first minute after the gap (03:00 in Europe/Berlin);
//!   in a fall-back overlap it fires once, at the first pass;
//! - an interval or wildcard job (`*/15 * * * *`, `0 * * * *`) skips the minutes of a gap and
//!   fires in both passes of an overlap: it follows elapsed time.

use std::cmp::Ordering;

use croner::parser::{CronParser, Seconds, Year};
use croner::{CivilDate, CivilDateTime, CivilTime, Cron, CronDateTime, Resolution};
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ZonedDateTime as Zoned};

/// A parsed cron expression.
#[derive(Debug, Clone)]
pub struct CronExpr {
    text: String,
    cron: Cron,
}

impl CronExpr {
    /// Parses five-field cron (`minute hour day-of-month month day-of-week`) or a nickname
    /// (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`).
    pub fn parse(text: &str) -> Result<CronExpr, String> {
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(text).map_err(|e| {
            format!(
                "invalid cron expression {text:?}: {}; expected five fields (minute hour day-of-month month day-of-week) such as \"30 2 * * *\"",
                lowercase_first(&e.to_string())
            )
        })?;
        Ok(CronExpr {
            text: text.to_string(),
            cron,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first firing strictly after `t` (`inclusive`: at or after), in `tz`; None when the
    /// expression never fires again (e.g. `0 0 30 2 *`).
    pub fn next(&self, t: Timestamp, tz: &TimeZone, inclusive: bool) -> Option<Timestamp> {
        // Cron has minute resolution: search from the minute `t` is in.
        let start = Zoned::new(t, tz.clone());
        let found = self
            .cron
            .find_next_occurrence(&Local(start), inclusive)
            .ok()?;
        let at = found.0.timestamp();
        // croner compares whole seconds; a `t` inside a minute must not return that minute.
        if at < t || (!inclusive && at == t) {
            return self.next(at.checked_add(SignedDuration::from_secs(1)).ok()?, tz, true);
        }
        Some(at)
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// jiff's `Zoned` as croner's date type (a newtype: both the trait and the type are foreign).
#[derive(Debug, Clone)]
struct Local(Zoned);

fn civil(dt: DateTime) -> CivilDateTime {
    // jiff keeps every part in range, so croner's unchecked constructors are safe to use.
    CivilDateTime::new(
        CivilDate::from_parts_unchecked(i32::from(dt.year()), dt.month() as u32, dt.day() as u32),
        CivilTime::from_parts_unchecked(dt.hour() as u32, dt.minute() as u32, dt.second() as u32),
    )
}

impl CronDateTime for Local {
    fn to_civil(&self) -> CivilDateTime {
        civil(self.0.datetime())
    }

    fn civil_weekday(&self) -> croner::Weekday {
        croner::Weekday::from_days_from_sunday(self.0.weekday().to_sunday_zero_offset() as u32)
    }

    fn resolve_civil(
        &self,
        c: CivilDateTime,
    ) -> Result<Resolution<Self>, croner::errors::CronError> {
        use croner::errors::CronError;
        let year = i16::try_from(c.year()).map_err(|_| CronError::InvalidDate)?;
        let dt = DateTime::new(
            year,
            c.month() as i8,
            c.day() as i8,
            c.hour() as i8,
            c.minute() as i8,
            c.second() as i8,
            0,
        )
        .map_err(|_| CronError::InvalidDate)?;
        let ambiguous = self.0.time_zone().to_ambiguous_zoned_datetime(dt);
        Ok(match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { .. } => Resolution::Single(Local(
                ambiguous
                    .unambiguous()
                    .map_err(|_| CronError::InvalidTime)?,
            )),
            AmbiguousOffset::Fold { .. } => {
                let earlier = ambiguous
                    .clone()
                    .earlier()
                    .map_err(|_| CronError::InvalidTime)?;
                let later = ambiguous.later().map_err(|_| CronError::InvalidTime)?;
                Resolution::Ambiguous(Local(earlier), Local(later))
            }
            AmbiguousOffset::Gap { .. } => Resolution::Gap,
        })
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0
            .checked_add(SignedDuration::from_secs(seconds))
            .ok()
            .map(Local)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.timestamp().cmp(&other.0.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn firings(expr: &str, tz: &str, from: &str, until: &str) -> Vec<Timestamp> {
        let e = CronExpr::parse(expr).unwrap();
        let tz = TimeZone::get(tz).unwrap();
        let (mut t, end) = (ts(from), ts(until));
        let mut out = Vec::new();
        while let Some(next) = e.next(t, &tz, false).filter(|n| *n < end) {
            out.push(next);
            t = next;
        }
        out
    }

    #[test]
    fn fixed_time_in_the_spring_gap_fires_once_after_it() {
        // 2026-03-29: Berlin jumps from 02:00 CET to 03:00 CEST; 02:30 does not exist.
        let got = firings(
            "30 2 * * *",
            "Europe/Berlin",
            "2026-03-27T00:00:00Z",
            "2026-03-31T00:00:00Z",
        );
        assert_eq!(
            got,
            [
                ts("2026-03-27T01:30:00Z"),
                ts("2026-03-28T01:30:00Z"),
                ts("2026-03-29T01:00:00Z"), // 03:00 CEST
                ts("2026-03-30T00:30:00Z"),
            ]
        );
    }

    #[test]
    fn fixed_time_in_the_autumn_overlap_fires_once() {
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
        let got = firings(
            "30 2 * * *",
            "Europe/Berlin",
            "2026-10-24T00:00:00Z",
            "2026-10-27T00:00:00Z",
        );
        assert_eq!(
            got,
            [
                ts("2026-10-24T00:30:00Z"),
                ts("2026-10-25T00:30:00Z"), // the first pass (CEST)
                ts("2026-10-26T01:30:00Z"),
            ]
        );
    }

    #[test]
    fn hourly_follows_elapsed_time_across_both_changes() {
        let spring = firings(
            "0 * * * *",
            "Europe/Berlin",
            "2026-03-28T22:59:00Z",
            "2026-03-29T22:00:00Z",
        );
        assert_eq!(spring.len(), 23, "the local day has 23 hours");
        let autumn = firings(
            "0 * * * *",
            "Europe/Berlin",
            "2026-10-24T21:59:00Z",
            "2026-10-25T23:00:00Z",
        );
        assert_eq!(autumn.len(), 25, "the local day has 25 hours");
        assert!(
            autumn
                .windows(2)
                .all(|w| w[1].duration_since(w[0]) == SignedDuration::from_hours(1))
        );
    }

    #[test]
    fn never_firing_and_bad_expressions() {
        let feb30 = CronExpr::parse("0 0 30 2 *").unwrap();
        assert_eq!(
            feb30.next(ts("2026-01-01T00:00:00Z"), &TimeZone::UTC, false),
            None
        );
        let leap = CronExpr::parse("0 0 29 2 *").unwrap();
        assert_eq!(
            leap.next(ts("2026-01-01T00:00:00Z"), &TimeZone::UTC, false),
            Some(ts("2028-02-29T00:00:00Z"))
        );
        for bad in ["", "* * *", "61 * * * *", "0 0 * * * *", "every 5m"] {
            let e = CronExpr::parse(bad).unwrap_err();
            assert!(e.contains("invalid cron expression"), "{bad}: {e}");
        }
        assert!(CronExpr::parse("@daily").is_ok());
    }

    #[test]
    fn a_time_inside_a_minute_moves_to_the_next_one() {
        let e = CronExpr::parse("* * * * *").unwrap();
        let t = ts("2026-01-01T00:00:30Z");
        assert_eq!(
            e.next(t, &TimeZone::UTC, false),
            Some(ts("2026-01-01T00:01:00Z"))
        );
        assert_eq!(
            e.next(ts("2026-01-01T00:01:00Z"), &TimeZone::UTC, true),
            Some(ts("2026-01-01T00:01:00Z"))
        );
    }
}
