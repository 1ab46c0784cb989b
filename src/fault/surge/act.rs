//! What a surge does: work out its rates (measuring the base rate from the fault proxy when
//! asked), check them against the ceiling, start `monkeywrench load` idle as owner-bound work,
//! record the lease (its pid + start time), then say go and forward its figures.

use serde_json::json;

use super::figures::{self, FiguresSink};
use crate::fault::owned::{self, Host, Waiting, Work};
use crate::fault::{self, Act, Error, Origin, Plan};
use crate::loadgen::{Profile, ProfileError, ProfileSpec};
use crate::proxy::ProxyApi;

/// The surge's one target: the URL it was given (there is nothing to pick).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Victim;

/// The base rate a multiple refers to.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Base {
    None,
    Declared(f64),
    /// The rps a fault-proxy http proxy measured over a window.
    Proxy {
        api: String,
        proxy: String,
        window_s: u64,
    },
}

/// The rate the surge reaches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Peak {
    Rate(f64),
    Multiple(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Shape {
    /// From the base (or 0) to the peak over `ramp_s`, then the peak until reverted.
    Ramp { peak: Peak, ramp_s: f64 },
    /// A profile as `load --profile` takes it; its last rate holds until reverted.
    Profile { spec: ProfileSpec, text: String },
}

/// The act of `traffic.surge`.
#[derive(Debug, Clone)]
pub struct Surging {
    pub(super) url: String,
    pub(super) shape: Shape,
    pub(super) base: Base,
    pub(super) max_rate: f64,
    pub(super) connections: u64,
    pub(super) method: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: String,
    pub(super) timeout_s: f64,
    pub(super) figures: Option<FiguresSink>,
    pub(super) budget: Option<Budget>,
}

/// An experiment's `max-surge-rate` and the peak rates of its surges already going.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub ceiling: f64,
    pub in_use: f64,
}

impl Surging {
    pub(super) fn declared_base(&self) -> Option<f64> {
        match self.base {
            Base::Declared(b) => Some(b),
            Base::None | Base::Proxy { .. } => None,
        }
    }

    /// The profile as `load --profile` takes it.
    fn profile_text(&self, base: Option<f64>) -> String {
        match &self.shape {
            Shape::Profile { text, .. } => text.clone(),
            Shape::Ramp { peak, ramp_s } => {
                let peak = match peak {
                    Peak::Rate(r) => format!("{r}"),
                    Peak::Multiple(m) => format!("{m}x"),
                };
                let hold = format!("constant:{peak}/1s");
                if *ramp_s > 0.0 {
                    format!("ramp:{}..{peak}/{ramp_s}s,{hold}", base.unwrap_or(0.0))
                } else {
                    hold
                }
            }
        }
    }

    fn spec(&self, base: Option<f64>) -> Result<ProfileSpec, ProfileError> {
        match &self.shape {
            Shape::Profile { spec, .. } => Ok(spec.clone()),
            Shape::Ramp { .. } => ProfileSpec::parse(&self.profile_text(base)),
        }
    }

    /// The absolute profile for this base, checked against the ceiling.
    pub(super) fn profile_with(&self, base: Option<f64>) -> Result<Profile, ProfileError> {
        self.spec(base)?.resolve(base, Some(self.max_rate))
    }

    /// The base rate now: declared, or measured by the fault proxy.
    async fn base_now(&self) -> Result<Option<f64>, Error> {
        let Base::Proxy {
            api,
            proxy,
            window_s,
        } = &self.base
        else {
            return Ok(self.declared_base());
        };
        let what = format!("measure the base rate of proxy {proxy:?}");
        let body = ProxyApi::new(api.trim_end_matches('/'))
            .traffic(proxy, Some(*window_s))
            .await
            .map_err(|e| Error::failed(&what, e))?;
        let rps = body["http"]["rps"].as_f64().ok_or_else(|| {
            Error::failed(
                &what,
                "it is not an http proxy of monkeywrench's fault proxy",
            )
        })?;
        if rps <= 0.0 {
            return Err(Error::failed(
                &what,
                format!("it saw no traffic in the last {window_s} s (declare base_rate instead)"),
            ));
        }
        Ok(Some(rps))
    }
}

/// What the plan hands to the apply.
#[derive(Debug)]
pub struct Planned {
    work: Work,
    waiting: Waiting,
    pid: i32,
}

impl Act for Surging {
    type Victim = Victim;
    type Planned = Planned;

    async fn plan(&self, _: &Victim, origin: &Origin) -> Result<(Plan, Planned), Error> {
        let base = self.base_now().await?;
        let profile = self
            .profile_with(base)
            .map_err(|e| Error::failed("plan the surge", e))?;
        if let Some(Budget { ceiling, in_use }) = self.budget
            && profile.peak() + in_use > ceiling
        {
            return Err(Error::failed(
                "plan the surge",
                format!(
                    "it would reach {} req/s while the run's other surges send {in_use} req/s: together above the experiment's max-surge-rate of {ceiling} req/s",
                    profile.peak()
                ),
            ));
        }
        let exe = std::env::current_exe()
            .map_err(|e| Error::failed("find the monkeywrench binary", e))?;
        let left = (origin.deadline - jiff::Timestamp::now())
            .as_secs_f64()
            .max(0.001);
        // A backstop: the load stops by itself a little after the deadline.
        let until = origin.deadline.as_second().max(0) as u64 + 5;
        let mut args = vec![
            "load".to_string(),
            self.url.clone(),
            format!("--profile={}", self.profile_text(base)),
            format!("--connections={}", self.connections),
            format!("--duration={left}s"),
            format!("--timeout={}s", self.timeout_s),
            format!("--max-rate={}", self.max_rate),
            format!("--method={}", self.method),
            "--figures".into(),
            format!("--until={until}"),
        ];
        if let Some(b) = base {
            args.push(format!("--base-rate={b}"));
        }
        for (name, value) in &self.headers {
            args.push(format!("--header={name}: {value}"));
        }
        if !self.body.is_empty() {
            args.push(format!("--body={}", self.body));
        }
        let work = Work {
            exe: exe.clone(),
            program: exe.to_string_lossy().into_owned(),
            args,
            pipe_stdout: self.figures.is_some(),
        };
        let (work_plan, waiting) = work.plan(&Host, origin).await?;
        let fault::Undo::Owned(owned::Undo::StopWork { process }) = work_plan.undo else {
            return Err(Error::failed(
                "start the surge",
                "owner-bound work without its process",
            ));
        };
        let plan = Plan {
            target: json!({
                "kind": "surge",
                "url": self.url,
                "pid": process.pid,
                "profile": self.profile_text(base),
                "base_rps": base,
                "peak_rps": profile.peak(),
                "max_rate": self.max_rate,
            }),
            undo: fault::Undo::Owned(owned::Undo::StopWork { process }),
            settles_within: None,
        };
        Ok((
            plan,
            Planned {
                work,
                waiting,
                pid: process.pid,
            },
        ))
    }

    async fn apply(self, _: Victim, planned: Planned) -> Result<(), Error> {
        let Planned {
            work,
            mut waiting,
            pid,
        } = planned;
        if let (Some(sink), Some(stdout)) = (self.figures.clone(), waiting.take_stdout()) {
            figures::forward(pid, stdout, sink);
        }
        work.apply(Host, waiting).await
    }
}
