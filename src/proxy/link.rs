//! One proxied connection: dial the upstream, then two independent directions (linkerd2-proxy's
//! habit). A direction with no active toxic copies bytes straight through; otherwise each chunk
//! (one socket read, ≤ 32 KiB) goes through that direction's toxic chain, in insertion order, and
//! waits in a release queue. Toxic changes reach open connections at once.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::metrics::ProxyMetrics;
use super::pass::{CHUNK, Moved, Pass};
use super::toxic::{Stream, Toxic, ToxicKind};
use crate::seed::{Fnv, SeededRng, unit_from_hash};

/// What a connection needs to know.
#[derive(Debug, Clone)]
pub(super) struct LinkContext {
    /// Proxy name (for seeds).
    pub proxy: String,
    /// Connection ordinal on this proxy.
    pub ordinal: u64,
    /// `--seed`.
    pub seed: u64,
    /// The proxy's toxics, live.
    pub toxics: watch::Receiver<Arc<Vec<Toxic>>>,
    /// Traffic counters.
    pub metrics: Arc<ProxyMetrics>,
}

/// How a direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The source closed; the FIN was passed on (half-close).
    Eof,
    /// Tear the whole connection down.
    Close,
    /// Tear it down with RST on both sockets.
    Reset,
}

/// Serves one accepted client until it ends or `cancel` (proxy disabled/deleted).
pub(super) async fn serve(
    client: TcpStream,
    upstream: String,
    ctx: LinkContext,
    cancel: CancellationToken,
) {
    let metrics = ctx.metrics.clone();
    let dial = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&upstream));
    let server = tokio::select! {
        d = dial => d,
        _ = cancel.cancelled() => return,
    };
    let server = match server {
        Ok(Ok(s)) => s,
        _ => {
            metrics.failed_dials.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    metrics.active.fetch_add(1, Ordering::Relaxed);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let ending = {
        let up = pump(
            &mut client_read,
            &mut server_write,
            Stream::Upstream,
            ctx.clone(),
        );
        let down = pump(&mut server_read, &mut client_write, Stream::Downstream, ctx);
        tokio::pin!(up, down);
        let mut up_done = false;
        let mut down_done = false;
        loop {
            tokio::select! {
                end = &mut up, if !up_done => {
                    up_done = true;
                    if end != End::Eof { break end; }
                }
                end = &mut down, if !down_done => {
                    down_done = true;
                    if end != End::Eof { break end; }
                }
                _ = cancel.cancelled() => break End::Close,
            }
            if up_done && down_done {
                break End::Eof;
            }
        }
    };
    if ending == End::Reset {
        // No FIN first: dropping a write half shuts it down, which would hide the reset.
        reset_on_close(&client_read, &server_write);
        reset_on_close(&server_read, &client_write);
        client_write.forget();
        server_write.forget();
    }
    metrics.active.fetch_sub(1, Ordering::Relaxed);
}

/// Per-direction state of the toxics.
struct Chain {
    stream: Stream,
    ctx: LinkContext,
    /// name → (generation drawn for, acts on this connection/direction).
    draws: HashMap<String, (u64, bool)>,
    rng: SeededRng,
    /// Bytes passed per limit_data toxic (kept across updates).
    limit_counters: HashMap<String, i64>,
    bandwidth_free: Instant,
    /// When the slicer may release its next slice: slices of consecutive reads queue behind each
    /// other, `delay` apart, as in Toxiproxy (which sleeps after each slice it writes).
    slicer_free: Instant,
    timeout_deadline: Option<Instant>,
    reset_at: Option<Instant>,
    /// Names of the active toxics at the last refresh.
    active: Vec<Toxic>,
}

impl Chain {
    fn new(stream: Stream, ctx: LinkContext) -> Self {
        let seed = derive_seed(ctx.seed, &ctx.proxy, ctx.ordinal, stream, "chain");
        Chain {
            stream,
            ctx,
            draws: HashMap::new(),
            rng: SeededRng::new(seed),
            limit_counters: HashMap::new(),
            bandwidth_free: Instant::now(),
            slicer_free: Instant::now(),
            timeout_deadline: None,
            reset_at: None,
            active: Vec::new(),
        }
    }

    /// Re-reads the toxics; returns the names that stopped acting.
    fn refresh(&mut self) -> Vec<Toxic> {
        let toxics = self.ctx.toxics.borrow_and_update().clone();
        let mut active = Vec::new();
        for t in toxics.iter().filter(|t| t.stream == self.stream) {
            let entry = self.draws.get(&t.name).copied();
            let acts = match entry {
                Some((generation, acts)) if generation == t.generation => acts,
                _ => {
                    // One draw per connection, direction and toxic; redrawn only when its toxicity changes.
                    let seed = derive_seed(
                        self.ctx.seed,
                        &self.ctx.proxy,
                        self.ctx.ordinal,
                        self.stream,
                        &t.name,
                    );
                    let draw = unit_from_hash(Fnv::new().u64(seed).u64(t.generation).finish());
                    let acts = draw < t.toxicity_f64();
                    self.draws.insert(t.name.clone(), (t.generation, acts));
                    acts
                }
            };
            if acts {
                active.push(t.clone());
            }
        }
        let gone: Vec<Toxic> = self
            .active
            .iter()
            .filter(|old| !active.iter().any(|n| n.name == old.name))
            .cloned()
            .collect();
        for g in &gone {
            if g.kind == ToxicKind::ResetPeer {
                self.reset_at = None;
            }
            if g.kind == ToxicKind::Timeout {
                self.timeout_deadline = None;
            }
        }
        self.active = active;
        gone
    }

    fn has(&self, kind: ToxicKind) -> Option<&Toxic> {
        self.active.iter().find(|t| t.kind == kind)
    }

    /// Runs a chunk through the chain; returns the pieces to send with their release times and
    /// whether the connection must close after them.
    fn process(&mut self, data: Bytes, now: Instant) -> (Vec<(Instant, Bytes)>, bool) {
        let mut pieces = vec![(now, data)];
        let mut close_after = false;
        let active = self.active.clone();
        for t in &active {
            match t.kind {
                // HTTP toxics live on http proxies only (the registry refuses them here).
                ToxicKind::Noop
                | ToxicKind::SlowClose
                | ToxicKind::HttpStatus
                | ToxicKind::HttpAbort
                | ToxicKind::HttpDelay
                | ToxicKind::HttpTruncate
                | ToxicKind::HttpCorrupt => {}
                ToxicKind::Latency => {
                    let latency = t.attr("latency");
                    let jitter = t.attr("jitter");
                    for (release, _) in pieces.iter_mut() {
                        let j = if jitter > 0 {
                            self.rng.between(-jitter, jitter)
                        } else {
                            0
                        };
                        let ms = (latency + j).max(0) as u64;
                        *release += Duration::from_millis(ms);
                    }
                }
                ToxicKind::Bandwidth => {
                    let rate = t.attr("rate");
                    if rate == 0 {
                        // Nothing passes; the connection stays open until the toxic goes.
                        for (release, _) in pieces.iter_mut() {
                            *release = far_future();
                        }
                        continue;
                    }
                    let max_piece = (rate as usize) * 100;
                    let mut out = Vec::new();
                    for (release, data) in pieces {
                        let mut rest = data;
                        while !rest.is_empty() {
                            let piece = rest.split_to(rest.len().min(max_piece));
                            let start = release.max(self.bandwidth_free);
                            let cost =
                                Duration::from_micros((piece.len() as u64 * 1000) / rate as u64);
                            self.bandwidth_free = start + cost;
                            out.push((self.bandwidth_free, piece));
                        }
                    }
                    pieces = out;
                }
                ToxicKind::Timeout => {
                    pieces.clear();
                    let ms = t.attr("timeout");
                    self.timeout_deadline =
                        (ms > 0).then(|| now + Duration::from_millis(ms as u64));
                }
                ToxicKind::ResetPeer => {
                    pieces.clear();
                    if self.reset_at.is_none() {
                        self.reset_at = Some(now + Duration::from_millis(t.attr("timeout") as u64));
                    }
                }
                ToxicKind::Slicer => {
                    let average = t.attr("average_size").max(1) as usize;
                    let variation = t.attr("size_variation").max(0) as usize;
                    let delay = Duration::from_micros(t.attr("delay") as u64);
                    let mut out = Vec::new();
                    for (release, data) in pieces {
                        let mut sliced = Vec::new();
                        self.slice(data, average, variation, &mut sliced);
                        for piece in sliced {
                            let at = release.max(self.slicer_free);
                            self.slicer_free = at + delay;
                            out.push((at, piece));
                        }
                    }
                    pieces = out;
                }
                ToxicKind::LimitData => {
                    let limit = t.attr("bytes");
                    let counter = self.limit_counters.entry(t.name.clone()).or_insert(0);
                    let mut out = Vec::new();
                    for (release, mut data) in pieces {
                        let left = (limit - *counter).max(0) as usize;
                        if data.len() >= left {
                            data.truncate(left);
                            close_after = true;
                        }
                        *counter += data.len() as i64;
                        if !data.is_empty() {
                            out.push((release, data));
                        }
                        if close_after {
                            break;
                        }
                    }
                    pieces = out;
                }
                ToxicKind::Loss => {
                    let percent = t.attr("percent") as f64 / 100.0;
                    pieces.retain(|_| self.rng.unit() >= percent);
                }
            }
        }
        (pieces, close_after)
    }

    /// Toxiproxy's slicer: split at the midpoint ± variation until pieces are small enough.
    fn slice(&mut self, data: Bytes, average: usize, variation: usize, out: &mut Vec<Bytes>) {
        if data.len() <= average + variation {
            out.push(data);
            return;
        }
        let mid = data.len() / 2;
        let offset = if variation > 0 {
            self.rng.below(2 * variation as u64) as isize - variation as isize
        } else {
            0
        };
        // Clamp inside the chunk so every split makes progress.
        let at = (mid as isize + offset).clamp(1, data.len() as isize - 1) as usize;
        let mut left = data;
        let right = left.split_off(at);
        self.slice(left, average, variation, out);
        self.slice(right, average, variation, out);
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// A stable seed from `--seed`, proxy, connection ordinal, direction and toxic name.
fn derive_seed(seed: u64, proxy: &str, ordinal: u64, stream: Stream, name: &str) -> u64 {
    Fnv::new()
        .u64(seed)
        .str(proxy)
        .u64(ordinal)
        .str(stream.name())
        .str(name)
        .finish()
}

/// The pass-through fast path; hands over to the (boxed, larger) toxic path as soon as a toxic
/// exists for this direction. Kept small because 10 000 idle connections each hold two of these.
async fn pump(
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    stream: Stream,
    mut ctx: LinkContext,
) -> End {
    let metrics = ctx.metrics.clone();
    let (received, sent) = match stream {
        Stream::Upstream => (&metrics.upstream_received, &metrics.upstream_sent),
        Stream::Downstream => (&metrics.downstream_received, &metrics.downstream_sent),
    };
    let mut pass = Pass::default();
    loop {
        if ctx
            .toxics
            .borrow_and_update()
            .iter()
            .any(|t| t.stream == stream)
        {
            return Box::pin(toxic_pump(from, to, stream, ctx)).await;
        }
        // Only readiness is awaited here: a toxic added meanwhile is seen before the next chunk is
        // forwarded (has_changed is one atomic load; awaiting changed() takes a lock per chunk).
        if from.readable().await.is_err() {
            return End::Close;
        }
        match ctx.toxics.has_changed() {
            Ok(true) => continue,
            Ok(false) => {}
            Err(_) => return End::Close,
        }
        let count_sent = |n: usize| {
            sent.fetch_add(n as u64, Ordering::Relaxed);
        };
        match pass.forward(from.as_ref(), to, count_sent).await {
            Ok(Moved::Eof) => {
                let _ = to.shutdown().await;
                return End::Eof;
            }
            Ok(Moved::Bytes(n)) => {
                received.fetch_add(n as u64, Ordering::Relaxed);
            }
            Ok(Moved::Nothing) => {}
            Err(_) => return End::Close,
        }
    }
}

/// A direction with toxics: each chunk goes through the chain and waits in the release queue.
async fn toxic_pump(
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    stream: Stream,
    ctx: LinkContext,
) -> End {
    let metrics = ctx.metrics.clone();
    let (received, sent) = match stream {
        Stream::Upstream => (&metrics.upstream_received, &metrics.upstream_sent),
        Stream::Downstream => (&metrics.downstream_received, &metrics.downstream_sent),
    };
    let mut chain = Chain::new(stream, ctx);
    chain.refresh();
    let mut buf: Vec<u8> = Vec::new();
    let mut queue: VecDeque<(Instant, Bytes)> = VecDeque::new();
    let mut eof = false;
    let mut close_when_sent = false;
    loop {
        if queue.is_empty() {
            if close_when_sent {
                return End::Close;
            }
            if eof {
                if let Some(t) = chain.has(ToxicKind::SlowClose) {
                    tokio::time::sleep(Duration::from_millis(t.attr("delay") as u64)).await;
                }
                let _ = to.shutdown().await;
                return End::Eof;
            }
        }
        let next_release = queue.front().map(|(r, _)| *r);
        let timeout_at = chain.timeout_deadline;
        let reset_at = chain.reset_at;
        tokio::select! {
            biased;
            changed = chain.ctx.toxics.changed() => {
                if changed.is_err() {
                    return End::Close;
                }
                let gone = chain.refresh();
                if !gone.is_empty() {
                    // Held data is flushed, not dropped.
                    for (release, _) in queue.iter_mut() {
                        *release = Instant::now();
                    }
                }
                if gone.iter().any(|t| t.kind == ToxicKind::Timeout) {
                    // Bytes were lost while it acted: the connection cannot continue.
                    return End::Close;
                }
            }
            _ = sleep_until_opt(reset_at), if reset_at.is_some() => {
                return End::Reset;
            }
            _ = sleep_until_opt(timeout_at), if timeout_at.is_some() => {
                return End::Close;
            }
            _ = sleep_until_opt(next_release), if next_release.is_some() => {
                if let Some((_, data)) = queue.pop_front() {
                    if to.write_all(&data).await.is_err() {
                        return End::Close;
                    }
                    sent.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
            }
            ready = from.readable(), if !eof && !close_when_sent => {
                if ready.is_err() {
                    return End::Close;
                }
                if buf.is_empty() {
                    buf = vec![0u8; CHUNK];
                }
                match from.try_read(&mut buf) {
                    Ok(0) => eof = true,
                    Ok(n) => {
                        received.fetch_add(n as u64, Ordering::Relaxed);
                        if chain.active.is_empty() && queue.is_empty() {
                            // Fast path: nothing to do but copy.
                            if to.write_all(&buf[..n]).await.is_err() {
                                return End::Close;
                            }
                            sent.fetch_add(n as u64, Ordering::Relaxed);
                        } else {
                            let (pieces, close) =
                                chain.process(Bytes::copy_from_slice(&buf[..n]), Instant::now());
                            queue.extend(pieces);
                            close_when_sent |= close;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return End::Close,
                }
            }
        }
    }
}

/// SO_LINGER 0 on both sockets, so closing them sends RST ("connection reset by peer").
// tokio deprecates set_linger because a *positive* linger blocks the thread on drop; a zero
// linger never blocks (the kernel discards the send queue and resets at once).
#[allow(deprecated)]
fn reset_on_close(from: &OwnedReadHalf, to: &OwnedWriteHalf) {
    let _ = from.as_ref().set_linger(Some(Duration::ZERO));
    let _ = to.as_ref().set_linger(Some(Duration::ZERO));
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
