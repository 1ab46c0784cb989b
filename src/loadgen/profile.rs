//! Arrival-rate profiles: stages of constant, step, linear ramp and spike load, and when the
//! k-th request of the open model is due.
//!
//! Grammar (stages separated by `,`, run one after the other):
//!
//! ```text
//! constant:RATE/DUR          RATE req/s for DUR
//! ramp:FROM..TO/DUR          linear from FROM to TO req/s over DUR
//! step:FROM..TO/DUR@N        N equal steps from FROM to TO (default 4)
//! spike:BASE..PEAK/DUR@LEN   BASE req/s, with PEAK for LEN in the middle (default DUR/5)
//! ```
//!
//! `RATE` is a number of requests per second, or `Nx` (a multiple of a base rate, where one is
//! known: `traffic.surge`). `DUR` is a number with `ms`, `s`, `m` or `h` (a bare number is
//! seconds). The k-th request is due when the integral of the rate reaches k — computed exactly
//! per segment, so the achieved count follows the asked one without drift.

use std::time::Duration;

/// A rate as written: absolute, or a multiple of the base rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    PerSecond(f64),
    Times(f64),
}

/// A stage as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Constant {
        rate: Rate,
        dur: Duration,
    },
    Ramp {
        from: Rate,
        to: Rate,
        dur: Duration,
    },
    Step {
        from: Rate,
        to: Rate,
        dur: Duration,
        steps: u32,
    },
    Spike {
        base: Rate,
        peak: Rate,
        dur: Duration,
        len: Duration,
    },
}

/// A parsed profile, its rates maybe still relative to a base.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSpec {
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    #[error("profile stage {stage} ({text:?}): {problem}")]
    Syntax {
        stage: usize,
        text: String,
        problem: String,
    },
    #[error("the profile is empty (expected e.g. constant:100/30s)")]
    Empty,
    #[error("the profile uses a multiple of the base rate ({times}x) but no base rate is known")]
    NoBase { times: f64 },
    #[error("the profile reaches {peak} req/s, above the ceiling of {ceiling} req/s")]
    AboveCeiling { peak: f64, ceiling: f64 },
}

/// A linear piece of the rate curve: `from` to `to` req/s over `dur` seconds, starting at `start`
/// seconds, with `before` requests due before it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    start: f64,
    dur: f64,
    from: f64,
    to: f64,
    before: f64,
}

impl Segment {
    fn count(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.dur
    }

    /// Seconds into the segment at which `n` requests of it are due.
    fn time_of(&self, n: f64) -> f64 {
        let slope = (self.to - self.from) / self.dur.max(1e-12);
        if slope.abs() < 1e-12 {
            return n / self.from;
        }
        // from·τ + slope·τ²/2 = n
        let disc = (self.from * self.from + 2.0 * slope * n).max(0.0);
        (disc.sqrt() - self.from) / slope
    }
}

/// A profile with absolute rates: the rate at any time and the due time of every request.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    segments: Vec<Segment>,
    total: f64,
    count: f64,
}

