//! **Halt** in the dashboard of the real `monkeywrench server`: pressed on the ledger page (with
//! its confirmation and reason) it restores a victim process frozen by a running experiment and
//! the page shows the revert; and `POST /api/halt` answers, and the victim runs again, while
//! another writer holds the store's SQLite write lock.

use fantoccini::Locator;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::dashboard::{click, screenshots, wait_js};
use crate::harness::{TempDir, wait_until, write};
use crate::server_harness::{NEVER, PATIENCE, Server, Victim, blocked_experiment, run_now};

/// A server whose experiment `blocked` freezes `victim` (process.stop) and then waits.
fn freezing_server(dir: &TempDir, victim: &Victim) -> Server {
    write(
        dir.path(),
        "blocked.json",
        &blocked_experiment(&dir.path().join("release"), Some(&victim.marker)),
    );
    write(
        dir.path(),
        "server.yaml",
        &format!("experiments:\n  - {{name: blocked, file: blocked.json, schedule: {NEVER}}}\n"),
    );
    Server::start(dir.path(), "server.yaml", &[])
}

#[tokio::test(flavor = "multi_thread")]
async fn halt_on_the_ledger_page_restores_the_frozen_victim_and_the_page_shows_it() {
    let Some(browser) = Browser::start(1280, 800).await else {
        return;
    };
    let dir = TempDir::new("dash-halt");
    let victim = Victim::start();
    let mut server = tokio::task::block_in_place(|| freezing_server(&dir, &victim));
    let id = tokio::task::block_in_place(|| {
        let id = run_now(&server, "blocked");
        assert!(
            wait_until(PATIENCE, || victim.stopped()),
            "{}",
            server.log()
        );
        id
    });
    let addr = server.addr.clone();
    browser
        .client
        .goto(&format!("http://{addr}/ledger"))
        .await
        .unwrap();
    let lease = wait_js(
        &browser,
        "const r = document.querySelector('#active-leases tbody tr'); return r && r.textContent;",
        |v| v.is_string(),
    )
    .await;
    assert!(lease.as_str().unwrap().contains("process.stop"), "{lease}");
    screenshots(&browser, "ledger-active").await;
    click(&browser, "#ledger-halt").await;
    browser
        .client
        .find(Locator::Css("#halt-reason"))
        .await
        .unwrap()
        .send_keys("game day over")
        .await
        .unwrap();
    click(&browser, "#halt-confirm").await;
    assert!(
        tokio::task::block_in_place(|| wait_until(PATIENCE, || !victim.stopped())),
        "the halt restored the victim: {}",
        server.log()
    );
    let shown = wait_js(
        &browser,
        "const s = document.getElementById('halt-state'); const c = document.getElementById('closed-leases');
         return s && c ? [s.textContent, c.textContent, document.querySelectorAll('#active-leases tbody tr').length] : null;",
        |v| {
            v.is_array()
                && v[0].as_str().unwrap().contains("game day over")
                && v[1].as_str().unwrap().contains("reverted")
                && v[2] == 0
        },
    )
    .await;
    assert!(
        shown[1].as_str().unwrap().contains("process.stop"),
        "{shown}"
    );
    screenshots(&browser, "ledger-halted").await;
    tokio::task::block_in_place(|| {
        server.run_until(&id, |r| r["status"] == "interrupted");
    });
    // Resume, confirmed in its dialog.
    click(&browser, "#ledger-resume").await;
    click(&browser, "#resume-confirm").await;
    wait_js(
        &browser,
        "const s = document.getElementById('halt-state'); return s && s.textContent;",
        |v| v.as_str().is_some_and(|t| t.contains("not halted")),
    )
    .await;
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    browser.close().await;
    assert_eq!(
        tokio::task::block_in_place(|| server.stop()),
        Some(0),
        "{}",
        server.log()
    );
    assert!(!victim.stopped());
}

#[tokio::test(flavor = "multi_thread")]
async fn halt_answers_and_restores_the_victim_while_another_writer_holds_the_store() {
    use sqlx::Connection;
    let dir = TempDir::new("dash-slow");
    let victim = Victim::start();
    let mut server = tokio::task::block_in_place(|| freezing_server(&dir, &victim));
    tokio::task::block_in_place(|| {
        run_now(&server, "blocked");
        assert!(
            wait_until(PATIENCE, || victim.stopped()),
            "{}",
            server.log()
        );
    });
    // Another writer takes SQLite's write lock and keeps it until the halt has answered.
    let db = dir.path().join("state/ledger.db");
    let mut writer = sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut writer)
        .await
        .unwrap();
    let addr = server.addr.clone();
    let (status, body) = tokio::task::spawn_blocking(move || {
        crate::server_harness::request(&addr, "POST", "/api/halt", r#"{"reason": "slow store"}"#)
    })
    .await
    .unwrap();
    assert_eq!(
        status, 202,
        "answered before the store took the halt: {body:#}"
    );
    assert_eq!(body["reverting"], true, "{body:#}");
    assert_eq!(
        body["interrupted_runs"].as_array().unwrap().len(),
        1,
        "{body:#}"
    );
    // The world is reverted while the store is still locked: the revert only read it.
    assert!(
        tokio::task::block_in_place(|| wait_until(PATIENCE, || !victim.stopped())),
        "{}",
        server.log()
    );
    let (status, ledger) = tokio::task::block_in_place(|| server.get("/api/ledger"));
    assert_eq!(status, 200, "reads go on meanwhile: {ledger:#}");
    sqlx::query("ROLLBACK").execute(&mut writer).await.unwrap();
    writer.close().await.unwrap();
    // Then the switch and the outcomes are recorded.
    tokio::task::block_in_place(|| {
        let mut last = Value::Null;
        let recorded = wait_until(PATIENCE, || {
            last = server.get("/api/ledger").1;
            last["halted"]["reason"] == "slow store" && last["leases"] == json!([])
        });
        assert!(recorded, "{last:#}\n{}", server.log());
        assert_eq!(server.post("/api/resume", "").0, 200);
        assert_eq!(server.stop(), Some(0), "{}", server.log());
    });
    assert!(!victim.stopped());
}
