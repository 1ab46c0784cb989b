//! What a proxy fault does to its proxy.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::Undo;
use crate::fault::{self, Act, Error, Origin, Plan};
use crate::proxy::{ApiError, ProxyApi};

/// How long past the lease deadline a toxic's own `ttl` runs: the ledger reverts it at the
/// deadline; the ttl only catches what nothing is left to revert.
const TTL_MARGIN: Duration = Duration::from_secs(5);

/// What happens to the proxy.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Add a toxic (`type`, `stream`, `toxicity`, `attributes`).
    Toxic {
        /// The toxic body to send (without ttl, and without a name unless one was asked for:
        /// both are added when planned).
        body: Value,
    },
    /// Disable the proxy: clients are refused, open connections closed.
    Down,
    /// Put a cohort split in force on an http proxy.
    Cohorts {
        /// `{key, control, experiment, salt?}`.
        split: Value,
    },
}

/// A proxy on a fault-proxy API.
#[derive(Debug, Clone)]
pub struct Victim {
    pub api: ProxyApi,
    pub proxy: String,
}

fn api_error(proxy: &str, e: ApiError) -> Error {
    match e {
        ApiError::NotFound { message, .. } if message.contains("proxy") => {
            Error::Gone(format!("proxy {proxy}: {message}"))
        }
        other => Error::failed(format!("proxy {proxy}"), other),
    }
}

impl Act for Action {
    type Victim = Victim;
    /// The toxic body as sent, with its name and ttl (or the cohort split, with its salt).
    type Planned = Option<Value>;

    async fn plan(&self, v: &Victim, origin: &Origin) -> Result<(Plan, Option<Value>), Error> {
        let (api, proxy) = (v.api.base().to_string(), v.proxy.clone());
        let target = json!({"kind": "proxy", "api": api, "proxy": proxy});
        let (undo, body) = match self {
            Action::Toxic { body } => {
                let name = body["name"].as_str().map_or_else(
                    || {
                        format!(
                            "monkeywrench-{}",
                            &uuid::Uuid::new_v4().simple().to_string()[..12]
                        )
                    },
                    str::to_string,
                );
                let until_deadline = origin.deadline.duration_since(Timestamp::now());
                let ttl = Duration::try_from(until_deadline).unwrap_or_default() + TTL_MARGIN;
                let mut body = body.clone();
                if let Value::Object(m) = &mut body {
                    m.insert("name".into(), json!(name));
                    m.insert("ttl".into(), json!(ttl.as_secs_f64()));
                }
                let undo = Undo::RemoveToxic {
                    api,
                    proxy,
                    toxic: name,
                };
                (undo, Some(body))
            }
            Action::Down => (Undo::EnableProxy { api, proxy }, None),
            Action::Cohorts { split } => {
                let mut split = split.clone();
                if split.get("salt").is_none() {
                    split["salt"] = json!(origin.run_id);
                }
                let salt = split["salt"].as_str().unwrap_or_default().to_string();
                (Undo::ClearCohorts { api, proxy, salt }, Some(split))
            }
        };
        let plan = Plan {
            target,
            undo: fault::Undo::Proxy(undo),
            settles_within: None,
        };
        Ok((plan, body))
    }

    async fn apply(self, v: Victim, body: Option<Value>) -> Result<(), Error> {
        let done = match (&self, body) {
            (Action::Down, _) => v.api.set_enabled(&v.proxy, false).await.map(|_| ()),
            (Action::Toxic { .. }, Some(toxic)) => {
                v.api.add_toxic(&v.proxy, &toxic).await.map(|_| ())
            }
            (Action::Cohorts { .. }, Some(split)) => {
                v.api.set_cohorts(&v.proxy, &split).await.map(|_| ())
            }
            (Action::Toxic { .. } | Action::Cohorts { .. }, None) => {
                return Err(Error::failed(
                    format!("proxy {}", v.proxy),
                    "nothing was planned to send",
                ));
            }
        };
        done.map_err(|e| api_error(&v.proxy, e))
    }
}
