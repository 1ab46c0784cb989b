//! The proxies and their toxics: create, update (enable/disable, new listen or upstream),
//! delete, populate, reset — with Toxiproxy's semantics and errors (spec §4–§6). Never holds a lock
//! across I/O other than binding a listener, so the API answers while traffic flows.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;

use super::http::HttpContext;
use super::http::balance::{Balancer, MAX_UPSTREAMS, UpstreamCounters, split_upstreams};
use super::http::route::Route;
use super::http::stats::{HttpCounters, HttpStats};
use super::listener::{AcceptContext, accept_loop, bind_listener, normalise_listen};
use super::metrics::ProxyMetrics;
use super::toxic::{self, ApiError, Toxic, field};

struct Proxy {
    name: String,
    /// `listen` as given (echoed while the proxy never bound).
    listen_input: String,
    /// The address actually bound (kept so re-enabling rebinds the same port).
    bound: Option<SocketAddr>,
    /// `host:port`; for http proxies possibly several, comma-separated (see [`HttpProxy`]).
    upstream: String,
    enabled: bool,
    toxics: Vec<Toxic>,
    toxics_tx: watch::Sender<Arc<Vec<Toxic>>>,
    /// The accept loop: cancelling it closes the listener and every open connection.
    running: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
    metrics: Arc<ProxyMetrics>,
    connections: Arc<AtomicU64>,
    /// `http` proxies: routes and per-request figures.
    http: Option<HttpProxy>,
}

/// What an http proxy adds.
struct HttpProxy {
    routes: Arc<Vec<Route>>,
    stats: Arc<HttpStats>,
    /// Its upstreams (rebuilt when `upstream` changes).
    balancer: Arc<Balancer>,
    /// `upstream_timeout_ms` (None: 0, wait as long as it takes).
    upstream_timeout: Option<Duration>,
}

/// `upstream_timeout_ms` as JSON shows it.
fn timeout_ms(t: Option<Duration>) -> u64 {
    t.map_or(0, |d| d.as_millis() as u64)
}

impl Proxy {
    fn to_json(&self) -> Value {
        let listen = match self.bound {
            Some(addr) => addr.to_string(),
            None => self.listen_input.clone(),
        };
        let mut v = json!({
            "name": self.name,
            "listen": listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": self.ordered_toxics().iter().map(Toxic::to_json).collect::<Vec<_>>(),
        });
        // TCP proxies keep Toxiproxy's exact shape; http ones say what they are.
        if let Some(h) = &self.http {
            v["protocol"] = json!("http");
            v["routes"] = Value::Array(h.routes.iter().map(Route::to_json).collect());
            if h.balancer.len() > 1 {
                v["upstreams"] = json!(split_upstreams(&self.upstream));
            }
            if h.upstream_timeout.is_some() {
                v["upstream_timeout_ms"] = json!(timeout_ms(h.upstream_timeout));
            }
        }
        v
    }

    /// Upstream toxics first, then downstream, each in insertion order.
    fn ordered_toxics(&self) -> Vec<Toxic> {
        let mut v: Vec<Toxic> = self
            .toxics
            .iter()
            .filter(|t| t.stream == toxic::Stream::Upstream)
            .cloned()
            .collect();
        v.extend(
            self.toxics
                .iter()
                .filter(|t| t.stream == toxic::Stream::Downstream)
                .cloned(),
        );
        v
    }

    /// Connection and byte figures, where it listens and forwards to, and for http proxies the
    /// per-request figures over `window_s`.
    fn traffic(&self, window_s: u64) -> Value {
        let mut m = self.metrics.to_json();
        m["listen"] = json!(self.bound.map(|b| b.to_string()).unwrap_or_default());
        m["upstream"] = json!(self.upstream);
        if let Some(h) = &self.http {
            m["http"] = h.stats.snapshot(window_s);
            if let Some(c) = h.stats.cohorts() {
                m["http"]["cohorts"] = c.to_json();
            }
            m["upstreams"] = h.balancer.to_json();
        }
        m
    }

    fn publish(&self) {
        self.toxics_tx.send_replace(Arc::new(self.toxics.clone()));
    }

    /// Stops listening and drops every connection; returns once the listener is closed, so a
    /// client connecting after the API call is refused.
    async fn stop(&mut self) {
        if let Some((cancel, accept_loop)) = self.running.take() {
            cancel.cancel();
            let _ = accept_loop.await;
        }
    }
}

