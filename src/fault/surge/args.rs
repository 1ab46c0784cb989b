//! `traffic.surge`: its argument schema and typed arguments parsed once.

use serde_json::Value;

use super::act::{Base, Budget, Peak, Shape, Surging, Victim};
use crate::fault::proxy::{API_ARG, DEFAULT_API};
use crate::fault::{Error, Family, Selecting, Victims};
use crate::loadgen::{ProfileSpec, Requests, Template, Url};
use crate::schema::{ArgSpec, ArgType, ArgumentProblem, Reader};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `traffic.surge`.
    Surge,
}

/// The most a surge may ask for when the experiment does not say (`max_rate`).
const DEFAULT_MAX_RATE: &str = "10000";

const SURGE_ARGS: &[ArgSpec] = &[
    ArgSpec::required(
        "url",
        ArgType::Str,
        "http:// URL to send the surge to (given explicitly; never picked)",
    ),
    ArgSpec::optional(
        "rate",
        ArgType::Number { min: 0.0 },
        None,
        "the surge's rate, req/s (or give multiple, or profile)",
    ),
    ArgSpec::optional(
        "multiple",
        ArgType::Number { min: 0.0 },
        None,
        "the surge's rate as a multiple of the base rate (base_rate or base_proxy)",
    ),
    ArgSpec::optional(
        "profile",
        ArgType::Str,
        None,
        "a load profile as `monkeywrench load --profile` takes it (Nx: a multiple of the base rate)",
    ),
    ArgSpec::optional(
        "ramp_s",
        ArgType::Number { min: -1.0 },
        Some("0"),
        "seconds to ramp from the base rate (0 without one) to rate or multiple; then it holds",
    ),
    ArgSpec::optional(
        "base_rate",
        ArgType::Number { min: 0.0 },
        None,
        "the current rate, declared, req/s",
    ),
    ArgSpec::optional(
        "base_proxy",
        ArgType::Str,
        None,
        "an http proxy of monkeywrench's fault proxy whose measured rps is the current rate",
    ),
    API_ARG,
    ArgSpec::optional(
        "base_window_s",
        ArgType::Int { min: 1, max: 900 },
        Some("10"),
        "seconds of the proxy's traffic the base rate is measured over",
    ),
    ArgSpec::optional(
        "max_rate",
        ArgType::Number { min: 0.0 },
        Some(DEFAULT_MAX_RATE),
        "the ceiling: a surge asking for more than this, req/s, is refused before it starts",
    ),
    ArgSpec::optional(
        "connections",
        ArgType::Int {
            min: 1,
            max: 10_000,
        },
        Some("64"),
        "keep-alive connections (the most requests in flight)",
    ),
    ArgSpec::optional("method", ArgType::Str, Some("GET"), "HTTP method"),
    ArgSpec::optional("headers", ArgType::Map, None, "request headers"),
    ArgSpec::optional("body", ArgType::Str, None, "request body"),
    ArgSpec::optional(
        "timeout_s",
        ArgType::Number { min: 0.0 },
        Some("5"),
        "per-request timeout, from the intended send time",
    ),
];

impl Verb {
    pub const ALL: [Verb; 1] = [Verb::Surge];

    pub fn name(self) -> &'static str {
        match self {
            Verb::Surge => "traffic.surge",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Verb::Surge => {
                "a traffic surge: HTTP load at a rate, a multiple of the current rate, or a profile, to an explicit URL; stopped on revert"
            }
        }
    }

    pub fn arguments(self) -> &'static [ArgSpec] {
        match self {
            Verb::Surge => SURGE_ARGS,
        }
    }

    pub fn parse(self, args: &Value) -> Result<SurgeFault, Vec<ArgumentProblem>> {
        let mut r = Reader::new(self.arguments(), args);
        let url_text = r.text("url").unwrap_or_default();
        let url = Url::parse(&url_text).unwrap_or_else(|e| {
            r.problem("url", e);
            Url::parse("http://127.0.0.1/").expect("a literal URL")
        });
        let positive = |r: &mut Reader, name: &str| {
            // The schema has reported a number not above 0 already.
            r.number(name).filter(|v| *v > 0.0 && v.is_finite())
        };
        let max_rate = positive(&mut r, "max_rate").unwrap_or(10_000.0);
        let base = match (positive(&mut r, "base_rate"), r.text("base_proxy")) {
            (Some(rate), Some(_)) => {
                r.problem("base_proxy", "give base_rate or base_proxy, not both");
                Base::Declared(rate)
            }
            (Some(rate), None) => Base::Declared(rate),
            (None, Some(proxy)) => Base::Proxy {
                api: r.text("api").unwrap_or_else(|| DEFAULT_API.into()),
                proxy,
                window_s: r.int("base_window_s").unwrap_or(10) as u64,
            },
            (None, None) => Base::None,
        };
        let ramp_s = r.number("ramp_s").unwrap_or(0.0);
        if ramp_s < 0.0 {
            r.problem("ramp_s", format!("{ramp_s} must be 0 or more"));
        }
        let given = |r: &Reader, n: &str| r.value(n).is_some();
        let shape = match (given(&r, "rate"), given(&r, "multiple"), r.text("profile")) {
            (true, false, None) => Shape::Ramp {
                peak: Peak::Rate(positive(&mut r, "rate").unwrap_or(1.0)),
                ramp_s,
            },
            (false, true, None) => {
                if matches!(base, Base::None) {
                    r.problem("multiple", "a multiple needs base_rate or base_proxy");
                }
                Shape::Ramp {
                    peak: Peak::Multiple(positive(&mut r, "multiple").unwrap_or(1.0)),
                    ramp_s,
                }
            }
            (false, false, Some(text)) => {
                if given(&r, "ramp_s") {
                    r.problem(
                        "ramp_s",
                        "a profile has its own ramps; give ramp_s or profile",
                    );
                }
                match ProfileSpec::parse(&text) {
                    Ok(spec) => {
                        if spec.is_relative() && matches!(base, Base::None) {
                            r.problem(
                                "profile",
                                "the profile uses Nx rates: give base_rate or base_proxy",
                            );
                        }
                        Shape::Profile { spec, text }
                    }
                    Err(e) => {
                        r.problem("profile", e.to_string());
                        Shape::Ramp {
                            peak: Peak::Rate(1.0),
                            ramp_s: 0.0,
                        }
                    }
                }
            }
            (false, false, None) => {
                r.problem("rate", "give rate, multiple or profile");
                Shape::Ramp {
                    peak: Peak::Rate(1.0),
                    ramp_s: 0.0,
                }
            }
            _ => {
                r.problem("rate", "give one of rate, multiple and profile");
                Shape::Ramp {
                    peak: Peak::Rate(1.0),
                    ramp_s: 0.0,
                }
            }
        };
        let headers: Vec<(String, String)> = r
            .value("headers")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = r.text("body").unwrap_or_default();
        if body.starts_with('@') {
            r.problem(
                "body",
                "a body starting with @ is not supported (load reads it as a file)",
            );
        }
        let method = r
            .text("method")
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase();
        let template = Template {
            method: method.clone(),
            headers: headers.clone(),
            body: bytes::Bytes::from(body.clone()),
        };
        if let Err(e) = Requests::single(&url, &template) {
            let path = if e.to_string().contains("method") {
                "method"
            } else {
                "headers"
            };
            r.problem(path, e.to_string());
        }
        // An absolute surge is checked against the ceiling now; one relative to a measured base
        // when it starts.
        let surging = Surging {
            url: url_text,
            shape,
            base,
            max_rate,
            connections: r.int("connections").unwrap_or(64) as u64,
            method,
            headers,
            body,
            timeout_s: r.number("timeout_s").unwrap_or(5.0).max(0.001),
            figures: None,
            budget: None,
        };
        if let Err(e) = surging.profile_with(surging.declared_base()) {
            let path = match surging.shape {
                Shape::Profile { .. } => "profile",
                Shape::Ramp { .. } => "rate",
            };
            if !matches!(e, crate::loadgen::ProfileError::NoBase { .. }) {
                r.problem(path, e.to_string());
            }
        }
        r.finish(SurgeFault { act: surging })
    }
}

