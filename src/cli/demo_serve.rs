//! `monkeywrench demo --serve`: after the runs, `monkeywrench server` in this process — its store
//! the demo's, the demo's experiments configured (with their variables, so "Run now" works while
//! the replicas, the proxy and the load are still up), the demo's proxy known to it — until
//! Ctrl-C (SIGINT or SIGTERM).

use std::path::Path;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::demo::EXPERIMENTS;
use crate::demo::stage::Stage;
use crate::server::config::{self, ConfigError, LoadConfig};
use crate::server::daemon::{Options, Server};
use crate::store::StoreLocation;

/// The demo's `server.yaml`: each experiment on a yearly schedule (it is there for "Run now"),
/// with `proxies` when `with_proxies`.
fn config_text(stage: &Stage, with_proxies: bool) -> String {
    let mut text = String::from(
        "# Written by `monkeywrench demo --serve`: the demo's experiments, for \"Run now\".\n",
    );
    if with_proxies {
        text.push_str(&format!("proxies: [\"{}\"]\n", stage.api));
    }
    text.push_str("experiments:\n");
    for (name, _, _) in EXPERIMENTS {
        text.push_str(&format!(
            "  - name: {}\n    file: {name}\n    schedule: {{cron: \"0 3 1 1 *\"}}\n    variables: {{proxy_api: \"{}\", demo_pid: {}}}\n",
            name.trim_end_matches(".yaml"),
            stage.api,
            std::process::id()
        ));
    }
    text
}

/// Serves the dashboard on `listen` until `stop`.
pub(super) async fn serve(
    listen: &str,
    dir: &Path,
    stage: &Stage,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let options = LoadConfig {
        token_given: false,
        now: jiff::Timestamp::now(),
    };
    let path = dir.join("server.yaml");
    let mut text = config_text(stage, true);
    let format = crate::experiment::source::Format::of_path(&path);
    let file = path.display().to_string();
    let config = match config::parse(&text, format, &file, dir, &options).await {
        Ok(c) => c,
        // A server without the `proxies` key (the dashboard's traffic panel) still serves the
        // rest.
        Err(ConfigError::Invalid(d)) if d.iter().any(|d| d.to_string().contains("proxies")) => {
            text = config_text(stage, false);
            config::parse(&text, format, &file, dir, &options).await?
        }
        Err(e) => return Err(e.into()),
    };
    std::fs::write(&path, &text).with_context(|| format!("write {}", path.display()))?;
    let state_dir = dir.join("state");
    let listener = crate::http_serve::bind(listen, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let server = Server::open(
        Options {
            config,
            location: StoreLocation::Sqlite(state_dir.join("ledger.db")),
            state_dir,
            exe: std::env::current_exe().context("find the monkeywrench binary")?,
            config_dir: dir.to_path_buf(),
            token: None,
        },
        crate::monkey::clock::Clock::System,
    )
    .await?;
    let addr = listener.local_addr()?;
    eprintln!(
        "\nDashboard: http://{addr}/ (runs, reports, \"Run now\", the ledger with Halt; server config {}). Ctrl-C stops everything.",
        path.display()
    );
    server.run(listener, None, Vec::new(), stop.clone()).await;
    eprintln!("dashboard stopped");
    Ok(())
}
