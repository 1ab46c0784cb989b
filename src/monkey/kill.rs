//! One kill attempt, in the order the spec fixes: enabled and not halted → inside the window →
//! outage gate → victims by the kill mode → min time and the history record (one transaction) →
//! kill through the normal fault path (ledger) → outcome recorded. Every skip is recorded with its
//! reason and notified.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::{Value, json};

use super::Monkey;
use super::history::{self, Attempt, Claim, Limits, Outcome, format_time};
use super::inventory::{Instance, InstanceRef, discover};
use super::planner::group_rng;
use crate::fault::{self, Error, Origin};
use crate::target::docker::{Engine, EngineError};
use crate::target::selector::pick;

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptReport {
    pub group: String,
    pub at: String,
    /// Why it was skipped, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Each victim and its outcome.
    pub victims: Vec<Value>,
}

impl Monkey {
    /// Attempts the kill of `group` planned for `planned_at` (None: an unplanned attempt).
    pub async fn attempt(&self, group: &str, planned_at: Option<Timestamp>) -> AttemptReport {
        let now = self.clock.now();
        let mut attempt = Attempt {
            at: now,
            day: self.calendar.date_of(now),
            group: group.to_string(),
            mode: self.config.kill_mode.describe(),
            leashed: self.config.leashed,
            planned_at,
        };
        match self.prepare(&mut attempt).await {
            Ok(victims) => self.kill(&attempt, victims).await,
            Err(Skip::Recorded(reason)) => self.skip(&attempt, &reason, true).await,
            Err(Skip::Unrecorded(reason)) => self.skip(&attempt, &reason, false).await,
            Err(Skip::Silent(reason)) => AttemptReport {
                group: attempt.group,
                at: format_time(&now),
                skipped: Some(reason),
                victims: Vec::new(),
            },
        }
    }

