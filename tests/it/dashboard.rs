//! The dashboard of the real `monkeywrench server` on 127.0.0.1:0, in headless Chromium (Debian's
//! `chromium` and `chromium-driver`, see `browser.rs`): every page loads without a console error
//! at 1280×800 and at a phone's 375 px (screenshots in `target/test-artifacts/dashboard-*.png`),
//! a browser signs in with the token once, a run started with **Run now** grows its chart while
//! it runs, the monkey's page shows the server's monkey. The halt's tests are in
//! `dashboard_halt.rs`.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::harness::{TempDir, wait_until, write};
use crate::server_harness::{NEVER, PASSING, PATIENCE, Server, Victim, raw_request};

/// Polls `script` (a function body) until `ok` holds for its value; the last value.
pub(crate) async fn wait_js(browser: &Browser, script: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let v = browser.eval(script).await;
        if ok(&v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never true: {script} (last {v})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn click(browser: &Browser, css: &str) {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Screenshots of the page at 1280×800 and 375×800; at the phone's width the page must not
/// scroll sideways (wide tables scroll inside their own box).
pub(crate) async fn screenshots(browser: &Browser, name: &str) {
    browser
        .screenshot(&format!("dashboard-{name}-1280x800"), 1280, 800)
        .await;
    browser
        .screenshot(&format!("dashboard-{name}-375x800"), 375, 800)
        .await;
    let widths = browser
        .eval("return [document.documentElement.scrollWidth, window.innerWidth];")
        .await;
    assert!(
        widths[0].as_f64().unwrap() <= widths[1].as_f64().unwrap(),
        "{name}: no sideways scrolling at phone width: {widths}"
    );
    browser.client.set_window_size(1280, 800).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_loads_without_console_errors_behind_a_token_at_laptop_and_phone_width() {
    let Some(browser) = Browser::start(1280, 800).await else {
        return;
    };
    let dir = TempDir::new("dash-pages");
    // A real http proxy in front of the demo service, with some traffic through it.
    let (service, cancel, service_thread) = crate::demo::start_service();
    let proxy_api = crate::proxy::Server::start(&[]).await;
    let (status, p) = proxy_api
        .json(
            "POST",
            "/proxies",
            Some(
                json!({"name": "shop", "listen": "127.0.0.1:0", "protocol": "http",
                        "upstream": service.trim_start_matches("http://")}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    let listen = p["listen"].as_str().unwrap().to_string();
    let client = reqwest::Client::new();
    for _ in 0..30 {
        client
            .get(format!("http://{listen}/api/items"))
            .send()
            .await
            .unwrap();
    }
    write(dir.path(), "a.json", PASSING);
    write(
        dir.path(),
        "server.yaml",
        &format!(
            "experiments:\n  - {{name: alpha, file: a.json, schedule: {NEVER}}}\nproxies:\n  - {{url: '{}', name: local}}\n",
            proxy_api.base
        ),
    );
    let mut server = tokio::task::block_in_place(|| {
        Server::start(
            dir.path(),
            "server.yaml",
            &[("MONKEYWRENCH_AUTH_TOKEN", "s3 cret")],
        )
    });
    let addr = server.addr.clone();
    let auth = [("Authorization", "Bearer s3 cret")];
    tokio::task::block_in_place(|| {
        let (status, _, body) =
            raw_request(&addr, "POST", "/api/experiments/alpha/runs", "", &auth);
        assert_eq!(status, 202, "{body}");
        let id = serde_json::from_str::<Value>(&body).unwrap()["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(wait_until(PATIENCE, || {
            raw_request(&addr, "GET", &format!("/api/runs/{id}"), "", &auth)
                .2
                .contains("\"completed\"")
        }));
        // Without the token: the API's JSON 401, a browser's page a form asking for it.
        let (status, _, body) = raw_request(&addr, "GET", "/api/experiments", "", &[]);
        assert_eq!(status, 401, "{body}");
        let (status, head, body) = raw_request(&addr, "GET", "/", "", &[("Accept", "text/html")]);
        assert_eq!(status, 401, "{head}");
        assert!(body.contains("name=\"token\""), "{body}");
        // The token once in the address: a redirect without it, setting the cookie.
        let (status, head, _) = raw_request(&addr, "GET", "/ledger?token=s3+cret", "", &[]);
        assert_eq!(status, 303, "{head}");
        assert!(head.contains("location: /ledger\r\n"), "{head}");
        let cookie = head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .expect("a cookie")
            .split(';')
            .next()
            .unwrap()
            .to_string();
        assert!(!cookie.contains("s3"), "a digest, not the token: {cookie}");
        let (status, _, _) = raw_request(&addr, "GET", "/", "", &[("Cookie", &cookie)]);
        assert_eq!(status, 200);
        // A change with the cookie from another site's page is refused.
        let (status, _, _) = raw_request(
            &addr,
            "POST",
            "/api/halt",
            "",
            &[("Cookie", &cookie), ("Origin", "http://evil.example")],
        );
        assert_eq!(status, 401);
    });

    browser
        .client
        .goto(&format!("http://{addr}/?token=s3%20cret"))
        .await
        .unwrap();
    assert_eq!(
        browser.client.current_url().await.unwrap().as_str(),
        format!("http://{addr}/"),
        "the token is gone from the address"
    );
    let rows = browser
        .eval("return document.querySelectorAll('table.runs tbody tr').length;")
        .await;
    assert_eq!(rows, 1, "the run is listed");
    let nav = browser
        .eval("return document.querySelector('nav.main').textContent;")
        .await;
    assert!(
        !nav.as_str().unwrap().contains("Monkey"),
        "no monkey here: {nav}"
    );
    // Keyboard: Tab reaches the skip link then the links, each with a visible focus ring; the
    // halt dialog opens with Enter, its reason field focused, and Escape closes it.
    browser
        .client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("\u{E004}\u{E004}")
        .await
        .unwrap();
    let focus = browser
        .eval("const a = document.activeElement; return [a.tagName, a.textContent, getComputedStyle(a).outlineStyle];")
        .await;
    assert_eq!(focus[0], "A", "{focus}");
    assert_ne!(focus[2], "none", "focus is visible: {focus}");
    browser
        .eval("document.querySelector('header.top [data-open=halt-dialog]').focus(); return null;")
        .await;
    browser
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    let dialog = wait_js(
        &browser,
        "return [document.getElementById('halt-dialog').open, document.activeElement.id];",
        |v| v[0] == true,
    )
    .await;
    assert_eq!(dialog[1], "halt-reason", "{dialog}");
    browser
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{E00C}")
        .await
        .unwrap();
    wait_js(
        &browser,
        "return document.getElementById('halt-dialog').open;",
        |v| v == &json!(false),
    )
    .await;
    screenshots(&browser, "runs").await;
    // The filters: no failed run.
    browser
        .client
        .find(Locator::Css("select[name=status]"))
        .await
        .unwrap()
        .select_by_value("failed")
        .await
        .unwrap();
    click(&browser, "form.filters button[type=submit]").await;
    wait_js(
        &browser,
        "return new URLSearchParams(location.search).get('status') === 'failed' && document.getElementById('runs').textContent;",
        |v| v.as_str().is_some_and(|t| t.contains("No runs match")),
    )
    .await;

    browser
        .client
        .goto(&format!("http://{addr}/experiments"))
        .await
        .unwrap();
    let card = browser
        .eval("return document.querySelector('article[data-experiment=alpha]').textContent;")
        .await;
    assert!(card.as_str().unwrap().contains("passed"), "{card}");
    // Pause the schedule and resume it, from its card.
    let card = "article[data-experiment=alpha]";
    click(&browser, &format!("{card} button[data-post$='/pause']")).await;
    wait_js(
        &browser,
        "return document.querySelectorAll(\"article[data-experiment=alpha] button[data-post$='/resume']\").length;",
        |v| v == &json!(1),
    )
    .await;
    let (_, _, body) = tokio::task::block_in_place(|| {
        raw_request(&addr, "GET", "/api/experiments/alpha", "", &auth)
    });
    assert!(body.contains("\"paused\": true"), "{body}");
    click(&browser, &format!("{card} button[data-post$='/resume']")).await;
    wait_js(
        &browser,
        "return document.querySelectorAll(\"article[data-experiment=alpha] button[data-post$='/pause']\").length;",
        |v| v == &json!(1),
    )
    .await;
    screenshots(&browser, "experiments").await;

    browser
        .client
        .goto(&format!("http://{addr}/traffic"))
        .await
        .unwrap();
    // The server reads the proxy API every 2 s; the part refreshes itself.
    let shop = wait_js(
        &browser,
        "const r = document.querySelector('tr[data-proxy=shop]'); return r ? [r.textContent, r.querySelectorAll('svg.spark').length] : null;",
        |v| v.is_array(),
    )
    .await;
    assert_eq!(shop[1], 3, "rps, error rate and p99 sparklines: {shop}");
    assert!(shop[0].as_str().unwrap().contains(&listen), "{shop}");
    let (status, _, body) =
        tokio::task::block_in_place(|| raw_request(&addr, "GET", "/api/traffic", "", &auth));
    assert_eq!(status, 200);
    let traffic: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(traffic["sources"][0]["name"], "local", "{traffic:#}");
    assert!(
        traffic["sources"][0]["proxies"]["shop"]["latest"]["http"]["requests"]
            .as_u64()
            .unwrap()
            >= 30,
        "{traffic:#}"
    );
    screenshots(&browser, "traffic").await;

    browser
        .client
        .goto(&format!("http://{addr}/ledger"))
        .await
        .unwrap();
    let state = browser
        .eval("return document.getElementById('halt-state').textContent;")
        .await;
    assert!(state.as_str().unwrap().contains("not halted"), "{state}");
    screenshots(&browser, "ledger").await;

    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    browser.close().await;
    cancel.cancel();
    service_thread.join().unwrap();
    assert_eq!(
        tokio::task::block_in_place(|| server.stop()),
        Some(0),
        "{}",
        server.log()
    );
}

/// An experiment measured continuously (every 0.3 s) against `url` while its method waits for
/// `release`.
fn measured_experiment(url: &str, release: &std::path::Path) -> String {
    format!(
        r#"{{"title": "measured while it waits", "description": "d",
            "runtime": {{"hypothesis": {{"strategy": "continuously", "frequency": 0.3}}}},
            "steady-state-hypothesis": {{"title": "error-free", "probes": [
              {{"type": "probe", "name": "items", "tolerance": {{"type": "range", "range": [0, 0.01], "target": "error_rate"}},
                "provider": {{"type": "builtin", "func": "http.measure", "arguments": {{"url": "{url}/api/items", "requests": 5, "concurrency": 1}}}}}}]}},
            "method": [{{"type": "action", "name": "wait", "provider": {{"type": "process", "path": "sh",
              "arguments": ["-c", "while [ ! -f {} ]; do sleep 0.05; done"]}}}}]}}"#,
        release.display()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_started_with_run_now_grows_its_chart_while_it_runs() {
    let Some(browser) = Browser::start(1280, 800).await else {
        return;
    };
    let dir = TempDir::new("dash-live");
    let (service, cancel, service_thread) = crate::demo::start_service();
    let release = dir.path().join("release");
    write(
        dir.path(),
        "measured.json",
        &measured_experiment(&service, &release),
    );
    write(
        dir.path(),
        "server.yaml",
        &format!("experiments:\n  - {{name: measured, file: measured.json, schedule: {NEVER}}}\n"),
    );
    let mut server = tokio::task::block_in_place(|| Server::start(dir.path(), "server.yaml", &[]));
    let addr = server.addr.clone();
    browser
        .client
        .goto(&format!("http://{addr}/experiments"))
        .await
        .unwrap();
    click(&browser, "article[data-experiment=measured] button.primary").await;
    // Run now opens the new run's page.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !browser
        .client
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/runs/")
    {
        assert!(tokio::time::Instant::now() < deadline, "no run page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let points = "return document.querySelectorAll('#live svg.timeline circle.pt').length;";
    let first = wait_js(&browser, points, |v| v.as_u64().unwrap_or(0) >= 1).await;
    let first = first.as_u64().unwrap();
    // Still running (it waits for its release file), and the chart has grown.
    let later = wait_js(&browser, points, |v| v.as_u64().unwrap_or(0) > first).await;
    assert!(!release.exists());
    eprintln!("points: {first} then {later}");
    browser
        .eval("document.getElementById('timelines').scrollIntoView(); return null;")
        .await;
    screenshots(&browser, "run-live").await;
    std::fs::write(&release, "").unwrap();
    let outcome = wait_js(
        &browser,
        "const o = document.querySelector('#verdict .outcome'); return o && o.textContent;",
        |v| v.as_str().is_some_and(|t| t.contains("completed")),
    )
    .await;
    assert!(outcome.as_str().unwrap().starts_with("passed"), "{outcome}");
    wait_js(
        &browser,
        "return document.querySelectorAll('button[data-post$=\"/abort\"]').length;",
        |v| v == &json!(0),
    )
    .await;
    browser.eval("window.scrollTo(0, 0); return null;").await;
    screenshots(&browser, "run").await;
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    browser.close().await;
    cancel.cancel();
    service_thread.join().unwrap();
    assert_eq!(
        tokio::task::block_in_place(|| server.stop()),
        Some(0),
        "{}",
        server.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_monkey_page_shows_the_servers_monkey_its_plan_and_groups() {
    let Some(browser) = Browser::start(1280, 800).await else {
        return;
    };
    let dir = TempDir::new("dash-monkey");
    let victim = Victim::start();
    write(
        dir.path(),
        "monkey.yaml",
        &format!(
            "name: beside\nenabled: true\ndocker: false\nmean_time_between_kills_in_work_days: 1\n\
             processes:\n  - {{pattern: '{}', app: billing}}\n",
            victim.marker
        ),
    );
    write(
        dir.path(),
        "server.yaml",
        "experiments: []\nmonkey: monkey.yaml\n",
    );
    let mut server = tokio::task::block_in_place(|| Server::start(dir.path(), "server.yaml", &[]));
    let addr = server.addr.clone();
    browser
        .client
        .goto(&format!("http://{addr}/"))
        .await
        .unwrap();
    click(&browser, "nav.main a[href='/monkey']").await;
    let page = wait_js(
        &browser,
        "const s = document.getElementById('monkey'); return s && [s.textContent, document.querySelectorAll('#monkey-groups tbody tr').length];",
        |v| v.is_array(),
    )
    .await;
    let text = page[0].as_str().unwrap();
    assert!(
        text.contains("leashed"),
        "leashed unless the file says not: {text}"
    );
    assert!(text.contains("Today's plan"), "{text}");
    assert_eq!(page[1], 1, "one eligible group: {page}");
    assert!(
        text.contains("billing//") && text.contains(r#""app":"billing""#),
        "the opted-in victim's group: {text}"
    );
    screenshots(&browser, "monkey").await;
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