/// All proxies of one server.
#[derive(Clone)]
pub struct Registry {
    proxies: Arc<Mutex<BTreeMap<String, Proxy>>>,
    seed: u64,
    log_clients: bool,
}

/// What a create/populate entry says.
struct ProxySpec {
    name: String,
    listen: String,
    upstream: String,
    enabled: bool,
    toxics: Option<Vec<Toxic>>,
    /// `Some(routes)` for `"protocol": "http"`.
    http: Option<Vec<Route>>,
    /// `upstream_timeout_ms` of an http proxy.
    upstream_timeout: Option<Duration>,
}

/// The upstream text in force from `upstream` (a comma list for http proxies) and `upstreams`
/// (http proxies only): one canonical text, `a:1,b:2`. `Ok(None)` when neither is given.
fn upstream_text(
    obj: &Map<String, Value>,
    http: bool,
    at: &str,
) -> Result<Option<String>, ApiError> {
    let single = match field(obj, "upstream") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::bad_body(
                "json: cannot unmarshal into Go struct field Proxy.upstream of type string",
            ));
        }
    };
    let list = match field(obj, "upstreams") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                    _ => Err(ApiError::bad_body(format!(
                        "upstreams must be a list of host:port strings{at}"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => {
            return Err(ApiError::bad_body(format!(
                "upstreams must be a list of host:port strings{at}"
            )));
        }
    };
    if !http {
        // TCP proxies keep Toxiproxy's meaning exactly: one address, as given.
        if list.is_some() {
            return Err(ApiError::new(
                400,
                format!(
                    "upstreams (several balanced upstreams) needs a proxy created with \"protocol\": \"http\"{at}"
                ),
            ));
        }
        return Ok(single);
    }
    let from_single = single.as_deref().map(split_upstreams);
    let addresses = match (from_single, list) {
        (None, None) => return Ok(None),
        (Some(s), None) => s,
        (None, Some(l)) => l,
        (Some(s), Some(l)) if s.is_empty() || s == l => l,
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                400,
                format!("upstream and upstreams name different upstreams; give one of them{at}"),
            ));
        }
    };
    if addresses.len() > MAX_UPSTREAMS {
        return Err(ApiError::new(
            400,
            format!("at most {MAX_UPSTREAMS} upstreams per proxy{at}"),
        ));
    }
    Ok(Some(addresses.join(",")))
}

/// `upstream_timeout_ms` (http proxies only): `Ok(None)` when absent, `Some(None)` for 0.
fn upstream_timeout(
    obj: &Map<String, Value>,
    http: bool,
    at: &str,
) -> Result<Option<Option<Duration>>, ApiError> {
    let Some(v) = field(obj, "upstream_timeout_ms") else {
        return Ok(None);
    };
    if !http {
        return Err(ApiError::new(
            400,
            format!("upstream_timeout_ms needs a proxy created with \"protocol\": \"http\"{at}"),
        ));
    }
    match v.as_u64() {
        Some(0) => Ok(Some(None)),
        Some(ms) if ms <= 3_600_000 => Ok(Some(Some(Duration::from_millis(ms)))),
        _ => Err(ApiError::bad_body(format!(
            "upstream_timeout_ms must be a whole number of milliseconds, 0 to 3600000 (0: no limit){at}"
        ))),
    }
}

/// A toxic that does not fit the proxy's protocol.
fn check_protocol(toxic: &Toxic, http: bool) -> Result<(), ApiError> {
    match (toxic.kind.is_http(), http) {
        (true, false) => Err(ApiError::new(
            400,
            format!(
                "toxic type {} needs a proxy created with \"protocol\": \"http\"",
                toxic.kind.name()
            ),
        )),
        (false, true) => Err(ApiError::new(
            400,
            format!(
                "toxic type {} acts on TCP bytes; this proxy speaks http (use http_delay, http_abort, http_status, http_truncate or http_corrupt)",
                toxic.kind.name()
            ),
        )),
        _ => Ok(()),
    }
}

impl Registry {
    /// An empty registry; `seed` drives every random choice (toxicity, jitter, slicer).
    pub fn new(seed: u64) -> Self {
        Registry {
            proxies: Arc::new(Mutex::new(BTreeMap::new())),
            seed,
            log_clients: false,
        }
    }

    /// Logs one info line per accepted client on stderr (Toxiproxy does; `LOG_LEVEL` info or lower).
    pub fn with_client_log(mut self, on: bool) -> Self {
        self.log_clients = on;
        self
    }

