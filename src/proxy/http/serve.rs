//! One client connection of an http proxy: hyper on both sides (keep-alive, chunked bodies,
//! `Expect: 100-continue`, upgrades tunnelled as TCP), bodies streamed chunk by chunk, each
//! request timed into the proxy's figures and offered to the HTTP toxics.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use super::route::{OTHER, Route, route_of};
use super::stats::{HttpStats, Sample};
use super::toxics::{HttpSpec, hit};
use crate::proxy::metrics::ProxyMetrics;
use crate::proxy::toxic::{Toxic, ToxicKind};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The largest request head accepted; bigger ones are answered 431.
const MAX_HEAD: usize = 64 * 1024;

/// How long a cut body waits so the bytes let through reach the socket first.
const CUT_FLUSH: Duration = Duration::from_millis(20);

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
}

struct Conn {
    ctx: HttpContext,
    upstream: String,
    sender: tokio::sync::Mutex<Option<SendRequest<Counted>>>,
    requests: AtomicU64,
    /// A second handle on the client socket: an abort sets SO_LINGER 0 through it, then drops it,
    /// so the close that follows is a reset.
    socket: Mutex<Option<OwnedFd>>,
}

impl Conn {
    /// Arms a reset: the next close of the client socket sends RST instead of FIN.
    fn arm_reset(&self) {
        if let Some(fd) = self.socket.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let linger = nix::libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            let _ = nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::Linger, &linger);
        }
    }
}

/// The request was cut on purpose (an `http_abort` toxic).
#[derive(Debug)]
struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("aborted by an http_abort toxic")
    }
}

impl std::error::Error for Aborted {}

/// Serves one client until it closes or `cancel`.
pub async fn serve(
    client: TcpStream,
    upstream: String,
    ctx: HttpContext,
    cancel: CancellationToken,
) {
    let _ = client.set_nodelay(true);
    ctx.metrics.active.fetch_add(1, Ordering::Relaxed);
    let metrics = ctx.metrics.clone();
    let stats = ctx.stats.clone();
    let socket = client.as_fd().try_clone_to_owned().ok();
    let conn = Arc::new(Conn {
        ctx,
        upstream,
        sender: tokio::sync::Mutex::new(None),
        requests: AtomicU64::new(0),
        socket: Mutex::new(socket),
    });
    let service_conn = conn.clone();
    let service = hyper::service::service_fn(move |req| {
        let conn = service_conn.clone();
        async move { handle(conn, req).await }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(client), service)
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
        _ = cancel.cancelled() => {}
    }
    metrics.active.fetch_sub(1, Ordering::Relaxed);
}

fn parse_failure(status: u16) -> Sample {
    Sample {
        status,
        ttfb: Duration::ZERO,
        ttlb: Duration::ZERO,
    }
}

/// Records one request's sample exactly once (when the body ends, fails or is dropped).
struct Recorder {
    stats: Arc<HttpStats>,
    route: usize,
    start: Instant,
    status: u16,
    ttfb: Duration,
    done: bool,
}

