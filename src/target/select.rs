//! The one selection path every platform shares: a [`Driver`] finds what a selector matches, the
//! blast radius picks victims among them with a seed (always reported, so a run can be repeated).

use std::future::Future;

use serde_json::Value;

use super::docker::EngineError;
use super::selector::{Pick, pick};

/// How many of the matched targets are hit, and the seed of the draw (spec §11.4).
#[derive(Debug, Clone, PartialEq)]
pub struct BlastRadius {
    /// How many.
    pub pick: Pick,
    /// Seed for the victim draw (else the run's `--seed`, else random).
    pub seed: Option<u64>,
}

impl Default for BlastRadius {
    fn default() -> Self {
        BlastRadius {
            pick: Pick::One,
            seed: None,
        }
    }
}

impl BlastRadius {
    /// Parses `{mode, value?, seed?}` (an activity's `arguments.blast-radius`).
    pub fn parse(v: &Value) -> Result<BlastRadius, String> {
        let (pick, seed) = super::selector::parse_pick(v)?;
        Ok(BlastRadius { pick, seed })
    }
}

impl Pick {
    /// The mode's name as written in experiment files.
    pub fn mode_name(&self) -> &'static str {
        match self {
            Pick::One => "one",
            Pick::All => "all",
            Pick::Fixed(_) => "fixed",
            Pick::FixedPercent(_) => "fixed-percent",
            Pick::RandomMaxPercent(_) => "random-max-percent",
        }
    }
}

/// Finding targets failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FindError {
    /// Nothing matched the selector.
    #[error("find a target: nothing matches {0}")]
    NoMatch(String),
    /// The platform could not be asked.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The Kubernetes API could not be asked, or refused.
    #[error(transparent)]
    K8s(#[from] super::k8s::K8sError),
}

impl FindError {
    /// Whether the platform could not be asked at all (see [`super::k8s::K8sError::is_unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        match self {
            FindError::NoMatch(_) => false,
            FindError::Engine(e) => e.is_unavailable(),
            FindError::K8s(e) => e.is_unavailable(),
        }
    }
}

/// A target platform (processes, Docker containers, Swarm tasks, …): finds what a selector
/// matches, never a protected target, in a stable order.
pub trait Driver: Sync {
    /// What selects targets.
    type Selector: Sync;
    /// One target.
    type Target: Clone + Send + Sync;
    /// Every target that matches now.
    fn find(
        &self,
        selector: &Self::Selector,
    ) -> impl Future<Output = Result<Vec<Self::Target>, FindError>> + Send;
    /// The target as run events and plans show it.
    fn describe(target: &Self::Target) -> Value;
}

/// The victims of one selection and how they were picked.
#[derive(Debug, Clone)]
pub struct Selection<T> {
    /// How many targets matched.
    pub matched: usize,
    pub victims: Vec<T>,
    /// Blast-radius mode name.
    pub mode: &'static str,
    /// The seed used (always reported so a run can be reproduced).
    pub seed: u64,
    /// A warning (a percentage that rounds to zero, …).
    pub warning: Option<String>,
}

impl<T> Selection<T> {
    /// The same selection with its victims described as JSON.
    pub fn described(&self, describe: impl Fn(&T) -> Value) -> Selection<Value> {
        Selection {
            matched: self.matched,
            victims: self.victims.iter().map(describe).collect(),
            mode: self.mode,
            seed: self.seed,
            warning: self.warning.clone(),
        }
    }
}

/// Finds the targets `selector` matches on `driver` and picks victims by `radius`; the seed is
/// the radius's, else `fallback_seed`, else random. `what` names the selector in errors.
pub async fn select<D: Driver>(
    driver: &D,
    selector: &D::Selector,
    what: &str,
    radius: &BlastRadius,
    fallback_seed: Option<u64>,
) -> Result<Selection<D::Target>, FindError> {
    let matched = driver.find(selector).await?;
    if matched.is_empty() {
        return Err(FindError::NoMatch(what.to_string()));
    }
    Ok(choose(matched, radius, fallback_seed))
}

/// Picks victims among `matched` by `radius`.
fn choose<T: Clone>(
    matched: Vec<T>,
    radius: &BlastRadius,
    fallback_seed: Option<u64>,
) -> Selection<T> {
    let seed = radius.seed.or(fallback_seed).unwrap_or_else(rand::random);
    let picked = pick(matched.len(), &radius.pick, seed);
    Selection {
        matched: matched.len(),
        victims: picked.indices.iter().map(|i| matched[*i].clone()).collect(),
        mode: radius.pick.mode_name(),
        seed,
        warning: picked.warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_radius_seed_beats_the_run_seed_and_is_reported() {
        let radius = BlastRadius {
            pick: Pick::Fixed(2),
            seed: Some(7),
        };
        let a = choose((0..10).collect(), &radius, Some(1));
        let b = choose((0..10).collect(), &radius, Some(2));
        assert_eq!((a.seed, a.victims.len(), a.mode), (7, 2, "fixed"));
        assert_eq!(a.victims, b.victims);
        let run_seeded = choose(
            (0..10).collect::<Vec<i32>>(),
            &BlastRadius::default(),
            Some(3),
        );
        assert_eq!((run_seeded.seed, run_seeded.victims.len()), (3, 1));
    }
}