    /// Every check up to and including the claim; returns the victims with their history rows.
    async fn prepare(&self, attempt: &mut Attempt) -> Result<Vec<(Instance, String)>, Skip> {
        if !self.config.enabled {
            return Err(Skip::Recorded(
                "disabled: enabled is false in the config".into(),
            ));
        }
        match self.ledger.halt_state().await {
            Ok(Some(h)) => return Err(Skip::Recorded(format!("halted: {}", h.reason))),
            Ok(None) => {}
            Err(e) => return Err(Skip::Unrecorded(format!("store-unreachable: {e}"))),
        }
        if !self.calendar.in_window(attempt.at) {
            let day = attempt.day;
            let why = self
                .calendar
                .day_off_reason(day)
                .map(|r| format!("{day} is a {r}"))
                .unwrap_or_else(|| {
                    format!(
                        "{} is outside {:02}:00–{:02}:00 {}",
                        attempt
                            .at
                            .to_zoned_datetime(self.calendar.tz().clone())
                            .strftime("%H:%M"),
                        self.config.start_hour,
                        self.config.end_hour,
                        self.config.time_zone_name
                    )
                });
            return Err(Skip::Recorded(format!("outside-window: {why}")));
        }
        if let Some(planned) = attempt.planned_at {
            let day = self.calendar.date_of(planned);
            match history::mark_done(&self.store, &self.config.name, day, &attempt.group).await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Skip::Silent(
                        "already attempted (by this or another monkey sharing the store)".into(),
                    ));
                }
                Err(e) => return Err(Skip::Unrecorded(format!("store-unreachable: {e}"))),
            }
        }
        if let Some(gate) = &self.config.outage_gate {
            super::gate::check(gate).await.map_err(Skip::Recorded)?;
        }
        let inventory = discover(&self.config).await;
        let Some(group) = inventory
            .groups
            .get(&attempt.group)
            .filter(|g| !g.instances.is_empty())
        else {
            let warnings = if inventory.warnings.is_empty() {
                String::new()
            } else {
                format!(" ({})", inventory.warnings.join("; "))
            };
            return Err(Skip::Recorded(format!(
                "no-eligible-instances: group {} has no opted-in instance now{warnings}",
                attempt.group
            )));
        };
        attempt.mode = group.kill_mode.describe();
        let seed = self.seed.unwrap_or_else(rand::random);
        let draw = group_rng(
            seed,
            attempt.day,
            &attempt.group,
            &format!("victims {}", format_time(&attempt.at)),
        )
        .next_u64();
        let picked = pick(group.instances.len(), &group.kill_mode.pick(), draw);
        if picked.indices.is_empty() {
            return Err(Skip::Recorded(format!(
                "no-victim-drawn: {}",
                picked
                    .warning
                    .unwrap_or_else(|| "the kill mode picked no instance".into())
            )));
        }
        let victims: Vec<Instance> = picked
            .indices
            .iter()
            .map(|i| group.instances[*i].clone())
            .collect();
        let described: Vec<Value> = victims.iter().map(Instance::describe).collect();
        let limits = Limits {
            not_since: self.calendar.min_kill_threshold(attempt.at, group.min),
            max_per_day: self.config.max_kills_per_day,
        };
        match history::claim(&self.store, attempt, &described, &limits).await {
            Ok(Claim::Granted(ids)) => Ok(victims.into_iter().zip(ids).collect()),
            Ok(Claim::Denied(reason)) => Err(Skip::Recorded(reason)),
            Err(e) => Err(Skip::Unrecorded(format!("store-unreachable: {e}"))),
        }
    }

    async fn kill(&self, attempt: &Attempt, victims: Vec<(Instance, String)>) -> AttemptReport {
        let mut report = AttemptReport {
            group: attempt.group.clone(),
            at: format_time(&attempt.at),
            skipped: None,
            victims: Vec::new(),
        };
        for (victim, row) in victims {
            let (outcome, reason) = if attempt.leashed {
                (
                    Outcome::Leashed,
                    Some("leashed: the kill was skipped on purpose".to_string()),
                )
            } else {
                self.terminate(&victim).await
            };
            if let Err(e) =
                history::set_outcome(&self.store, &row, outcome, reason.as_deref()).await
            {
                eprintln!(
                    "monkeywrench monkey: record outcome of {}: {e}",
                    victim.name
                );
            }
            self.metrics.kill(outcome.as_str());
            let event = json!({
                "event": "termination",
                "at": format_time(&attempt.at),
                "group": attempt.group,
                "instance": victim.describe(),
                "mode": attempt.mode,
                "leashed": attempt.leashed,
                "outcome": outcome.as_str(),
                "reason": reason,
            });
            eprintln!(
                "monkeywrench monkey: {} {} of group {}: {}{}",
                format_time(&attempt.at),
                victim.name,
                attempt.group,
                outcome.as_str(),
                reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
            self.notifier.send(event.clone()).await;
            report.victims.push(event);
        }
        report
    }

    /// Kills one victim through the fault path (an irreversible lease in the ledger first).
    pub(super) async fn terminate(&self, victim: &Instance) -> (Outcome, Option<String>) {
        let origin = Origin {
            run_id: self.run_id.clone(),
            activity: format!("monkey {}", victim.app),
            func: match victim.target {
                InstanceRef::Container { .. } => fault::container::Verb::Kill.name().into(),
                InstanceRef::Process { .. } => fault::process::Verb::Kill.name().into(),
                InstanceRef::Pod { .. } => fault::k8s::Verb::PodDelete.name().into(),
            },
            deadline: self.clock.now() + SignedDuration::from_mins(1),
        };
        let killed = match &victim.target {
            InstanceRef::Process { info, .. } => {
                let kill = fault::process::Action::Kill {
                    signal: "SIGKILL".into(),
                };
                fault::apply(&self.ledger, &kill, info, &origin).await
            }
            InstanceRef::Container { id } => {
                let engine = match Engine::connect().await {
                    Ok(e) => e,
                    Err(e) => return (Outcome::Failed, Some(e.to_string())),
                };
                let container = match engine.container(id).await {
                    Ok(c) if c.state == "running" => c,
                    Ok(c) => {
                        return (
                            Outcome::TargetGone,
                            Some(format!("container {} is {}", c.name, c.state)),
                        );
                    }
                    Err(EngineError::NotFound(what)) => {
                        return (Outcome::TargetGone, Some(format!("{what} is gone")));
                    }
                    Err(e) => return (Outcome::Failed, Some(e.to_string())),
                };
                let kill = fault::container::Action::Kill {
                    signal: "SIGKILL".into(),
                };
                let victim = fault::container::Victim { engine, container };
                fault::apply(&self.ledger, &kill, &victim, &origin).await
            }
            InstanceRef::Pod {
                namespace,
                uid,
                cluster,
            } => {
                return self
                    .delete_pod(victim, namespace, uid, cluster, &origin)
                    .await;
            }
        };
        match killed {
            Ok(_) => (Outcome::Killed, None),
            Err(Error::Gone(why)) => (Outcome::TargetGone, Some(why)),
            Err(e) => (Outcome::Failed, Some(e.to_string())),
        }
    }

    /// Deletes the pod (its own grace period; its controller replaces it), if it is still the
    /// one that was drawn.
    async fn delete_pod(
        &self,
        victim: &Instance,
        namespace: &str,
        uid: &str,
        cluster: &crate::target::k8s::ClusterRef,
        origin: &Origin,
    ) -> (Outcome, Option<String>) {
        use crate::target::k8s::{Cluster, PodSelector, find_pods};
        let cluster = match Cluster::connect(cluster).await {
            Ok(c) => c,
            Err(e) => return (Outcome::Failed, Some(e.to_string())),
        };
        let selector = PodSelector {
            namespace: Some(namespace.to_string()),
            name: Some(victim.name.clone()),
            ..PodSelector::default()
        };
        let pod = match find_pods(&cluster, &selector).await {
            Ok(found) => found.into_iter().find(|p| p.uid == uid),
            Err(e) => return (Outcome::Failed, Some(e.to_string())),
        };
        let Some(pod) = pod else {
            return (
                Outcome::TargetGone,
                Some(format!("pod {namespace}/{} is gone", victim.name)),
            );
        };
        let delete = fault::k8s::Action::Delete { grace: None };
        let target = fault::k8s::Victim::Pod { cluster, pod };
        match fault::apply(&self.ledger, &delete, &target, origin).await {
            Ok(_) => (Outcome::Killed, None),
            Err(Error::Gone(why)) => (Outcome::TargetGone, Some(why)),
            Err(e) => (Outcome::Failed, Some(e.to_string())),
        }
    }

    async fn skip(&self, attempt: &Attempt, reason: &str, record: bool) -> AttemptReport {
        if record && let Err(e) = history::record_skip(&self.store, attempt, reason).await {
            eprintln!("monkeywrench monkey: record skip: {e}");
        }
        self.metrics.skip(reason);
        eprintln!(
            "monkeywrench monkey: {} group {} skipped: {reason}",
            format_time(&attempt.at),
            attempt.group
        );
        self.notifier
            .send(json!({
                "event": "skipped",
                "at": format_time(&attempt.at),
                "group": attempt.group,
                "leashed": attempt.leashed,
                "reason": reason,
            }))
            .await;
        AttemptReport {
            group: attempt.group.clone(),
            at: format_time(&attempt.at),
            skipped: Some(reason.to_string()),
            victims: Vec::new(),
        }
    }
}

/// Why an attempt stops before the kill.
enum Skip {
    /// Recorded in the history and notified.
    Recorded(String),
    /// Notified and logged; the store cannot take it.
    Unrecorded(String),
    /// Not this monkey's to report (another monkey took the planned kill).
    Silent(String),
}
