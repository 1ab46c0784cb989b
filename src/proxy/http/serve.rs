//! One client connection of an http proxy: hyper on both sides (keep-alive, chunked bodies,
//! `Expect: 100-continue`, upgrades tunnelled as TCP), bodies streamed chunk by chunk, each
//! request timed into the proxy's figures and offered to the HTTP toxics.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::balance::Balancer;
use super::body::{Aborted, Counted, Effects, Inner, ProxyBody, Recorder};
use super::client_io::ClientIo;
use super::cohort::Assignment;
use super::route::{OTHER, Route, route_of};
use super::stats::{HttpStats, Sample};
use super::toxics::{HttpSpec, hit};
use crate::proxy::metrics::ProxyMetrics;
use crate::proxy::toxic::{Toxic, ToxicKind};
use crate::seed::{Fnv, SeededRng, unit_from_hash};

/// The largest request head accepted; bigger ones are answered 431.
const MAX_HEAD: usize = 64 * 1024;

/// What a connection of an http proxy needs.
#[derive(Debug, Clone)]
pub struct HttpContext {
    /// Proxy name (for seeds).
    pub proxy: String,
    /// Connection ordinal on this proxy.
    pub ordinal: u64,
    /// `--seed`.
    pub seed: u64,
    /// The proxy's toxics, live.
    pub toxics: watch::Receiver<Arc<Vec<Toxic>>>,
    /// Connection and byte counters.
    pub metrics: Arc<ProxyMetrics>,
    /// Per-request figures.
    pub stats: Arc<HttpStats>,
    /// The proxy's routes.
    pub routes: Arc<Vec<Route>>,
    /// Its upstreams.
    pub balancer: Arc<Balancer>,
    /// How long an upstream may take to send the response head (`upstream_timeout_ms`).
    pub upstream_timeout: Option<Duration>,
}

/// One client connection's state, shared by its requests and their bodies.
pub(super) struct Conn {
    pub(super) ctx: HttpContext,
    /// An idle keep-alive connection per upstream (by the balancer's index).
    pub(super) senders: Mutex<Vec<Option<SendRequest<Counted>>>>,
    pub(super) requests: AtomicU64,
    /// Set by an abort with `mode: reset`: the client socket then closes with RST, not FIN.
    pub(super) reset: Arc<AtomicBool>,
    /// The client's address, for cohorts keyed by it.
    pub(super) client_ip: Option<IpAddr>,
    /// Upstream connections, driven in this client connection's task (see [`drive`]).
    pub(super) upstreams: mpsc::UnboundedSender<Upstream>,
}

/// An upstream connection's hyper state machine.
pub(super) type Upstream = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Conn {
    /// Arms a reset: the next close of the client socket sends RST instead of FIN.
    pub(super) fn arm_reset(&self) {
        self.reset.store(true, Ordering::Relaxed);
    }
}

/// Serves one client until it closes or `cancel`.
pub async fn serve(client: TcpStream, ctx: HttpContext, cancel: CancellationToken) {
    let _ = client.set_nodelay(true);
    ctx.metrics.active.fetch_add(1, Ordering::Relaxed);
    let metrics = ctx.metrics.clone();
    // hyper allocates its buffers (16 KiB) on its first read: wait until the client sends its
    // first byte (or closes) so that connections opened and left idle stay small. A peek, not
    // `readable()`: every new socket reports one spurious readiness.
    let mut first = [0u8; 1];
    let first_bytes = tokio::select! {
        peeked = client.peek(&mut first) => peeked.is_ok_and(|n| n > 0),
        _ = cancel.cancelled() => false,
    };
    if first_bytes {
        // Boxed: hyper's connection state is large, and an unboxed future would size every
        // connection's task for it from the start.
        Box::pin(serve_requests(client, ctx, cancel)).await;
    }
    metrics.active.fetch_sub(1, Ordering::Relaxed);
}

