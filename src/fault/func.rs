//! The closed set of fault functions, and a parsed fault call of any family.

use serde_json::Value;

use super::{container, k8s, process, proxy, stress, surge, swarm};
use crate::schema::{ArgSpec, ArgumentProblem};

/// A fault function, by family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultFunc {
    /// `process.*`.
    Process(process::Verb),
    /// `container.*`.
    Container(container::Verb),
    /// `swarm.*`.
    Swarm(swarm::Verb),
    /// `proxy.*` and `http.fault`.
    Proxy(proxy::Verb),
    /// `stress.*`.
    Stress(stress::Verb),
    /// `traffic.surge`.
    Surge(surge::Verb),
    /// `k8s.*`.
    K8s(k8s::Verb),
}

/// A parsed fault call: typed arguments, ready to select victims and apply.
#[derive(Debug, Clone)]
pub enum Fault {
    Process(process::ProcessFault),
    Container(container::ContainerFault),
    Swarm(swarm::SwarmFault),
    Proxy(proxy::ProxyFault),
    Stress(stress::StressFault),
    Surge(surge::SurgeFault),
    K8s(k8s::K8sFault),
}

impl FaultFunc {
    /// Every fault function, family by family.
    pub fn all() -> impl Iterator<Item = FaultFunc> {
        let process = process::Verb::ALL.into_iter().map(FaultFunc::Process);
        let container = container::Verb::ALL.into_iter().map(FaultFunc::Container);
        let swarm = swarm::Verb::ALL.into_iter().map(FaultFunc::Swarm);
        let proxy = proxy::Verb::ALL.into_iter().map(FaultFunc::Proxy);
        let stress = stress::Verb::ALL.into_iter().map(FaultFunc::Stress);
        let surge = surge::Verb::ALL.into_iter().map(FaultFunc::Surge);
        let k8s = k8s::Verb::ALL.into_iter().map(FaultFunc::K8s);
        process
            .chain(container)
            .chain(swarm)
            .chain(proxy)
            .chain(stress)
            .chain(surge)
            .chain(k8s)
    }

    /// The `family.verb` name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            FaultFunc::Process(v) => v.name(),
            FaultFunc::Container(v) => v.name(),
            FaultFunc::Swarm(v) => v.name(),
            FaultFunc::Proxy(v) => v.name(),
            FaultFunc::Stress(v) => v.name(),
            FaultFunc::Surge(v) => v.name(),
            FaultFunc::K8s(v) => v.name(),
        }
    }

    /// One line for the catalogue.
    pub fn describe(self) -> &'static str {
        match self {
            FaultFunc::Process(v) => v.describe(),
            FaultFunc::Container(v) => v.describe(),
            FaultFunc::Swarm(v) => v.describe(),
            FaultFunc::Proxy(v) => v.describe(),
            FaultFunc::Stress(v) => v.describe(),
            FaultFunc::Surge(v) => v.describe(),
            FaultFunc::K8s(v) => v.describe(),
        }
    }

    pub fn arguments(self) -> &'static [ArgSpec] {
        match self {
            FaultFunc::Process(v) => v.arguments(),
            FaultFunc::Container(v) => v.arguments(),
            FaultFunc::Swarm(v) => v.arguments(),
            FaultFunc::Proxy(v) => v.arguments(),
            FaultFunc::Stress(v) => v.arguments(),
            FaultFunc::Surge(v) => v.arguments(),
            FaultFunc::K8s(v) => v.arguments(),
        }
    }

    /// Whether its effect can be undone (so `duration` applies).
    pub fn is_reversible(self) -> bool {
        match self {
            FaultFunc::Process(v) => v.is_reversible(),
            FaultFunc::Container(v) => v.is_reversible(),
            FaultFunc::Swarm(v) => v.is_reversible(),
            FaultFunc::Proxy(v) => v.is_reversible(),
            FaultFunc::K8s(v) => v.is_reversible(),
            FaultFunc::Stress(_) | FaultFunc::Surge(_) => true,
        }
    }

    /// Whether it picks victims with a selector and a blast radius (previewed by `--dry-run`).
    pub fn takes_targets(self) -> bool {
        match self {
            FaultFunc::Process(_) | FaultFunc::Container(_) => true,
            FaultFunc::Stress(_) => true,
            FaultFunc::Swarm(v) => v.takes_targets(),
            FaultFunc::K8s(v) => v.takes_targets(),
            FaultFunc::Proxy(_) | FaultFunc::Surge(_) => false,
        }
    }

    /// Parses substituted arguments into a typed call.
    pub fn parse(self, args: &Value) -> Result<Fault, Vec<ArgumentProblem>> {
        Ok(match self {
            FaultFunc::Process(v) => Fault::Process(v.parse(args)?),
            FaultFunc::Container(v) => Fault::Container(v.parse(args)?),
            FaultFunc::Swarm(v) => Fault::Swarm(v.parse(args)?),
            FaultFunc::Proxy(v) => Fault::Proxy(v.parse(args)?),
            FaultFunc::Stress(v) => Fault::Stress(v.parse(args)?),
            FaultFunc::Surge(v) => Fault::Surge(v.parse(args)?),
            FaultFunc::K8s(v) => Fault::K8s(v.parse(args)?),
        })
    }
}
