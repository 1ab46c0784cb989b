//! http proxies end to end: the real server binary, a real HTTP upstream on 127.0.0.1:0 (hyper),
//! real clients (reqwest, and raw sockets where a client would hide the detail). Figures are
//! checked to be exact, toxic shares within bounds computed from the binomial distribution.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::proxy::Server;

type UpBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> UpBody {
    Full::new(b.into()).boxed()
}

/// The upstream: `/users/{id}` (JSON), `/big` (64 KiB), `/chunked` (streamed), `/echo` (request
/// body back), `/slow` (100 ms), `/bad` (malformed response), `/ws` (upgrade, then echo),
/// `/headers` (the request's header names back, with hop-by-hop headers of its own).
async fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut peek = [0u8; 16];
                if stream.peek(&mut peek).await.is_ok() && peek.starts_with(b"GET /bad ") {
                    let mut s = stream;
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf).await;
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n")
                        .await;
                    return;
                }
                let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    Ok::<_, Infallible>(route(req).await)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

async fn route(mut req: Request<Incoming>) -> Response<UpBody> {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/big" => Response::new(full(vec![b'x'; 65_536])),
        "/chunked" => {
            let chunks =
                (0..5).map(|i| Ok::<_, Infallible>(Frame::data(Bytes::from(format!("part{i};")))));
            Response::new(StreamBody::new(futures_util::stream::iter(chunks)).boxed())
        }
        "/echo" => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Response::new(full(body))
        }
        "/headers" => {
            let mut names: Vec<&str> = req.headers().keys().map(|k| k.as_str()).collect();
            names.sort_unstable();
            let mut r = Response::new(full(names.join(",")));
            let h = r.headers_mut();
            h.insert("connection", "x-internal".parse().unwrap());
            h.insert("x-internal", "1".parse().unwrap());
            h.insert("keep-alive", "timeout=5".parse().unwrap());
            h.insert("x-public", "1".parse().unwrap());
            r
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Response::new(full("slow"))
        }
        "/ws" => {
            let upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(io) = upgrade.await {
                    let mut io = TokioIo::new(io);
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = io.read(&mut buf).await {
                        if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            });
            let mut r = Response::new(full(""));
            *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            r.headers_mut()
                .insert("connection", "upgrade".parse().unwrap());
            r.headers_mut().insert("upgrade", "echo".parse().unwrap());
            r
        }
        p if p.starts_with("/users/") => {
            Response::new(full(format!("{{\"id\": \"{}\"}}", &p[7..])))
        }
        _ => {
            let mut r = Response::new(full("not here"));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    }
}

/// An http proxy in front of `upstream`; returns its `host:port`.
async fn http_proxy(s: &Server, name: &str, upstream: &str) -> String {
    let (status, p) = s
        .json(
            "POST",
            "/proxies",
            Some(json!({
                "name": name, "listen": "127.0.0.1:0", "upstream": upstream, "protocol": "http",
                "routes": [
                    {"name": "user", "method": "GET", "path": "/users/{id}"},
                    {"name": "big", "path": "/big"},
                ],
            })),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["protocol"], "http");
    p["listen"].as_str().unwrap().to_string()
}

/// GETs `url` and reads the whole body.
async fn fetch(client: &reqwest::Client, url: &str) -> Bytes {
    client.get(url).send().await.unwrap().bytes().await.unwrap()
}

async fn traffic(s: &Server, name: &str) -> Value {
    let (status, t) = s
        .json("GET", &format!("/proxies/{name}/traffic?window_s=60"), None)
        .await;
    assert_eq!(status, 200, "{t}");
    t
}

/// Sends raw bytes, returns everything read until the peer closes (or 3 s pass).
async fn raw(addr: &str, request: &[u8]) -> Vec<u8> {
    raw_until_closed(addr, request).await.0
}

/// Sends raw bytes; returns what was read and how the connection ended: `None` for a clean close
/// (FIN), the error kind otherwise (`ConnectionReset` for RST, `TimedOut` after 3 s).
async fn raw_until_closed(addr: &str, request: &[u8]) -> (Vec<u8>, Option<std::io::ErrorKind>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Err(_) => return (out, Some(std::io::ErrorKind::TimedOut)),
            Ok(Ok(0)) => return (out, None),
            Ok(Ok(n)) => out.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => return (out, Some(e.kind())),
        }
    }
}

