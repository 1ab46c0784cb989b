//! The process verbs, their argument schemas, and typed arguments parsed once.

use std::time::Duration;

use serde_json::Value;

use super::act::Action;
use crate::fault::{Act, Error, Family, Selecting, Victims};
use crate::schema::{ArgSpec, ArgType, ArgumentProblem, Reader};
use crate::target::process::{ProcessInfo, parse_signal};
use crate::target::selector::ProcessSelector;
use crate::target::{BlastRadius, Driver, Processes, select};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `process.kill`.
    Kill,
    /// `process.stop`.
    Stop,
    /// `process.restart`.
    Restart,
}

pub(crate) const TARGET_ARG: ArgSpec = ArgSpec::required(
    "target",
    ArgType::Target,
    "process selector: {pid}, {name} or {pattern} (regex on the command line), optional ppid, user",
);

const STOP_ARGS: &[ArgSpec] = &[TARGET_ARG];

const KILL_ARGS: &[ArgSpec] = &[
    TARGET_ARG,
    ArgSpec::optional(
        "signal",
        ArgType::Str,
        Some("SIGKILL"),
        "signal name (SIGKILL, SIGTERM, SIGINT, SIGHUP, …)",
    ),
];

const RESTART_ARGS: &[ArgSpec] = &[
    TARGET_ARG,
    ArgSpec::required(
        "command",
        ArgType::Str,
        "shell command that starts the process again (run detached)",
    ),
    ArgSpec::optional(
        "signal",
        ArgType::Str,
        Some("SIGTERM"),
        "signal asking it to stop",
    ),
    ArgSpec::optional(
        "timeout_s",
        ArgType::Number { min: -1.0 },
        Some("5"),
        "seconds to wait before SIGKILL",
    ),
];

impl Verb {
    pub const ALL: [Verb; 3] = [Verb::Kill, Verb::Stop, Verb::Restart];

    /// The builtin's name.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Kill => "process.kill",
            Verb::Stop => "process.stop",
            Verb::Restart => "process.restart",
        }
    }

    /// One line for the catalogue.
    pub fn describe(self) -> &'static str {
        match self {
            Verb::Kill => "send a signal (SIGKILL by default) to target processes; irreversible",
            Verb::Stop => "freeze target processes with SIGSTOP; reverted with SIGCONT",
            Verb::Restart => {
                "stop target processes (signal, then SIGKILL after timeout_s) and run the restart command"
            }
        }
    }

    pub fn arguments(self) -> &'static [ArgSpec] {
        match self {
            Verb::Kill => KILL_ARGS,
            Verb::Stop => STOP_ARGS,
            Verb::Restart => RESTART_ARGS,
        }
    }

    /// Whether its effect can be undone (so `duration` applies).
    pub fn is_reversible(self) -> bool {
        match self {
            Verb::Stop => true,
            Verb::Kill | Verb::Restart => false,
        }
    }

    /// Parses substituted arguments.
    pub fn parse(self, args: &Value) -> Result<ProcessFault, Vec<ArgumentProblem>> {
        let mut r = Reader::new(self.arguments(), args);
        let targets = read_targets(&mut r);
        let action = match self {
            Verb::Kill => Action::Kill {
                signal: read_signal(&mut r),
            },
            Verb::Stop => Action::Stop,
            Verb::Restart => Action::Restart {
                signal: read_signal(&mut r),
                grace: Duration::from_secs_f64(r.number("timeout_s").unwrap_or(0.0).max(0.0)),
                command: r.text("command").unwrap_or_default(),
            },
        };
        r.finish(())?;
        Ok(ProcessFault {
            action,
            targets: targets?,
        })
    }
}

/// `arguments.signal`, or its default; a name that is no signal is a problem (a value that is no
/// string was reported by the schema already).
pub(crate) fn read_signal(r: &mut Reader) -> String {
    let Some(signal) = r.text("signal") else {
        return String::new();
    };
    if let Err(e) = parse_signal(&signal) {
        r.problem("signal", e.to_string());
    }
    signal
}

