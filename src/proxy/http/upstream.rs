//! Sending one request upstream: to the upstream the balancer picks, on this client's kept-alive
//! connection to it or a fresh one, and — when that upstream fails before a response head and it
//! is safe — once more on the next one.
//!
//! Safe means the request never left (hyper hands it back, or the dial failed), or it is
//! idempotent and has no body (RFC 9110 §9.2.2), as HAProxy's `retry-on` does it. A request with
//! a body that went out is never sent twice: the client gets the 502 (or 504 after
//! `upstream_timeout_ms`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::balance::Tried;
use super::body::Counted;
use super::serve::Conn;
use crate::proxy::metrics::ProxyMetrics;

/// The longest a dial may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why no upstream answered.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    /// The dial failed or the connection broke before a response head.
    #[error("bad gateway: {0}")]
    Broken(String),
    /// No response head within `upstream_timeout_ms`.
    #[error("gateway timeout: {address} sent no response head within {ms} ms")]
    Timeout { address: String, ms: u128 },
}

impl Failure {
    /// The status the client gets.
    pub(super) fn status(&self) -> StatusCode {
        match self {
            Failure::Broken(_) => StatusCode::BAD_GATEWAY,
            Failure::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// An attempt at one upstream that failed, with the request if it never left.
struct Failed {
    unsent: Option<Request<Counted>>,
    failure: Failure,
}

/// Sends `req` to the upstreams in the balancer's order until one answers with a head or it is
/// no longer safe to go on; counts each upstream's responses and failures.
pub(super) async fn send(
    conn: &Conn,
    req: Request<Counted>,
    upgrade: bool,
) -> Result<Response<Incoming>, Failure> {
    let balancer = &conn.ctx.balancer;
    // A spare head for the next upstream, kept only where there is one to go to.
    let spare = (balancer.len() > 1 && is_idempotent(req.method()) && req.body().is_end_stream())
        .then(|| bodiless_copy(&req, &conn.ctx.metrics));
    let mut next = Some(req);
    let mut tried = Tried::default();
    let mut last = None;
    while let Some(i) = balancer.pick(tried) {
        let Some(req) = next
            .take()
            .or_else(|| spare.as_ref().map(|r| bodiless_copy(r, &conn.ctx.metrics)))
        else {
            break;
        };
        if last.is_some() {
            conn.ctx.stats.count_retry();
        }
        tried.add(i);
        match attempt(conn, i, req, upgrade).await {
            Ok(response) => {
                balancer.count_response(i, response.status().as_u16());
                return Ok(response);
            }
            Err(failed) => {
                balancer.mark_down(i);
                next = failed.unsent;
                last = Some(failed.failure);
            }
        }
    }
    Err(last.unwrap_or_else(|| Failure::Broken("no upstream".into())))
}

/// Sends a request to upstream `i` on this client's keep-alive connection to it (a fresh one
/// for upgrades).
///
/// An upstream may close a kept-alive connection just as a request goes out on it (its idle
/// timeout): the request then fails before any response through no fault of the service. Like
/// other proxies, it is sent once more on a fresh connection to the same upstream when that is
/// safe, so the figures count the service's errors, not the race's; only a failure on a fresh
/// connection counts against the upstream.
async fn attempt(
    conn: &Conn,
    i: usize,
    req: Request<Counted>,
    upgrade: bool,
) -> Result<Response<Incoming>, Failed> {
    if upgrade {
        let mut sender = match connect(conn, i, true).await {
            Ok(s) => s,
            Err(failure) => {
                return Err(Failed {
                    unsent: Some(req),
                    failure,
                });
            }
        };
        let response = sender.send_request(req);
        return within(conn, i, response).await.map_err(|failure| Failed {
            unsent: None,
            failure,
        });
    }
    // Requests on one client connection come one at a time, so the sender is taken out while a
    // request is in flight and put back after; a request cut short drops it with its connection.
    let idle = take_sender(conn, i);
    let (mut sender, reused) = match idle {
        Some(mut s) if !s.is_closed() => match s.ready().await {
            Ok(()) => (s, true),
            Err(_) => match connect(conn, i, false).await {
                Ok(s) => (s, false),
                Err(failure) => {
                    return Err(Failed {
                        unsent: Some(req),
                        failure,
                    });
                }
            },
        },
        _ => match connect(conn, i, false).await {
            Ok(s) => (s, false),
            Err(failure) => {
                return Err(Failed {
                    unsent: Some(req),
                    failure,
                });
            }
        },
    };
    let replay = (reused && is_idempotent(req.method()) && req.body().is_end_stream())
        .then(|| bodiless_copy(&req, &conn.ctx.metrics));
    let sent = sender.try_send_request(req);
    put_sender(conn, i, sender);
    let mut broken = match within_try(conn, i, sent).await {
        Ok(Ok(response)) => return Ok(response),
        Ok(Err(e)) => e,
        Err(failure) => {
            return Err(Failed {
                unsent: None,
                failure,
            });
        }
    };
    // Any failure before the response head: EOF or a reset, depending on whether the upstream's
    // close or our request got there first.
    let unsent = broken.take_message();
    let again = match unsent {
        Some(unsent) if reused => Some(unsent),
        Some(unsent) => {
            return Err(Failed {
                unsent: Some(unsent),
                failure: Failure::Broken(broken.into_error().to_string()),
            });
        }
        None => replay.filter(|_| reused),
    };
    let Some(again) = again else {
        return Err(Failed {
            unsent: None,
            failure: Failure::Broken(broken.into_error().to_string()),
        });
    };
    conn.ctx.stats.count_retry();
    let mut fresh = match connect(conn, i, false).await {
        Ok(s) => s,
        Err(failure) => {
            return Err(Failed {
                unsent: Some(again),
                failure,
            });
        }
    };
    let response = fresh.send_request(again);
    put_sender(conn, i, fresh);
    within(conn, i, response).await.map_err(|failure| Failed {
        unsent: None,
        failure,
    })
}

/// The response head within the proxy's `upstream_timeout_ms`; on a timeout the connection,
/// whose state is now unknown, is dropped.
async fn within(
    conn: &Conn,
    i: usize,
    response: impl Future<Output = hyper::Result<Response<Incoming>>>,
) -> Result<Response<Incoming>, Failure> {
    match within_try(conn, i, response).await? {
        Ok(r) => Ok(r),
        Err(e) => Err(Failure::Broken(e.to_string())),
    }
}

async fn within_try<T>(
    conn: &Conn,
    i: usize,
    response: impl Future<Output = T>,
) -> Result<T, Failure> {
    let Some(limit) = conn.ctx.upstream_timeout else {
        return Ok(response.await);
    };
    match tokio::time::timeout(limit, response).await {
        Ok(r) => Ok(r),
        Err(_) => {
            drop(take_sender(conn, i));
            Err(Failure::Timeout {
                address: conn.ctx.balancer.address(i).to_string(),
                ms: limit.as_millis(),
            })
        }
    }
}

fn take_sender(conn: &Conn, i: usize) -> Option<SendRequest<Counted>> {
    conn.senders.lock().unwrap_or_else(|e| e.into_inner())[i].take()
}

fn put_sender(conn: &Conn, i: usize, sender: SendRequest<Counted>) {
    conn.senders.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(sender);
}

/// Safe to send twice (RFC 9110 §9.2.2).
fn is_idempotent(method: &hyper::Method) -> bool {
    use hyper::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::PUT,
        Method::DELETE,
    ]
    .contains(method)
}

/// The same request head with no body, for sending again.
fn bodiless_copy(req: &Request<Counted>, metrics: &Arc<ProxyMetrics>) -> Request<Counted> {
    let mut copy = Request::new(Counted {
        inner: None,
        metrics: metrics.clone(),
    });
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    copy
}

async fn connect(conn: &Conn, i: usize, upgrades: bool) -> Result<SendRequest<Counted>, Failure> {
    let address = conn.ctx.balancer.address(i);
    let limit = conn
        .ctx
        .upstream_timeout
        .map_or(DIAL_TIMEOUT, |t| t.min(DIAL_TIMEOUT));
    let dial = tokio::time::timeout(limit, TcpStream::connect(address)).await;
    let stream = match dial {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            conn.ctx
                .metrics
                .failed_dials
                .fetch_add(1, Ordering::Relaxed);
            return Err(Failure::Broken(format!("dial {address}: {e}")));
        }
        Err(_) => {
            conn.ctx
                .metrics
                .failed_dials
                .fetch_add(1, Ordering::Relaxed);
            return Err(Failure::Broken(format!("dial {address}: timed out")));
        }
    };
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failure::Broken(e.to_string()))?;
    if upgrades {
        // An upgraded connection outlives the request's client connection task's interest in
        // it (the tunnel is its own task), so it gets a task of its own.
        tokio::spawn(connection.with_upgrades());
    } else if let Err(mpsc::error::SendError(orphan)) = conn.upstreams.send(Box::pin(async {
        let _ = connection.await;
    })) {
        tokio::spawn(orphan);
    }
    Ok(sender)
}
