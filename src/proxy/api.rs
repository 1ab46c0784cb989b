//! The Toxiproxy HTTP API (spec §2–§6): same paths, JSON shapes, status codes and error strings,
//! so existing client libraries work unchanged. Served through [`crate::http_serve`] on an
//! already-bound listener.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::registry::Registry;
use super::toxic::ApiError;
use crate::http_serve::{self, ServeOptions};

/// The Toxiproxy API level we emulate (clients pick PATCH/POST from it).
pub const TOXIPROXY_VERSION: &str = "2.12.0";

/// Request bodies larger than this are refused.
const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct ApiOptions {
    /// Required `Authorization: Bearer <token>` (mandatory when bound beyond loopback).
    pub token: Option<String>,
    /// Serve `GET /metrics` with the proxy byte counters.
    pub proxy_metrics: bool,
    /// Add process metrics to `GET /metrics`.
    pub runtime_metrics: bool,
}

type Reply = Response<Full<Bytes>>;

/// Serves the API until `cancel` (then requests in flight finish, see [`crate::http_serve`]).
pub async fn serve(
    listener: TcpListener,
    registry: Registry,
    options: ApiOptions,
    cancel: CancellationToken,
) {
    let serve_options = ServeOptions {
        token: options.token.clone(),
        unauthorized,
        ..ServeOptions::default()
    };
    let registry = Arc::new(registry);
    let service = service_fn(move |req| {
        let (registry, options) = (registry.clone(), options.clone());
        async move { Ok::<_, Infallible>(with_ids(route(&registry, &options, req).await)) }
    });
    http_serve::serve(listener, service, serve_options, cancel).await;
}

/// Toxiproxy's error shape for a request without the right token.
fn unauthorized() -> Reply {
    with_ids(error(&ApiError::new(401, "missing or wrong bearer token")))
}

/// The headers every answer carries: a request id (as Toxiproxy) and our version.
fn with_ids(mut reply: Reply) -> Reply {
    let id = uuid::Uuid::new_v4().simple().to_string();
    if let Ok(v) = HeaderValue::from_str(&id) {
        reply.headers_mut().insert("X-Toxiproxy-Request-Id", v);
    }
    reply.headers_mut().insert(
        "X-Monkeywrench-Version",
        HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
    );
    reply
}

