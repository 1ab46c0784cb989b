//! http proxies with several upstreams: the real proxy server binary, real HTTP upstreams on
//! 127.0.0.1:0 that can be killed (listener and every connection closed at once, as the kernel
//! does for a killed process) or frozen (accepting, never answering, as a SIGSTOPped process).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::harness::closed_port;
use crate::proxy::Server;

/// An upstream answering every request with its name; `kill` closes it like a dying process.
struct Replica {
    addr: String,
    served: Arc<AtomicU64>,
    kill: CancellationToken,
}

async fn replica(name: &'static str) -> Replica {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let served = Arc::new(AtomicU64::new(0));
    let kill = CancellationToken::new();
    let (count, dead) = (served.clone(), kill.clone());
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                a = listener.accept() => match a { Ok((s, _)) => s, Err(_) => continue },
                _ = dead.cancelled() => return,
            };
            let (count, dead) = (count.clone(), dead.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
                    count.fetch_add(1, Ordering::SeqCst);
                    async move {
                        // A little work, so the kill lands on requests in flight.
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(name))))
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = conn => {}
                    _ = dead.cancelled() => {}
                }
            });
        }
    });
    Replica { addr, served, kill }
}

/// Accepts connections and never answers (a frozen process: the kernel still completes the
/// handshake).
async fn frozen() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

async fn balanced(s: &Server, body: Value) -> (String, Value) {
    let (status, p) = s.json("POST", "/proxies", Some(body)).await;
    assert_eq!(status, 201, "{p}");
    (p["listen"].as_str().unwrap().to_string(), p)
}

async fn traffic(s: &Server, name: &str) -> Value {
    let (status, t) = s
        .json("GET", &format!("/proxies/{name}/traffic?window_s=0"), None)
        .await;
    assert_eq!(status, 200, "{t}");
    t
}

