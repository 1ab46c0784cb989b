//! Headless Chromium (Debian's `chromium` and `chromium-driver`, see `scripts/browser-test-deps`)
//! driven through WebDriver with fantoccini. Shared by the report's tests and the dashboard's.
//!
//! `MONKEYWRENCH_TEST_CHROMEDRIVER` names the driver (default: `chromedriver` on PATH);
//! `MONKEYWRENCH_REQUIRE_BROWSER=1` turns a missing browser into a failure instead of a skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

/// A chromedriver process of our own on a free loopback port, killed when dropped.
pub(crate) struct Browser {
    driver: Child,
    /// The driver's base URL.
    url: String,
    pub(crate) client: Client,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session with a `width`×`height` window, or
    /// `None` (with a note) when no driver is installed and none is required.
    pub(crate) async fn start(width: u32, height: u32) -> Option<Browser> {
        let driver_path = std::env::var("MONKEYWRENCH_TEST_CHROMEDRIVER")
            .unwrap_or_else(|_| "chromedriver".into());
        let port = crate::harness::closed_port();
        let driver = match Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var("MONKEYWRENCH_REQUIRE_BROWSER").is_err(),
                    "chromedriver ({driver_path}) is required: {e}"
                );
                eprintln!("chromedriver not found ({e}); browser test skipped");
                return None;
            }
        };
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", format!("--window-size={width},{height}"),
            ]}),
        );
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let url = format!("http://127.0.0.1:{port}");
        // The driver takes a moment to listen; the session request is retried until it does.
        let mut last = None;
        for _ in 0..100 {
            // Plain HTTP to a loopback driver: no TLS stack needed.
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Some(Browser {
                        driver,
                        url,
                        client,
                    });
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver on {url} gave no session: {last:?}");
    }

    /// Opens a local file.
    pub(crate) async fn open_file(&self, path: &Path) {
        let url = format!("file://{}", path.canonicalize().unwrap().display());
        self.client.goto(&url).await.unwrap();
    }

    /// Runs `script` (a function body) and returns its value.
    pub(crate) async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// The browser console's errors since the page opened (Chromium's `browser` log, read
    /// through chromedriver's log endpoint, which fantoccini does not wrap).
    pub(crate) async fn console_errors(&self) -> Vec<String> {
        let session = self.client.session_id().await.unwrap().unwrap_or_default();
        let logs: Value = reqwest::Client::new()
            .post(format!("{}/session/{session}/se/log", self.url))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        logs["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["level"] == "SEVERE")
            .map(|l| l["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Sets the window to `width`×`height` and saves a PNG screenshot as a test artifact under
    /// `target/test-artifacts/`; returns its path.
    pub(crate) async fn screenshot(&self, name: &str, width: u32, height: u32) -> PathBuf {
        self.client.set_window_size(width, height).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let png = self.client.screenshot().await.unwrap();
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Ends the session and the driver.
    pub(crate) async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `target/test-artifacts/` of this workspace.
pub(crate) fn artifacts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts")
}
