//! Executing an undo recipe. Every recipe is idempotent: undoing twice is harmless.

use super::lease::Undo;
use crate::target::docker::{Engine, EngineError};
use crate::target::process::SignalError;

/// What a revert attempt achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertOutcome {
    /// Undone.
    Reverted,
    /// The target no longer exists; nothing to undo.
    TargetGone,
    /// Irreversible: nothing to do.
    Nothing,
    /// The undo failed (kept active; retried by the guard).
    Failed(String),
}

/// Applies `undo`.
pub async fn undo(undo: &Undo) -> RevertOutcome {
    match undo {
        Undo::Irreversible => RevertOutcome::Nothing,
        Undo::Signal { process, signal } => match process.signal(signal) {
            Ok(()) => RevertOutcome::Reverted,
            Err(SignalError::Gone(_)) => RevertOutcome::TargetGone,
            Err(e) => RevertOutcome::Failed(e.to_string()),
        },
        Undo::RemoveToxic { api, proxy, toxic } => {
            let url = format!(
                "{}/proxies/{proxy}/toxics/{toxic}",
                api.trim_end_matches('/')
            );
            proxy_call(reqwest::Method::DELETE, &url, None).await
        }
        Undo::EnableProxy { api, proxy } => {
            let url = format!("{}/proxies/{proxy}", api.trim_end_matches('/'));
            proxy_call(
                reqwest::Method::POST,
                &url,
                Some(serde_json::json!({"enabled": true})),
            )
            .await
        }
        Undo::StartContainer { .. }
        | Undo::UnpauseContainer { .. }
        | Undo::ReconnectContainer { .. }
        | Undo::ScaleService { .. } => docker_undo(undo).await,
    }
}

/// Undoes a container or Swarm fault through the engine. An engine that cannot be reached is a
/// failure (kept active and retried), a container or service that is gone is `TargetGone`.
async fn docker_undo(undo: &Undo) -> RevertOutcome {
    let engine = match Engine::connect().await {
        Ok(e) => e,
        Err(e) => return RevertOutcome::Failed(e.to_string()),
    };
    let result = match undo {
        Undo::StartContainer { id, .. } => engine.start(id).await,
        Undo::UnpauseContainer { id, .. } => engine.unpause(id).await,
        Undo::ReconnectContainer {
            id,
            network,
            attachment,
            ..
        } => engine.reconnect(id, network, attachment).await,
        Undo::ScaleService { id, replicas, .. } => {
            crate::target::swarm::scale(&engine, id, *replicas)
                .await
                .map(|_| ())
        }
        _ => return RevertOutcome::Failed("not a Docker undo".into()),
    };
    match result {
        Ok(()) => RevertOutcome::Reverted,
        Err(EngineError::NotFound(_)) => RevertOutcome::TargetGone,
        Err(e) => RevertOutcome::Failed(e.to_string()),
    }
}

/// One call to a Toxiproxy-compatible API. A 404 means the proxy or toxic is gone; a refused
/// connection means the proxy server is gone, and with it every toxic it held in memory.
async fn proxy_call(
    method: reqwest::Method,
    url: &str,
    body: Option<serde_json::Value>,
) -> RevertOutcome {
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => return RevertOutcome::Failed(e.to_string()),
    };
    let mut request = client.request(method, url);
    if let Some(b) = body {
        request = request.json(&b);
    }
    match request.send().await {
        Ok(r) if r.status().is_success() => RevertOutcome::Reverted,
        Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => RevertOutcome::TargetGone,
        Ok(r) => RevertOutcome::Failed(format!("{url}: HTTP {}", r.status())),
        Err(e) if e.is_connect() => RevertOutcome::TargetGone,
        Err(e) => RevertOutcome::Failed(format!("{url}: {e}")),
    }
}
