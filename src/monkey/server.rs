//! The daemon's HTTP endpoint: `GET /metrics` (Prometheus text) and `GET /healthz`, served through
//! [`crate::http_serve`] (bound listener, cancellation token, bearer token when one is configured).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::metrics::MonkeyMetrics;
use crate::http_serve::{self, ServeOptions};

/// Serves until `cancel`.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<MonkeyMetrics>,
    token: Option<String>,
    cancel: CancellationToken,
) {
    let options = ServeOptions {
        token,
        unauthorized: || {
            text(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token\n".into(),
            )
        },
        ..ServeOptions::default()
    };
    let service = service_fn(move |req| {
        let reply = handle(&metrics, &req);
        async move { Ok::<_, Infallible>(reply) }
    });
    http_serve::serve(listener, service, options, cancel).await;
}

fn handle(metrics: &MonkeyMetrics, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/metrics" => text(StatusCode::OK, metrics.render()),
        "/healthz" => text(StatusCode::OK, "ok\n".to_string()),
        _ => text(StatusCode::NOT_FOUND, "not found\n".to_string()),
    }
}

/// Every answer is Prometheus' text format.
fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    reply
}
