//! Undoing a proxy fault through the API, checked by reading the proxy back.

use serde::{Deserialize, Serialize};

use crate::ledger::UndoAttempt;
use crate::proxy::{ApiError, ProxyApi};

/// How to undo a proxy fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    RemoveToxic {
        /// API base URL, e.g. `http://127.0.0.1:8474`.
        api: String,
        proxy: String,
        toxic: String,
    },
    /// Re-enable a proxy that was disabled ("down").
    EnableProxy {
        /// API base URL.
        api: String,
        proxy: String,
    },
    /// End a cohort split (ours: the one with this salt).
    ClearCohorts {
        api: String,
        proxy: String,
        salt: String,
    },
}

/// How an API failure reads for a revert. A proxy that is gone, or a server that no longer
/// answers, took the fault with it (toxics live in the server's memory).
fn judged(e: ApiError) -> UndoAttempt {
    match e {
        ApiError::NotFound { message, .. } if message.contains("proxy") => UndoAttempt::Gone,
        ApiError::Unreachable { .. } => UndoAttempt::Gone,
        other => UndoAttempt::NotYet(other.to_string()),
    }
}

impl Undo {
    /// Undoes once, then reads the proxy back: the toxic absent, the proxy enabled.
    pub async fn undo(&self) -> UndoAttempt {
        match self {
            Undo::RemoveToxic { api, proxy, toxic } => {
                let api = ProxyApi::new(api);
                match api.remove_toxic(proxy, toxic).await {
                    // Already gone (its own ttl, a reset, a halt): the goal holds; checked below.
                    Ok(()) | Err(ApiError::NotFound { .. }) => {}
                    Err(e) => return judged(e),
                }
                match api.toxic(proxy, toxic).await {
                    Err(ApiError::NotFound { message, .. }) if message.contains("toxic") => {
                        UndoAttempt::Verified
                    }
                    Err(e) => judged(e),
                    Ok(_) => UndoAttempt::NotYet(format!(
                        "toxic {toxic} is still on proxy {proxy} after its removal"
                    )),
                }
            }
            Undo::EnableProxy { api, proxy } => {
                let api = ProxyApi::new(api);
                if let Err(e) = api.set_enabled(proxy, true).await {
                    return judged(e);
                }
                match api.proxy(proxy).await {
                    Ok(p) if p["enabled"] == true => UndoAttempt::Verified,
                    Ok(_) => UndoAttempt::NotYet(format!(
                        "proxy {proxy} is still disabled after enabling it"
                    )),
                    Err(e) => judged(e),
                }
            }
            Undo::ClearCohorts { api, proxy, salt } => {
                let api = ProxyApi::new(api);
                let ours = |split: &serde_json::Value| split["salt"].as_str() == Some(salt);
                match api.cohorts(proxy).await {
                    Ok(split) if ours(&split) => {}
                    // Another split replaced ours (or none is left): nothing of ours remains.
                    Ok(_) => return UndoAttempt::Verified,
                    Err(ApiError::NotFound { message, .. }) if message.contains("no cohorts") => {
                        return UndoAttempt::Verified;
                    }
                    Err(e) => return judged(e),
                }
                if let Err(e) = api.clear_cohorts(proxy).await
                    && !matches!(e, ApiError::NotFound { .. })
                {
                    return judged(e);
                }
                match api.cohorts(proxy).await {
                    Ok(split) if ours(&split) => UndoAttempt::NotYet(format!(
                        "the cohort split is still on proxy {proxy} after clearing it"
                    )),
                    Ok(_) => UndoAttempt::Verified,
                    Err(ApiError::NotFound { message, .. }) if message.contains("no cohorts") => {
                        UndoAttempt::Verified
                    }
                    Err(e) => judged(e),
                }
            }
        }
    }
}