/// Hands the client to hyper, each request to [`handle`].
async fn serve_requests(client: TcpStream, ctx: HttpContext, cancel: CancellationToken) {
    let stats = ctx.stats.clone();
    let reset = Arc::new(AtomicBool::new(false));
    let client_ip = client.peer_addr().ok().map(|a| a.ip());
    let (upstreams, upstreams_rx) = mpsc::unbounded_channel();
    let senders = Mutex::new((0..ctx.balancer.len()).map(|_| None).collect());
    let conn = Arc::new(Conn {
        ctx,
        senders,
        requests: AtomicU64::new(0),
        reset: reset.clone(),
        client_ip,
        upstreams,
    });
    let service_conn = conn.clone();
    let service = hyper::service::service_fn(move |req| {
        let conn = service_conn.clone();
        async move { handle(conn, req).await }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(ClientIo::new(client, reset)), service)
        .with_upgrades();
    tokio::select! {
        result = served => {
            if let Err(e) = result {
                // A request hyper could not parse was answered 400 (431 for huge headers).
                if e.is_parse_too_large() {
                    stats.record(conn.ctx.routes.len(), parse_failure(431));
                } else if e.is_parse() {
                    stats.record(conn.ctx.routes.len(), parse_failure(400));
                }
            }
        }
        () = drive(upstreams_rx) => {}
        _ = cancel.cancelled() => {}
    }
}

/// Drives this client's upstream connections in its own task, beside hyper's server side: a
/// response then wakes the task that is waiting for it, rather than a second task that hands it
/// over (two task switches per request, each of which may wake an idle worker thread). Never
/// ends; the connections close when the client connection does.
async fn drive(mut arriving: mpsc::UnboundedReceiver<Upstream>) {
    let mut upstreams: Vec<Upstream> = Vec::new();
    std::future::poll_fn(|cx| {
        while let Poll::Ready(Some(upstream)) = arriving.poll_recv(cx) {
            upstreams.push(upstream);
        }
        upstreams.retain_mut(|u| u.as_mut().poll(cx).is_pending());
        Poll::<()>::Pending
    })
    .await;
}

fn parse_failure(status: u16) -> Sample {
    Sample {
        status,
        ttfb: Duration::ZERO,
        ttlb: Duration::ZERO,
    }
}

/// The hash every draw of request `n` on this connection starts from: `--seed`, proxy, ordinal.
fn request_hash(conn: &Conn, n: u64) -> Fnv {
    Fnv::new()
        .u64(conn.ctx.seed)
        .str(&conn.ctx.proxy)
        .u64(conn.ctx.ordinal)
        .u64(n)
}

/// The toxics that hit this request, in order (one limited to a cohort only hits that cohort's
/// requests, and nothing while no split is in force).
fn toxics_for(
    conn: &Conn,
    n: u64,
    route: &str,
    req: &Request<Incoming>,
    assignment: Option<Assignment>,
) -> Vec<(ToxicKind, Arc<HttpSpec>)> {
    let toxics = conn.ctx.toxics.borrow().clone();
    if toxics.is_empty() {
        return Vec::new();
    }
    let method = req.method().as_str();
    toxics
        .iter()
        .filter_map(|t| t.http.clone().map(|spec| (t, spec)))
        .filter(|(_, spec)| spec.applies(route, method, req.headers()))
        .filter(|(_, spec)| {
            spec.cohort
                .is_none_or(|c| assignment == Some(Assignment::In(c)))
        })
        .filter(|(t, spec)| {
            let Some(key) = spec.sample_key(req.headers()) else {
                return false;
            };
            let u = unit_from_hash(request_hash(conn, n).str(&t.name).finish());
            hit(t.toxicity_f64(), key, u)
        })
        .map(|(t, spec)| (t.kind, spec))
        .collect()
}

async fn handle(
    conn: Arc<Conn>,
    mut req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Aborted> {
    let start = Instant::now();
    let n = conn.requests.fetch_add(1, Ordering::Relaxed);
    let route = route_of(&conn.ctx.routes, req.method().as_str(), req.uri().path());
    let route_name = conn
        .ctx
        .routes
        .get(route)
        .map_or(OTHER, |r| r.name.as_str());
    let split = conn.ctx.stats.cohorts();
    let assignment = split
        .as_ref()
        .map(|s| s.split.assign(req.headers(), conn.client_ip));
    let cohort = match (split, assignment) {
        (Some(state), Some(Assignment::In(c))) => Some((state, c)),
        (Some(state), Some(other)) => {
            state.count(other);
            None
        }
        (None, _) | (Some(_), None) => None,
    };
    let toxics = toxics_for(&conn, n, route_name, &req, assignment);
    let find = |kind: ToxicKind| {
        toxics
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s.clone())
    };
    let mut recorder = Recorder {
        stats: conn.ctx.stats.clone(),
        route,
        start,
        status: 0,
        ttfb: Duration::ZERO,
        done: false,
        cohort,
    };

    if let Some(abort) = find(ToxicKind::HttpAbort).filter(|s| s.before_headers) {
        if abort.reset {
            conn.arm_reset();
        }
        recorder.finish(0);
        return Err(Aborted);
    }
    if let Some(status) = find(ToxicKind::HttpStatus) {
        if let Some(delay) = find(ToxicKind::HttpDelay).filter(|d| !d.between_chunks) {
            tokio::time::sleep(Duration::from_millis(delay.delay_ms)).await;
        }
        let mut resp = Response::new(ProxyBody::full(Bytes::from(status.body.clone())));
        *resp.status_mut() =
            StatusCode::from_u16(status.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        for (k, v) in &status.headers {
            if let (Ok(k), Ok(v)) = (
                header::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                resp.headers_mut().append(k, v);
            }
        }
        recorder.status = status.status;
        recorder.ttfb = start.elapsed();
        resp.body_mut().recorder = Some(recorder);
        return Ok(resp);
    }

    let upgrade = req.headers().contains_key(header::UPGRADE);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    strip_hop_by_hop(req.headers_mut(), upgrade);
    // hyper already answered `100 Continue` when the body was first read.
    req.headers_mut().remove(header::EXPECT);
    let req = req.map(|body| Counted {
        inner: Some(body),
        metrics: conn.ctx.metrics.clone(),
    });
    let mut resp = match super::upstream::send(&conn, req, upgrade).await {
        Ok(r) => r,
        Err(e) => {
            let mut resp = Response::new(ProxyBody::full(Bytes::from(format!(
                "monkeywrench proxy: {e}\n"
            ))));
            *resp.status_mut() = e.status();
            recorder.status = e.status().as_u16();
            recorder.ttfb = start.elapsed();
            resp.body_mut().recorder = Some(recorder);
            return Ok(resp);
        }
    };
    if let Some(delay) = find(ToxicKind::HttpDelay).filter(|d| !d.between_chunks) {
        tokio::time::sleep(Duration::from_millis(delay.delay_ms)).await;
    }
    let status = resp.status().as_u16();
    recorder.status = status;
    recorder.ttfb = start.elapsed();
    if status == 101 {
        if let Some(client_side) = client_upgrade {
            let server_side = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                if let (Ok(c), Ok(s)) = (client_side.await, server_side.await) {
                    let (mut c, mut s) = (TokioIo::new(c), TokioIo::new(s));
                    let _ = tokio::io::copy_bidirectional(&mut c, &mut s).await;
                }
            });
        }
        recorder.finish(101);
        let (parts, _) = resp.into_parts();
        return Ok(Response::from_parts(parts, ProxyBody::full(Bytes::new())));
    }
    strip_hop_by_hop(resp.headers_mut(), false);
    let (parts, body) = resp.into_parts();
    // Seeded only when a corrupt toxic needs it: seeding costs more than the rest of a request.
    let corrupt = find(ToxicKind::HttpCorrupt).map(|s| {
        let seed = request_hash(&conn, n).str("body").finish();
        (s.percent, SeededRng::new(seed))
    });
    let effects = Effects {
        truncate_at: find(ToxicKind::HttpTruncate).map(|s| s.bytes),
        abort: find(ToxicKind::HttpAbort).map(|s| (s.bytes, s.reset)),
        corrupt,
        chunk_delay: find(ToxicKind::HttpDelay)
            .filter(|d| d.between_chunks)
            .map(|d| Duration::from_millis(d.delay_ms)),
    };
    let body = ProxyBody {
        inner: Inner::Upstream(body),
        recorder: Some(recorder),
        effects,
        sent: 0,
        pending_delay: None,
        cut: false,
        cut_reset: false,
        conn: Some(conn.clone()),
    };
    Ok(Response::from_parts(parts, body))
}

/// Removes hop-by-hop headers (RFC 9110 §7.6.1), including those named in `Connection`.
fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    if keep_upgrade {
        return;
    }
    let mut doomed: Vec<header::HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| header::HeaderName::from_bytes(s.trim().as_bytes()).ok())
        .collect();
    // One pass over the names present rather than a lookup per hop-by-hop name.
    doomed.extend(
        headers
            .keys()
            .filter(|k| {
                [
                    header::CONNECTION,
                    header::TE,
                    header::TRAILER,
                    header::TRANSFER_ENCODING,
                    header::UPGRADE,
                ]
                .contains(k)
                    || k.as_str() == "keep-alive"
                    || k.as_str() == "proxy-connection"
            })
            .cloned(),
    );
    for name in doomed {
        headers.remove(name);
    }
}
