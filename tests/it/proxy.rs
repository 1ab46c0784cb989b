//! The fault proxy through its HTTP API, as its users drive it: a real HTTP client against
//! `monkeywrench proxy serve`, real TCP echo upstreams on 127.0.0.1:0.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{binary, closed_port};

/// A `monkeywrench proxy serve` child on a free port, killed on drop.
pub(crate) struct Server {
    pub child: Child,
    pub base: String,
    http: reqwest::Client,
}

impl Server {
    pub(crate) async fn start(extra: &[&str]) -> Server {
        let port = closed_port();
        let child = Command::new(binary())
            .args([
                "proxy",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args(if extra.contains(&"--seed") {
                &[][..]
            } else {
                &["--seed", "42"][..]
            })
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while http.get(format!("{base}/version")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the proxy API did not come up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Server { child, base, http }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(m, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    pub(crate) async fn json(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, text) = self.call(method, path, body).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Creates a proxy to `upstream`; returns the address it listens on.
    pub(crate) async fn proxy(&self, name: &str, upstream: &str) -> String {
        let (status, p) = self
            .json(
                "POST",
                "/proxies",
                Some(json!({"name": name, "listen": "127.0.0.1:0", "upstream": upstream})),
            )
            .await;
        assert_eq!(status, 201, "{p}");
        p["listen"].as_str().unwrap().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A listener on 127.0.0.1:0 with the backlog real servers set (4096): bursts of clients queue
/// instead of overflowing into SYN retransmits (a second each) and resets.
pub(crate) fn busy_listener() -> TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    socket.listen(4096).unwrap()
}

/// A TCP echo server; returns its address.
pub(crate) async fn echo_upstream() -> String {
    let listener = busy_listener();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            // A failed accept must not end the listener (that would reset the backlog).
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

pub(crate) async fn round_trip(stream: &mut TcpStream, payload: &[u8]) -> Vec<u8> {
    stream.write_all(payload).await.unwrap();
    let mut got = vec![0u8; payload.len()];
    stream.read_exact(&mut got).await.unwrap();
    got
}

#[tokio::test]
async fn version_headers_and_routing_follow_toxiproxy() {
    let s = Server::start(&[]).await;
    let resp = s
        .http
        .get(format!("{}/version", s.base))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("x-toxiproxy-request-id"));
    assert_eq!(
        resp.headers()["content-type"],
        "application/json;charset=utf-8"
    );
    assert_eq!(resp.text().await.unwrap(), "{\"version\": \"2.12.0\"}\n");
    let browser = s
        .http
        .get(format!("{}/proxies", s.base))
        .header("User-Agent", "Mozilla/5.0")
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status(), 403);
    assert_eq!(browser.headers()["x-content-type-options"], "nosniff");
    assert_eq!(browser.text().await.unwrap(), "User agent not allowed\n");
    assert_eq!(
        s.call("GET", "/nope", None).await,
        (404, "404 page not found\n".into())
    );
    assert_eq!(s.call("PUT", "/proxies", None).await, (405, String::new()));
    assert_eq!(s.json("GET", "/proxies", None).await, (200, json!({})));
    assert_eq!(
        s.call("POST", "/reset", None).await.0,
        204,
        "reset needs no body"
    );
    let (status, text) = s.call("POST", "/proxies", None).await;
    assert_eq!(
        (status, text.as_str()),
        (
            400,
            "{\"error\":\"bad request body: EOF\",\"status\":400}\n"
        )
    );
}

#[tokio::test]
async fn proxies_are_created_listed_and_deleted_with_exact_errors() {
    let s = Server::start(&[]).await;
    let up = echo_upstream().await;
    let listen = s.proxy("redis", &up).await;
    assert!(
        !listen.ends_with(":0"),
        "listen shows the bound port: {listen}"
    );
    let (_, p) = s.json("GET", "/proxies/redis", None).await;
    assert_eq!(
        serde_json::to_string(&p).unwrap(),
        format!(
            r#"{{"name":"redis","listen":"{listen}","upstream":"{up}","enabled":true,"toxics":[]}}"#
        )
    );
    let dup = s
        .call(
            "POST",
            "/proxies",
            Some(json!({"name": "redis", "upstream": up, "enabled": null})),
        )
        .await;
    assert_eq!(
        dup,
        (
            409,
            "{\"error\":\"proxy already exists\",\"status\":409}\n".into()
        )
    );
    assert_eq!(
        s.json("POST", "/proxies", Some(json!({"upstream": "x:1"})))
            .await
            .1["error"],
        "missing required field: name"
    );
    assert_eq!(
        s.json("POST", "/proxies", Some(json!({"name": "x"})))
            .await
            .1["error"],
        "missing required field: upstream"
    );
    assert_eq!(
        s.json("GET", "/proxies/none", None).await,
        (404, json!({"error": "proxy not found", "status": 404}))
    );
    let busy = s
        .json(
            "POST",
            "/proxies",
            Some(json!({"name": "clash", "listen": listen, "upstream": up})),
        )
        .await;
    assert_eq!(busy.0, 500);
    assert_eq!(
        busy.1["error"],
        format!("listen tcp {listen}: bind: address already in use")
    );
    // As typed `localhost:PORT`, named as resolved (Toxiproxy's API tests check the string).
    let port = listen.rsplit(':').next().unwrap();
    let busy = s
        .json(
            "POST",
            "/proxies",
            Some(json!({"name": "clash", "listen": format!("localhost:{port}"), "upstream": up})),
        )
        .await;
    assert_eq!(
        busy.1["error"],
        format!("listen tcp 127.0.0.1:{port}: bind: address already in use")
    );
    let mut c = TcpStream::connect(&listen).await.unwrap();
    assert_eq!(round_trip(&mut c, b"ping").await, b"ping");
    assert_eq!(s.call("DELETE", "/proxies/redis", None).await.0, 204);
    assert!(
        TcpStream::connect(&listen).await.is_err(),
        "a deleted proxy stops listening"
    );
}

#[tokio::test]
async fn forwarding_is_byte_exact_under_concurrency() {
    let s = Server::start(&[]).await;
    let listen = s.proxy("echo", &echo_upstream().await).await;
    let mut tasks = Vec::new();
    for i in 0..100u32 {
        let listen = listen.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = TcpStream::connect(&listen).await.unwrap();
            let payload: Vec<u8> = (0..(1000 + i * 997) as usize)
                .map(|j| (j as u32 * 31 + i) as u8)
                .collect();
            let got = round_trip(&mut c, &payload).await;
            assert_eq!(got, payload);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, traffic) = s.json("GET", "/traffic", None).await;
    assert_eq!(traffic["echo"]["connections"]["total"], 100);
    assert!(
        traffic["echo"]["bytes"]["upstream"]["sent"]
            .as_u64()
            .unwrap()
            > 100_000
    );
}

#[tokio::test]
async fn latency_applies_to_open_connections_and_goes_away_on_removal() {
    let s = Server::start(&[]).await;
    let listen = s.proxy("slow", &echo_upstream().await).await;
    let mut c = TcpStream::connect(&listen).await.unwrap();
    round_trip(&mut c, b"warm").await;
    let (status, t) = s
        .json(
            "POST",
            "/proxies/slow/toxics",
            Some(json!({"type": "latency", "attributes": {"latency": 200}, "toxicity": 1})),
        )
        .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        t,
        json!({"attributes": {"latency": 200, "jitter": 0}, "name": "latency_downstream", "type": "latency", "stream": "downstream", "toxicity": 1})
    );
    let started = Instant::now();
    round_trip(&mut c, b"slow").await;
    assert!(
        started.elapsed() >= Duration::from_millis(190),
        "latency on an open connection"
    );
    // Per chunk, not per connection: a second message is delayed too.
    let started = Instant::now();
    round_trip(&mut c, b"again").await;
    assert!(started.elapsed() >= Duration::from_millis(190));
    assert_eq!(
        s.call("DELETE", "/proxies/slow/toxics/latency_downstream", None)
            .await
            .0,
        204
    );
    let started = Instant::now();
    round_trip(&mut c, b"fast").await;
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "the same connection is fast again"
    );
}

#[tokio::test]
async fn disabled_proxies_refuse_and_reenable_on_the_same_port() {
    let s = Server::start(&[]).await;
    let listen = s.proxy("db", &echo_upstream().await).await;
    let mut open = TcpStream::connect(&listen).await.unwrap();
    round_trip(&mut open, b"x").await;
    let (_, p) = s
        .json("POST", "/proxies/db", Some(json!({"enabled": false})))
        .await;
    assert_eq!(p["enabled"], false);
    let mut buf = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(2), open.read(&mut buf))
        .await
        .unwrap();
    assert!(
        matches!(closed, Ok(0) | Err(_)),
        "open connections are closed"
    );
    assert!(
        TcpStream::connect(&listen).await.is_err(),
        "new clients are refused"
    );
    let (_, p) = s
        .json("PATCH", "/proxies/db", Some(json!({"enabled": true})))
        .await;
    assert_eq!(p["listen"], listen.as_str(), "the same port again");
    let mut c = TcpStream::connect(&listen).await.unwrap();
    assert_eq!(round_trip(&mut c, b"back").await, b"back");
}

#[tokio::test]
async fn bandwidth_zero_holds_data_and_removal_flushes_it() {
    let s = Server::start(&[]).await;
    let listen = s.proxy("cut", &echo_upstream().await).await;
    s.json("POST", "/proxies/cut/toxics", Some(json!({"type": "bandwidth", "name": "CUT_CONNECTION_DOWNSTREAM", "attributes": {"rate": 0}}))).await;
    let mut c = TcpStream::connect(&listen).await.unwrap();
    c.write_all(b"held").await.unwrap();
    let mut buf = [0u8; 4];
    assert!(
        tokio::time::timeout(Duration::from_millis(400), c.read_exact(&mut buf))
            .await
            .is_err(),
        "nothing passes at rate 0"
    );
    assert_eq!(
        s.call(
            "DELETE",
            "/proxies/cut/toxics/CUT_CONNECTION_DOWNSTREAM",
            None
        )
        .await
        .0,
        204
    );
    tokio::time::timeout(Duration::from_secs(2), c.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"held", "held data is flushed, not dropped");
}

#[tokio::test]
async fn timeout_limit_data_and_reset_peer_end_connections_as_toxiproxy_does() {
    let s = Server::start(&[]).await;
    let up = echo_upstream().await;
    let listen = s.proxy("t", &up).await;
    s.json(
        "POST",
        "/proxies/t/toxics",
        Some(json!({"type": "timeout", "attributes": {"timeout": 300}})),
    )
    .await;
    let mut c = TcpStream::connect(&listen).await.unwrap();
    c.write_all(b"lost").await.unwrap();
    let mut buf = [0u8; 16];
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(3), c.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(r, Ok(0) | Err(_)), "closed without data: {r:?}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    s.call("DELETE", "/proxies/t/toxics/timeout_downstream", None)
        .await;

    s.json(
        "POST",
        "/proxies/t/toxics",
        Some(json!({"type": "limit_data", "attributes": {"bytes": 5}})),
    )
    .await;
    let mut c = TcpStream::connect(&listen).await.unwrap();
    c.write_all(b"0123456789").await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), c.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(got, b"01234", "cut at the limit, then closed");
    s.call("DELETE", "/proxies/t/toxics/limit_data_downstream", None)
        .await;

    s.json(
        "POST",
        "/proxies/t/toxics",
        Some(json!({"type": "reset_peer", "stream": "upstream", "attributes": {"timeout": 0}})),
    )
    .await;
    let mut c = TcpStream::connect(&listen).await.unwrap();
    c.write_all(b"boom").await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf))
        .await
        .unwrap();
    assert_eq!(
        r.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionReset),
        "RST, not FIN"
    );
}

