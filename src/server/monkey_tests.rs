//! A server that names a monkey runs it beside its schedules, on the same clock and store: a
//! real child process is killed at the planned minute, and the API and /metrics tell it.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::config::{self, LoadConfig};
use super::daemon::{Options, Server};
use crate::monkey::clock::Clock;
use crate::monkey::history::{self, Filter};
use crate::monkey::tests::Herd;
use crate::store::StoreLocation;

/// `GET path` over a plain connection: (status, body).
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

#[tokio::test]
async fn the_servers_monkey_kills_at_the_planned_minute_and_the_api_shows_its_day() {
    let mut herd = Herd::start(2);
    let dir = super::tests::tempdir();
    std::fs::write(
        dir.join("monkey.yaml"),
        format!(
            "name: beside\nenabled: true\nleashed: false\ndocker: false\ntime_zone: UTC\n\
             start_hour: 9\nend_hour: 15\nmean_time_between_kills_in_work_days: 1\n\
             min_time_between_kills_in_work_days: 0\n\
             processes:\n  - {{pattern: '{}', app: billing}}\n",
            herd.marker
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("server.yaml"),
        "experiments: []\nmonkey: monkey.yaml\n",
    )
    .unwrap();
    // Monday 2026-11-30, simulated until the evening: the monkey's day passes in milliseconds.
    let (start, end) = (
        super::tests::ts("2026-11-30T06:00:00Z"),
        super::tests::ts("2026-11-30T20:00:00Z"),
    );
    let options = LoadConfig {
        token_given: false,
        now: start,
    };
    let config = config::load(&dir.join("server.yaml"), &options)
        .await
        .unwrap();
    let server = Server::open(
        Options {
            config,
            location: StoreLocation::Sqlite(dir.join("ledger.db")),
            state_dir: dir.clone(),
            exe: "/bin/false".into(),
            config_dir: dir.clone(),
            token: None,
        },
        Clock::simulated(start, Some(end)),
    )
    .await
    .unwrap();
    let shared = server.shared();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn(server.run(listener, None, Vec::new(), stop.clone()));

    let store = shared.store.clone();
    let killed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let h = history::list(&store, &Filter::default()).await.unwrap();
            if h.iter().any(|e| e.outcome == "killed") {
                return h;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the monkey killed within 30 s of simulated day");
    assert_eq!(killed.len(), 1, "one kill per group and day: {killed:#?}");
    assert_eq!(killed[0].planned_at.as_deref(), Some(killed[0].at.as_str()));
    assert!(("2026-11-30T09:00".."2026-11-30T15:00").contains(&&killed[0].at[..16]));
    for _ in 0..500 {
        if herd.alive() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(herd.alive(), 1, "kill mode one: one of the two processes");

    let (status, body) = get(addr, "/api/monkey").await;
    assert_eq!(status, 200, "{body}");
    let state: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(state["config"]["enabled"], true);
    assert_eq!(state["plan"]["date"], "2026-11-30");
    assert_eq!(
        state["plan"]["kills"][0]["group"], "billing//",
        "grouping cluster"
    );
    assert_eq!(state["plan"]["kills"][0]["done"], true);
    assert_eq!(state["today"][0]["outcome"], "killed");
    assert_eq!(state["groups"][0]["instances"].as_array().unwrap().len(), 1);
    let (status, metrics) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l == "monkeywrench_monkey_kills_total{outcome=\"killed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("monkeywrench_server_halted 0"),
        "{metrics}"
    );
    stop.cancel();
    running.await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
