//! The container verbs, their argument schemas, and typed arguments parsed once.

use serde_json::Value;

use super::act::{Action, Victim};
use crate::fault::process::{parse_radius, read_signal};
use crate::fault::{Error, Family, Selecting, Victims};
use crate::schema::{ArgSpec, ArgType, ArgumentProblem, Reader};
use crate::target::container_selector::ContainerSelector;
use crate::target::docker::Engine;
use crate::target::{BlastRadius, Driver, FindError, select};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `container.kill`.
    Kill,
    /// `container.stop`.
    Stop,
    /// `container.pause`.
    Pause,
    /// `container.restart`.
    Restart,
    /// `container.disconnect`.
    Disconnect,
}

pub(crate) const TARGET_ARG: ArgSpec = ArgSpec::required(
    "target",
    ArgType::Target,
    "container selector: {name}, {pattern} (regex on the name), {labels}, {id}, {image}, {compose_project}, {compose_service} or {service} (Swarm)",
);

const PAUSE_ARGS: &[ArgSpec] = &[TARGET_ARG];

const KILL_ARGS: &[ArgSpec] = &[
    TARGET_ARG,
    ArgSpec::optional(
        "signal",
        ArgType::Str,
        Some("SIGKILL"),
        "signal sent to the container's main process",
    ),
];

const GRACE_ARGS: &[ArgSpec] = &[
    TARGET_ARG,
    ArgSpec::optional(
        "timeout_s",
        ArgType::Int { min: 0, max: 3600 },
        Some("10"),
        "seconds between SIGTERM and SIGKILL",
    ),
];

const DISCONNECT_ARGS: &[ArgSpec] = &[
    TARGET_ARG,
    ArgSpec::required(
        "network",
        ArgType::Str,
        "network to cut the containers off (name or id)",
    ),
];

impl Verb {
    pub const ALL: [Verb; 5] = [
        Verb::Kill,
        Verb::Stop,
        Verb::Pause,
        Verb::Restart,
        Verb::Disconnect,
    ];

    /// The builtin's name.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Kill => "container.kill",
            Verb::Stop => "container.stop",
            Verb::Pause => "container.pause",
            Verb::Restart => "container.restart",
            Verb::Disconnect => "container.disconnect",
        }
    }

    /// One line for the catalogue.
    pub fn describe(self) -> &'static str {
        match self {
            Verb::Kill => {
                "send a signal (SIGKILL by default) to target containers; irreversible (the restart policy applies)"
            }
            Verb::Stop => "stop target containers; started again when reverted",
            Verb::Pause => "freeze target containers; unpaused when reverted",
            Verb::Restart => "restart target containers",
            Verb::Disconnect => {
                "cut target containers off a network (a partition); reconnected with the same aliases when reverted"
            }
        }
    }

    pub fn arguments(self) -> &'static [ArgSpec] {
        match self {
            Verb::Kill => KILL_ARGS,
            Verb::Stop | Verb::Restart => GRACE_ARGS,
            Verb::Pause => PAUSE_ARGS,
            Verb::Disconnect => DISCONNECT_ARGS,
        }
    }

    /// Whether its effect can be undone (so `duration` applies).
    pub fn is_reversible(self) -> bool {
        match self {
            Verb::Stop | Verb::Pause | Verb::Disconnect => true,
            Verb::Kill | Verb::Restart => false,
        }
    }

    /// Parses substituted arguments.
    pub fn parse(self, args: &Value) -> Result<ContainerFault, Vec<ArgumentProblem>> {
        let mut r = Reader::new(self.arguments(), args);
        let target = parse_target(&mut r);
        let radius = parse_radius(&mut r);
        let grace = |r: &Reader| r.int("timeout_s").unwrap_or(10) as i32;
        let action = match self {
            Verb::Kill => {
                let signal = read_signal(&mut r);
                Action::Kill { signal }
            }
            Verb::Stop => Action::Stop {
                timeout_s: grace(&r),
            },
            Verb::Pause => Action::Pause,
            Verb::Restart => Action::Restart {
                timeout_s: grace(&r),
            },
            Verb::Disconnect => Action::Disconnect {
                network: r.text("network").unwrap_or_default(),
            },
        };
        r.finish(())?;
        let (selector, raw) = target.ok_or_else(|| {
            vec![ArgumentProblem {
                path: "target".into(),
                message: "a container target is required".into(),
                suggestion: None,
            }]
        })?;
        Ok(ContainerFault {
            action,
            selector,
            raw,
            radius,
        })
    }
}

/// `arguments.target` as a container selector (also used by `container.running`).
pub(crate) fn parse_target(r: &mut Reader) -> Option<(ContainerSelector, Value)> {
    let raw = r.value("target")?.clone();
    match ContainerSelector::parse(&raw) {
        Ok(s) => Some((s, raw)),
        Err(e) => {
            r.problem("target", e.to_string());
            None
        }
    }
}

/// Parses `container.running`'s target (a probe that shares the selector).
pub(crate) fn parse_running(args: &Value) -> Result<ContainerSelector, Vec<ArgumentProblem>> {
    let mut r = Reader::new(RUNNING_ARGS, args);
    let target = parse_target(&mut r);
    r.finish(())?;
    target.map(|(s, _)| s).ok_or_else(|| {
        vec![ArgumentProblem {
            path: "target".into(),
            message: "a container target is required".into(),
            suggestion: None,
        }]
    })
}

const RUNNING_ARGS: &[ArgSpec] = &[TARGET_ARG];

/// A parsed container fault call.
#[derive(Debug, Clone)]
pub struct ContainerFault {
    /// What happens to each victim.
    pub action: Action,
    selector: ContainerSelector,
    raw: Value,
    radius: Option<BlastRadius>,
}

impl Family for ContainerFault {
    type Act = Action;

    async fn victims(&self, selecting: &Selecting) -> Result<Victims<Victim>, Error> {
        let engine = Engine::connect().await.map_err(FindError::from)?;
        if let Action::Disconnect { network } = &self.action {
            // The network must exist before anything is picked or leased.
            engine.network(network).await.map_err(FindError::from)?;
        }
        let radius = self.radius.as_ref().unwrap_or(&selecting.radius);
        let what = format!("the running-container target {}", self.raw);
        let selection = select(&engine, &self.selector, &what, radius, selecting.seed).await?;
        Ok(Victims::picked(selection, Engine::describe, |container| {
            Victim {
                engine: engine.clone(),
                container,
            }
        }))
    }

    fn act(&self) -> &Action {
        &self.action
    }
}
