//! Live traffic of the http proxies the server is told about (`proxies:` in `server.yaml`):
//! each proxy API's `GET /traffic` read every [`EVERY`], the latest figures and a short history
//! (rps, error rate, p99) per proxy kept in memory for `GET /api/traffic` and the dashboard's
//! sparklines. Reading happens apart from any request, so a slow or dead proxy API never delays
//! an answer: it shows as that source's error.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::config::ProxySource;

/// How often each proxy API is read.
pub const EVERY: Duration = Duration::from_secs(2);
/// How long one read may take.
const TIMEOUT: Duration = Duration::from_millis(1500);
/// Samples kept per proxy (two minutes at [`EVERY`]).
pub const KEEP: usize = 60;

/// One reading of an http proxy's figures (over its last 10 s).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    pub rps: f64,
    pub error_rate: f64,
    pub p99_ms: f64,
}

/// One proxy as its API reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyTraffic {
    pub listen: String,
    pub upstream: String,
    /// Whether it is an http proxy (only those have request figures).
    pub http: bool,
    /// The figures of the last read (`GET /traffic`'s entry as given).
    pub latest: Value,
    /// Oldest first.
    pub history: VecDeque<Sample>,
}

/// One configured proxy API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceTraffic {
    pub name: String,
    pub url: String,
    /// When it last answered (RFC 3339).
    pub read_at: Option<String>,
    /// Why the last read failed (null when it answered).
    pub error: Option<String>,
    pub proxies: BTreeMap<String, ProxyTraffic>,
}

/// The watcher: the sources and what they last said.
#[derive(Debug, Clone)]
pub struct Traffic {
    sources: Arc<Vec<ProxySource>>,
    state: Arc<Mutex<Vec<SourceTraffic>>>,
}

impl Traffic {
    pub fn new(sources: Vec<ProxySource>) -> Traffic {
        let state = sources
            .iter()
            .map(|s| SourceTraffic {
                name: s.name.clone(),
                url: s.url.clone(),
                read_at: None,
                error: None,
                proxies: BTreeMap::new(),
            })
            .collect();
        Traffic {
            sources: Arc::new(sources),
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Whether any proxy API is configured.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// What every source last said.
    pub fn snapshot(&self) -> Vec<SourceTraffic> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads every source every [`EVERY`] until `stop`.
    pub async fn watch(self, stop: CancellationToken) {
        let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("monkeywrench server: traffic: failed to build an HTTP client: {e}");
                return;
            }
        };
        loop {
            for (i, source) in self.sources.iter().enumerate() {
                let answer = read(&client, source).await;
                let now = Timestamp::now();
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(s) = state.get_mut(i) {
                    apply(s, answer, now);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = stop.cancelled() => return,
            }
        }
    }
}

/// `GET {url}/traffic` as JSON.
async fn read(
    client: &reqwest::Client,
    source: &ProxySource,
) -> Result<serde_json::Map<String, Value>, String> {
    let mut request = client.get(format!("{}/traffic", source.url));
    if let Some(t) = &source.token {
        request = request.bearer_auth(t);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("unreachable: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET /traffic answered {status}"));
    }
    match response.json::<Value>().await {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("GET /traffic did not answer a JSON object".into()),
        Err(e) => Err(format!("GET /traffic did not answer JSON: {e}")),
    }
}

/// Folds one read into a source's state.
pub(crate) fn apply(
    s: &mut SourceTraffic,
    answer: Result<serde_json::Map<String, Value>, String>,
    now: Timestamp,
) {
    let map = match answer {
        Ok(map) => map,
        Err(e) => {
            s.error = Some(e);
            return;
        }
    };
    s.error = None;
    s.read_at = Some(now.to_string());
    // A proxy deleted from its API is no longer shown.
    s.proxies.retain(|name, _| map.contains_key(name));
    for (name, figures) in map {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let http = figures["http"].is_object();
        let entry = s.proxies.entry(name).or_insert_with(|| ProxyTraffic {
            listen: String::new(),
            upstream: String::new(),
            http,
            latest: Value::Null,
            history: VecDeque::new(),
        });
        entry.listen = text(&figures["listen"]);
        entry.upstream = text(&figures["upstream"]);
        entry.http = http;
        if http {
            let n = |k: &str| figures["http"][k].as_f64().unwrap_or(0.0);
            entry.history.push_back(Sample {
                at_ms: now.as_millisecond(),
                rps: n("rps"),
                error_rate: n("error_rate"),
                p99_ms: n("p99_ms"),
            });
            while entry.history.len() > KEEP {
                entry.history.pop_front();
            }
        }
        entry.latest = figures;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_keep_a_bounded_history_per_http_proxy_and_errors_keep_the_last_figures() {
        let traffic = Traffic::new(vec![ProxySource {
            name: "p".into(),
            url: "http://127.0.0.1:1".into(),
            token: None,
        }]);
        let mut s = traffic.snapshot().remove(0);
        let t0: Timestamp = "2026-12-03T08:00:00Z".parse().unwrap();
        for i in 0..(KEEP + 5) {
            let answer = json!({
                "shop": {"listen": "127.0.0.1:9", "upstream": "127.0.0.1:8", "http": {"rps": i as f64, "error_rate": 0.5, "p99_ms": 3.0}},
                "raw": {"listen": "127.0.0.1:7", "upstream": "127.0.0.1:6"},
            });
            let Value::Object(map) = answer else {
                unreachable!()
            };
            apply(
                &mut s,
                Ok(map),
                t0 + jiff::SignedDuration::from_secs(i as i64),
            );
        }
        let shop = &s.proxies["shop"];
        assert!(shop.http);
        assert_eq!(shop.history.len(), KEEP);
        assert_eq!(shop.history.back().unwrap().rps, (KEEP + 4) as f64);
        assert_eq!(shop.history.front().unwrap().rps, 5.0);
        assert!(!s.proxies["raw"].http);
        assert!(s.proxies["raw"].history.is_empty());
        apply(&mut s, Err("unreachable: refused".into()), t0);
        assert_eq!(s.error.as_deref(), Some("unreachable: refused"));
        assert_eq!(
            s.proxies["shop"].history.len(),
            KEEP,
            "kept across a failed read"
        );
        // A proxy gone from its API goes from the state.
        let Value::Object(map) = json!({"raw": {"listen": "", "upstream": ""}}) else {
            unreachable!()
        };
        apply(&mut s, Ok(map), t0);
        assert!(!s.proxies.contains_key("shop"));
        assert_eq!(s.error, None);
    }
}
