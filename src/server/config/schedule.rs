//! The `schedule` of an experiment entry: cron or every, zone, jitter, window, overlap, and the
//! check that it fires at all.

use std::collections::BTreeSet;

use jiff::SignedDuration;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;

use super::check::Check;
use super::model::{SCHEDULE_KEYS, WINDOW_KEYS};
use crate::experiment::diagnostic::Span;
use crate::experiment::source::{Node, NodeValue, join, number};
use crate::monkey::calendar::Calendar;
use crate::server::schedule::{CronExpr, Overlap, Schedule, Trigger};

impl Check<'_> {
    /// `"30 2 * * *"`, `"every 30m"`, or a mapping with `cron` or `every` and options.
    pub(super) fn schedule(&mut self, v: &Node, p: &str, default_zone: &str) -> Option<Schedule> {
        let tz_default = || TimeZone::get(default_zone).unwrap_or(TimeZone::UTC);
        let mut schedule = Schedule {
            trigger: Trigger::Every(SignedDuration::from_hours(1)),
            tz: tz_default(),
            tz_name: default_zone.to_string(),
            jitter: None,
            window: None,
            overlap: Overlap::Skip,
        };
        let mut trigger_span = v.span;
        match &v.value {
            NodeValue::Str(text) => schedule.trigger = self.trigger_text(text, v.span, p)?,
            NodeValue::Map(_) => {
                let entries = self.r.mapping(v, p, &SCHEDULE_KEYS);
                if let Some(z) = v.get("time_zone")
                    && let Some((name, tz)) = self.zone(z, &join(p, "time_zone"))
                {
                    schedule.tz = tz;
                    schedule.tz_name = name;
                }
                let mut trigger = None;
                let mut bad = false;
                for (key, value) in entries {
                    let kp = join(p, &key.name);
                    match key.name.as_str() {
                        "cron" | "every" => {
                            if trigger.is_some() {
                                self.r
                                    .error(key.span, &kp, "give one of cron and every, not both");
                                bad = true;
                                continue;
                            }
                            trigger_span = value.span;
                            let Some(text) = self.r.string(value, &kp) else {
                                bad = true;
                                continue;
                            };
                            let parsed = if key.name == "cron" {
                                match CronExpr::parse(&text) {
                                    Ok(c) => Some(Trigger::Cron(Box::new(c))),
                                    Err(e) => {
                                        self.r.error(value.span, &kp, e);
                                        None
                                    }
                                }
                            } else {
                                self.interval(&text, value.span, &kp).map(Trigger::Every)
                            };
                            match parsed {
                                Some(t) => trigger = Some(t),
                                None => bad = true,
                            }
                        }
                        "jitter" => schedule.jitter = self.duration(value, &kp, true),
                        "overlap" => match value.as_str() {
                            Some("skip") => schedule.overlap = Overlap::Skip,
                            Some("queue") => schedule.overlap = Overlap::Queue,
                            _ => self.r.error(value.span, &kp, "expected skip or queue"),
                        },
                        "window" => schedule.window = self.window(value, &kp, &schedule.tz),
                        _ => {}
                    }
                }
                match trigger {
                    Some(t) => schedule.trigger = t,
                    None if bad => return None,
                    None => {
                        self.r.error(
                            v.span,
                            p,
                            "a schedule needs cron (e.g. \"30 2 * * *\") or every (e.g. 30m)",
                        );
                        return None;
                    }
                }
            }
            _ => {
                self.r.error(
                    v.span,
                    p,
                    format!(
                        "expected a cron expression, \"every 30m\" or a mapping, got {}",
                        v.type_name()
                    ),
                );
                return None;
            }
        }
        if schedule.next_after(self.cx.now).is_none() {
            let within = if schedule.window.is_some() {
                " inside its window"
            } else {
                ""
            };
            self.r.error(
                trigger_span,
                p,
                format!(
                    "{} never fires{within} (searched ten years ahead)",
                    schedule.trigger.describe()
                ),
            );
            return None;
        }
        Some(schedule)
    }

    fn trigger_text(&mut self, text: &str, span: Span, p: &str) -> Option<Trigger> {
        if let Some(rest) = text.trim().strip_prefix("every ") {
            return self.interval(rest, span, p).map(Trigger::Every);
        }
        match CronExpr::parse(text) {
            Ok(c) => Some(Trigger::Cron(Box::new(c))),
            Err(e) => {
                self.r.error(span, p, format!("{e}, or \"every 30m\""));
                None
            }
        }
    }

    fn interval(&mut self, text: &str, span: Span, p: &str) -> Option<SignedDuration> {
        let d = parse_duration(text);
        match d {
            Some(d) if d >= SignedDuration::from_secs(1) => Some(d),
            _ => {
                self.r.error(
                    span,
                    p,
                    format!("{text:?} is not an interval; expected a duration of at least 1s such as 30m, 2h or 1h30m"),
                );
                None
            }
        }
    }

    fn duration(&mut self, v: &Node, p: &str, zero_ok: bool) -> Option<SignedDuration> {
        let d = match &v.value {
            NodeValue::Str(s) => parse_duration(s),
            NodeValue::Int(_) | NodeValue::Float(_) => number(v)
                .filter(|n| n.is_finite() && *n >= 0.0 && *n < 1e12)
                .map(SignedDuration::from_secs_f64),
            _ => None,
        };
        match d {
            Some(d) if !d.is_negative() && (zero_ok || d.is_positive()) => Some(d),
            _ => {
                self.r.error(
                    v.span,
                    p,
                    "expected a duration such as 5m or 90s (a number is seconds)",
                );
                None
            }
        }
    }

    fn window(&mut self, v: &Node, p: &str, tz: &TimeZone) -> Option<Calendar> {
        let entries = self.r.mapping(v, p, &WINDOW_KEYS);
        v.entries()?;
        let (mut start, mut end) = (9, 17);
        let mut days = vec![
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
        ];
        let mut holidays = BTreeSet::new();
        for (key, value) in entries {
            let kp = join(p, &key.name);
            match key.name.as_str() {
                "start_hour" => start = self.r.hour(value, &kp, start),
                "end_hour" => end = self.r.hour(value, &kp, end),
                "work_days" => days = self.r.work_days(value, &kp),
                "holidays" => holidays = self.r.holidays(value, &kp),
                _ => {}
            }
        }
        if end <= start {
            self.r.error(
                v.span,
                p,
                format!("end_hour ({end}) must be after start_hour ({start})"),
            );
            return None;
        }
        if days.is_empty() {
            self.r.error(
                v.span,
                &join(p, "work_days"),
                "expected at least one work day",
            );
            return None;
        }
        Some(Calendar::from_parts(
            tz.clone(),
            (start, end),
            days,
            holidays,
        ))
    }
}

/// `30m`, `1h30m`, `90s`, `2 hours`, `PT30M` (jiff's friendly and ISO 8601 formats).
pub(super) fn parse_duration(text: &str) -> Option<SignedDuration> {
    text.trim().parse::<SignedDuration>().ok()
}
