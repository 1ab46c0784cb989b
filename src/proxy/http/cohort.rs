//! Cohorts of an http proxy: a stable hash of who sent a request (a header, a cookie, or the
//! client's address) puts it in the control cohort, the experiment cohort, or neither, for as long
//! as the split stands; each cohort's figures are kept from the split on, for
//! [`compare`](super::compare).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::compare::{self, Arm, Thresholds};
use super::stats::{Figures, Sample, Series, WINDOW_SECONDS};
use super::toxics::cookie;
use crate::proxy::toxic::{ApiError, field};
use crate::seed::{Fnv, unit_from_hash};

/// What identifies a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CohortKey {
    /// A request header (lower-case name).
    Header(String),
    Cookie(String),
    /// The client's IP address (every connection from one address is one user).
    Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cohort {
    Control,
    Experiment,
}

impl Cohort {
    pub fn name(self) -> &'static str {
        match self {
            Cohort::Control => "control",
            Cohort::Experiment => "experiment",
        }
    }

    pub fn parse(name: &str) -> Option<Cohort> {
        match name {
            "control" => Some(Cohort::Control),
            "experiment" => Some(Cohort::Experiment),
            _ => None,
        }
    }
}

/// Where a request falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment {
    /// It does not carry the key (the header or cookie is missing).
    Unkeyed,
    /// In neither cohort: the untouched rest of the traffic.
    Outside,
    In(Cohort),
}

/// A split as set through the API.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortSplit {
    pub key: CohortKey,
    /// Percent of users in each cohort.
    pub control: f64,
    pub experiment: f64,
    /// Mixed into the hash, so different experiments draw different users.
    pub salt: String,
}

impl CohortSplit {
    /// `{"key": "header:x-user" | "cookie:session" | "client", "control": 1, "experiment": 1,
    /// "salt": "…"}` (percentages).
    pub fn parse(body: &Value) -> Result<CohortSplit, ApiError> {
        let bad = |m: String| ApiError::bad_body(format!("cohorts: {m}"));
        let obj = body
            .as_object()
            .ok_or_else(|| bad("expected an object with key, control and experiment".into()))?;
        let key_text = field(obj, "key").and_then(Value::as_str).ok_or_else(|| {
            bad("key is required: \"header:NAME\", \"cookie:NAME\" or \"client\"".into())
        })?;
        let key = match key_text.split_once(':') {
            Some(("header", name)) if !name.trim().is_empty() => {
                CohortKey::Header(name.trim().to_ascii_lowercase())
            }
            Some(("cookie", name)) if !name.trim().is_empty() => {
                CohortKey::Cookie(name.trim().to_string())
            }
            None if key_text == "client" => CohortKey::Client,
            _ => {
                return Err(bad(format!(
                    "key {key_text:?}: expected \"header:NAME\", \"cookie:NAME\" or \"client\""
                )));
            }
        };
        let share = |name: &str| -> Result<f64, ApiError> {
            match field(obj, name).map(Value::as_f64) {
                Some(Some(p)) if p > 0.0 && p <= 50.0 => Ok(p),
                Some(Some(p)) => Err(bad(format!(
                    "{name} is {p}: a percentage of users above 0 and at most 50"
                ))),
                Some(None) => Err(bad(format!("{name} must be a number (percent of users)"))),
                None => Err(bad(format!(
                    "{name} is required (percent of users, e.g. 1)"
                ))),
            }
        };
        let (control, experiment) = (share("control")?, share("experiment")?);
        let salt = match field(obj, "salt") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(bad("salt must be a string".into())),
        };
        for k in obj.keys() {
            if !["key", "control", "experiment", "salt"].contains(&k.as_str()) {
                return Err(bad(format!(
                    "unknown field {k:?}; expected key, control, experiment, salt"
                )));
            }
        }
        Ok(CohortSplit {
            key,
            control,
            experiment,
            salt,
        })
    }

    pub fn to_json(&self) -> Value {
        let key = match &self.key {
            CohortKey::Header(h) => format!("header:{h}"),
            CohortKey::Cookie(c) => format!("cookie:{c}"),
            CohortKey::Client => "client".into(),
        };
        json!({"key": key, "control": self.control, "experiment": self.experiment, "salt": self.salt})
    }

    /// The cohort of a request: the same user always lands in the same one.
    pub fn assign(&self, headers: &hyper::HeaderMap, client: Option<IpAddr>) -> Assignment {
        let hash = |value: &[u8]| Fnv::new().str(&self.salt).bytes(value).finish();
        let h = match &self.key {
            CohortKey::Header(name) => headers.get(name.as_str()).map(|v| hash(v.as_bytes())),
            CohortKey::Cookie(name) => cookie(headers, name).map(|v| hash(v.as_bytes())),
            CohortKey::Client => client.map(|ip| hash(ip.to_string().as_bytes())),
        };
        let Some(h) = h else {
            return Assignment::Unkeyed;
        };
        let u = unit_from_hash(h) * 100.0;
        if u < self.control {
            Assignment::In(Cohort::Control)
        } else if u < self.control + self.experiment {
            Assignment::In(Cohort::Experiment)
        } else {
            Assignment::Outside
        }
    }
}

