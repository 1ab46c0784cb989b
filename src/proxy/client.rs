//! The one client of a Toxiproxy-compatible API (ours or Toxiproxy's): proxy faults, their
//! reverts, the traffic probes and `proxy cli` all talk to the API through it, so timeouts, the
//! bearer token and the reading of error bodies are decided once.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

/// How long one request may take, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A Toxiproxy API at `base` (e.g. `http://127.0.0.1:8474`).
#[derive(Debug, Clone)]
pub struct ProxyApi {
    base: String,
    token: Option<String>,
    user_agent: String,
    http: reqwest::Client,
}

/// A call to the proxy API failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Nothing answers at the address (connection refused, name not resolved, unusable URL).
    #[error("reach the proxy API at {url}: {message}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What the connection attempt said.
        message: String,
    },
    /// No complete answer within the request timeout.
    #[error("get an answer from {url} within {}s", REQUEST_TIMEOUT.as_secs())]
    TimedOut {
        /// The URL called.
        url: String,
    },
    /// 404: the proxy or toxic does not exist (`message` is the API's `error` text, e.g.
    /// `proxy not found`, `toxic not found`).
    #[error("find {url}: {message}")]
    NotFound {
        /// The URL called.
        url: String,
        /// The API's `error` text (or the body when it has none).
        message: String,
    },
    /// Any other non-2xx answer.
    #[error("call {url}: HTTP {status}: {message}")]
    Status {
        /// The URL called.
        url: String,
        status: u16,
        /// The API's `error` text (or the body when it has none).
        message: String,
    },
    /// A 2xx answer that could not be read as JSON, or a connection lost while reading it.
    #[error("read the answer from {url}: {message}")]
    Decode {
        /// The URL called.
        url: String,
        /// Why it could not be read.
        message: String,
    },
}

impl ApiError {
    /// The URL of the failed call.
    pub fn url(&self) -> &str {
        match self {
            ApiError::Unreachable { url, .. }
            | ApiError::TimedOut { url }
            | ApiError::NotFound { url, .. }
            | ApiError::Status { url, .. }
            | ApiError::Decode { url, .. } => url,
        }
    }
}

impl ProxyApi {
    /// A client of the API at `base` (a trailing `/` is ignored); every request times out after
    /// 10 s.
    pub fn new(base: &str) -> ProxyApi {
        ProxyApi {
            base: base.trim_end_matches('/').to_string(),
            token: None,
            user_agent: format!("monkeywrench/{}", env!("CARGO_PKG_VERSION")),
            http: reqwest::Client::new(),
        }
    }

    /// Sends `Authorization: Bearer <token>` on every request (for a server started with
    /// `--auth-token`).
    pub fn with_token(mut self, token: Option<String>) -> ProxyApi {
        self.token = token;
        self
    }