/// A parsed `traffic.surge` call.
#[derive(Debug, Clone)]
pub struct SurgeFault {
    act: Surging,
}

impl SurgeFault {
    /// Where its per-second figures go (the run makes them events).
    pub fn with_figures(mut self, sink: super::FiguresSink) -> SurgeFault {
        self.act.figures = Some(sink);
        self
    }

    /// The run's ceiling for all its surges together, and what its active surges already send.
    pub fn within(mut self, budget: Budget) -> SurgeFault {
        self.act.budget = Some(budget);
        self
    }
}

impl Family for SurgeFault {
    type Act = Surging;

    async fn victims(&self, _: &Selecting) -> Result<Victims<Victim>, Error> {
        Ok(Victims::named(Victim))
    }

    fn act(&self) -> &Surging {
        &self.act
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(args: Value) -> Vec<String> {
        Verb::Surge
            .parse(&args)
            .unwrap_err()
            .into_iter()
            .map(|p| p.path)
            .collect()
    }

    #[test]
    fn a_surge_is_a_rate_a_multiple_or_a_profile() {
        let u = "http://127.0.0.1:9/";
        assert!(Verb::Surge.parse(&json!({"url": u, "rate": 100})).is_ok());
        assert!(
            Verb::Surge
                .parse(&json!({"url": u, "multiple": 5, "base_rate": 20, "ramp_s": 10}))
                .is_ok()
        );
        assert!(
            Verb::Surge
                .parse(&json!({"url": u, "profile": "ramp:1x..5x/10s", "base_proxy": "shop"}))
                .is_ok()
        );
        assert_eq!(paths(json!({"url": u})), ["rate"]);
        assert_eq!(paths(json!({"url": u, "rate": 1, "multiple": 2})), ["rate"]);
        assert_eq!(paths(json!({"url": u, "multiple": 2})), ["multiple"]);
        assert_eq!(
            paths(json!({"url": u, "profile": "constant:5x/1s"})),
            ["profile"]
        );
        assert_eq!(
            paths(json!({"url": u, "profile": "constant:5/1s", "ramp_s": 3})),
            ["ramp_s"]
        );
        assert_eq!(
            paths(json!({"url": u, "multiple": 2, "base_rate": 1, "base_proxy": "p"})),
            ["base_proxy"]
        );
    }

    #[test]
    fn bad_urls_rates_and_ceilings_are_problems() {
        assert_eq!(paths(json!({"url": "https://x/", "rate": 1})), ["url"]);
        assert_eq!(paths(json!({"url": "http://x/", "rate": 0})), ["rate"]);
        let p = Verb::Surge
            .parse(&json!({"url": "http://x/", "rate": 20000}))
            .unwrap_err();
        assert!(p[0].message.contains("above the ceiling of 10000"), "{p:?}");
        assert_eq!(
            paths(json!({"url": "http://x/", "multiple": 10, "base_rate": 100, "max_rate": 500})),
            ["rate"]
        );
        assert_eq!(
            paths(json!({"url": "http://x/", "profile": "wave:1/1s"})),
            ["profile"]
        );
        assert_eq!(
            paths(json!({"url": "http://x/", "rate": 1, "method": "G T"})),
            ["method"]
        );
    }
}
