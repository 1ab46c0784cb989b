//! Webhooks: one JSON POST per termination and per skipped kill, with a timeout per attempt and
//! bounded retries. Sending runs in the background: a hanging endpoint never delays a kill.

use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinSet;

use super::config::Webhook;

/// Sends notifications in the background.
#[derive(Debug)]
pub struct Notifier {
    hooks: Vec<Webhook>,
    client: reqwest::Client,
    pending: Sends,
}

/// Webhook sends in the background: queued without waiting, drained at a stop.
#[derive(Debug, Default)]
pub(crate) struct Sends(tokio::sync::Mutex<JoinSet<()>>);

impl Sends {
    /// Queues the sends `each` gives for `hooks`; returns at once.
    pub(crate) async fn queue<H>(
        &self,
        hooks: impl IntoIterator<Item = H>,
        each: impl Fn(H) -> Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>,
    ) {
        let mut pending = self.0.lock().await;
        // Reap finished sends so the set does not grow in a long-running daemon.
        while pending.try_join_next().is_some() {}
        for send in hooks.into_iter().filter_map(each) {
            pending.spawn(send);
        }
    }

    /// Waits for queued sends, at most `limit`; the rest are dropped (every send is bounded by
    /// its own timeout and retries anyway).
    pub(crate) async fn drain(&self, limit: Duration) {
        let mut pending = self.0.lock().await;
        let _ = tokio::time::timeout(limit, async {
            while pending.join_next().await.is_some() {}
        })
        .await;
        pending.abort_all();
    }
}

impl Notifier {
    pub fn new(hooks: Vec<Webhook>) -> Notifier {
        Notifier {
            hooks,
            client: reqwest::Client::new(),
            pending: Sends::default(),
        }
    }

    /// Queues `event` for every hook and returns at once.
    pub async fn send(&self, event: Value) {
        self.pending
            .queue(&self.hooks, |hook| {
                let (client, hook, event) = (self.client.clone(), hook.clone(), event.clone());
                Some(Box::pin(
                    async move { deliver(&client, &hook, &event).await },
                ))
            })
            .await;
    }

    /// Waits for queued sends, at most `limit` (a short-lived `monkey tick` calls this before it
    /// exits).
    pub async fn drain(&self, limit: Duration) {
        self.pending.drain(limit).await;
    }

    /// The longest a queued send can take.
    pub fn longest(&self) -> Duration {
        self.hooks
            .iter()
            .map(|h| {
                let attempts = f64::from(h.retries + 1);
                Duration::from_secs_f64(h.timeout_s * attempts + 0.5 * attempts)
            })
            .max()
            .unwrap_or(Duration::ZERO)
    }
}

async fn deliver(client: &reqwest::Client, hook: &Webhook, event: &Value) {
    let retry = Retry {
        url: &hook.url,
        timeout_s: hook.timeout_s,
        retries: hook.retries,
    };
    post_json(client, "monkey", &retry, event).await;
}

/// Where a webhook goes and how hard to try.
pub(crate) struct Retry<'a> {
    pub url: &'a str,
    pub timeout_s: f64,
    pub retries: u32,
}

/// POSTs `body` as JSON until a 2xx or the retries are spent (backing off from 250 ms), saying
/// on stderr what each failed attempt got; `who` names the sender (`monkey`, `server`).
pub(crate) async fn post_json(client: &reqwest::Client, who: &str, hook: &Retry<'_>, body: &Value) {
    for attempt in 0..=hook.retries {
        let sent = client
            .post(hook.url)
            .timeout(Duration::from_secs_f64(hook.timeout_s))
            .json(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => eprintln!(
                "monkeywrench {who}: webhook {} answered {} (attempt {})",
                hook.url,
                r.status(),
                attempt + 1
            ),
            Err(e) => eprintln!(
                "monkeywrench {who}: webhook {} failed: {e} (attempt {})",
                hook.url,
                attempt + 1
            ),
        }
        if attempt < hook.retries {
            tokio::time::sleep(Duration::from_millis(250 << attempt.min(4))).await;
        }
    }
}