#[tokio::test]
async fn toxic_errors_updates_and_toxicity_echo() {
    let s = Server::start(&[]).await;
    s.proxy("p", &echo_upstream().await).await;
    let err = |e: &str, st: u16| json!({"error": e, "status": st});
    assert_eq!(
        s.json("POST", "/proxies/p/toxics", Some(json!({"type": "lag"})))
            .await,
        (400, err("invalid toxic type", 400))
    );
    assert_eq!(
        s.json("POST", "/proxies/x/toxics", Some(json!({"type": "noop"})))
            .await,
        (404, err("proxy not found", 404))
    );
    assert_eq!(
        s.json(
            "POST",
            "/proxies/p/toxics",
            Some(json!({"type": "latency", "stream": "both"}))
        )
        .await,
        (
            400,
            err(
                "stream was invalid, can be either upstream or downstream",
                400
            )
        )
    );
    let (_, t) = s.json("POST", "/proxies/p/toxics", Some(json!({"type": "latency", "toxicity": 0.7, "attributes": {"latency": 5, "bogus": 1}}))).await;
    assert_eq!(t["toxicity"].to_string(), "0.7");
    assert_eq!(
        s.json(
            "POST",
            "/proxies/p/toxics",
            Some(json!({"type": "latency"}))
        )
        .await,
        (409, err("toxic already exists", 409))
    );
    let (status, bad) = s
        .json(
            "POST",
            "/proxies/p/toxics",
            Some(json!({"type": "slicer", "attributes": {"delay": 1.5}})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .starts_with("bad request body:")
    );
    let (_, updated) = s
        .json(
            "PATCH",
            "/proxies/p/toxics/latency_downstream",
            Some(json!({"attributes": {"jitter": 2}})),
        )
        .await;
    assert_eq!(updated["attributes"], json!({"latency": 5, "jitter": 2}));
    assert_eq!(updated["toxicity"].to_string(), "0.7");
    s.json(
        "POST",
        "/proxies/p/toxics",
        Some(json!({"type": "noop", "stream": "upstream"})),
    )
    .await;
    let (_, list) = s.json("GET", "/proxies/p/toxics", None).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["noop_upstream", "latency_downstream"],
        "upstream first"
    );
    assert_eq!(
        s.json("GET", "/proxies/p/toxics/none", None).await,
        (404, err("toxic not found", 404))
    );
}