    /// Sends this `User-Agent` instead of `monkeywrench/<version>`.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> ProxyApi {
        self.user_agent = user_agent.into();
        self
    }

    /// The API's base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /proxies`: every proxy by name.
    pub async fn proxies(&self) -> Result<Value, ApiError> {
        self.call(Method::GET, "/proxies", None).await
    }

    /// `POST /proxies`: creates a proxy (`name`, `listen`, `upstream`, …); returns it.
    pub async fn create_proxy(&self, proxy: &Value) -> Result<Value, ApiError> {
        self.call(Method::POST, "/proxies", Some(proxy)).await
    }

    /// `GET /proxies/{name}`: the proxy with its toxics.
    pub async fn proxy(&self, name: &str) -> Result<Value, ApiError> {
        self.call(Method::GET, &format!("/proxies/{name}"), None)
            .await
    }

    /// `POST /proxies/{name}`: a partial update (`enabled`, `listen`, `upstream`); returns the proxy.
    pub async fn update_proxy(&self, name: &str, changes: &Value) -> Result<Value, ApiError> {
        self.call(Method::POST, &format!("/proxies/{name}"), Some(changes))
            .await
    }

    /// Enables or disables the proxy (disabled: clients are refused, open connections closed).
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<Value, ApiError> {
        self.update_proxy(name, &json!({ "enabled": enabled }))
            .await
    }

    /// `DELETE /proxies/{name}`.
    pub async fn delete_proxy(&self, name: &str) -> Result<(), ApiError> {
        self.call(Method::DELETE, &format!("/proxies/{name}"), None)
            .await
            .map(drop)
    }

    /// `POST /proxies/{proxy}/toxics`: adds a toxic (`type`, `stream`, `toxicity`, `attributes`,
    /// optional `name` and `ttl`); returns it as the API echoes it.
    pub async fn add_toxic(&self, proxy: &str, toxic: &Value) -> Result<Value, ApiError> {
        self.call(
            Method::POST,
            &format!("/proxies/{proxy}/toxics"),
            Some(toxic),
        )
        .await
    }

    /// `GET /proxies/{proxy}/toxics/{toxic}`.
    pub async fn toxic(&self, proxy: &str, toxic: &str) -> Result<Value, ApiError> {
        self.call(
            Method::GET,
            &format!("/proxies/{proxy}/toxics/{toxic}"),
            None,
        )
        .await
    }

    /// `POST /proxies/{proxy}/toxics/{toxic}`: new `toxicity` and/or `attributes`; returns the toxic.
    pub async fn update_toxic(
        &self,
        proxy: &str,
        toxic: &str,
        changes: &Value,
    ) -> Result<Value, ApiError> {
        self.call(
            Method::POST,
            &format!("/proxies/{proxy}/toxics/{toxic}"),
            Some(changes),
        )
        .await
    }

    /// `DELETE /proxies/{proxy}/toxics/{toxic}`.
    pub async fn remove_toxic(&self, proxy: &str, toxic: &str) -> Result<(), ApiError> {
        self.call(
            Method::DELETE,
            &format!("/proxies/{proxy}/toxics/{toxic}"),
            None,
        )
        .await
        .map(drop)
    }

    /// monkeywrench's `GET /proxies/{proxy}/traffic[?window_s=N]`: live connection and byte
    /// figures, and for http proxies per-request figures over the window (the server's default
    /// window when `None`; 0 = since the proxy started).
    pub async fn traffic(&self, proxy: &str, window_s: Option<u64>) -> Result<Value, ApiError> {
        let query = window_s
            .map(|w| format!("?window_s={w}"))
            .unwrap_or_default();
        self.call(
            Method::GET,
            &format!("/proxies/{proxy}/traffic{query}"),
            None,
        )
        .await
    }

    /// monkeywrench's `POST /proxies/{proxy}/cohorts`: puts a cohort split in force.
    pub async fn set_cohorts(&self, proxy: &str, split: &Value) -> Result<Value, ApiError> {
        self.call(
            Method::POST,
            &format!("/proxies/{proxy}/cohorts"),
            Some(split),
        )
        .await
    }

    /// `GET /proxies/{proxy}/cohorts`: the split in force.
    pub async fn cohorts(&self, proxy: &str) -> Result<Value, ApiError> {
        self.call(Method::GET, &format!("/proxies/{proxy}/cohorts"), None)
            .await
    }

    /// `DELETE /proxies/{proxy}/cohorts`.
    pub async fn clear_cohorts(&self, proxy: &str) -> Result<(), ApiError> {
        self.call(Method::DELETE, &format!("/proxies/{proxy}/cohorts"), None)
            .await
            .map(drop)
    }

    /// `GET /proxies/{proxy}/cohorts/compare?…`: control vs experiment (`query` without `?`).
    pub async fn compare_cohorts(&self, proxy: &str, query: &str) -> Result<Value, ApiError> {
        self.call(
            Method::GET,
            &format!("/proxies/{proxy}/cohorts/compare?{query}"),
            None,
        )
        .await
    }

    /// One request; a 2xx body is JSON (an empty one is `null`), anything else an [`ApiError`].
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .timeout(REQUEST_TIMEOUT)
            .header(reqwest::header::USER_AGENT, &self.user_agent);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&url, &e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| transport_error(&url, &e))?;
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| ApiError::Decode {
                url,
                message: format!("not JSON: {e}"),
            });
        }
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| text.trim().to_string());
        if status == reqwest::StatusCode::NOT_FOUND {
            Err(ApiError::NotFound { url, message })
        } else {
            Err(ApiError::Status {
                url,
                status: status.as_u16(),
                message,
            })
        }
    }
}

