//! The listening side of a proxy: binding with Toxiproxy's (Go's) behaviour and errors, and the
//! accept loop that hands each client to a TCP link or an http connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::http::HttpContext;
use super::link::{self, LinkContext};
use super::metrics::ProxyMetrics;
use super::toxic::Toxic;

/// What the accept loop of one proxy needs.
pub(super) struct AcceptContext {
    pub(super) name: String,
    pub(super) upstream: String,
    pub(super) toxics: watch::Receiver<Arc<Vec<Toxic>>>,
    pub(super) metrics: Arc<ProxyMetrics>,
    pub(super) connections: Arc<AtomicU64>,
    pub(super) seed: u64,
    pub(super) log_clients: bool,
    /// http proxies: every connection's context but its ordinal.
    pub(super) http: Option<HttpContext>,
}

/// Accepts clients until `cancel`, each served in its own task (TCP link or http).
pub(super) async fn accept_loop(
    listener: TcpListener,
    ctx: AcceptContext,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = cancel.cancelled() => return,
        };
        let Ok((client, peer)) = accepted else {
            // EMFILE and friends: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        ctx.metrics.accepted.fetch_add(1, Ordering::Relaxed);
        if ctx.log_clients {
            eprintln!(
                "INFO accepted client name={} client={peer} upstream={}",
                ctx.name, ctx.upstream
            );
        }
        let ordinal = ctx.connections.fetch_add(1, Ordering::Relaxed);
        // The dial happens in the connection's task, off the accept loop.
        match &ctx.http {
            Some(http) => {
                let http_ctx = HttpContext {
                    ordinal,
                    ..http.clone()
                };
                tokio::spawn(super::http::serve(client, http_ctx, cancel.clone()));
            }
            None => {
                let link_ctx = LinkContext {
                    proxy: ctx.name.clone(),
                    ordinal,
                    seed: ctx.seed,
                    toxics: ctx.toxics.clone(),
                    metrics: ctx.metrics.clone(),
                };
                tokio::spawn(link::serve(
                    client,
                    ctx.upstream.clone(),
                    link_ctx,
                    cancel.clone(),
                ));
            }
        }
    }
}

/// How many connections may wait for `accept`: a burst of clients must queue, not overflow into
/// SYN cookies and resets (the platform default of 128 is far too small for a proxy; the kernel
/// caps this at `net.core.somaxconn`).
const ACCEPT_BACKLOG: u32 = 4096;

/// Binds `addr` (host:port, names resolved) with a large accept backlog and SO_REUSEADDR (as Go's
/// listener, which Toxiproxy uses, does). A failure is reported as Go reports it, with the
/// resolved address (`listen tcp 127.0.0.1:3310: bind: …` for `localhost:3310`).
pub(super) async fn bind_listener(addr: &str) -> Result<TcpListener, String> {
    let candidates = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| go_listen_error(addr, &e))?;
    let mut last = None;
    for candidate in candidates {
        match bind_one(candidate) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(go_listen_error(&candidate.to_string(), &e)),
        }
    }
    Err(last.unwrap_or_else(|| {
        let none = std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address");
        go_listen_error(addr, &none)
    }))
}

fn bind_one(candidate: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if candidate.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(candidate)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// `""` → all interfaces, ephemeral port; `localhost:0` stays resolvable by bind.
pub(super) fn normalise_listen(listen: &str) -> String {
    if listen.is_empty() {
        "0.0.0.0:0".into()
    } else if let Some(port) = listen.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else {
        listen.to_string()
    }
}

/// Go's wording: `listen tcp 127.0.0.1:3310: bind: address already in use`.
fn go_listen_error(addr: &str, e: &std::io::Error) -> String {
    let reason = match e.kind() {
        std::io::ErrorKind::AddrInUse => "bind: address already in use".to_string(),
        std::io::ErrorKind::PermissionDenied => "bind: permission denied".to_string(),
        std::io::ErrorKind::AddrNotAvailable => "bind: cannot assign requested address".to_string(),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            if !addr.contains(':') {
                return format!("listen tcp: address {addr}: missing port in address");
            }
            text.to_lowercase()
        }
    };
    format!("listen tcp {addr}: {reason}")
}
