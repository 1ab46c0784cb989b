//! The demo service: a small HTTP server on loopback whose failures can be dialled in, so the
//! demo experiments have something real to measure and break.
//!
//! `GET /health` → `{"status":"ok"}` (or 500 while faulty); `GET /api/items` → a JSON list;
//! `POST /admin/fault?error_rate=0.5&latency_ms=200` injects an exact share of 500s and added
//! latency on `/api/*` and `/health`; `POST /admin/reset` clears it; `GET /admin/fault` shows it.
//! A named replica (the demo runs three) says which one answered in `x-demo-replica`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

/// The injected misbehaviour.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Fault {
    /// Share of requests answered with 500 (exact: every request where ⌊n·r⌋ steps up fails).
    pub error_rate: f64,
    /// Added latency per request.
    pub latency_ms: u64,
}

#[derive(Default)]
struct State {
    fault: RwLock<Fault>,
    served: AtomicU64,
    /// The replica's name, for `x-demo-replica`.
    name: Option<hyper::header::HeaderValue>,
}

/// Serves until `cancel`; takes an already-bound listener (tests bind 127.0.0.1:0).
pub async fn serve(listener: TcpListener, cancel: CancellationToken) {
    serve_as(listener, None, cancel).await;
}

/// [`serve`], as the replica `name` (named in every answer's `x-demo-replica`).
pub async fn serve_as(listener: TcpListener, name: Option<&str>, cancel: CancellationToken) {
    let state = Arc::new(State {
        name: name.and_then(|n| hyper::header::HeaderValue::from_str(n).ok()),
        ..State::default()
    });
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = cancel.cancelled() => return,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                async move {
                    let mut r = handle(state.clone(), req).await?;
                    if let Some(name) = &state.name {
                        r.headers_mut().insert("x-demo-replica", name.clone());
                    }
                    Ok::<_, Infallible>(r)
                }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = cancel.cancelled() => {}
            }
        });
    }
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    Ok(match (req.method(), path.as_str()) {
        (&Method::POST, "/admin/fault") => {
            let mut f = *state.fault.read().await;
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                match (k, v.parse::<f64>()) {
                    ("error_rate", Ok(r)) if (0.0..=1.0).contains(&r) => f.error_rate = r,
                    ("latency_ms", Ok(ms)) if (0.0..=60_000.0).contains(&ms) => {
                        f.latency_ms = ms as u64
                    }
                    _ => {
                        return Ok(json(
                            StatusCode::BAD_REQUEST,
                            format!(
                                "{{\"error\":\"bad parameter {k:?}: error_rate in 0..1, latency_ms in 0..60000\"}}"
                            ),
                        ));
                    }
                }
            }
            *state.fault.write().await = f;
            json(
                StatusCode::OK,
                serde_json::to_string(&f).unwrap_or_default(),
            )
        }
        (&Method::POST, "/admin/reset") => {
            *state.fault.write().await = Fault::default();
            json(
                StatusCode::OK,
                serde_json::to_string(&Fault::default()).unwrap_or_default(),
            )
        }
        (&Method::GET, "/admin/fault") => {
            let f = *state.fault.read().await;
            json(
                StatusCode::OK,
                serde_json::to_string(&f).unwrap_or_default(),
            )
        }
        (&Method::GET, "/health") | (&Method::GET, "/api/items") => {
            let f = *state.fault.read().await;
            if f.latency_ms > 0 {
                tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
            }
            let n = state.served.fetch_add(1, Ordering::Relaxed);
            let fails =
                (((n + 1) as f64) * f.error_rate).floor() > ((n as f64) * f.error_rate).floor();
            if fails {
                json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "{\"status\":\"error\"}".into(),
                )
            } else if path == "/health" {
                json(StatusCode::OK, "{\"status\":\"ok\"}".into())
            } else {
                json(
                    StatusCode::OK,
                    "[{\"id\":1,\"name\":\"wrench\"},{\"id\":2,\"name\":\"monkey\"}]".into(),
                )
            }
        }
        (&Method::GET, "/") => {
            let mut r = Response::new(Full::new(Bytes::from_static(
                b"monkeywrench demo service: GET /health, GET /api/items, POST /admin/fault?error_rate=&latency_ms=, POST /admin/reset\n",
            )));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain"),
            );
            r
        }
        _ => json(StatusCode::NOT_FOUND, "{\"error\":\"not found\"}".into()),
    })
}