/// A split in force and what its cohorts saw since it was set.
#[derive(Debug)]
pub struct CohortState {
    pub split: CohortSplit,
    started: Instant,
    figures: Mutex<CohortFigures>,
    /// The largest mSPRT ratios so far, per comparison asked (route and margins).
    looks: Mutex<HashMap<String, compare::Looks>>,
}

#[derive(Debug)]
struct CohortFigures {
    /// Per route, then overall (the last), for each cohort.
    control: Vec<Series>,
    experiment: Vec<Series>,
    unkeyed: u64,
    outside: u64,
}

impl CohortState {
    /// A split over a proxy with `routes` routes (plus `other`).
    pub fn new(split: CohortSplit, routes: usize) -> CohortState {
        let n = routes + 2;
        CohortState {
            split,
            started: Instant::now(),
            figures: Mutex::new(CohortFigures {
                control: (0..n).map(|_| Series::new()).collect(),
                experiment: (0..n).map(|_| Series::new()).collect(),
                unkeyed: 0,
                outside: 0,
            }),
            looks: Mutex::new(HashMap::new()),
        }
    }

    fn second(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Counts a request outside both cohorts.
    pub fn count(&self, assignment: Assignment) {
        let mut f = self.figures.lock().unwrap_or_else(|e| e.into_inner());
        match assignment {
            Assignment::Unkeyed => f.unkeyed += 1,
            Assignment::Outside => f.outside += 1,
            Assignment::In(_) => {}
        }
    }

    /// Records a request of `cohort` on `route` (an index; past the end = other).
    pub fn record(&self, route: usize, cohort: Cohort, sample: &Sample) {
        let second = self.second();
        let mut f = self.figures.lock().unwrap_or_else(|e| e.into_inner());
        let series = match cohort {
            Cohort::Control => &mut f.control,
            Cohort::Experiment => &mut f.experiment,
        };
        let overall = series.len() - 1;
        let route = route.min(overall - 1);
        series[route].record(second, sample);
        series[overall].record(second, sample);
    }

    /// The split and its requests so far.
    pub fn to_json(&self) -> Value {
        let f = self.figures.lock().unwrap_or_else(|e| e.into_inner());
        let overall = f.control.len() - 1;
        let mut v = self.split.to_json();
        v["since_s"] = json!(self.started.elapsed().as_secs_f64());
        v["requests"] = json!({
            "control": f.control[overall].total().requests(),
            "experiment": f.experiment[overall].total().requests(),
            "outside": f.outside,
            "unkeyed": f.unkeyed,
        });
        let figures = |s: &Series| {
            let t = s.total();
            let ms = |q: f64| {
                if t.latency().is_empty() {
                    0.0
                } else {
                    t.latency().value_at_quantile(q) as f64 / 1000.0
                }
            };
            json!({
                "requests": t.requests(),
                "errors": t.errors(),
                "error_rate": t.errors() as f64 / t.requests().max(1) as f64,
                "p50_ms": ms(0.5),
                "p99_ms": ms(0.99),
            })
        };
        v["control"] = figures(&f.control[overall]);
        v["experiment"] = figures(&f.experiment[overall]);
        v
    }

    /// Control vs experiment on `route` (an index, or `None` for all requests): since the split
    /// (`window_s` None: sequential, every look counts) or over the last `window_s` seconds (one
    /// fixed-horizon look).
    pub fn compare(&self, route: Option<usize>, window_s: Option<u64>, t: &Thresholds) -> Value {
        let (control, experiment) = {
            let f = self.figures.lock().unwrap_or_else(|e| e.into_inner());
            let i = route.unwrap_or(f.control.len() - 1);
            let pick = |s: &Series| -> Figures {
                match window_s {
                    None => s.total().clone(),
                    Some(w) => s.window(self.second(), w.clamp(1, WINDOW_SECONDS as u64)),
                }
            };
            (pick(&f.control[i]), pick(&f.experiment[i]))
        };
        fn arm(f: &Figures) -> Arm<'_> {
            Arm {
                requests: f.requests(),
                errors: f.errors(),
                latency: f.latency(),
            }
        }
        let (c, e) = (arm(&control), arm(&experiment));
        let mut judged = match window_s {
            Some(_) => compare::judge(&c, &e, t, None),
            None => {
                let look = format!(
                    "{route:?}|{}|{:?}|{:?}|{}",
                    t.max_error_rate_increase,
                    t.max_latency_increase_ms,
                    t.max_p99_increase_ms,
                    t.min_requests
                );
                let mut looks = self.looks.lock().unwrap_or_else(|e| e.into_inner());
                let best = looks.entry(look).or_insert(compare::NO_LOOKS);
                compare::judge(&c, &e, t, Some(best))
            }
        };
        judged["since_s"] = json!(self.started.elapsed().as_secs_f64());
        judged["window_s"] = json!(window_s);
        judged
    }
}