#[tokio::test]
async fn hop_by_hop_headers_stop_at_the_proxy_in_both_directions() {
    let s = Server::start(&[]).await;
    let listen = http_proxy(&s, "hops", &upstream().await).await;
    let out = raw(
        &listen,
        b"GET /headers HTTP/1.1\r\nhost: x\r\nconnection: x-secret, close\r\nx-secret: 1\r\n\
          keep-alive: timeout=5\r\nproxy-connection: keep-alive\r\nte: trailers\r\n\
          x-kept: 1\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("http/1.1 200"), "{text}");
    // What reached the upstream: end-to-end headers only.
    assert_eq!(body, "host,x-kept", "{text}");
    // What reached the client: the upstream's own hop-by-hop headers are gone.
    assert!(head.contains("\r\nx-public: 1"), "{text}");
    assert!(!head.contains("x-internal"), "{text}");
    assert!(!head.contains("keep-alive"), "{text}");
}

#[tokio::test]
async fn http_proxies_keep_alive_stream_chunked_bodies_honour_expect_and_tunnel_upgrades() {
    let s = Server::start(&[]).await;
    let listen = http_proxy(&s, "web", &upstream().await).await;
    let client = reqwest::Client::new();
    for i in 0..20 {
        let r = client
            .get(format!("http://{listen}/users/{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), format!("{{\"id\": \"{i}\"}}"));
    }
    let t = traffic(&s, "web").await;
    assert_eq!(
        t["connections"]["total"], 1,
        "one keep-alive connection: {t}"
    );
    assert_eq!(t["http"]["routes"]["user"]["requests"], 20);

    let chunked = client
        .get(format!("http://{listen}/chunked"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        chunked.text().await.unwrap(),
        "part0;part1;part2;part3;part4;"
    );
    // A request body of unknown length: sent chunked.
    let stream = futures_util::stream::iter(
        (0..50).map(|i| Ok::<_, std::io::Error>(Frame::data(Bytes::from(format!("{i},"))))),
    );
    let echoed = client
        .post(format!("http://{listen}/echo"))
        .body(reqwest::Body::wrap(StreamBody::new(stream)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(echoed, (0..50).map(|i| format!("{i},")).collect::<String>());
    let t = traffic(&s, "web").await;
    assert_eq!(
        t["bytes"]["upstream"]["sent"].as_u64().unwrap(),
        echoed.len() as u64,
        "request bodies are counted: {t}"
    );
    let big = fetch(&client, &format!("http://{listen}/big")).await;
    assert_eq!(big.len(), 65_536);

    // Expect: 100-continue: the proxy says continue before the body is sent.
    let mut c = TcpStream::connect(&listen).await.unwrap();
    c.write_all(
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 256];
    let n = c.read(&mut buf).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100 Continue"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    c.write_all(b"hello").await.unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).ends_with("hello") {
        let n = c.read(&mut buf).await.unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }

    // An upgrade (WebSocket-style) becomes a TCP tunnel.
    let mut ws = TcpStream::connect(&listen).await.unwrap();
    ws.write_all(b"GET /ws HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let n = ws.read(&mut buf).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    ws.write_all(b"ping over the tunnel").await.unwrap();
    let n = ws.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"ping over the tunnel");
}

#[tokio::test]
async fn figures_are_exact_and_toxics_hit_the_share_they_say() {
    let s = Server::start(&[]).await;
    let listen = http_proxy(&s, "shop", &upstream().await).await;
    let (status, t) = s
        .json(
            "POST",
            "/proxies/shop/toxics",
            Some(
                json!({"name": "flaky", "type": "http_status", "toxicity": 0.2,
                        "attributes": {"status": 503, "body": "busy", "match": {"route": "user"}}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["attributes"]["status"], 503);
    let client = reqwest::Client::new();
    let n = 1000;
    let mut failed = 0;
    for i in 0..n {
        let r = client
            .get(format!("http://{listen}/users/{i}"))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            assert_eq!(r.text().await.unwrap(), "busy");
            failed += 1;
        } else {
            r.bytes().await.unwrap();
        }
    }
    for _ in 0..10 {
        fetch(&client, &format!("http://{listen}/big")).await;
    }
    // Binomial(1000, 0.2): sd ≈ 12.6; ±5 sd.
    assert!((137..=263).contains(&failed), "{failed} of {n}");
    let t = traffic(&s, "shop").await;
    let user = &t["http"]["routes"]["user"];
    assert_eq!(user["requests"], n, "{t}");
    assert_eq!(
        user["status"]["5xx"], failed,
        "the figures count exactly what clients saw"
    );
    assert_eq!(user["status"]["2xx"], n - failed);
    let rate = user["error_rate"].as_f64().unwrap();
    assert!((rate - failed as f64 / n as f64).abs() < 1e-9);
    assert_eq!(
        t["http"]["routes"]["big"]["status"]["5xx"], 0,
        "other routes untouched"
    );

    // A delay on one route shows in its percentiles and not in the others'.
    s.json("DELETE", "/proxies/shop/toxics/flaky", None).await;
    s.json(
        "POST",
        "/proxies/shop/toxics",
        Some(json!({"name": "slow", "type": "http_delay", "attributes": {"delay_ms": 100, "match": {"route": "big"}}})),
    )
    .await;
    for _ in 0..20 {
        fetch(&client, &format!("http://{listen}/big")).await;
    }
    let (_, t) = s
        .json("GET", "/proxies/shop/traffic?window_s=0", None)
        .await;
    let big = &t["http"]["routes"]["big"];
    assert!(big["p95_ms"].as_f64().unwrap() >= 100.0, "{big}");
    assert!(big["ttfb_p95_ms"].as_f64().unwrap() >= 100.0, "{big}");
    assert!(
        t["http"]["routes"]["user"]["p95_ms"].as_f64().unwrap() < 100.0,
        "{t}"
    );

    // Sampling by header: a user is either always hit or never.
    s.json("DELETE", "/proxies/shop/toxics/slow", None).await;
    s.json(
        "POST",
        "/proxies/shop/toxics",
        Some(
            json!({"name": "some-users", "type": "http_status", "toxicity": 0.3,
                    "attributes": {"status": 500, "sample": {"header": "x-user"}}}),
        ),
    )
    .await;
    let mut hit_users = 0;
    let users = 200;
    for u in 0..users {
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            let r = client
                .get(format!("http://{listen}/users/1"))
                .header("x-user", format!("user-{u}"))
                .send()
                .await
                .unwrap();
            outcomes.push(r.status().as_u16());
            r.bytes().await.unwrap();
        }
        assert!(
            outcomes.iter().all(|o| *o == outcomes[0]),
            "user-{u}: {outcomes:?}"
        );
        hit_users += usize::from(outcomes[0] == 500);
    }
    // Binomial(200, 0.3): sd ≈ 6.5; ±5 sd.
    assert!((28..=92).contains(&hit_users), "{hit_users} of {users}");
    let r = client
        .get(format!("http://{listen}/users/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "requests without the header are never hit");
}

#[tokio::test]
async fn aborts_truncation_corruption_and_bad_input() {
    let s = Server::start(&[]).await;
    let up = upstream().await;
    let listen = http_proxy(&s, "cut", &up).await;
    let add = |body: Value| {
        let s = &s;
        async move { s.json("POST", "/proxies/cut/toxics", Some(body)).await }
    };
    // Reset before the head: the client gets no response at all.
    add(json!({"name": "rst", "type": "http_abort", "attributes": {"mode": "reset", "when": "headers", "match": {"method": "DELETE"}}})).await;
    let err = reqwest::Client::new()
        .delete(format!("http://{listen}/users/1"))
        .send()
        .await
        .unwrap_err();
    assert!(
        err.is_request() || err.is_connect() || err.to_string().contains("connection"),
        "{err}"
    );
    let (got, end) =
        raw_until_closed(&listen, b"DELETE /users/1 HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(got.is_empty(), "nothing before the reset: {got:?}");
    assert_eq!(
        end,
        Some(std::io::ErrorKind::ConnectionReset),
        "a reset, not a FIN"
    );
    // Cut mid-body: the client sees an incomplete body, then a clean close (mode close).
    add(json!({"name": "mid", "type": "http_abort", "attributes": {"mode": "close", "bytes": 1000, "match": {"route": "big"}}})).await;
    let (got, end) = raw_until_closed(&listen, b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let body_len = got.len() - got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() - 4;
    assert_eq!(body_len, 1000, "the body is cut after 1000 bytes");
    assert_eq!(end, None, "mode close ends with a FIN");
    s.json("DELETE", "/proxies/cut/toxics/mid", None).await;
    add(json!({"name": "short", "type": "http_truncate", "attributes": {"bytes": 10, "match": {"route": "user"}}})).await;
    let got = raw(&listen, b"GET /users/123456789 HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("content-length: 19"), "{text}");
    assert!(text.ends_with("\r\n\r\n{\"id\": \"12"), "{text}");
    s.json("DELETE", "/proxies/cut/toxics/short", None).await;
    add(json!({"name": "flip", "type": "http_corrupt", "attributes": {"percent": 100, "match": {"route": "big"}}})).await;
    let big = reqwest::get(format!("http://{listen}/big"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(big.len(), 65_536);
    assert!(big.iter().all(|b| *b == b'x' ^ 0xFF), "every byte flipped");
    s.json("DELETE", "/proxies/cut/toxics/flip", None).await;

    // Bad toxics and mismatched protocols are refused with the reason.
    for (body, needle) in [
        (
            json!({"type": "http_status", "attributes": {"status": 700}}),
            "status must be between 100 and 599",
        ),
        (
            json!({"type": "http_status", "attributes": {"status": 503, "match": {"header": "x", "regex": "("}}}),
            "match.regex does not compile",
        ),
        (json!({"type": "latency"}), "this proxy speaks http"),
    ] {
        let (status, e) = add(body).await;
        assert_eq!(status, 400, "{e}");
        assert!(e["error"].as_str().unwrap().contains(needle), "{e}");
    }
    let tcp = s.proxy("plain", &up).await;
    assert!(!tcp.is_empty());
    let (status, e) = s
        .json(
            "POST",
            "/proxies/plain/toxics",
            Some(json!({"type": "http_status", "attributes": {"status": 500}})),
        )
        .await;
    assert_eq!(status, 400, "{e}");

    // Malformed requests, oversized headers, a malformed upstream answer, a dead upstream.
    let got = raw(&listen, b"NOT A REQUEST\r\n\r\n").await;
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let huge = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let got = raw(&listen, huge.as_bytes()).await;
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let r = reqwest::get(format!("http://{listen}/bad")).await.unwrap();
    assert_eq!(r.status(), 502);
    let dead = http_proxy(
        &s,
        "dead",
        &format!("127.0.0.1:{}", crate::harness::closed_port()),
    )
    .await;
    let r = reqwest::get(format!("http://{dead}/users/1"))
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let t = traffic(&s, "dead").await;
    assert_eq!(t["http"]["error_rate"], 1.0, "{t}");
    assert_eq!(t["connections"]["failed_upstream_dials"], 1);
    let t = traffic(&s, "cut").await;
    let other = &t["http"]["routes"]["other"];
    assert!(
        other["status"]["4xx"].as_u64().unwrap() >= 2,
        "400 and 431 recorded: {t}"
    );
    assert!(t["http"]["status"]["aborted"].as_u64().unwrap() >= 2, "{t}");
}

#[tokio::test]
async fn http_fault_goes_through_the_ledger_and_traffic_metrics_sees_it_per_route() {
    let s = Server::start(&[]).await;
    let listen = http_proxy(&s, "shop", &upstream().await).await;
    let dir = crate::harness::TempDir::new("http-fault");
    let api = &s.base;
    let file = crate::harness::write(
        dir.path(),
        "e.json",
        &format!(
            r#"{{"title": "users fail, the rest holds", "description": "d",
                "steady-state-hypothesis": {{"title": "big is healthy", "probes": [
                  {{"type": "probe", "name": "big-ok",
                    "tolerance": {{"type": "range", "range": [0, 0.01], "target": "error_rate"}},
                    "provider": {{"type": "builtin", "func": "traffic.metrics", "arguments": {{"api": "{api}", "proxy": "shop", "route": "big", "window_s": 300}}}}}}]}},
                "method": [
                  {{"type": "action", "name": "users-503", "duration": 2,
                    "provider": {{"type": "builtin", "func": "http.fault", "arguments": {{"api": "{api}", "proxy": "shop", "route": "user", "status": 503, "share": 100}}}}}},
                  {{"type": "probe", "name": "load",
                    "provider": {{"type": "builtin", "func": "http.measure", "arguments": {{"url": "http://{listen}/users/7", "requests": 20, "concurrency": 2}}}}}},
                  {{"type": "probe", "name": "big-load",
                    "provider": {{"type": "builtin", "func": "http.measure", "arguments": {{"url": "http://{listen}/big", "requests": 5, "concurrency": 1}}}}}},
                  {{"type": "probe", "name": "users-figures",
                    "tolerance": {{"type": "range", "range": [0.99, 1.0], "target": "error_rate"}},
                    "provider": {{"type": "builtin", "func": "traffic.metrics", "arguments": {{"api": "{api}", "proxy": "shop", "route": "user"}}}}}}]}}"#
        ),
    );
    let run = crate::faults::spawn_run(dir.path(), &file);
    let out = tokio::task::spawn_blocking(move || run.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::harness::stderr(&out)
    );
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap();
    assert_eq!(j["monkeywrench"]["faults"][0]["func"], "http.fault");
    assert_eq!(j["monkeywrench"]["faults"][0]["revert"], "reverted");
    assert_eq!(j["run"][1]["output"]["error_rate"], 1.0, "{}", j["run"][1]);
    assert_eq!(j["run"][3]["output"]["requests"], 20, "{}", j["run"][3]);
    assert_eq!(j["run"][3]["monkeywrench"]["tolerance_met"], true);
    let (_, toxics) = s.json("GET", "/proxies/shop/toxics", None).await;
    assert_eq!(toxics, json!([]), "removed when reverted");
    let r = reqwest::get(format!("http://{listen}/users/1"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    crate::faults::stop_guard(dir.path());
}

#[tokio::test]
async fn a_config_file_http_proxy_cookie_sampling_ttl_and_prometheus_series() {
    let up = upstream().await;
    let dir = crate::harness::TempDir::new("http-config");
    let port = crate::harness::closed_port();
    let config = crate::harness::write(
        dir.path(),
        "proxies.json",
        &json!([{"name": "cfg", "listen": format!("127.0.0.1:{port}"), "upstream": up, "protocol": "http",
                 "routes": [{"name": "user", "path": "/users/{id}"}],
                 "toxics": [{"name": "by-session", "type": "http_status", "toxicity": 0.5,
                             "attributes": {"status": 500, "sample": {"cookie": "session"}}}]}])
        .to_string(),
    );
    let s = Server::start(&["--config", &config, "--proxy-metrics"]).await;
    let (_, p) = s.json("GET", "/proxies/cfg", None).await;
    assert_eq!(p["protocol"], "http", "{p}");
    assert_eq!(p["toxics"][0]["attributes"]["sample"]["cookie"], "session");
    let client = reqwest::Client::new();
    let mut hit = 0;
    for session in 0..100 {
        let status = |c: &reqwest::Client| {
            c.get(format!("http://127.0.0.1:{port}/users/1"))
                .header("cookie", format!("theme=dark; session=s{session}"))
                .send()
        };
        let first = status(&client).await.unwrap().status();
        let second = status(&client).await.unwrap().status();
        assert_eq!(first, second, "a session is hit every time or never");
        hit += usize::from(first == 500);
    }
    // Binomial(100, 0.5): sd 5; ±5 sd.
    assert!((25..=75).contains(&hit), "{hit} of 100 sessions");

    // A toxic with a ttl removes itself.
    let (status, _) = s
        .json(
            "POST",
            "/proxies/cfg/toxics",
            Some(json!({"name": "brief", "type": "http_delay", "ttl": 0.3, "attributes": {"delay_ms": 1}})),
        )
        .await;
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, toxics) = s.json("GET", "/proxies/cfg/toxics", None).await;
        if toxics.as_array().unwrap().len() == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the ttl toxic never left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let metrics = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Two requests per session.
    let line = format!(
        "monkeywrench_http_requests_total{{proxy=\"cfg\",route=\"user\",class=\"5xx\"}} {}",
        2 * hit
    );
    assert!(metrics.contains(&line), "{line} missing in:\n{metrics}");
    assert!(
        metrics.contains(
            "monkeywrench_http_request_duration_seconds_count{proxy=\"cfg\",route=\"user\"} 200"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("monkeywrench_http_retried_requests_total{proxy=\"cfg\"} 0"),
        "{metrics}"
    );
    crate::harness::promtool_check(&metrics);
}

#[tokio::test]
async fn header_matches_and_delays_between_body_chunks() {
    let s = Server::start(&[]).await;
    let listen = http_proxy(&s, "canary", &upstream().await).await;
    let (status, e) = s
        .json(
            "POST",
            "/proxies/canary/toxics",
            Some(json!({"name": "canaries", "type": "http_status",
                        "attributes": {"status": 418, "match": {"header": "X-Canary", "regex": "^(yes|1)$"}}})),
        )
        .await;
    assert_eq!(status, 200, "{e}");
    let client = reqwest::Client::new();
    let get = |value: Option<&'static str>| {
        let mut r = client.get(format!("http://{listen}/users/1"));
        if let Some(v) = value {
            r = r.header("x-canary", v);
        }
        r.send()
    };
    assert_eq!(get(Some("yes")).await.unwrap().status(), 418);
    assert_eq!(get(Some("1")).await.unwrap().status(), 418);
    assert_eq!(get(Some("no")).await.unwrap().status(), 200);
    assert_eq!(get(None).await.unwrap().status(), 200);

    s.json(
        "POST",
        "/proxies/canary/toxics",
        Some(json!({"name": "drip", "type": "http_delay", "attributes": {"delay_ms": 60, "where": "body"}})),
    )
    .await;
    let started = tokio::time::Instant::now();
    let body = client
        .get(format!("http://{listen}/chunked"))
        .send()
        .await
        .unwrap();
    let head = started.elapsed();
    assert_eq!(body.text().await.unwrap(), "part0;part1;part2;part3;part4;");
    let whole = started.elapsed();
    // The delays come after the head, between the chunks (a lower bound: load only adds).
    assert!(
        whole - head >= Duration::from_millis(240),
        "the chunks after the first each wait 60 ms: head {head:?}, whole {whole:?}"
    );
}

/// An upstream that answers the first request on each connection (keep-alive, no `close`) and
/// closes the connection unanswered when the next one arrives — its idle timeout racing that
/// request. `reset`: the close is a RST rather than a FIN. Returns its address and how many
/// connections it accepted.
async fn closes_after_one_request(
    reset: bool,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut chunk = [0u8; 4096];
                // The first request, head and (content-length) body.
                loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
                // The next request: close without answering.
                let _ = s.read(&mut chunk).await;
                if reset {
                    let _ = s.set_zero_linger();
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn an_upstream_closing_a_kept_alive_connection_is_retried_only_when_safe() {
    for reset in [false, true] {
        let s = Server::start(&[]).await;
        let (upstream, accepted) = closes_after_one_request(reset).await;
        let listen = http_proxy(&s, "racy", &upstream).await;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let mut statuses = Vec::new();
        for (method, path) in [
            ("GET", "/a"),
            ("GET", "/b"),
            ("POST", "/c"),
            ("DELETE", "/d"),
        ] {
            let request = client.request(method.parse().unwrap(), format!("http://{listen}{path}"));
            let request = if method == "POST" {
                request.body("x")
            } else {
                request
            };
            statuses.push(request.send().await.unwrap().status().as_u16());
        }
        // /a: upstream connection 1. /b: connection 1 closes on it → sent again on connection 2.
        // /c (POST, not idempotent): connection 2 closes on it → 502, never sent twice.
        // /d (DELETE, idempotent, no body): a fresh connection 3 (2 is gone) answers it.
        assert_eq!(statuses, [200, 200, 502, 200], "reset={reset}");
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "reset={reset}"
        );
        let t = traffic(&s, "racy").await;
        assert_eq!(t["connections"]["total"], 1, "one client connection: {t}");
        assert_eq!(t["http"]["requests"], 4, "{t}");
        assert_eq!(t["http"]["status"]["5xx"], 1, "only the POST failed: {t}");
        // /b was sent again; /d too if the proxy had not yet seen connection 2 close (hyper then
        // hands the unsent request back), otherwise it went out once on a fresh connection.
        let retried = t["http"]["retried"].as_u64().unwrap();
        assert!((1..=2).contains(&retried), "{t}");
    }
}

#[tokio::test]
async fn idle_clients_are_counted_served_when_they_speak_and_closed_when_the_proxy_is_disabled() {
    let s = Server::start(&[]).await;
    let listen = http_proxy(&s, "idle", &upstream().await).await;
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(TcpStream::connect(&listen).await.unwrap());
    }
    let active = || async { traffic(&s, "idle").await["connections"]["active"].clone() };
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = active().await;
        if seen == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen, 50,
        "connections that sent nothing yet are open and counted"
    );
    // One of them speaks after a pause: served like any other.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut talker = idle.pop().unwrap();
    talker
        .write_all(b"GET /users/7 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    talker.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("{\"id\": \"7\"}"), "{answer}");
    // Disabling the proxy closes the ones still waiting.
    let (status, body) = s
        .json("POST", "/proxies/idle", Some(json!({"enabled": false})))
        .await;
    assert_eq!(status, 200, "{body}");
    for mut c in idle {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(3), c.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "closed when the proxy was disabled: {read:?}"
        );
    }
    assert_eq!(active().await, 0);
    let t = traffic(&s, "idle").await;
    assert_eq!(t["http"]["requests"], 1, "{t}");
}