#[tokio::test]
async fn populate_reset_and_ttl() {
    let s = Server::start(&[]).await;
    let up = echo_upstream().await;
    let body = json!([
        {"name": "a", "listen": "127.0.0.1:0", "upstream": up},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": up, "enabled": false,
         "toxics": [{"type": "latency", "attributes": {"latency": 10}}]}
    ]);
    let (status, out) = s.json("POST", "/populate", Some(body)).await;
    assert_eq!(status, 201, "{out}");
    assert_eq!(out["proxies"].as_array().unwrap().len(), 2);
    assert_eq!(
        out["proxies"][1]["toxics"][0]["name"], "latency_downstream",
        "toxics in populate are honoured"
    );
    let (status, out) = s
        .json(
            "POST",
            "/populate",
            Some(json!([{"name": "c", "upstream": up}, {"upstream": up}])),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        out,
        json!({"error": "missing required field: name at proxy 2", "proxies": null, "status": 400})
    );
    assert_eq!(
        s.json("POST", "/populate", Some(json!([]))).await,
        (201, json!({"proxies": []}))
    );
    assert_eq!(s.call("POST", "/reset", None).await.0, 204);
    let (_, b) = s.json("GET", "/proxies/b", None).await;
    assert_eq!(
        (b["enabled"].clone(), b["toxics"].clone()),
        (json!(true), json!([])),
        "reset enables and clears"
    );

    s.json(
        "POST",
        "/proxies/a/toxics",
        Some(json!({"type": "latency", "ttl": 0.3, "attributes": {"latency": 10}})),
    )
    .await;
    assert_eq!(
        s.json("GET", "/proxies/a/toxics", None)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        s.json("GET", "/proxies/a/toxics", None).await.1,
        json!([]),
        "the proxy removed the expired toxic itself"
    );
}

