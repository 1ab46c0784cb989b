//! The fault proxy run inside the caller's process (`proxy::serve` on a bound listener, as a
//! test or an embedding program does), driven through the one API client.

use std::time::Duration;

use monkeywrench::proxy::{ApiOptions, ProxyApi, Registry, serve};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::proxy::{echo_upstream, round_trip};

/// An in-process proxy API on 127.0.0.1:0; stopped when the guard drops.
async fn in_process() -> (ProxyApi, tokio_util::sync::DropGuard) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = ProxyApi::new(&format!("http://{}", listener.local_addr().unwrap()));
    let cancel = CancellationToken::new();
    tokio::spawn(serve(
        listener,
        Registry::new(42),
        ApiOptions::default(),
        cancel.clone(),
    ));
    (api, cancel.drop_guard())
}

#[tokio::test]
async fn a_toxic_with_a_ttl_is_removed_by_the_proxy_itself() {
    let (api, _stop) = in_process().await;
    let proxy = api
        .create_proxy(
            &json!({"name": "web", "listen": "127.0.0.1:0", "upstream": echo_upstream().await}),
        )
        .await
        .unwrap();
    let listen = proxy["listen"].as_str().unwrap().to_string();
    // Rate 0 holds every byte until the toxic goes, so the echo arriving is the proof it went.
    let added = api
        .add_toxic(
            "web",
            &json!({"name": "hold", "type": "bandwidth", "ttl": 0.3, "attributes": {"rate": 0}}),
        )
        .await
        .unwrap();
    assert!(added["expires_at_unix"].is_u64(), "{added}");
    let mut held = TcpStream::connect(&listen).await.unwrap();
    held.write_all(b"held").await.unwrap();
    let mut buf = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), held.read_exact(&mut buf))
        .await
        .expect("the held bytes were never released")
        .unwrap();
    assert_eq!(&buf, b"held", "held data is flushed when the toxic expires");
    assert_eq!(
        api.proxy("web").await.unwrap()["toxics"],
        json!([]),
        "no API call removed it: the proxy did"
    );
    assert!(matches!(
        api.toxic("web", "hold").await,
        Err(monkeywrench::proxy::ApiError::NotFound { .. })
    ));
    let mut fresh = TcpStream::connect(&listen).await.unwrap();
    assert_eq!(
        round_trip(&mut fresh, b"free").await,
        b"free",
        "new traffic is not affected"
    );
}

#[tokio::test]
async fn an_expiry_removes_only_the_toxic_it_was_set_for() {
    let (api, _stop) = in_process().await;
    api.create_proxy(
        &json!({"name": "web", "listen": "127.0.0.1:0", "upstream": echo_upstream().await}),
    )
    .await
    .unwrap();
    let timed =
        json!({"name": "slow", "type": "latency", "ttl": 0.3, "attributes": {"latency": 1}});
    api.add_toxic("web", &timed).await.unwrap();
    api.remove_toxic("web", "slow").await.unwrap();
    // Same name, no ttl: the first toxic's timer must leave it alone.
    let lasting = json!({"name": "slow", "type": "latency", "attributes": {"latency": 1}});
    api.add_toxic("web", &lasting).await.unwrap();
    // A second timed toxic expiring after the first one's timer shows that timer has fired.
    api.add_toxic(
        "web",
        &json!({"name": "marker", "type": "noop", "ttl": 0.6}),
    )
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while api.toxic("web", "marker").await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the marker never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(api.toxic("web", "slow").await.unwrap()["name"], "slow");
}
