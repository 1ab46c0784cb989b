//! The daemon's HTTP endpoint: `GET /metrics` (Prometheus text) and `GET /healthz`. Takes a bound
//! listener and a cancellation token; a bearer token is required when one is configured.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::metrics::MonkeyMetrics;

/// Serves until `cancel`.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<MonkeyMetrics>,
    token: Option<String>,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = cancel.cancelled() => return,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let (metrics, token, cancel) = (metrics.clone(), token.clone(), cancel.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let reply = handle(&metrics, token.as_deref(), &req);
                async move { Ok::<_, Infallible>(reply) }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = cancel.cancelled() => {}
            }
        });
    }
}

fn handle(
    metrics: &MonkeyMetrics,
    token: Option<&str>,
    req: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let authorized = token.is_none_or(|t| {
        req.headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.strip_prefix("Bearer ") == Some(t))
    });
    let (status, body) = if !authorized {
        (
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token\n".to_string(),
        )
    } else {
        match req.uri().path() {
            "/metrics" => (StatusCode::OK, metrics.render()),
            "/healthz" => (StatusCode::OK, "ok\n".to_string()),
            _ => (StatusCode::NOT_FOUND, "not found\n".to_string()),
        }
    };
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    reply
}