#[tokio::test]
async fn metrics_exist_only_when_asked_and_count_live_bytes() {
    let plain = Server::start(&[]).await;
    assert_eq!(plain.call("GET", "/metrics", None).await.0, 404);
    let s = Server::start(&["--proxy-metrics", "--runtime-metrics"]).await;
    let listen = s.proxy("m", &echo_upstream().await).await;
    // A name no scraper may choke on: quotes and backslashes are escaped.
    s.proxy("odd\"na\\me", &echo_upstream().await).await;
    let mut c = TcpStream::connect(&listen).await.unwrap();
    round_trip(&mut c, &[7u8; 1000]).await;
    let (status, text) = s.call("GET", "/metrics", None).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("toxiproxy_proxy_received_bytes_total{direction=\"upstream\""),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l
            .starts_with("toxiproxy_proxy_sent_bytes_total{direction=\"downstream\"")
            && l.ends_with(" 1000")),
        "{text}"
    );
    assert!(text.contains("proxy=\"odd\\\"na\\\\me\""), "{text}");
    for series in [
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "process_virtual_memory_bytes",
        "process_resident_memory_bytes",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{series} "))),
            "{series} missing:\n{text}"
        );
    }
    crate::harness::promtool_check(&text);
}

/// Bulk data takes the splice(2) path; a toxic that arrives mid-transfer takes over, and the
/// bytes still arrive whole, in order, and counted.
#[tokio::test]
async fn bulk_transfers_arrive_whole_and_counted_through_splice_and_a_toxic_added_midway() {
    let s = Server::start(&["--proxy-metrics"]).await;
    let listen = s.proxy("bulk", &echo_upstream().await).await;
    let total = 16 * 1024 * 1024;
    let payload: Vec<u8> = (0..total as u32).map(|i| (i % 253) as u8).collect();
    let mut c = TcpStream::connect(&listen).await.unwrap();
    let (mut read, mut write) = c.split();
    let writer = async {
        write.write_all(&payload).await.unwrap();
        write.shutdown().await.unwrap();
    };
    let reader = async {
        let mut got = Vec::with_capacity(total);
        let mut buf = vec![0u8; 256 * 1024];
        let mut toxic_added = false;
        loop {
            let n = read.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if !toxic_added && got.len() >= total / 4 {
                toxic_added = true;
                let body = json!({"type": "latency", "name": "mid", "attributes": {"latency": 1}});
                assert_eq!(
                    s.call("POST", "/proxies/bulk/toxics", Some(body)).await.0,
                    200
                );
            }
            if toxic_added && got.len() >= total / 2 {
                s.call("DELETE", "/proxies/bulk/toxics/mid", None).await;
            }
        }
        got
    };
    let ((), got) = tokio::join!(writer, reader);
    assert_eq!(
        got.len(),
        payload.len(),
        "every byte came back, then the FIN"
    );
    assert!(got == payload, "bytes arrive in order");
    let (_, text) = s.call("GET", "/metrics", None).await;
    for series in ["received", "sent"] {
        for direction in ["upstream", "downstream"] {
            let line = text
                .lines()
                .find(|l| {
                    l.starts_with(&format!(
                        "toxiproxy_proxy_{series}_bytes_total{{direction=\"{direction}\""
                    )) && l.contains("proxy=\"bulk\"")
                })
                .unwrap_or_else(|| panic!("{series} {direction} missing:\n{text}"));
            assert!(line.ends_with(&format!(" {total}")), "{line}");
        }
    }
}

