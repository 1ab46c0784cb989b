//! The server's HTTP API (JSON), served through [`crate::http_serve`] (loopback without a token;
//! anything else requires one, as the proxy API). Every route is in [`routes::ROUTES`]; a path
//! no route matches is offered to the [`Mount`]s (the dashboard mounts `/`), then answered 404.
//! Errors are `{"error": message, "field": name-or-null}`: a malformed body or parameter is
//! 400, an unknown thing 404, a wrong method 405 (with `Allow`), a refused action 409.

mod control;
mod events;
mod experiments;
pub mod routes;

pub(crate) use experiments::view as experiment_view;
mod runs;

#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::daemon::Shared;
use crate::http_serve::{self, ServeOptions};
use routes::{Endpoint, Found};

/// The OpenAPI 3 document, written by hand (kept in step with [`routes::ROUTES`] by a test).
pub const OPENAPI: &str = include_str!("openapi.json");

/// Request bodies larger than this are refused (413).
const MAX_BODY: usize = 64 * 1024;

/// Every answer: a whole body, or a stream (Server-Sent Events).
pub type Reply = Response<BoxBody<Bytes, Infallible>>;

/// A request as a [`Mount`] sees it (the body is not read: mounts serve pages).
#[derive(Debug)]
pub struct MountRequest {
    pub method: Method,
    pub path: String,
    /// The raw query string (`a=1&b=2`, empty without one).
    pub query: String,
    pub headers: hyper::HeaderMap,
}

impl MountRequest {
    /// The query's parameters, decoded.
    pub fn params(&self) -> Vec<(String, String)> {
        parse_query(&self.query)
    }
}

/// What a mount answers: None when the path is not its own.
pub type MountFuture<'a> = std::pin::Pin<Box<dyn Future<Output = Option<Reply>> + Send + 'a>>;

/// Routes of another module, tried for paths the API does not know — the seam where the
/// dashboard is served from the same listener (see [`crate::server`]). Mounts read the server's
/// state (the store, the children) as the API does.
pub trait Mount: Send + Sync + std::fmt::Debug {
    /// The answer for `request`, or None when not this mount's.
    fn serve<'a>(&'a self, shared: &'a Arc<Shared>, request: &'a MountRequest) -> MountFuture<'a>;
}

/// Serves the API until `cancel` (then requests in flight finish, see [`crate::http_serve`]).
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    token: Option<String>,
    mounts: Vec<Arc<dyn Mount>>,
    cancel: CancellationToken,
) {
    let options = ServeOptions {
        token,
        unauthorized: || {
            let mut r = Response::new(Full::new(Bytes::from(
                json!({"error": "missing or wrong bearer token", "field": null}).to_string(),
            )));
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        },
        browser: Some(crate::http_serve::BrowserLogin {
            login_page: crate::server::dashboard::login_page,
        }),
        ..ServeOptions::default()
    };
    let mounts = Arc::new(mounts);
    let service = service_fn(move |req| {
        let (shared, mounts) = (shared.clone(), mounts.clone());
        async move { Ok::<_, Infallible>(handle(&shared, &mounts, req).await) }
    });
    http_serve::serve(listener, service, options, cancel).await;
}

/// A parsed request: what the endpoints read.
pub(super) struct Call {
    pub params: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
    pub headers: hyper::HeaderMap,
}

impl Call {
    /// The query parameter `name` (the last one given).
    pub(super) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as a JSON object: empty is `{}`; anything but an object, or a key not in
    /// `known`, is a 400.
    pub(super) fn object(&self, known: &[&str]) -> Result<Map<String, Value>, Box<Reply>> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        let value: Value = serde_json::from_slice(&self.body).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                &format!("malformed JSON body: {e}"),
                None,
            )
        })?;
        let Value::Object(map) = value else {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "malformed body: expected a JSON object",
                None,
            )));
        };
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            let expected = if known.is_empty() {
                "no fields".to_string()
            } else {
                known.join(", ")
            };
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                &format!("unknown field {unknown:?} (expected {expected})"),
                Some(unknown),
            )));
        }
        Ok(map)
    }
}

