//! The one way monkeywrench serves HTTP (the proxy API, the monkey daemon, the coming server): an
//! already-bound listener and a cancellation token (tests bind `127.0.0.1:0` and stop the server
//! deterministically), a bearer token checked before the service sees a request, the rule that a
//! server bound beyond loopback needs a token, and a graceful shutdown.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Body, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub mod browser;

pub use browser::BrowserLogin;

/// How a server guards and stops its connections.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Required `Authorization: Bearer <token>` on every request (an empty token is none).
    pub token: Option<String>,
    /// The answer to a request without the right token (default: a plain-text 401).
    pub unauthorized: fn() -> Response<Full<Bytes>>,
    /// After cancellation, how long requests in flight may take to finish before their
    /// connections are cut.
    pub grace: Duration,
    /// Also let browsers in with the token once in the address, then a cookie (see [`browser`]).
    pub browser: Option<BrowserLogin>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            token: None,
            unauthorized: plain_unauthorized,
            grace: Duration::from_secs(5),
            browser: None,
        }
    }
}

/// Binding a server failed, or was refused.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is not loopback and no token was given.
    #[error("listen on {addr}: beyond loopback an auth token is required")]
    TokenRequired {
        /// The resolved address.
        addr: SocketAddr,
    },
    /// The address did not resolve.
    #[error("resolve {addr}: {source}")]
    Resolve {
        /// The address as given.
        addr: String,
        source: std::io::Error,
    },
    /// The address resolved but could not be bound.
    #[error("listen on {addr}: {source}")]
    Bind {
        /// The address as given.
        addr: String,
        source: std::io::Error,
    },
}

/// The body of `missing or wrong bearer token` as text.
pub fn plain_unauthorized() -> Response<Full<Bytes>> {
    let mut reply = Response::new(Full::new(Bytes::from_static(
        b"missing or wrong bearer token\n",
    )));
    *reply.status_mut() = StatusCode::UNAUTHORIZED;
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}

/// Refuses a server on an address beyond loopback (IPv4 127/8, `::1`, either mapped) without a
/// token: network servers bind loopback by default and need a token anywhere else.
pub fn require_token_beyond_loopback(
    addr: SocketAddr,
    token: Option<&str>,
) -> Result<(), ServeError> {
    let loopback = addr.ip().to_canonical().is_loopback();
    if loopback || token.is_some_and(|t| !t.is_empty()) {
        Ok(())
    } else {
        Err(ServeError::TokenRequired { addr })
    }
}

/// Resolves `addr` (`host:port`) and checks every address it names against
/// [`require_token_beyond_loopback`]; nothing is bound.
pub async fn resolve(addr: &str, token: Option<&str>) -> Result<Vec<SocketAddr>, ServeError> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .map_err(|source| ServeError::Resolve {
            addr: addr.to_string(),
            source,
        })?
        .collect();
    for candidate in &resolved {
        require_token_beyond_loopback(*candidate, token)?;
    }
    Ok(resolved)
}

/// [`resolve`], then binds the first address that can be bound.
pub async fn bind(addr: &str, token: Option<&str>) -> Result<TcpListener, ServeError> {
    let resolved = resolve(addr, token).await?;
    TcpListener::bind(&resolved[..])
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// Serves HTTP/1.1 on `listener` until `cancel`: then it stops accepting at once (the listener is
/// closed), lets requests in flight finish within `options.grace`, and returns once every
/// connection is closed.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    options: ServeOptions,
    cancel: CancellationToken,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let token = options.token.filter(|t| !t.is_empty());
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            _ = cancel.cancelled() => break,
        };
        let Ok((stream, _)) = accepted else {
            // EMFILE and friends: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (service, token, cancel) = (service.clone(), token.clone(), cancel.clone());
        let (unauthorized, browser_login) = (options.unauthorized, options.browser);
        connections.spawn(async move {
            let guarded = service_fn(move |req: Request<Incoming>| {
                let refused = match (token.as_deref(), browser_login) {
                    (Some(t), Some(b)) if !authorized(Some(t), &req) => {
                        match browser::gate(t, &req) {
                            browser::Gate::Pass => None,
                            browser::Gate::Login(at) => Some(browser::login(t, &at)),
                            browser::Gate::LoginPage => Some((b.login_page)()),
                            browser::Gate::Refuse => Some(unauthorized()),
                        }
                    }
                    (t, _) => (!authorized(t, &req)).then(unauthorized),
                };
                let call = refused.is_none().then(|| service.call(req));
                async move {
                    match (call, refused) {
                        (Some(answer), _) => answer.await.map(|r| r.map(Either::Right)),
                        (None, refused) => {
                            Ok(refused.unwrap_or_else(unauthorized).map(Either::Left))
                        }
                    }
                }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), guarded);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = cancel.cancelled() => {}
            }
            // An idle connection closes now; a busy one after its response (keep-alive off).
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(options.grace, drained).await.is_err() {
        connections.shutdown().await;
    }
}

/// Whether the request carries `Authorization: Bearer <token>` (always, without a token).
fn authorized<B>(token: Option<&str>, req: &Request<B>) -> bool {
    let Some(token) = token else {
        return true;
    };
    req.headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same_secret(given.as_bytes(), token.as_bytes()))
}

