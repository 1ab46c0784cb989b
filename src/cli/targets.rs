//! `monkeywrench targets`: preview which processes (or, with `--docker`, containers; with
//! `--k8s`, Kubernetes pods) a selector matches and which victims a mode and seed would pick (a
//! dry run; nothing is touched).

use clap::{Args, ValueEnum};

use super::state::StateArgs;
use crate::exit_code;
use crate::ledger::guard::guard_pid;
use crate::target::container_selector::ContainerSelector;
use crate::target::docker::Engine;
use crate::target::k8s::{Cluster, ClusterRef, K8sError, PodSelector, find_pods};
use crate::target::protected::Protected;
use crate::target::selector::{Pick, ProcessSelector, pick};

/// Blast-radius modes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum ModeArg {
    /// One victim.
    One,
    /// Every match.
    All,
    /// `--value` victims.
    Fixed,
    /// `--value` percent of the matches (at least one).
    FixedPercent,
    /// Up to `--value` percent, drawn at random (may be none).
    RandomMaxPercent,
}

/// Options of `monkeywrench targets`.
#[derive(Debug, Args)]
pub(super) struct TargetsArgs {
    /// Selector as JSON, e.g. '{"name": "nginx"}' or '{"pattern": "worker --queue=\\w+"}'; with
    /// --docker a container selector, e.g. '{"labels": {"app": "web"}}' or '{"service": "api"}';
    /// with --k8s a pod selector, e.g. '{"namespace": "shop", "owner": "deployment/web"}'.
    pub selector: String,
    /// The selector picks Docker containers (running ones; `monkeywrench.skip=true` never matches).
    #[arg(long, conflicts_with = "k8s")]
    pub docker: bool,
    /// The selector picks Kubernetes pods (the cluster of KUBECONFIG / ~/.kube/config / the pod's
    /// service account, as kubectl finds it; terminating pods and kube-system, unless named, never
    /// match).
    #[arg(long)]
    pub k8s: bool,
    /// With --k8s: the kubeconfig context (default: its current-context).
    #[arg(long, requires = "k8s")]
    pub context: Option<String>,
    /// How many to pick.
    #[arg(long, value_enum, default_value_t = ModeArg::One)]
    pub mode: ModeArg,
    /// The count or percentage for fixed / fixed-percent / random-max-percent.
    #[arg(long)]
    pub value: Option<f64>,
    /// Seed for the pick (printed so a run can reproduce it).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the ledger lives (to exclude a running guard).
    #[command(flatten)]
    pub state: StateArgs,
}

/// Prints matches and the picked victims.
pub(super) async fn execute(args: TargetsArgs) -> anyhow::Result<i32> {
    let value: serde_json::Value = match serde_json::from_str(&args.selector) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("monkeywrench: selector is not JSON: {e}");
            return Ok(exit_code::USAGE);
        }
    };
    let mode = match (args.mode, args.value) {
        (ModeArg::One, _) => Pick::One,
        (ModeArg::All, _) => Pick::All,
        (ModeArg::Fixed, Some(v)) => Pick::Fixed(v as u64),
        (ModeArg::FixedPercent, Some(v)) => Pick::FixedPercent(v),
        (ModeArg::RandomMaxPercent, Some(v)) => Pick::RandomMaxPercent(v),
        (ModeArg::Fixed | ModeArg::FixedPercent | ModeArg::RandomMaxPercent, None) => {
            let name = args
                .mode
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            eprintln!("monkeywrench: --mode {name} needs --value");
            return Ok(exit_code::USAGE);
        }
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    // One row per match, in the order victims are picked from.
    let (noun, rows) = if args.k8s {
        let selector = match PodSelector::parse(&value) {
            Ok(s) => s,
            Err(problems) => {
                for (key, message) in problems {
                    let at = if key.is_empty() {
                        String::new()
                    } else {
                        format!("{key}: ")
                    };
                    eprintln!("monkeywrench: selector {at}{message}");
                }
                return Ok(exit_code::USAGE);
            }
        };
        let cluster = ClusterRef {
            kubeconfig: None,
            context: args.context.clone(),
        };
        match pod_rows(&cluster, &selector).await {
            Ok(rows) => ("pod(s)", rows),
            Err(e) => {
                eprintln!("monkeywrench: {e}");
                return Ok(match e {
                    K8sError::KubeSystem | K8sError::NotFound(_) => exit_code::USAGE,
                    K8sError::NoConfig(_)
                    | K8sError::Unreachable { .. }
                    | K8sError::Unauthorized { .. }
                    | K8sError::Forbidden { .. }
                    | K8sError::Api { .. } => exit_code::UNAVAILABLE,
                });
            }
        }
    } else if args.docker {
        let selector = match ContainerSelector::parse(&value) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("monkeywrench: {e}");
                return Ok(exit_code::USAGE);
            }
        };
        match container_rows(&selector).await {
            Ok(rows) => ("container(s)", rows),
            Err(e) => {
                eprintln!("monkeywrench: {e}");
                return Ok(exit_code::UNAVAILABLE);
            }
        }
    } else {
        let selector = match ProcessSelector::parse(&value) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("monkeywrench: {e}");
                return Ok(exit_code::USAGE);
            }
        };
        let protected = Protected::current().with_guard(guard_pid(&args.state.dir()));
        let rows = selector
            .find(&protected)
            .iter()
            .map(|p| {
                format!(
                    "{:>7}  {:<16} {:<60}",
                    p.identity.pid,
                    p.name,
                    truncate(&p.cmdline, 60)
                )
            })
            .collect();
        ("process(es)", rows)
    };
    let picked = pick(rows.len(), &mode, seed);
    println!("{} {noun} match; seed {seed}", rows.len());
    for (i, row) in rows.iter().enumerate() {
        let mark = if picked.indices.contains(&i) {
            "→ victim"
        } else {
            ""
        };
        println!("  {row} {mark}");
    }
    if let Some(w) = picked.warning {
        println!("warning: {w}");
    }
    Ok(exit_code::OK)
}

/// The running containers a selector matches, one row each (id, name, image).
async fn container_rows(selector: &ContainerSelector) -> Result<Vec<String>, String> {
    let engine = Engine::connect().await.map_err(|e| e.to_string())?;
    let matched = selector.find(&engine).await.map_err(|e| e.to_string())?;
    Ok(matched
        .iter()
        .map(|c| {
            let id: String = c.id.chars().take(12).collect();
            format!(
                "{id}  {:<32} {:<32}",
                truncate(&c.name, 32),
                truncate(&c.image, 32)
            )
        })
        .collect())
}

/// The pods a selector matches, one row each (namespace/name, node, phase, owner).
async fn pod_rows(cluster: &ClusterRef, selector: &PodSelector) -> Result<Vec<String>, K8sError> {
    let cluster = Cluster::connect(cluster).await?;
    let matched = find_pods(&cluster, selector).await?;
    Ok(matched
        .iter()
        .map(|p| {
            format!(
                "{:<40} {:<16} {:<9} {}",
                truncate(&format!("{}/{}", p.namespace, p.name), 40),
                truncate(if p.node.is_empty() { "-" } else { &p.node }, 16),
                p.phase,
                p.owner.as_deref().unwrap_or("-")
            )
        })
        .collect())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}