async fn route(registry: &Registry, options: &ApiOptions, req: Request<Incoming>) -> Reply {
    let browser = req
        .headers()
        .get(hyper::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("Mozilla/"));
    if browser {
        return text(StatusCode::FORBIDDEN, "User agent not allowed\n");
    }
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let window_s = super::cohorts::query_param(&query, "window_s").map(|v| v.parse::<u64>());
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(&ApiError::new(413, "bad request body: body too large")),
    };
    let is = |m: &Method| method == *m;
    let update = is(&Method::POST) || is(&Method::PATCH);
    match segments.as_slice() {
        ["version"] if is(&Method::GET) => {
            let mut r = Response::new(Full::new(Bytes::from(format!(
                "{{\"version\": \"{TOXIPROXY_VERSION}\"}}\n"
            ))));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json;charset=utf-8"),
            );
            r
        }
        ["reset"] if is(&Method::POST) => done(registry.reset().await, StatusCode::NO_CONTENT),
        ["populate"] if is(&Method::POST) => match parse(&body) {
            Err(e) => populate_error(&e, Vec::new()),
            Ok(v) => match registry.populate(&v).await {
                Ok(created) => json(StatusCode::CREATED, &created),
                Err((e, created)) => populate_error(&e, created),
            },
        },
        ["proxies"] if is(&Method::GET) => json(StatusCode::OK, &registry.list().await),
        ["proxies"] if is(&Method::POST) => match parse(&body) {
            Ok(v) => result(registry.create(&v).await, StatusCode::CREATED),
            Err(e) => error(&e),
        },
        ["proxies", name] if is(&Method::GET) => result(registry.get(name).await, StatusCode::OK),
        ["proxies", name] if update => match parse(&body) {
            Ok(v) => result(registry.update(name, &v).await, StatusCode::OK),
            Err(e) => error(&e),
        },
        ["proxies", name] if is(&Method::DELETE) => {
            done(registry.delete(name).await, StatusCode::NO_CONTENT)
        }
        ["proxies", name, "toxics"] if is(&Method::GET) => {
            result(registry.toxics(name).await, StatusCode::OK)
        }
        ["proxies", name, "toxics"] if is(&Method::POST) => match parse(&body) {
            Ok(v) => result(registry.add_toxic(name, &v).await, StatusCode::OK),
            Err(e) => error(&e),
        },
        ["proxies", name, "toxics", toxic] if is(&Method::GET) => {
            result(registry.get_toxic(name, toxic).await, StatusCode::OK)
        }
        ["proxies", name, "toxics", toxic] if update => match parse(&body) {
            Ok(v) => result(registry.update_toxic(name, toxic, &v).await, StatusCode::OK),
            Err(e) => error(&e),
        },
        ["proxies", name, "toxics", toxic] if is(&Method::DELETE) => done(
            registry.remove_toxic(name, toxic).await,
            StatusCode::NO_CONTENT,
        ),
        ["metrics"] if is(&Method::GET) && (options.proxy_metrics || options.runtime_metrics) => {
            let mut r = Response::new(Full::new(Bytes::from(
                super::prometheus::render(registry, options).await,
            )));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        ["traffic"] if is(&Method::GET) => {
            json(StatusCode::OK, &Value::Object(registry.metrics().await))
        }
        ["proxies", name, "traffic"] if is(&Method::GET) => match window_s {
            Some(Err(_)) => error(&ApiError::new(
                400,
                "window_s must be a whole number of seconds (0: since the proxy started)",
            )),
            w => result(
                registry
                    .traffic(name, w.and_then(Result::ok).unwrap_or(10))
                    .await,
                StatusCode::OK,
            ),
        },
        ["proxies", name, "cohorts"] if is(&Method::GET) => {
            result(super::cohorts::get(registry, name).await, StatusCode::OK)
        }
        ["proxies", name, "cohorts"] if is(&Method::POST) => match parse(&body) {
            Ok(v) => result(
                super::cohorts::set(registry, name, &v).await,
                StatusCode::OK,
            ),
            Err(e) => error(&e),
        },
        ["proxies", name, "cohorts"] if is(&Method::DELETE) => done(
            super::cohorts::clear(registry, name).await,
            StatusCode::NO_CONTENT,
        ),
        ["proxies", name, "cohorts", "compare"] if is(&Method::GET) => result(
            super::cohorts::compare(registry, name, &query).await,
            StatusCode::OK,
        ),
        ["version"]
        | ["reset"]
        | ["populate"]
        | ["proxies"]
        | ["proxies", _]
        | ["proxies", _, "toxics"]
        | ["proxies", _, "toxics", _]
        | ["proxies", _, "traffic"]
        | ["proxies", _, "cohorts"]
        | ["proxies", _, "cohorts", "compare"]
        | ["traffic"] => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            r
        }
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}

/// JSON whatever the Content-Type; an empty body is Go's `EOF`.
fn parse(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_body("EOF"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_body(e.to_string().to_lowercase()))
}

fn json(status: StatusCode, v: &Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A plain-text answer as Go's `http.Error` writes it (Toxiproxy's 403 and 404 are those).
fn text(status: StatusCode, s: &'static str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from_static(s.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn error(e: &ApiError) -> Reply {
    let body = format!(
        "{}\n",
        serde_json::json!({"error": e.message, "status": e.status})
    );
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn populate_error(e: &ApiError, created: Vec<Value>) -> Reply {
    let proxies = if created.is_empty() {
        Value::Null
    } else {
        Value::Array(created)
    };
    let body = serde_json::json!({"error": e.message, "proxies": proxies, "status": e.status});
    let mut r = json(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        &body,
    );
    *r.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    r
}

fn result(r: Result<Value, ApiError>, ok: StatusCode) -> Reply {
    match r {
        Ok(v) => json(ok, &v),
        Err(e) => error(&e),
    }
}

fn done(r: Result<(), ApiError>, ok: StatusCode) -> Reply {
    match r {
        Ok(()) => {
            let mut resp = Response::new(Full::new(Bytes::new()));
            *resp.status_mut() = ok;
            resp
        }
        Err(e) => error(&e),
    }
}