    /// `GET /proxies`.
    pub async fn list(&self) -> Value {
        let proxies = self.proxies.lock().await;
        Value::Object(
            proxies
                .iter()
                .map(|(k, p)| (k.clone(), p.to_json()))
                .collect(),
        )
    }

    /// `GET /proxies/{name}`.
    pub async fn get(&self, name: &str) -> Result<Value, ApiError> {
        let proxies = self.proxies.lock().await;
        proxies.get(name).map(Proxy::to_json).ok_or_else(not_found)
    }

    fn parse_spec(body: &Value, position: Option<usize>) -> Result<ProxySpec, ApiError> {
        let obj = body.as_object().ok_or_else(|| {
            ApiError::bad_body("json: cannot unmarshal into Go value of type proxy")
        })?;
        let at = position
            .map(|i| format!(" at proxy {i}"))
            .unwrap_or_default();
        let string = |key: &str| -> Result<String, ApiError> {
            match field(obj, key) {
                None => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(ApiError::bad_body(format!(
                    "json: cannot unmarshal into Go struct field Proxy.{key} of type string"
                ))),
            }
        };
        let name = string("name")?;
        let listen = string("listen")?;
        if name.is_empty() {
            return Err(ApiError::new(
                400,
                format!("missing required field: name{at}"),
            ));
        }
        let enabled = match field(obj, "enabled") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ApiError::bad_body(
                    "json: cannot unmarshal into Go struct field Proxy.enabled of type bool",
                ));
            }
        };
        let http = match field(obj, "protocol") {
            None => None,
            Some(Value::String(p)) if p.eq_ignore_ascii_case("tcp") => None,
            Some(Value::String(p)) if p.eq_ignore_ascii_case("http") => {
                let routes = match field(obj, "routes") {
                    None => Vec::new(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(Route::parse)
                        .collect::<Result<Vec<_>, _>>()?,
                    Some(_) => return Err(ApiError::bad_body("routes must be a list")),
                };
                Some(routes)
            }
            Some(_) => {
                return Err(ApiError::bad_body(format!(
                    "protocol must be tcp or http{at}"
                )));
            }
        };
        let upstream = upstream_text(obj, http.is_some(), &at)?.unwrap_or_default();
        if upstream.is_empty() {
            return Err(ApiError::new(
                400,
                format!("missing required field: upstream{at}"),
            ));
        }
        let upstream_timeout = upstream_timeout(obj, http.is_some(), &at)?.flatten();
        let toxics = match field(obj, "toxics") {
            None => None,
            Some(Value::Array(items)) => {
                let mut list: Vec<Toxic> = Vec::new();
                for item in items {
                    let t = toxic::parse_new(item)?;
                    check_protocol(&t, http.is_some())?;
                    if list.iter().any(|x| x.name == t.name) {
                        return Err(ApiError::new(409, "toxic already exists"));
                    }
                    list.push(t);
                }
                Some(list)
            }
            Some(_) => return Err(ApiError::bad_body("toxics must be a list")),
        };
        Ok(ProxySpec {
            name,
            listen,
            upstream,
            enabled,
            toxics,
            http,
            upstream_timeout,
        })
    }

    /// `POST /proxies`.
    pub async fn create(&self, body: &Value) -> Result<Value, ApiError> {
        let spec = Self::parse_spec(body, None)?;
        let mut proxies = self.proxies.lock().await;
        if proxies.contains_key(&spec.name) {
            return Err(ApiError::new(409, "proxy already exists"));
        }
        let proxy = self.start_new(spec).await?;
        let json = proxy.to_json();
        proxies.insert(proxy.name.clone(), proxy);
        Ok(json)
    }

    async fn start_new(&self, spec: ProxySpec) -> Result<Proxy, ApiError> {
        let toxics = spec.toxics.unwrap_or_default();
        self.expire_later(&spec.name, &toxics);
        let (tx, _) = watch::channel(Arc::new(toxics.clone()));
        let upstream_text = spec.upstream.clone();
        let mut proxy = Proxy {
            name: spec.name,
            listen_input: spec.listen,
            bound: None,
            upstream: spec.upstream,
            enabled: false,
            toxics,
            toxics_tx: tx,
            running: None,
            metrics: Arc::new(ProxyMetrics::default()),
            connections: Arc::new(AtomicU64::new(0)),
            http: spec.http.map(|routes| HttpProxy {
                balancer: Arc::new(Balancer::new(split_upstreams(&upstream_text))),
                stats: Arc::new(HttpStats::new(
                    routes.iter().map(|r| r.name.clone()).collect(),
                )),
                routes: Arc::new(routes),
                upstream_timeout: spec.upstream_timeout,
            }),
        };
        if spec.enabled {
            self.start(&mut proxy).await?;
        }
        Ok(proxy)
    }

    /// Binds and starts accepting; on failure the proxy stays disabled.
    async fn start(&self, proxy: &mut Proxy) -> Result<(), ApiError> {
        let addr = match proxy.bound {
            Some(a) => a.to_string(),
            None => normalise_listen(&proxy.listen_input),
        };
        let listener = bind_listener(&addr)
            .await
            .map_err(|message| ApiError::new(500, message))?;
        proxy.bound = listener.local_addr().ok();
        proxy.enabled = true;
        let cancel = CancellationToken::new();
        let accept_cancel = cancel.clone();
        let ctx = AcceptContext {
            name: proxy.name.clone(),
            upstream: proxy.upstream.clone(),
            toxics: proxy.toxics_tx.subscribe(),
            metrics: proxy.metrics.clone(),
            connections: proxy.connections.clone(),
            seed: self.seed,
            log_clients: self.log_clients,
            http: proxy.http.as_ref().map(|h| HttpContext {
                proxy: proxy.name.clone(),
                ordinal: 0,
                seed: self.seed,
                toxics: proxy.toxics_tx.subscribe(),
                metrics: proxy.metrics.clone(),
                stats: h.stats.clone(),
                routes: h.routes.clone(),
                balancer: h.balancer.clone(),
                upstream_timeout: h.upstream_timeout,
            }),
        };
        let handle = tokio::spawn(accept_loop(listener, ctx, accept_cancel));
        proxy.running = Some((cancel, handle));
        Ok(())
    }

    /// `POST|PATCH /proxies/{name}`: partial update; `name` and `toxics` ignored.
    pub async fn update(&self, name: &str, body: &Value) -> Result<Value, ApiError> {
        let obj = body.as_object().ok_or_else(|| {
            ApiError::bad_body("json: cannot unmarshal into Go value of type proxy")
        })?;
        let mut proxies = self.proxies.lock().await;
        let proxy = proxies.get_mut(name).ok_or_else(not_found)?;
        let text = |key: &str| match field(obj, key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::bad_body(format!(
                "json: cannot unmarshal into Go struct field Proxy.{key} of type string"
            ))),
        };
        let listen = text("listen")?;
        let http = proxy.http.is_some();
        let upstream = upstream_text(obj, http, "")?;
        let timeout = upstream_timeout(obj, http, "")?;
        let enabled = match field(obj, "enabled") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(ApiError::bad_body(
                    "json: cannot unmarshal into Go struct field Proxy.enabled of type bool",
                ));
            }
        };
        let new_listen = listen.filter(|l| {
            let resolved = normalise_listen(l);
            proxy.bound.map(|b| b.to_string()) != Some(resolved.clone())
                && resolved != normalise_listen(&proxy.listen_input)
        });
        let new_upstream = upstream.filter(|u| *u != proxy.upstream && !(http && u.is_empty()));
        let new_timeout = timeout.filter(|t| {
            proxy
                .http
                .as_ref()
                .is_some_and(|h| h.upstream_timeout != *t)
        });
        let want_enabled = enabled.unwrap_or(proxy.enabled);
        if new_listen.is_some() || new_upstream.is_some() || new_timeout.is_some() {
            proxy.stop().await;
            if let Some(l) = new_listen {
                proxy.listen_input = l;
                proxy.bound = None;
            }
            if let Some(u) = new_upstream {
                if let Some(h) = proxy.http.as_mut() {
                    h.balancer = Arc::new(Balancer::new(split_upstreams(&u)));
                }
                proxy.upstream = u;
            }
            if let (Some(t), Some(h)) = (new_timeout, proxy.http.as_mut()) {
                h.upstream_timeout = t;
            }
            proxy.enabled = false;
            if want_enabled {
                self.start(proxy).await?;
            }
        } else if want_enabled && proxy.running.is_none() {
            self.start(proxy).await?;
        } else if !want_enabled {
            proxy.stop().await;
            proxy.enabled = false;
        }
        Ok(proxy.to_json())
    }

    /// `DELETE /proxies/{name}`.
    pub async fn delete(&self, name: &str) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        let mut proxy = proxies.remove(name).ok_or_else(not_found)?;
        proxy.stop().await;
        Ok(())
    }

    /// `POST /populate`: validate all, then add or replace in order.
    pub async fn populate(&self, body: &Value) -> Result<Value, (ApiError, Vec<Value>)> {
        let items = body.as_array().ok_or_else(|| {
            (
                ApiError::bad_body(
                    "json: cannot unmarshal object into Go value of type []proxy.Proxy",
                ),
                Vec::new(),
            )
        })?;
        let mut specs = Vec::new();
        for (i, item) in items.iter().enumerate() {
            specs.push(Self::parse_spec(item, Some(i + 1)).map_err(|e| (e, Vec::new()))?);
        }
        let mut created = Vec::new();
        let mut proxies = self.proxies.lock().await;
        for spec in specs {
            if let Some(existing) = proxies.get_mut(&spec.name) {
                let same_listen = existing.bound.map(|b| b.to_string())
                    == Some(normalise_listen(&spec.listen))
                    || normalise_listen(&existing.listen_input) == normalise_listen(&spec.listen);
                let same_protocol = existing.http.as_ref().map(|h| h.routes.as_ref())
                    == spec.http.as_ref()
                    && existing.http.as_ref().and_then(|h| h.upstream_timeout)
                        == spec.upstream_timeout;
                if same_listen && existing.upstream == spec.upstream && same_protocol {
                    if let Some(toxics) = spec.toxics {
                        self.expire_later(&spec.name, &toxics);
                        existing.toxics = toxics;
                        existing.publish();
                    }
                    created.push(existing.to_json());
                    continue;
                }
                existing.stop().await;
                proxies.remove(&spec.name);
            }
            match self.start_new(spec).await {
                Ok(p) => {
                    created.push(p.to_json());
                    proxies.insert(p.name.clone(), p);
                }
                Err(e) => return Err((e, created)),
            }
        }
        Ok(json!({ "proxies": created }))
    }

    /// `POST /reset`: enable every proxy, remove every toxic.
    pub async fn reset(&self) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        for proxy in proxies.values_mut() {
            if proxy.running.is_none() {
                self.start(proxy).await?;
            }
            proxy.toxics.clear();
            proxy.publish();
            if let Some(h) = &proxy.http {
                h.stats.clear_cohorts();
            }
        }
        Ok(())
    }

    /// An http proxy's figures (cohorts live there); a TCP proxy cannot tell users apart.
    pub(super) async fn http_stats(&self, name: &str) -> Result<Arc<HttpStats>, ApiError> {
        let proxies = self.proxies.lock().await;
        let p = proxies.get(name).ok_or_else(not_found)?;
        match &p.http {
            Some(h) => Ok(h.stats.clone()),
            None => Err(ApiError::new(
                400,
                format!(
                    "proxy {name} is a TCP proxy: cohorts need an http proxy (\"protocol\": \"http\"), which sees who sent each request"
                ),
            )),
        }
    }

    /// `GET /proxies/{name}/toxics`.
    pub async fn toxics(&self, name: &str) -> Result<Value, ApiError> {
        let proxies = self.proxies.lock().await;
        let p = proxies.get(name).ok_or_else(not_found)?;
        Ok(Value::Array(
            p.ordered_toxics().iter().map(Toxic::to_json).collect(),
        ))
    }

    /// `POST /proxies/{name}/toxics`.
    pub async fn add_toxic(&self, name: &str, body: &Value) -> Result<Value, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let p = proxies.get_mut(name).ok_or_else(not_found)?;
        let t = toxic::parse_new(body)?;
        check_protocol(&t, p.http.is_some())?;
        if p.toxics.iter().any(|x| x.name == t.name) {
            return Err(ApiError::new(409, "toxic already exists"));
        }
        let json = t.to_json();
        self.expire_later(name, std::slice::from_ref(&t));
        p.toxics.push(t);
        p.publish();
        Ok(json)
    }

    /// `GET /proxies/{name}/toxics/{toxic}`.
    pub async fn get_toxic(&self, name: &str, toxic_name: &str) -> Result<Value, ApiError> {
        let proxies = self.proxies.lock().await;
        let p = proxies.get(name).ok_or_else(not_found)?;
        p.toxics
            .iter()
            .find(|t| t.name == toxic_name)
            .map(Toxic::to_json)
            .ok_or_else(|| ApiError::new(404, "toxic not found"))
    }

    /// `POST|PATCH /proxies/{name}/toxics/{toxic}`.
    pub async fn update_toxic(
        &self,
        name: &str,
        toxic_name: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let p = proxies.get_mut(name).ok_or_else(not_found)?;
        let t = p
            .toxics
            .iter_mut()
            .find(|t| t.name == toxic_name)
            .ok_or_else(|| ApiError::new(404, "toxic not found"))?;
        toxic::apply_update(t, body)?;
        let json = t.to_json();
        p.publish();
        Ok(json)
    }

    /// `DELETE /proxies/{name}/toxics/{toxic}`.
    pub async fn remove_toxic(&self, name: &str, toxic_name: &str) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        let p = proxies.get_mut(name).ok_or_else(not_found)?;
        let before = p.toxics.len();
        p.toxics.retain(|t| t.name != toxic_name);
        if p.toxics.len() == before {
            return Err(ApiError::new(404, "toxic not found"));
        }
        p.publish();
        Ok(())
    }

    /// Removes each toxic that has a `ttl` when it expires, whoever runs the proxy (the CLI's
    /// server or an in-process [`super::serve`]): one `tokio::time` timer per toxic. The timer
    /// removes only the toxic it was set for (same name and expiry), never a successor of that
    /// name, and does nothing once the registry is gone.
    fn expire_later(&self, proxy: &str, toxics: &[Toxic]) {
        for toxic in toxics {
            let Some(at) = toxic.expires_at else {
                continue;
            };
            let left = at
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            let proxies = Arc::downgrade(&self.proxies);
            let (proxy, name) = (proxy.to_string(), toxic.name.clone());
            tokio::spawn(async move {
                tokio::time::sleep(left).await;
                let Some(proxies) = proxies.upgrade() else {
                    return;
                };
                let mut proxies = proxies.lock().await;
                let Some(p) = proxies.get_mut(&proxy) else {
                    return;
                };
                let before = p.toxics.len();
                p.toxics
                    .retain(|t| !(t.name == name && t.expires_at == Some(at)));
                if p.toxics.len() != before {
                    p.publish();
                }
            });
        }
    }

    /// Traffic figures of every proxy.
    pub async fn metrics(&self) -> Map<String, Value> {
        let proxies = self.proxies.lock().await;
        proxies
            .iter()
            .map(|(k, p)| (k.clone(), p.traffic(10)))
            .collect()
    }

    /// `GET /proxies/{name}/traffic?window_s=N`: one proxy's figures (as in `GET /traffic`); http
    /// proxies add per-request figures over the window (0: since the proxy started), overall and
    /// by route.
    pub async fn traffic(&self, name: &str, window_s: u64) -> Result<Value, ApiError> {
        let proxies = self.proxies.lock().await;
        let p = proxies.get(name).ok_or_else(not_found)?;
        Ok(p.traffic(window_s))
    }

    /// Per-route request counters and latency quantiles of every http proxy, with its count of
    /// requests sent again (for `/metrics`).
    pub async fn http_counters(&self) -> Vec<(String, HttpCounters, u64)> {
        let proxies = self.proxies.lock().await;
        proxies
            .iter()
            .filter_map(|(k, p)| {
                let h = p.http.as_ref()?;
                Some((k.clone(), h.stats.counters(), h.stats.retried()))
            })
            .collect()
    }

    /// Each http proxy's per-upstream counters (for `/metrics`).
    pub async fn upstream_counters(&self) -> Vec<(String, UpstreamCounters)> {
        let proxies = self.proxies.lock().await;
        proxies
            .iter()
            .filter_map(|(k, p)| Some((k.clone(), p.http.as_ref()?.balancer.counters())))
            .collect()
    }

    /// Each http proxy's cohort split in force, with its figures (for `/metrics`).
    pub async fn cohort_splits(&self) -> Vec<(String, Value)> {
        let proxies = self.proxies.lock().await;
        proxies
            .iter()
            .filter_map(|(k, p)| Some((k.clone(), p.http.as_ref()?.stats.cohorts()?.to_json())))
            .collect()
    }

    /// Stops every proxy.
    pub async fn shutdown(&self) {
        let mut proxies = self.proxies.lock().await;
        for p in proxies.values_mut() {
            p.stop().await;
        }
    }
}

fn not_found() -> ApiError {
    ApiError::new(404, "proxy not found")
}
