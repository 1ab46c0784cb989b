//! Proxy faults through the Toxiproxy API: add a toxic (undone by removing it) or take a proxy
//! down (undone by enabling it). The toxic also carries a `ttl` until shortly after the lease
//! deadline, so the proxy removes it by itself even if nothing else is left to revert it.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::process::FaultOrigin;
use crate::ledger::{Lease, Ledger, LedgerError, Undo};

/// A proxy fault.
#[derive(Debug, Clone, PartialEq)]
pub enum ProxyFault {
    /// Add a toxic (`type`, `stream`, `toxicity`, `attributes`).
    Toxic {
        /// The toxic body to send (without name/ttl, added here).
        body: Value,
    },
    /// Disable the proxy: clients are refused, open connections closed.
    Down,
}

/// Applying a proxy fault failed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyFaultError {
    /// The ledger refused (halted) or failed; nothing was applied.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The proxy API refused or could not be reached; the lease is closed as apply-failed.
    #[error("{0}")]
    Api(String),
}

/// Records the lease, calls the API, marks the lease.
pub async fn apply(
    fault: &ProxyFault,
    ledger: &Ledger,
    api: &str,
    proxy: &str,
    origin: &FaultOrigin,
) -> Result<Lease, ProxyFaultError> {
    let api = api.trim_end_matches('/').to_string();
    let (undo, url, body) = match fault {
        ProxyFault::Toxic { body } => {
            let name = format!(
                "monkeywrench-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            );
            // 5 s past the deadline: a safety net behind the run's own (verified) revert, not a
            // race with it now that the proxy expires toxics on time.
            let ttl = (origin.deadline.as_millisecond() - Timestamp::now().as_millisecond())
                .max(1000) as f64
                / 1000.0
                + 5.0;
            let mut body = body.clone();
            if let Value::Object(m) = &mut body {
                m.insert("name".into(), json!(name));
                m.insert("ttl".into(), json!(ttl));
            }
            (
                Undo::RemoveToxic {
                    api: api.clone(),
                    proxy: proxy.into(),
                    toxic: name,
                },
                format!("{api}/proxies/{proxy}/toxics"),
                body,
            )
        }
        ProxyFault::Down => (
            Undo::EnableProxy {
                api: api.clone(),
                proxy: proxy.into(),
            },
            format!("{api}/proxies/{proxy}"),
            json!({"enabled": false}),
        ),
    };
    let target = json!({"kind": "proxy", "api": api, "proxy": proxy});
    let applied = async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        let response = client
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            let text = response.text().await.unwrap_or_default();
            Err(format!("{url}: HTTP {status}: {}", text.trim()))
        }
    };
    ledger
        .apply(&origin.lease(target, undo), applied)
        .await?
        .map_err(ProxyFaultError::Api)
}