impl Recorder {
    fn finish(&mut self, status: u16) {
        if !self.done {
            self.done = true;
            self.stats.record(
                self.route,
                Sample {
                    status,
                    ttfb: self.ttfb,
                    ttlb: self.start.elapsed(),
                },
            );
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // The client went away before the body ended: counted with the status it was sent.
        let status = self.status;
        self.finish(status);
    }
}

/// The toxics that hit this request, in order.
fn toxics_for(
    conn: &Conn,
    n: u64,
    route: &str,
    req: &Request<Incoming>,
) -> Vec<(ToxicKind, Arc<HttpSpec>)> {
    let toxics = conn.ctx.toxics.borrow().clone();
    let method = req.method().as_str();
    toxics
        .iter()
        .filter_map(|t| t.http.clone().map(|spec| (t, spec)))
        .filter(|(_, spec)| spec.applies(route, method, req.headers()))
        .filter(|(t, spec)| {
            let Some(key) = spec.sample_key(req.headers()) else {
                return false;
            };
            let mut h = DefaultHasher::new();
            (conn.ctx.seed, &conn.ctx.proxy, conn.ctx.ordinal, n, &t.name).hash(&mut h);
            let u: f64 = StdRng::seed_from_u64(h.finish()).random();
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
        .map_or(OTHER, |r| r.name.as_str())
        .to_string();
    let toxics = toxics_for(&conn, n, &route_name, &req);
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
        inner: body,
        metrics: conn.ctx.metrics.clone(),
    });
    let mut resp = match send(&conn, req, upgrade).await {
        Ok(r) => r,
        Err(e) => {
            let mut resp = Response::new(ProxyBody::full(Bytes::from(format!(
                "monkeywrench proxy: bad gateway: {e}\n"
            ))));
            *resp.status_mut() = StatusCode::BAD_GATEWAY;
            recorder.status = 502;
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
    let mut h = DefaultHasher::new();
    (conn.ctx.seed, &conn.ctx.proxy, conn.ctx.ordinal, n, "body").hash(&mut h);
    let effects = Effects {
        truncate_at: find(ToxicKind::HttpTruncate).map(|s| s.bytes),
        abort: find(ToxicKind::HttpAbort).map(|s| (s.bytes, s.reset)),
        corrupt_percent: find(ToxicKind::HttpCorrupt).map(|s| s.percent),
        chunk_delay: find(ToxicKind::HttpDelay)
            .filter(|d| d.between_chunks)
            .map(|d| Duration::from_millis(d.delay_ms)),
        rng: StdRng::seed_from_u64(h.finish()),
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

/// Sends a request upstream on this client's keep-alive connection (a fresh one for upgrades).
async fn send(
    conn: &Conn,
    req: Request<Counted>,
    upgrade: bool,
) -> Result<Response<Incoming>, String> {
    if upgrade {
        let mut sender = connect(conn, true).await?;
        return sender.send_request(req).await.map_err(|e| e.to_string());
    }
    let mut guard = conn.sender.lock().await;
    let usable = match guard.as_mut() {
        Some(s) if !s.is_closed() => s.ready().await.is_ok(),
        _ => false,
    };
    if !usable {
        *guard = Some(connect(conn, false).await?);
    }
    let sender = guard.as_mut().ok_or("no upstream connection")?;
    sender.send_request(req).await.map_err(|e| e.to_string())
}

async fn connect(conn: &Conn, upgrades: bool) -> Result<SendRequest<Counted>, String> {
    let dial =
        tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&conn.upstream)).await;
    let stream = match dial {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            conn.ctx
                .metrics
                .failed_dials
                .fetch_add(1, Ordering::Relaxed);
            return Err(format!("dial {}: {e}", conn.upstream));
        }
        Err(_) => {
            conn.ctx
                .metrics
                .failed_dials
                .fetch_add(1, Ordering::Relaxed);
            return Err(format!("dial {}: timed out", conn.upstream));
        }
    };
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    if upgrades {
        tokio::spawn(connection.with_upgrades());
    } else {
        tokio::spawn(connection);
    }
    Ok(sender)
}

/// Removes hop-by-hop headers (RFC 9110 §7.6.1), including those named in `Connection`.
fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    if keep_upgrade {
        return;
    }
    for name in named {
        headers.remove(name.as_str());
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

/// A request body on its way upstream, counted into the proxy's byte figures.
struct Counted {
    inner: Incoming,
    metrics: Arc<ProxyMetrics>,
}

impl Body for Counted {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let n = data.len() as u64;
            self.metrics
                .upstream_received
                .fetch_add(n, Ordering::Relaxed);
            self.metrics.upstream_sent.fetch_add(n, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What the body toxics do to this response.
struct Effects {
    truncate_at: Option<u64>,
    abort: Option<(u64, bool)>,
    corrupt_percent: Option<f64>,
    chunk_delay: Option<Duration>,
    rng: StdRng,
}

enum Inner {
    Full(Option<Bytes>),
    Upstream(Incoming),
}

/// A response body: synthesized, or the upstream's streamed through the body toxics.
pub struct ProxyBody {
    inner: Inner,
    recorder: Option<Recorder>,
    effects: Effects,
    sent: u64,
    pending_delay: Option<Pin<Box<Sleep>>>,
    /// The body was cut: the next poll fails so hyper closes the connection.
    cut: bool,
    /// The cut is an `http_abort` with `mode: reset`.
    cut_reset: bool,
    conn: Option<Arc<Conn>>,
}

impl ProxyBody {
    fn full(bytes: Bytes) -> ProxyBody {
        ProxyBody {
            inner: Inner::Full(Some(bytes)),
            recorder: None,
            effects: Effects {
                truncate_at: None,
                abort: None,
                corrupt_percent: None,
                chunk_delay: None,
                rng: StdRng::seed_from_u64(0),
            },
            sent: 0,
            pending_delay: None,
            cut: false,
            cut_reset: false,
            conn: None,
        }
    }

    fn fail(&mut self, reset: bool) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if reset && let Some(conn) = &self.conn {
            conn.arm_reset();
        }
        if let Some(r) = self.recorder.as_mut() {
            r.finish(0);
        }
        Poll::Ready(Some(Err(Box::new(Aborted))))
    }

    /// Applies truncate / abort / corrupt to a data chunk; sets `cut` when the body must end.
    fn shape(&mut self, mut data: Bytes) -> Bytes {
        let limit = match (self.effects.truncate_at, self.effects.abort.map(|a| a.0)) {
            (Some(t), Some(a)) => Some(t.min(a)),
            (t, a) => t.or(a),
        };
        if let Some(limit) = limit {
            let room = limit.saturating_sub(self.sent) as usize;
            if data.len() >= room {
                data.truncate(room);
                self.cut = true;
                self.cut_reset = self.effects.abort.is_some_and(|(at, reset)| {
                    reset && at <= self.effects.truncate_at.unwrap_or(u64::MAX)
                });
            }
        }
        if let Some(p) = self.effects.corrupt_percent
            && !data.is_empty()
        {
            let mut bytes = data.to_vec();
            for b in &mut bytes {
                if self.effects.rng.random::<f64>() * 100.0 < p {
                    *b ^= 0xFF;
                }
            }
            data = Bytes::from(bytes);
        }
        self.sent += data.len() as u64;
        data
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Some(delay) = this.pending_delay.as_mut() {
            if delay.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.pending_delay = None;
        }
        if this.cut {
            let reset = this.cut_reset;
            return this.fail(reset);
        }
        // An abort or truncation at 0 bytes cuts right after the head.
        if this.sent == 0
            && (this.effects.abort.is_some_and(|a| a.0 == 0) || this.effects.truncate_at == Some(0))
        {
            this.cut = true;
            this.cut_reset = this
                .effects
                .abort
                .is_some_and(|(at, reset)| reset && at == 0);
            this.pending_delay = Some(Box::pin(tokio::time::sleep(CUT_FLUSH)));
            return Poll::Ready(Some(Ok(Frame::data(Bytes::new()))));
        }
        let frame = match &mut this.inner {
            Inner::Full(bytes) => match bytes.take() {
                Some(b) if !b.is_empty() => Poll::Ready(Some(Ok(Frame::data(b)))),
                _ => Poll::Ready(None),
            },
            Inner::Upstream(body) => match Pin::new(body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    if let Some(r) = this.recorder.as_mut() {
                        r.finish(0);
                    }
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
                other => other.map(|f| f.map(|r| r.map_err(|e| Box::new(e) as BoxError))),
            },
        };
        match frame {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    let received = data.len() as u64;
                    let data = this.shape(data);
                    if let Some(conn) = &this.conn {
                        let m = &conn.ctx.metrics;
                        m.downstream_received.fetch_add(received, Ordering::Relaxed);
                        m.downstream_sent
                            .fetch_add(data.len() as u64, Ordering::Relaxed);
                    }
                    if let Some(d) = this.effects.chunk_delay {
                        this.pending_delay = Some(Box::pin(tokio::time::sleep(d)));
                    }
                    if this.cut {
                        // Let hyper flush what was let through before the connection is cut:
                        // an error drops its unsent buffer.
                        this.pending_delay = Some(Box::pin(tokio::time::sleep(CUT_FLUSH)));
                    }
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Poll::Ready(None) => {
                if let Some(r) = this.recorder.as_mut() {
                    let status = r.status;
                    r.finish(status);
                }
                Poll::Ready(None)
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(b) => b.as_ref().is_none_or(Bytes::is_empty) && !self.cut,
            Inner::Upstream(b) => b.is_end_stream() && !self.cut,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Inner::Upstream(b) => b.size_hint(),
        }
    }
}