/// The processes a call acts on: `arguments.target` and an optional `blast-radius`.
#[derive(Debug, Clone)]
pub(crate) struct ProcessTargets {
    selector: ProcessSelector,
    raw: Value,
    radius: Option<BlastRadius>,
}

impl ProcessTargets {
    /// Finds the matching processes and picks the victims.
    pub(crate) async fn victims(
        &self,
        selecting: &Selecting,
    ) -> Result<Victims<ProcessInfo>, Error> {
        let driver = Processes {
            protected: selecting.protected.clone(),
        };
        let radius = self.radius.as_ref().unwrap_or(&selecting.radius);
        let what = format!("the process target {}", self.raw);
        let selection = select(&driver, &self.selector, &what, radius, selecting.seed).await?;
        Ok(Victims::picked(selection, Processes::describe, |p| p))
    }
}

/// Reads the targets; a missing or bad selector is a problem (the error lists them all).
fn read_targets(r: &mut Reader) -> Result<ProcessTargets, Vec<ArgumentProblem>> {
    let target = r.value("target").cloned().and_then(|raw| {
        ProcessSelector::parse(&raw)
            .map_err(|e| r.problem("target", e.to_string()))
            .ok()
            .map(|selector| (selector, raw))
    });
    let radius = parse_radius(r);
    let (selector, raw) = target.ok_or_else(|| {
        vec![ArgumentProblem {
            path: "target".into(),
            message: "a process target is required".into(),
            suggestion: None,
        }]
    })?;
    Ok(ProcessTargets {
        selector,
        raw,
        radius,
    })
}

/// An activity's `arguments.blast-radius` override.
pub(crate) fn parse_radius(r: &mut Reader) -> Option<BlastRadius> {
    let raw = r.value("blast-radius")?;
    match BlastRadius::parse(raw) {
        Ok(radius) => Some(radius),
        Err(e) => {
            r.problem("blast-radius", e);
            None
        }
    }
}

/// A parsed process fault call.
#[derive(Debug, Clone)]
pub struct ProcessFault {
    /// What happens to each victim.
    pub action: Action,
    targets: ProcessTargets,
}

impl Family for ProcessFault {
    type Act = Action;

    async fn victims(&self, selecting: &Selecting) -> Result<Victims<ProcessInfo>, Error> {
        self.targets.victims(selecting).await
    }

    fn act(&self) -> &Action {
        &self.action
    }
}

/// Parses `process.resume`'s arguments: the target and an optional blast radius.
pub(crate) fn parse_resume(args: &Value) -> Result<ProcessTargets, Vec<ArgumentProblem>> {
    let mut r = Reader::new(STOP_ARGS, args);
    let targets = read_targets(&mut r);
    r.finish(())?;
    targets
}

pub(crate) const RESUME_ARGS: &[ArgSpec] = STOP_ARGS;

impl Act for Action {
    type Victim = ProcessInfo;
    type Planned = ();

    async fn plan(
        &self,
        victim: &ProcessInfo,
        _: &crate::fault::Origin,
    ) -> Result<(crate::fault::Plan, ()), Error> {
        Ok((self.plan_for(victim), ()))
    }

    async fn apply(self, victim: ProcessInfo, (): ()) -> Result<(), Error> {
        self.apply_to(&victim).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_come_from_the_schema_and_problems_are_collected() {
        let f = Verb::Kill.parse(&json!({"target": {"pid": 42}})).unwrap();
        assert!(matches!(f.action, Action::Kill { ref signal } if signal == "SIGKILL"));
        let f = Verb::Restart
            .parse(&json!({"target": {"name": "x"}, "command": "x &"}))
            .unwrap();
        match f.action {
            Action::Restart { signal, grace, .. } => {
                assert_eq!(
                    (signal.as_str(), grace),
                    ("SIGTERM", Duration::from_secs(5))
                );
            }
            other => panic!("{other:?}"),
        }
        let problems = Verb::Kill
            .parse(&json!({"target": {"nmae": "x"}, "signal": "SIGNOPE", "blast-radius": {"mode": "some"}}))
            .unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["target", "blast-radius", "signal"], "{problems:?}");
        assert!(Verb::Restart.parse(&json!({"target": {"pid": 1}})).is_err());
    }
}