impl ProfileSpec {
    pub fn parse(text: &str) -> Result<ProfileSpec, ProfileError> {
        let stages = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, s)| {
                parse_stage(s).map_err(|problem| ProfileError::Syntax {
                    stage: i + 1,
                    text: s.to_string(),
                    problem,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if stages.is_empty() {
            return Err(ProfileError::Empty);
        }
        Ok(ProfileSpec { stages })
    }

    /// One constant stage.
    pub fn constant(rate: f64, dur: Duration) -> ProfileSpec {
        ProfileSpec {
            stages: vec![Stage::Constant {
                rate: Rate::PerSecond(rate),
                dur,
            }],
        }
    }

    /// Whether any rate is a multiple of the base.
    pub fn is_relative(&self) -> bool {
        self.stages.iter().any(|s| match s {
            Stage::Constant { rate, .. } => matches!(rate, Rate::Times(_)),
            Stage::Ramp { from, to, .. } | Stage::Step { from, to, .. } => {
                matches!(from, Rate::Times(_)) || matches!(to, Rate::Times(_))
            }
            Stage::Spike { base, peak, .. } => {
                matches!(base, Rate::Times(_)) || matches!(peak, Rate::Times(_))
            }
        })
    }

    /// The total length of the stages.
    pub fn duration(&self) -> Duration {
        self.stages
            .iter()
            .map(|s| match s {
                Stage::Constant { dur, .. }
                | Stage::Ramp { dur, .. }
                | Stage::Step { dur, .. }
                | Stage::Spike { dur, .. } => *dur,
            })
            .sum()
    }

    /// Absolute rates (multiples of `base`), checked against the ceiling.
    pub fn resolve(
        &self,
        base: Option<f64>,
        ceiling: Option<f64>,
    ) -> Result<Profile, ProfileError> {
        let abs = |r: Rate| match r {
            Rate::PerSecond(x) => Ok(x),
            Rate::Times(t) => base.map(|b| b * t).ok_or(ProfileError::NoBase { times: t }),
        };
        let mut pieces: Vec<(f64, f64, f64)> = Vec::new();
        for stage in &self.stages {
            match stage {
                Stage::Constant { rate, dur } => {
                    let r = abs(*rate)?;
                    pieces.push((dur.as_secs_f64(), r, r));
                }
                Stage::Ramp { from, to, dur } => {
                    pieces.push((dur.as_secs_f64(), abs(*from)?, abs(*to)?));
                }
                Stage::Step {
                    from,
                    to,
                    dur,
                    steps,
                } => {
                    let (a, b) = (abs(*from)?, abs(*to)?);
                    let n = (*steps).max(1);
                    let each = dur.as_secs_f64() / f64::from(n);
                    for i in 0..n {
                        let r = if n == 1 {
                            b
                        } else {
                            a + (b - a) * f64::from(i) / f64::from(n - 1)
                        };
                        pieces.push((each, r, r));
                    }
                }
                Stage::Spike {
                    base,
                    peak,
                    dur,
                    len,
                } => {
                    let (b, p) = (abs(*base)?, abs(*peak)?);
                    let len = len.min(dur).as_secs_f64();
                    let side = (dur.as_secs_f64() - len) / 2.0;
                    pieces.push((side, b, b));
                    pieces.push((len, p, p));
                    pieces.push((side, b, b));
                }
            }
        }
        let profile = Profile::from_pieces(&pieces);
        if let Some(ceiling) = ceiling
            && profile.peak() > ceiling
        {
            return Err(ProfileError::AboveCeiling {
                peak: profile.peak(),
                ceiling,
            });
        }
        Ok(profile)
    }
}

impl Profile {
    fn from_pieces(pieces: &[(f64, f64, f64)]) -> Profile {
        let mut segments = Vec::new();
        let (mut start, mut before) = (0.0, 0.0);
        for &(dur, from, to) in pieces.iter().filter(|p| p.0 > 0.0) {
            let s = Segment {
                start,
                dur,
                from,
                to,
                before,
            };
            start += dur;
            before += s.count();
            segments.push(s);
        }
        Profile {
            segments,
            total: start,
            count: before,
        }
    }

    /// The length of the profile.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.total)
    }

    /// The highest rate it asks for.
    pub fn peak(&self) -> f64 {
        self.segments
            .iter()
            .map(|s| s.from.max(s.to))
            .fold(0.0, f64::max)
    }

    /// The rate asked for at `t` (the last rate holds after the end).
    pub fn rate_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        let Some(last) = self.segments.last() else {
            return 0.0;
        };
        match self
            .segments
            .iter()
            .find(|s| t >= s.start && t < s.start + s.dur)
        {
            Some(s) => s.from + (s.to - s.from) * (t - s.start) / s.dur,
            None if t < 0.0 => self.segments[0].from,
            None => last.to,
        }
    }

