//! Response and request bodies of an http proxy: the upstream's response streamed through the
//! body toxics (truncate, abort, corrupt, per-chunk delay) and timed to its last byte; request
//! bodies counted on their way upstream.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::cohort::{Cohort, CohortState};
use super::serve::Conn;
use super::stats::{HttpStats, Sample};
use crate::proxy::metrics::ProxyMetrics;
use crate::seed::SeededRng;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a cut body waits so the bytes let through reach the socket first.
pub(super) const CUT_FLUSH: Duration = Duration::from_millis(20);

/// The request was cut on purpose (an `http_abort` toxic).
#[derive(Debug)]
pub(super) struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("aborted by an http_abort toxic")
    }
}

impl std::error::Error for Aborted {}

/// Records one request's sample exactly once (when the body ends, fails or is dropped).
pub(super) struct Recorder {
    pub(super) stats: Arc<HttpStats>,
    pub(super) route: usize,
    pub(super) start: Instant,
    pub(super) status: u16,
    pub(super) ttfb: Duration,
    pub(super) done: bool,
    /// The split in force when the request came, and the request's cohort in it.
    pub(super) cohort: Option<(Arc<CohortState>, Cohort)>,
}

impl Recorder {
    pub(super) fn finish(&mut self, status: u16) {
        if !self.done {
            self.done = true;
            let sample = Sample {
                status,
                ttfb: self.ttfb,
                ttlb: self.start.elapsed(),
            };
            if let Some((state, cohort)) = &self.cohort {
                state.record(self.route, *cohort, &sample);
            }
            self.stats.record(self.route, sample);
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

/// A request body on its way upstream, counted into the proxy's byte figures (`None`: no body, as
/// in a bodiless request sent again on a fresh connection).
pub(super) struct Counted {
    pub(super) inner: Option<Incoming>,
    pub(super) metrics: Arc<ProxyMetrics>,
}

impl Body for Counted {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
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
        self.inner.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
    }
}

/// What the body toxics do to this response.
pub(super) struct Effects {
    pub(super) truncate_at: Option<u64>,
    pub(super) abort: Option<(u64, bool)>,
    /// Share of bytes flipped (percent), and the draws that pick them.
    pub(super) corrupt: Option<(f64, SeededRng)>,
    pub(super) chunk_delay: Option<Duration>,
}

pub(super) enum Inner {
    Full(Option<Bytes>),
    Upstream(Incoming),
}

/// A response body: synthesized, or the upstream's streamed through the body toxics.
pub(super) struct ProxyBody {
    pub(super) inner: Inner,
    pub(super) recorder: Option<Recorder>,
    pub(super) effects: Effects,
    pub(super) sent: u64,
    pub(super) pending_delay: Option<Pin<Box<Sleep>>>,
    /// The body was cut: the next poll fails so hyper closes the connection.
    pub(super) cut: bool,
    /// The cut is an `http_abort` with `mode: reset`.
    pub(super) cut_reset: bool,
    pub(super) conn: Option<Arc<Conn>>,
}

impl ProxyBody {
    pub(super) fn full(bytes: Bytes) -> ProxyBody {
        ProxyBody {
            inner: Inner::Full(Some(bytes)),
            recorder: None,
            effects: Effects {
                truncate_at: None,
                abort: None,
                corrupt: None,
                chunk_delay: None,
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
        if let Some((p, rng)) = self.effects.corrupt.as_mut()
            && !data.is_empty()
        {
            let mut bytes = data.to_vec();
            for b in &mut bytes {
                if rng.unit() * 100.0 < *p {
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
