//! Webhooks: a JSON POST (or a Slack-compatible `{"text": …}`) to every hook that listens for
//! the event — a run deviated, failed, tripped a safeguard or failed a revert, or a halt. Each
//! delivery is its own task with a timeout per attempt and bounded retries, so a hanging hook
//! never delays a run, the scheduler or the API.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::config::{Hook, HookEvent, HookFormat};
use crate::history::RunRecord;

/// What a notification says, before it is shaped for a hook.
#[derive(Debug, Clone)]
pub struct Message {
    /// The event's fields (experiment, run id, status, …), without `event` and `text`.
    pub fields: Value,
    /// One human line (Slack's `text`).
    pub text: String,
}

/// About a finished run.
pub fn about_run(
    experiment: &str,
    run_id: &str,
    record: Option<&RunRecord>,
    exit_code: Option<i32>,
    outcome: &str,
) -> Message {
    Message {
        fields: json!({
            "experiment": experiment,
            "run_id": run_id,
            "status": record.map(|r| r.status.name()),
            "outcome": record.and_then(|r| r.outcome.clone()),
            "deviated": record.is_some_and(|r| r.deviated),
            "exit_code": exit_code,
            "summary": outcome,
        }),
        text: format!("monkeywrench: {experiment} run {run_id}: {outcome}"),
    }
}

/// About a run whose process could not be started.
pub fn about_start_failure(experiment: &str, run_id: &str, why: &str) -> Message {
    Message {
        fields: json!({"experiment": experiment, "run_id": run_id, "summary": why}),
        text: format!("monkeywrench: {experiment} run {run_id}: {why}"),
    }
}

/// About a halt.
pub fn about_halt(reason: &str, interrupted: &[String]) -> Message {
    Message {
        fields: json!({"reason": reason, "interrupted_runs": interrupted}),
        text: format!(
            "monkeywrench: halted ({reason}); {} running run(s) interrupted",
            interrupted.len()
        ),
    }
}

/// The body a hook gets for `event`.
pub fn body(format: HookFormat, event: HookEvent, message: &Message) -> Value {
    match format {
        HookFormat::Slack => json!({"text": format!("[{}] {}", event.as_str(), message.text)}),
        HookFormat::Json => {
            let mut body = json!({
                "event": event.as_str(),
                "at": jiff::Timestamp::now().to_string(),
            });
            if let (Some(out), Some(fields)) = (body.as_object_mut(), message.fields.as_object()) {
                for (k, v) in fields {
                    out.insert(k.clone(), v.clone());
                }
            }
            body
        }
    }
}

/// Sends notifications in the background.
#[derive(Debug, Clone)]
pub struct Notifier {
    hooks: Arc<Vec<Hook>>,
    client: reqwest::Client,
    pending: Arc<crate::monkey::notify::Sends>,
}

impl Notifier {
    pub fn new(hooks: Vec<Hook>) -> Notifier {
        Notifier {
            hooks: Arc::new(hooks),
            client: reqwest::Client::new(),
            pending: Arc::default(),
        }
    }

    /// Queues `message` for every hook that listens for `event`; returns at once.
    pub async fn send(&self, event: HookEvent, message: Message) {
        self.pending
            .queue(self.hooks.iter(), |hook| {
                if !hook.events.contains(&event) {
                    return None;
                }
                let payload = body(hook.format, event, &message);
                let (client, hook) = (self.client.clone(), hook.clone());
                Some(Box::pin(
                    async move { deliver(&client, &hook, &payload).await },
                ))
            })
            .await;
    }

    /// Waits for queued sends at a graceful stop, at most `limit`; the rest are dropped.
    pub async fn drain(&self, limit: Duration) {
        self.pending.drain(limit).await;
    }
}

async fn deliver(client: &reqwest::Client, hook: &Hook, payload: &Value) {
    let retry = crate::monkey::notify::Retry {
        url: &hook.url,
        timeout_s: hook.timeout_s,
        retries: hook.retries,
    };
    crate::monkey::notify::post_json(client, "server", &retry, payload).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_slack_bodies() {
        let m = about_halt("maintenance", &["r1".into()]);
        let j = body(HookFormat::Json, HookEvent::Halt, &m);
        assert_eq!(j["event"], "halt");
        assert_eq!(j["reason"], "maintenance");
        assert_eq!(j["interrupted_runs"][0], "r1");
        let s = body(HookFormat::Slack, HookEvent::Halt, &m);
        assert_eq!(
            s,
            json!({"text": "[halt] monkeywrench: halted (maintenance); 1 running run(s) interrupted"})
        );
    }
}