    /// Requests due by `t`.
    pub fn count_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        for s in &self.segments {
            if t < s.start + s.dur {
                let tau = (t - s.start).max(0.0);
                let r = s.from + (s.to - s.from) * tau / s.dur;
                return s.before + (s.from + r) / 2.0 * tau;
            }
        }
        let last = self.segments.last().map_or(0.0, |s| s.to);
        self.count + last * (t - self.total)
    }

    /// When the k-th request (from 0) is due; `None` if never (the rate dropped to 0 for good).
    pub fn due(&self, k: u64) -> Option<Duration> {
        // Request k goes when k requests were due before it, N⁻¹(k): the first at once.
        let n = k as f64;
        for s in &self.segments {
            if n < s.before + s.count() {
                let t = s.start + s.time_of(n - s.before);
                return Some(Duration::from_secs_f64(t.max(0.0)));
            }
        }
        let last = self.segments.last()?.to;
        (last > 0.0).then(|| Duration::from_secs_f64(self.total + (n - self.count) / last))
    }
}

fn parse_stage(text: &str) -> Result<Stage, String> {
    let (kind, rest) = text
        .split_once(':')
        .ok_or("expected KIND:RATES/DURATION, e.g. constant:100/30s")?;
    let (rates, timing) = rest
        .split_once('/')
        .ok_or("expected a duration after '/', e.g. /30s")?;
    let (dur, extra) = match timing.split_once('@') {
        Some((d, e)) => (d, Some(e)),
        None => (timing, None),
    };
    let dur = parse_duration(dur)?;
    if dur.is_zero() {
        return Err("the duration must be more than 0".into());
    }
    let two = || -> Result<(Rate, Rate), String> {
        let (a, b) = rates
            .split_once("..")
            .ok_or_else(|| format!("expected FROM..TO rates, found {rates:?}"))?;
        Ok((parse_rate(a)?, parse_rate(b)?))
    };
    let no_extra = |kind: &str| match extra {
        Some(_) => Err(format!("{kind} takes no @ part")),
        None => Ok(()),
    };
    match kind.trim() {
        "constant" => {
            no_extra("constant")?;
            Ok(Stage::Constant {
                rate: parse_rate(rates)?,
                dur,
            })
        }
        "ramp" => {
            no_extra("ramp")?;
            let (from, to) = two()?;
            Ok(Stage::Ramp { from, to, dur })
        }
        "step" => {
            let (from, to) = two()?;
            let steps = match extra {
                Some(e) => e
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| {
                        format!("expected a step count 1..10000 after @, found {e:?}")
                    })?,
                None => 4,
            };
            Ok(Stage::Step {
                from,
                to,
                dur,
                steps,
            })
        }
        "spike" => {
            let (base, peak) = two()?;
            let len = match extra {
                Some(e) => parse_duration(e)?,
                None => dur / 5,
            };
            if len > dur {
                return Err("the spike is longer than its stage".into());
            }
            Ok(Stage::Spike {
                base,
                peak,
                dur,
                len,
            })
        }
        other => Err(format!(
            "unknown stage kind {other:?} (expected constant, ramp, step or spike)"
        )),
    }
}

fn parse_rate(text: &str) -> Result<Rate, String> {
    let t = text.trim();
    let bad = || format!("expected a rate (req/s, or Nx for a multiple of the base), found {t:?}");
    let (number, times) = match t.strip_suffix('x') {
        Some(n) => (n, true),
        None => (t, false),
    };
    let x: f64 = number.trim().parse().map_err(|_| bad())?;
    if !x.is_finite() || !(0.0..=10_000_000.0).contains(&x) {
        return Err(format!("the rate {t:?} is out of range (0 to 10000000)"));
    }
    Ok(if times {
        Rate::Times(x)
    } else {
        Rate::PerSecond(x)
    })
}