#[tokio::test]
async fn the_api_answers_promptly_while_toxics_change_under_traffic() {
    let s = Server::start(&[]).await;
    let listen = s.proxy("busy", &echo_upstream().await).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..16 {
        let (listen, stop) = (listen.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut c = TcpStream::connect(&listen).await.unwrap();
            let payload = vec![1u8; 16 * 1024];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if tokio::time::timeout(Duration::from_secs(5), round_trip(&mut c, &payload))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }));
    }
    let mut worst = Duration::ZERO;
    for i in 0..40 {
        let started = Instant::now();
        let body =
            json!({"type": "latency", "name": format!("l{i}"), "attributes": {"latency": 1}});
        assert_eq!(
            s.call("POST", "/proxies/busy/toxics", Some(body)).await.0,
            200
        );
        assert_eq!(
            s.call("DELETE", &format!("/proxies/busy/toxics/l{i}"), None)
                .await
                .0,
            204
        );
        worst = worst.max(started.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in load {
        let _ = l.await;
    }
    eprintln!("slowest add+remove under traffic: {worst:?}");
    assert!(
        worst < Duration::from_secs(2),
        "the API never hangs: {worst:?}"
    );
}

#[tokio::test]
async fn the_real_toxiproxy_python_client_works_unchanged() {
    let python = match std::env::var("MONKEYWRENCH_TEST_PYCLIENT") {
        Ok(p) => p,
        Err(_) => {
            assert!(
                std::env::var("MONKEYWRENCH_REQUIRE_PYCLIENT").is_err(),
                "MONKEYWRENCH_TEST_PYCLIENT is not set but the client test is required"
            );
            eprintln!("SKIPPED: set MONKEYWRENCH_TEST_PYCLIENT (scripts/proxy-test-deps)");
            return;
        }
    };
    let s = Server::start(&[]).await;
    let upstream = echo_upstream().await;
    let port = s.base.rsplit(':').next().unwrap().to_string();
    let script = format!(
        "{}/tests/it/clients/toxiproxy_python.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = tokio::process::Command::new(python)
        .args([script.as_str(), port.as_str(), upstream.as_str()])
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_cli_speaks_toxiproxy_cli() {
    let s = Server::start(&[]).await;
    let up = echo_upstream().await;
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(binary())
            .args(["proxy", "cli", "-h", s.base.trim_start_matches("http://")])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(
        cli(&["create", "-l", "127.0.0.1:0", "-u", &up, "web"]).1,
        "Created new proxy web\n"
    );
    let (code, _, err) = cli(&["create", "-l", "127.0.0.1:0", "-u", &up, "web"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Failed to create proxy: HTTP 409: proxy already exists\n"
    );
    assert_eq!(
        cli(&[
            "toxic",
            "add",
            "-t",
            "latency",
            "-a",
            "latency=100",
            "-a",
            "jitter=5",
            "web"
        ])
        .1,
        "Added downstream latency toxic 'latency_downstream' on proxy 'web'\n"
    );
    assert_eq!(
        cli(&[
            "t",
            "u",
            "-n",
            "latency_downstream",
            "-a",
            "latency=50",
            "web"
        ])
        .1,
        "Updated toxic 'latency_downstream' on proxy 'web'\n"
    );
    let (_, t) = s
        .json("GET", "/proxies/web/toxics/latency_downstream", None)
        .await;
    assert_eq!(t["attributes"], json!({"latency": 50, "jitter": 5}));
    assert_eq!(
        t["toxicity"],
        json!(1),
        "update keeps toxicity unless --tox is given"
    );
    let (_, inspect, _) = cli(&["inspect", "web"]);
    assert_eq!(
        inspect,
        "latency_downstream\ttype=latency\tstream=downstream\ttoxicity=1.00\tattributes=[\tjitter=5\tlatency=50\t]\n"
    );
    let (_, list, _) = cli(&["ls"]);
    assert!(
        list.starts_with("web\t127.0.0.1:") && list.ends_with(&format!("\t{up}\tenabled\t1\n")),
        "{list}"
    );
    assert_eq!(cli(&["toggle", "web"]).1, "Proxy web is now disabled\n");
    assert_eq!(
        cli(&["toxic", "remove", "-n", "latency_downstream", "web"]).1,
        "Removed toxic 'latency_downstream' on proxy 'web'\n"
    );
    assert_eq!(cli(&["delete", "web"]).1, "Deleted proxy web\n");
    assert_eq!(
        cli(&["inspect", "web"]),
        (
            1,
            String::new(),
            "Failed to retrieve proxy web: HTTP 404: proxy not found\n".into()
        )
    );
    let (code, _, err) = cli(&["toxic", "add", "-t", "latency", "-u", "-d", "web"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Only one should be specified: upstream or downstream.\n")
    );
    let (code, _, err) = cli(&["toxic", "remove", "-n", "gone", "web"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Failed to remove toxic: HTTP 404: proxy not found\n")
    );
    // A missing flag is a usage error: exit 64 (toxiproxy-cli exits 1), as the README says.
    assert_eq!(cli(&["create", "-l", "127.0.0.1:0", "web"]).0, 64);
}

#[tokio::test]
async fn a_config_file_populates_at_startup_and_a_bad_one_aborts() {
    let dir = crate::harness::TempDir::new("proxy-config");
    let up = echo_upstream().await;
    let good = crate::harness::write(
        dir.path(),
        "good.json",
        &json!([{"name": "cfg", "listen": "127.0.0.1:0", "upstream": up, "toxics": [{"type": "noop"}]}]).to_string(),
    );
    let s = Server::start(&["--config", &good]).await;
    let (_, p) = s.json("GET", "/proxies/cfg", None).await;
    assert_eq!(p["toxics"][0]["name"], "noop_downstream");
    let bad = crate::harness::write(dir.path(), "bad.json", "[{\"listen\": \"127.0.0.1:0\"}]");
    let out = std::process::Command::new(binary())
        .args([
            "proxy",
            "serve",
            "--port",
            &closed_port().to_string(),
            "--config",
            &bad,
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing required field: name at proxy 1")
    );
    let go_style = std::process::Command::new(binary())
        .args([
            "proxy",
            "serve",
            "-host=127.0.0.1",
            "-port",
            &closed_port().to_string(),
            "-config",
            &bad,
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&go_style.stderr).contains("at proxy 1"),
        "Go-style flags are accepted"
    );
}

#[tokio::test]
async fn toxicity_is_drawn_per_connection_and_reproducible_with_a_seed() {
    async fn affected(seed: &str) -> Vec<bool> {
        let s = Server::start(&["--seed", seed]).await;
        let listen = s.proxy("half", &echo_upstream().await).await;
        s.json(
            "POST",
            "/proxies/half/toxics",
            Some(json!({"type": "latency", "toxicity": 0.5, "attributes": {"latency": 120}})),
        )
        .await;
        let mut out = Vec::new();
        for _ in 0..12 {
            let mut c = TcpStream::connect(&listen).await.unwrap();
            let started = Instant::now();
            round_trip(&mut c, b"x").await;
            let slow = started.elapsed() >= Duration::from_millis(110);
            // The same connection keeps its draw.
            let started = Instant::now();
            round_trip(&mut c, b"y").await;
            assert_eq!(
                slow,
                started.elapsed() >= Duration::from_millis(110),
                "one draw per connection"
            );
            out.push(slow);
        }
        out
    }
    let a = affected("7").await;
    assert!(
        a.iter().any(|x| *x) && a.iter().any(|x| !*x),
        "about half are affected: {a:?}"
    );
    assert_eq!(
        a,
        affected("7").await,
        "the same seed replays the same draws"
    );
}

/// Toxiproxy's numbers for this case: ~1 050 reads of at most 96 bytes in about 1.18 s.
#[tokio::test]
async fn slices_of_consecutive_reads_queue_behind_each_other_as_in_toxiproxy() {
    let s = Server::start(&[]).await;
    let listen = s.proxy("sliced", &echo_upstream().await).await;
    s.json("POST", "/proxies/sliced/toxics", Some(json!({"type": "slicer", "attributes": {"average_size": 64, "size_variation": 32, "delay": 1000}}))).await;
    let mut c = TcpStream::connect(&listen).await.unwrap();
    let payload: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
    let started = Instant::now();
    let (mut read, mut write) = c.split();
    let writer = async { write.write_all(&payload).await.unwrap() };
    let reader = async {
        let mut got = Vec::with_capacity(payload.len());
        let mut reads = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while got.len() < payload.len() {
            let n = read.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed after {} bytes", got.len());
            reads.push(n);
            got.extend_from_slice(&buf[..n]);
        }
        (got, reads)
    };
    let ((), (got, reads)) = tokio::join!(writer, reader);
    let took = started.elapsed();
    assert_eq!(got, payload, "sliced data arrives whole and in order");
    // Every slice is at most 96 bytes, so there are at least 683 of them, each 1 ms after the
    // last: however the reads were cut, this cannot take less than 682 ms.
    assert!(
        took >= Duration::from_millis(682),
        "slices were written back to back: {took:?}"
    );
    // A busy reader may take two slices in one read; most reads are still single slices.
    let mut sizes = reads.clone();
    sizes.sort_unstable();
    assert!(
        sizes[sizes.len() / 2] <= 96 && reads.len() >= 400,
        "reads are slices of at most 96 bytes: {} reads, median {}, largest {:?}",
        reads.len(),
        sizes[sizes.len() / 2],
        sizes.last()
    );
}

#[tokio::test]
async fn slicer_slow_close_and_loss_shape_the_stream() {
    let s = Server::start(&[]).await;
    let listen = s.proxy("shape", &echo_upstream().await).await;
    s.json("POST", "/proxies/shape/toxics", Some(json!({"type": "slicer", "attributes": {"average_size": 10, "size_variation": 2, "delay": 1000}}))).await;
    let mut c = TcpStream::connect(&listen).await.unwrap();
    let payload: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
    assert_eq!(
        round_trip(&mut c, &payload).await,
        payload,
        "sliced data arrives whole and in order"
    );
    s.call("DELETE", "/proxies/shape/toxics/slicer_downstream", None)
        .await;

    s.json(
        "POST",
        "/proxies/shape/toxics",
        Some(json!({"type": "slow_close", "stream": "upstream", "attributes": {"delay": 300}})),
    )
    .await;
    let mut c = TcpStream::connect(&listen).await.unwrap();
    round_trip(&mut c, b"bye").await;
    c.shutdown().await.unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "the close was passed on late"
    );
    s.call("DELETE", "/proxies/shape/toxics/slow_close_upstream", None)
        .await;

    s.json(
        "POST",
        "/proxies/shape/toxics",
        Some(json!({"type": "loss", "attributes": {"percent": 100}})),
    )
    .await;
    let mut c = TcpStream::connect(&listen).await.unwrap();
    c.write_all(b"gone").await.unwrap();
    let mut buf = [0u8; 4];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), c.read_exact(&mut buf))
            .await
            .is_err(),
        "100 % loss drops every chunk"
    );
    let (status, e) = s
        .json(
            "POST",
            "/proxies/shape/toxics",
            Some(json!({"type": "loss", "name": "l2", "attributes": {"percent": 150}})),
        )
        .await;
    assert_eq!(
        (status, e["error"].as_str().unwrap()),
        (400, "bad request body: percent must be between 0 and 100")
    );
}

#[tokio::test]
async fn a_hundred_thousand_connections_opened_and_dropped_leave_no_fds_behind() {
    // Bounded: 200 rounds of 500 concurrent connections (loopback reuses TIME_WAIT ports).
    const ROUNDS: u32 = 200;
    const BATCH: u32 = 500;
    let s = Server::start(&[]).await;
    let listen = s.proxy("churn", &echo_upstream().await).await;
    let fds = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let pid = s.child.id();
    let before = fds(pid);
    let mut connected = 0u64;
    for round in 0..ROUNDS {
        let mut batch = Vec::new();
        for i in 0..BATCH {
            let listen = listen.clone();
            batch.push(tokio::spawn(async move {
                let Ok(mut c) = TcpStream::connect(&listen).await else {
                    return false;
                };
                // Drop at random points: before writing, mid-exchange, or after a full round trip.
                match (round * BATCH + i) % 3 {
                    0 => {}
                    1 => {
                        let _ = c.write_all(b"half").await;
                    }
                    _ => {
                        // Errors are fine here: the point is that nothing leaks, whatever happens.
                        let exchange = async {
                            c.write_all(b"full").await?;
                            let mut buf = [0u8; 4];
                            c.read_exact(&mut buf).await.map(|_| ())
                        };
                        let _ = tokio::time::timeout(Duration::from_secs(2), exchange).await;
                    }
                }
                true
            }));
        }
        for b in batch {
            connected += u64::from(b.await.unwrap());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while fds(pid) > before + 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        fds(pid) <= before + 4,
        "fds grew from {before} to {}",
        fds(pid)
    );
    let (_, traffic) = s.json("GET", "/traffic", None).await;
    assert_eq!(traffic["churn"]["connections"]["total"], connected);
    assert!(
        connected >= u64::from(ROUNDS * BATCH) * 99 / 100,
        "nearly every connection was accepted: {connected}"
    );
    assert_eq!(traffic["churn"]["connections"]["active"], 0);
}

/// An upstream that hashes what it receives (until the client half-closes) and answers with its
/// own payload, so each direction is checked on its own.
async fn hashing_upstream() -> String {
    use sha2::{Digest, Sha256};
    // 1 000 clients arrive at once.
    let listener = busy_listener();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            // A failed accept (e.g. a connection aborted in the queue) must not end the listener:
            // dropping it would reset every connection still waiting in the backlog.
            let mut s = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    eprintln!("hashing upstream: accept failed: {e}");
                    continue;
                }
            };
            tokio::spawn(async move {
                let mut received = Vec::new();
                if s.read_to_end(&mut received).await.is_err() {
                    return;
                }
                let digest = Sha256::digest(&received);
                // Reply: 32-byte digest of what arrived, then a payload derived from it.
                let reply: Vec<u8> = digest
                    .iter()
                    .cycle()
                    .take(32 + received.len() / 2)
                    .copied()
                    .collect();
                let _ = s.write_all(&reply).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_thousand_concurrent_random_payloads_arrive_intact_both_ways() {
    use sha2::{Digest, Sha256};
    let s = Server::start(&[]).await;
    let listen = s.proxy("exact", &hashing_upstream().await).await;
    let mut tasks = Vec::new();
    for i in 0..1000u64 {
        let listen = listen.clone();
        tasks.push(tokio::spawn(async move {
            // Pseudo-random sizes and bytes (xorshift), up to 64 KiB.
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (i + 1);
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let len = (next() % 65_536) as usize + 1;
            let payload: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let mut c = TcpStream::connect(&listen).await.unwrap();
            c.write_all(&payload).await.unwrap();
            c.shutdown().await.unwrap();
            let mut reply = Vec::new();
            c.read_to_end(&mut reply).await.unwrap();
            let sent_digest = Sha256::digest(&payload);
            if reply.len() < 32 {
                return Err(format!("connection {i}: {} byte(s) back", reply.len()));
            }
            assert_eq!(
                &reply[..32],
                sent_digest.as_slice(),
                "client → upstream intact"
            );
            let expected: Vec<u8> = sent_digest
                .iter()
                .cycle()
                .take(32 + len / 2)
                .copied()
                .collect();
            assert_eq!(
                Sha256::digest(&reply),
                Sha256::digest(&expected),
                "upstream → client intact"
            );
            Ok(())
        }));
    }
    let mut failed = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            failed.push(e);
        }
    }
    let traffic = s.json("GET", "/traffic", None).await.1;
    assert!(failed.is_empty(), "{failed:?}; proxy figures: {traffic}");
}

#[tokio::test]
async fn version_flag_and_client_log_lines_follow_log_level() {
    let out = std::process::Command::new(binary())
        .args(["proxy", "serve", "-version"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("toxiproxy-server version 2.12.0"));
    let up = echo_upstream().await;
    for (level, expect_line) in [("info", true), ("warn", false)] {
        let dir = crate::harness::TempDir::new("proxy-log");
        let log = dir.path().join("stderr.log");
        let port = closed_port();
        let mut child = Command::new(binary())
            .args([
                "proxy",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .env("LOG_LEVEL", level)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while http.get(format!("{base}/version")).send().await.is_err() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let p: Value = http
            .post(format!("{base}/proxies"))
            .body(json!({"name": "logged", "listen": "127.0.0.1:0", "upstream": up}).to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut c = TcpStream::connect(p["listen"].as_str().unwrap())
            .await
            .unwrap();
        round_trip(&mut c, b"hi").await;
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            text.contains("INFO accepted client name=logged"),
            expect_line,
            "LOG_LEVEL={level}: {text}"
        );
    }
}

#[tokio::test]
async fn beyond_loopback_a_token_is_required_and_then_every_client_sends_it() {
    let refused = std::process::Command::new(binary())
        .args(["proxy", "serve", "--host", "0.0.0.0", "--port", "0"])
        .env_remove("MONKEYWRENCH_PROXY_TOKEN")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("binding 0.0.0.0 beyond loopback needs --auth-token"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let s = Server::start(&["--auth-token", "s3cret"]).await;
    assert_eq!(
        s.json("GET", "/proxies", None).await,
        (
            401,
            json!({"error": "missing or wrong bearer token", "status": 401})
        )
    );
    let authorized = reqwest::Client::new()
        .get(format!("{}/proxies", s.base))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(authorized.status().as_u16(), 200);
    let cli = |token: Option<&str>| {
        let mut command = std::process::Command::new(binary());
        command
            .args(["proxy", "cli", "-h", &s.base])
            .env_remove("MONKEYWRENCH_PROXY_TOKEN");
        if let Some(t) = token {
            command.args(["--auth-token", t]);
        }
        let out = command.arg("list").output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(
        cli(None),
        (
            Some(1),
            "Failed to retrieve proxies: HTTP 401: missing or wrong bearer token\n".into()
        )
    );
    assert_eq!(cli(Some("s3cret")), (Some(0), String::new()));

    let port = closed_port();
    let nobody = std::process::Command::new(binary())
        .args(["proxy", "cli", "-h", &format!("127.0.0.1:{port}"), "list"])
        .output()
        .unwrap();
    assert_eq!(nobody.status.code(), Some(1));
    let err = String::from_utf8_lossy(&nobody.stderr);
    assert!(
        err.starts_with(&format!(
            "Failed to retrieve proxies: failed to reach http://127.0.0.1:{port}: "
        )) && err.to_lowercase().contains("refused"),
        "{err}"
    );
}