#[tokio::test]
async fn requests_go_round_robin_and_each_upstream_has_its_figures() {
    let s = Server::start(&["--proxy-metrics"]).await;
    let r = [replica("a").await, replica("b").await, replica("c").await];
    let list: Vec<&str> = r.iter().map(|r| r.addr.as_str()).collect();
    let (listen, p) = balanced(
        &s,
        json!({"name": "rr", "listen": "127.0.0.1:0", "upstreams": list, "protocol": "http"}),
    )
    .await;
    // Toxiproxy clients read `upstream` as one string: they get the list joined.
    assert_eq!(p["upstream"], list.join(","));
    assert_eq!(p["upstreams"], json!(list));
    let client = reqwest::Client::new();
    let mut names = String::new();
    for _ in 0..30 {
        let r = client
            .get(format!("http://{listen}/x"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        names.push_str(&r.text().await.unwrap());
    }
    assert_eq!(&names[..6], "abcabc", "in turn: {names}");
    for (i, r) in r.iter().enumerate() {
        assert_eq!(r.served.load(Ordering::SeqCst), 10, "upstream {i}");
    }
    let t = traffic(&s, "rr").await;
    for (i, u) in t["upstreams"].as_array().unwrap().iter().enumerate() {
        assert_eq!(u["address"], list[i]);
        assert_eq!(u["responses"], 10, "{t}");
        assert_eq!(u["failures"], 0, "{t}");
        assert_eq!(u["up"], true, "{t}");
    }
    let metrics = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (series, value) in [
        ("monkeywrench_http_upstream_responses_total", 10),
        ("monkeywrench_http_upstream_failures_total", 0),
        ("monkeywrench_http_upstream_up", 1),
    ] {
        for addr in &list {
            let line = format!("{series}{{proxy=\"rr\",upstream=\"{addr}\"}} {value}");
            assert!(metrics.contains(&line), "{line} in\n{metrics}");
        }
    }
    crate::harness::promtool_check(&metrics);
    // The same proxy from a comma list in `upstream`; a single upstream has no `upstreams`.
    let (_, p) = balanced(
        &s,
        json!({"name": "commas", "listen": "127.0.0.1:0", "upstream": format!("{}, {}", list[0], list[1]), "protocol": "http"}),
    )
    .await;
    assert_eq!(p["upstreams"], json!([list[0], list[1]]));
    let (_, p) = balanced(
        &s,
        json!({"name": "one", "listen": "127.0.0.1:0", "upstream": list[0], "protocol": "http"}),
    )
    .await;
    assert!(p.get("upstreams").is_none(), "{p}");
    // An update to the list restarts the proxy on the new upstreams.
    let (status, p) = s
        .json(
            "POST",
            "/proxies/one",
            Some(json!({"upstreams": [list[1], list[2]]})),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["upstream"], format!("{},{}", list[1], list[2]));
}

#[tokio::test]
async fn several_upstreams_are_refused_where_they_mean_nothing() {
    let s = Server::start(&[]).await;
    for (body, says) in [
        (
            json!({"name": "t", "listen": "127.0.0.1:0", "upstreams": ["127.0.0.1:1", "127.0.0.1:2"]}),
            "needs a proxy created with \"protocol\": \"http\"",
        ),
        (
            json!({"name": "t", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1", "upstreams": ["127.0.0.1:2"], "protocol": "http"}),
            "upstream and upstreams name different upstreams",
        ),
        (
            json!({"name": "t", "listen": "127.0.0.1:0", "upstreams": [1], "protocol": "http"}),
            "upstreams must be a list of host:port strings",
        ),
        (
            json!({"name": "t", "listen": "127.0.0.1:0", "upstreams": [], "protocol": "http"}),
            "missing required field: upstream",
        ),
        (
            json!({"name": "t", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1", "upstream_timeout_ms": -1, "protocol": "http"}),
            "upstream_timeout_ms must be a whole number",
        ),
    ] {
        let (status, e) = s.json("POST", "/proxies", Some(body.clone())).await;
        assert_eq!(status, 400, "{body} → {e}");
        assert!(e["error"].as_str().unwrap().contains(says), "{body} → {e}");
    }
    // A TCP proxy's upstream is Toxiproxy's: one string, as given, commas and all.
    let (status, p) = s
        .json(
            "POST",
            "/proxies",
            Some(json!({"name": "tcp", "listen": "127.0.0.1:0", "upstream": "a:1,b:2"})),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["upstream"], "a:1,b:2");
    assert!(p.get("upstreams").is_none(), "{p}");
}

#[tokio::test]
async fn an_upstream_killed_mid_traffic_costs_the_clients_no_errors() {
    let s = Server::start(&[]).await;
    let r = [replica("a").await, replica("b").await, replica("c").await];
    let list: Vec<&str> = r.iter().map(|r| r.addr.as_str()).collect();
    let (listen, _) = balanced(
        &s,
        json!({"name": "lb", "listen": "127.0.0.1:0", "upstreams": list, "protocol": "http"}),
    )
    .await;
    let stop = CancellationToken::new();
    let statuses = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (stop, statuses, url) = (stop.clone(), statuses.clone(), format!("http://{listen}/"));
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.is_cancelled() {
                let status = match client.get(&url).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                statuses.lock().unwrap().push(status);
            }
        }));
    }
    // Kill b once traffic flows through all three, then keep the traffic going a while.
    let flowing = |n: u64| r.iter().all(|r| r.served.load(Ordering::SeqCst) >= n);
    while !flowing(20) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    r[1].kill.cancel();
    let after = statuses.lock().unwrap().len();
    while statuses.lock().unwrap().len() < after + 300 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.cancel();
    for c in clients {
        c.await.unwrap();
    }
    let statuses = statuses.lock().unwrap().clone();
    let bad: Vec<&u16> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        bad.is_empty(),
        "{} of {} requests failed: {bad:?}",
        bad.len(),
        statuses.len()
    );
    let t = traffic(&s, "lb").await;
    let b = &t["upstreams"][1];
    assert!(b["failures"].as_u64().unwrap() >= 1, "{t}");
    assert!(b["ejections"].as_u64().unwrap() >= 1, "{t}");
    assert_eq!(t["http"]["status"]["5xx"], 0, "{t}");
    let served: u64 = t["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["responses"].as_u64().unwrap())
        .sum();
    assert_eq!(served, statuses.len() as u64, "{t}");
}

#[tokio::test]
async fn a_refused_dial_sends_even_a_post_on_and_a_frozen_upstream_times_out() {
    let s = Server::start(&[]).await;
    let live = replica("live").await;
    let dead = format!("127.0.0.1:{}", closed_port());
    // The first pick is the first upstream: a refused dial never sent anything, so even a POST
    // with a body goes on to the next.
    let (listen, _) = balanced(
        &s,
        json!({"name": "dial", "listen": "127.0.0.1:0", "upstreams": [dead, live.addr], "protocol": "http"}),
    )
    .await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("http://{listen}/"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "live");
    let t = traffic(&s, "dial").await;
    assert_eq!(t["upstreams"][0]["failures"], 1, "{t}");
    assert_eq!(t["http"]["retried"], 1, "{t}");

    // A frozen upstream sends no head: after upstream_timeout_ms a GET goes to the next one…
    let (listen, p) = balanced(
        &s,
        json!({"name": "frozen", "listen": "127.0.0.1:0", "upstreams": [frozen().await, live.addr],
               "upstream_timeout_ms": 200, "protocol": "http"}),
    )
    .await;
    assert_eq!(p["upstream_timeout_ms"], 200);
    let r = client
        .get(format!("http://{listen}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t = traffic(&s, "frozen").await;
    assert_eq!(t["upstreams"][0]["failures"], 1, "{t}");
    assert_eq!(t["upstreams"][1]["responses"], 1, "{t}");
    // … and with nowhere else to go the client gets a 504 that says why.
    let (listen, _) = balanced(
        &s,
        json!({"name": "alone", "listen": "127.0.0.1:0", "upstream": frozen().await,
               "upstream_timeout_ms": 200, "protocol": "http"}),
    )
    .await;
    let r = client
        .get(format!("http://{listen}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("sent no response head within 200 ms")
    );
}