/// `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("expected a duration such as 500ms, 30s, 2m or 1h, found {t:?}");
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let x: f64 = number.trim().parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => x / 1000.0,
        "s" => x,
        "m" => x * 60.0,
        "h" => x * 3600.0,
        _ => return Err(bad()),
    };
    if !secs.is_finite() || !(0.0..=31_536_000.0).contains(&secs) {
        return Err(format!("the duration {t:?} is out of range (up to a year)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> Profile {
        ProfileSpec::parse(text)
            .unwrap()
            .resolve(Some(100.0), None)
            .unwrap()
    }

    #[test]
    fn rates_per_stage() {
        let p = profile("ramp:100..1000/30s,constant:1000/60s");
        assert_eq!(p.duration(), Duration::from_secs(90));
        assert_eq!(p.rate_at(Duration::ZERO), 100.0);
        assert!((p.rate_at(Duration::from_secs(15)) - 550.0).abs() < 1e-9);
        assert_eq!(p.rate_at(Duration::from_secs(45)), 1000.0);
        assert_eq!(
            p.rate_at(Duration::from_secs(500)),
            1000.0,
            "holds after the end"
        );
        assert!((p.count_at(Duration::from_secs(30)) - 16_500.0).abs() < 1e-6);
        assert_eq!(p.peak(), 1000.0);
    }

    #[test]
    fn due_times_invert_the_count() {
        let p = profile("constant:10/1s,ramp:10..110/2s,spike:1x..5x/10s@2s,step:0..30/3s@4");
        for k in [0u64, 1, 9, 10, 11, 50, 119, 120, 500, 1500, 2000] {
            let t = p.due(k).unwrap();
            let n = p.count_at(t);
            assert!((n - k as f64).abs() < 1e-6, "k={k} t={t:?} n={n}");
        }
        assert_eq!(p.due(0), Some(Duration::ZERO));
        assert_eq!(p.due(5), Some(Duration::from_millis(500)));
    }

    #[test]
    fn steps_and_spikes() {
        let p = profile("step:100..400/40s@4");
        let at = |s: u64| p.rate_at(Duration::from_secs(s));
        assert_eq!(
            [at(5), at(15), at(25), at(35)],
            [100.0, 200.0, 300.0, 400.0]
        );
        let p = profile("spike:1x..5x/30s@6s");
        let at = |s: u64| p.rate_at(Duration::from_secs(s));
        assert_eq!([at(5), at(15), at(25)], [100.0, 500.0, 100.0]);
    }

    #[test]
    fn zero_rate_at_the_end_means_no_more_requests() {
        let p = profile("constant:10/1s,constant:0/1s");
        assert!(p.due(9).is_some());
        assert_eq!(p.due(10), None);
    }

    #[test]
    fn bad_profiles_say_which_stage_and_why() {
        let err = |t: &str| ProfileSpec::parse(t).unwrap_err().to_string();
        assert_eq!(
            err("constant:100/10s,ramp:1..x/5s"),
            "profile stage 2 (\"ramp:1..x/5s\"): expected a rate (req/s, or Nx for a multiple of the base), found \"x\""
        );
        assert!(err("wave:1/1s").contains("unknown stage kind \"wave\""));
        assert!(err("constant:100").contains("expected a duration after '/'"));
        assert!(err("constant:100/0s").contains("more than 0"));
        assert!(err("constant:100/5parsecs").contains("expected a duration"));
        assert!(err("ramp:100/5s").contains("FROM..TO"));
        assert!(err("constant:-1/5s").contains("out of range"));
        assert_eq!(err(" , "), ProfileError::Empty.to_string());
        let relative = ProfileSpec::parse("constant:5x/1s").unwrap();
        assert!(relative.is_relative());
        assert_eq!(
            relative.resolve(None, None).unwrap_err(),
            ProfileError::NoBase { times: 5.0 }
        );
        assert!(matches!(
            relative.resolve(Some(1000.0), Some(2000.0)),
            Err(ProfileError::AboveCeiling { .. })
        ));
    }
}