async fn handle(shared: &Arc<Shared>, mounts: &[Arc<dyn Mount>], req: Request<Incoming>) -> Reply {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let found = routes::find(method.as_str(), &path);
    let (endpoint, params) = match found {
        Found::Route(endpoint, params) => (endpoint, params),
        Found::WrongMethod(allowed) => {
            let mut r = error(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!(
                    "{method} is not allowed on {path} (allowed: {})",
                    allowed.join(", ")
                ),
                None,
            );
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                r.headers_mut().insert(ALLOW, v);
            }
            return r;
        }
        Found::NotFound => {
            let request = MountRequest {
                method: method.clone(),
                path: path.clone(),
                query: raw_query,
                headers: req.headers().clone(),
            };
            for mount in mounts {
                if let Some(reply) = mount.serve(shared, &request).await {
                    return reply;
                }
            }
            return error(StatusCode::NOT_FOUND, &format!("no route {path}"), None);
        }
    };
    let headers = req.headers().clone();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than {MAX_BODY} bytes"),
                None,
            );
        }
    };
    let call = Call {
        params,
        query: parse_query(&raw_query),
        body,
        headers,
    };
    let reply = dispatch(shared, endpoint, &call).await;
    if method == Method::HEAD {
        let (parts, _) = reply.into_parts();
        return Response::from_parts(parts, empty());
    }
    reply
}

async fn dispatch(shared: &Arc<Shared>, endpoint: Endpoint, call: &Call) -> Reply {
    match endpoint {
        Endpoint::Healthz => control::healthz(shared).await,
        Endpoint::Metrics => control::metrics(shared).await,
        Endpoint::OpenApi => {
            let mut r = Response::new(full(Bytes::from_static(OPENAPI.as_bytes())));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        Endpoint::Experiments => experiments::list(shared).await,
        Endpoint::Experiment => experiments::get(shared, call).await,
        Endpoint::RunNow => experiments::run_now(shared, call).await,
        Endpoint::Runs => runs::list(shared, call).await,
        Endpoint::Run => runs::get(shared, call).await,
        Endpoint::RunEvents => events::stream(shared, call).await,
        Endpoint::RunAbort => runs::abort(shared, call).await,
        Endpoint::Ledger => control::ledger(shared).await,
        Endpoint::Halt => control::halt(shared, call).await,
        Endpoint::Resume => control::resume(shared, call).await,
        Endpoint::SchedulePause => control::pause(shared, call, true).await,
        Endpoint::ScheduleResume => control::pause(shared, call, false).await,
        Endpoint::Monkey => control::monkey(shared).await,
        Endpoint::Traffic => json_reply(
            StatusCode::OK,
            &json!({"every_s": crate::server::traffic::EVERY.as_secs_f64(), "sources": shared.traffic.snapshot()}),
        ),
    }
}

/// `a=1&b=x%20y` → pairs (`+` is a space).
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| routes::percent_decode(&s.replace('+', " "));
            (decode(k), decode(v))
        })
        .collect()
}

pub(crate) fn full(bytes: Bytes) -> BoxBody<Bytes, Infallible> {
    Full::new(bytes).boxed()
}

fn empty() -> BoxBody<Bytes, Infallible> {
    full(Bytes::new())
}

/// A JSON answer.
pub(crate) fn json_reply(status: StatusCode, value: &impl Serialize) -> Reply {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    let mut r = Response::new(full(Bytes::from(text + "\n")));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// `{"error": message, "field": field}`.
pub(crate) fn error(status: StatusCode, message: &str, field: Option<&str>) -> Reply {
    json_reply(status, &json!({"error": message, "field": field}))
}

/// The store could not answer: 503, so a client retries.
pub(super) fn unavailable(what: &str, e: impl std::fmt::Display) -> Reply {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("{what}: {e}"),
        None,
    )
}