/// Sorts a failed request: nobody there, too slow, or an answer that broke off.
fn transport_error(url: &str, e: &reqwest::Error) -> ApiError {
    let url = url.to_string();
    if e.is_timeout() {
        ApiError::TimedOut { url }
    } else if e.is_connect() || e.is_builder() {
        ApiError::Unreachable {
            url,
            message: root_cause(e),
        }
    } else {
        ApiError::Decode {
            url,
            message: root_cause(e),
        }
    }
}

/// The innermost cause ("Connection refused (os error 111)"): reqwest's own text only repeats
/// the URL.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::{ApiOptions, Registry, serve};
    use tokio_util::sync::CancellationToken;

    /// An in-process proxy API on 127.0.0.1:0, stopped when the token is dropped.
    async fn server(token: Option<&str>) -> (ProxyApi, tokio_util::sync::DropGuard) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let cancel = CancellationToken::new();
        let options = ApiOptions {
            token: token.map(str::to_string),
            ..ApiOptions::default()
        };
        tokio::spawn(serve(listener, Registry::new(7), options, cancel.clone()));
        (ProxyApi::new(&base), cancel.drop_guard())
    }

    async fn echo() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn every_call_round_trips_and_errors_are_sorted() {
        let (api, _stop) = server(None).await;
        assert!(!api.base().ends_with('/'), "{}", api.base());
        let up = echo().await;
        let created = api
            .create_proxy(&json!({"name": "web", "listen": "127.0.0.1:0", "upstream": up}))
            .await
            .unwrap();
        assert_eq!(created["name"], "web");
        assert_eq!(api.proxies().await.unwrap()["web"]["upstream"], up.as_str());

        let added = api
            .add_toxic(
                "web",
                &json!({"name": "slow", "type": "latency", "attributes": {"latency": 5}}),
            )
            .await
            .unwrap();
        assert_eq!(added["name"], "slow");
        let updated = api
            .update_toxic("web", "slow", &json!({"attributes": {"latency": 9}}))
            .await
            .unwrap();
        assert_eq!(updated["attributes"]["latency"], 9);
        assert_eq!(api.toxic("web", "slow").await.unwrap()["type"], "latency");
        api.remove_toxic("web", "slow").await.unwrap();
        match api.remove_toxic("web", "slow").await {
            Err(ApiError::NotFound { message, .. }) => assert_eq!(message, "toxic not found"),
            other => panic!("expected NotFound, got {other:?}"),
        }

        assert_eq!(
            api.set_enabled("web", false).await.unwrap()["enabled"],
            false
        );
        assert_eq!(api.proxy("web").await.unwrap()["enabled"], false);
        let traffic = api.traffic("web", Some(0)).await.unwrap();
        assert_eq!(traffic["upstream"], up.as_str());

        match api
            .create_proxy(&json!({"name": "web", "listen": "127.0.0.1:0", "upstream": up}))
            .await
        {
            Err(ApiError::Status {
                status, message, ..
            }) => assert_eq!((status, message.as_str()), (409, "proxy already exists")),
            other => panic!("expected 409, got {other:?}"),
        }
        api.delete_proxy("web").await.unwrap();
        match api.proxy("web").await {
            Err(e @ ApiError::NotFound { .. }) => {
                assert_eq!(
                    e.to_string(),
                    format!("find {}/proxies/web: proxy not found", api.base())
                );
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_token_is_sent_and_a_missing_one_is_a_401() {
        let (api, _stop) = server(Some("s3cret")).await;
        match api.proxies().await {
            Err(ApiError::Status { status, .. }) => assert_eq!(status, 401),
            other => panic!("expected 401, got {other:?}"),
        }
        let api = api.with_token(Some("s3cret".into()));
        assert_eq!(api.proxies().await.unwrap(), json!({}));
    }

    #[tokio::test]
    async fn nobody_listening_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        match ProxyApi::new(&base).proxy("web").await {
            Err(ApiError::Unreachable { url, message }) => {
                assert_eq!(url, format!("{base}/proxies/web"));
                assert!(message.to_lowercase().contains("refused"), "{message}");
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }
}