/// Compares without returning early, so the time taken does not tell how much of a guess was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::{Notify, mpsc};

    use super::*;

    /// Answers `/slow` only once `release` is notified (telling `entered` it arrived), anything
    /// else at once.
    fn held(
        entered: mpsc::UnboundedSender<()>,
        release: Arc<Notify>,
    ) -> impl Service<
        Request<Incoming>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send,
    > + Clone
    + Send
    + Sync
    + 'static {
        service_fn(move |req: Request<Incoming>| {
            let (entered, release) = (entered.clone(), release.clone());
            async move {
                if req.uri().path() == "/slow" {
                    let _ = entered.send(());
                    release.notified().await;
                }
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"done"))))
            }
        })
    }

    /// Long enough that a held request is never cut by it in these tests.
    const GRACE: Duration = Duration::from_secs(60);

    /// One request on a fresh connection; the raw answer up to the server's close.
    async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    async fn start(
        token: Option<&str>,
        grace: Duration,
    ) -> (
        SocketAddr,
        CancellationToken,
        tokio::task::JoinHandle<()>,
        mpsc::UnboundedReceiver<()>,
        Arc<Notify>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let (entered_tx, entered) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        let options = ServeOptions {
            token: token.map(str::to_string),
            grace,
            ..ServeOptions::default()
        };
        let server = tokio::spawn(serve(
            listener,
            held(entered_tx, release.clone()),
            options,
            cancel.clone(),
        ));
        (addr, cancel, server, entered, release)
    }

    #[tokio::test]
    async fn a_token_is_required_and_accepted() {
        let (addr, cancel, server, _, _) = start(Some("s3cret"), GRACE).await;
        let refused = get(addr, "/", None).await;
        assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
        assert!(
            refused.ends_with("missing or wrong bearer token\n"),
            "{refused}"
        );
        let wrong = get(addr, "/", Some("s3cre7")).await;
        assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
        let right = get(addr, "/", Some("s3cret")).await;
        assert!(right.starts_with("HTTP/1.1 200"), "{right}");
        assert!(right.ends_with("done"), "{right}");
        cancel.cancel();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn without_a_token_every_request_is_served() {
        let (addr, cancel, server, _, _) = start(Some(""), GRACE).await;
        assert!(get(addr, "/", None).await.starts_with("HTTP/1.1 200"));
        cancel.cancel();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn beyond_loopback_a_token_is_required() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        for loopback in [
            "127.0.0.1:80",
            "127.3.4.5:80",
            "[::1]:80",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(
                require_token_beyond_loopback(addr(loopback), None).is_ok(),
                "{loopback}"
            );
        }
        for beyond in [
            "0.0.0.0:80",
            "10.1.2.3:80",
            "[::]:80",
            "[::ffff:10.0.0.1]:80",
        ] {
            assert!(
                matches!(
                    require_token_beyond_loopback(addr(beyond), None),
                    Err(ServeError::TokenRequired { .. })
                ),
                "{beyond}"
            );
            assert!(
                matches!(
                    require_token_beyond_loopback(addr(beyond), Some("")),
                    Err(ServeError::TokenRequired { .. })
                ),
                "an empty token is none: {beyond}"
            );
            assert!(require_token_beyond_loopback(addr(beyond), Some("t")).is_ok());
        }
        assert!(matches!(
            bind("0.0.0.0:0", None).await,
            Err(ServeError::TokenRequired { .. })
        ));
        let listener = bind("localhost:0", None).await.unwrap();
        assert!(listener.local_addr().unwrap().ip().is_loopback());
    }

    #[tokio::test]
    async fn a_request_in_flight_at_cancel_completes_and_nothing_new_is_accepted() {
        let (addr, cancel, server, mut entered, release) = start(None, GRACE).await;
        let in_flight = tokio::spawn(get(addr, "/slow", None));
        entered.recv().await.unwrap();
        cancel.cancel();
        // The listener closes at once, while the request is still held.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).await.is_ok() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "still accepting after cancel"
            );
            tokio::task::yield_now().await;
        }
        assert!(!server.is_finished(), "the server waits for the request");
        release.notify_one();
        let answer = in_flight.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("done"), "{answer}");
        server.await.unwrap();
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn a_request_that_outlasts_the_grace_is_cut() {
        // Never released: only the end of the grace ends it.
        let (addr, cancel, server, mut entered, _release) =
            start(None, Duration::from_millis(200)).await;
        let in_flight = tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer).await;
            answer
        });
        entered.recv().await.unwrap();
        cancel.cancel();
        server.await.unwrap();
        assert!(in_flight.await.unwrap().is_empty(), "cut without an answer");
    }
}
