//! `monkeywrench proxy serve`: a drop-in for `toxiproxy-server` (same API on port 8474).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;

use super::failure::Blameworthy;
use crate::exit_code;
use crate::http_serve::{self, ServeError};
use crate::proxy::{ApiOptions, Registry, serve};

/// `monkeywrench proxy …`.
#[derive(Debug, Args)]
pub(super) struct ProxyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ProxyCommand,
}

/// Proxy subcommands.
#[derive(Debug, Subcommand)]
pub(super) enum ProxyCommand {
    /// Run the Toxiproxy-compatible server (Go-style `-host=`, `-port` spellings accepted).
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// toxiproxy-cli's commands (list, inspect, create, toggle, delete, toxic add/update/remove).
    #[command(disable_help_flag = true)]
    Cli(super::proxy_client::ClientArgs),
}

/// What `proxy serve --help` adds after the options.
const SERVE_HELP: &str = "\
Proxies are TCP by default. \"protocol\": \"http\" in a proxy's JSON (POST /proxies, /populate,
--config) makes an http proxy: it measures every request (GET /proxies/{name}/traffic?window_s=10:
rps, error rate, p50/p95/p99, per route) and takes HTTP toxics (http_status, http_abort,
http_delay, http_truncate, http_corrupt) aimed by route, method, header or sampled user.
Example: {\"name\": \"shop\", \"listen\": \"127.0.0.1:8080\", \"upstream\": \"127.0.0.1:9090\",
\"protocol\": \"http\", \"routes\": [{\"name\": \"user\", \"method\": \"GET\", \"path\": \"/users/{id}\"}]}
MONKEYWRENCH_WORKER_THREADS=N sets the runtime's worker threads.";

/// Options of `proxy serve`.
#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Address the API binds (loopback by default; anything else needs --auth-token).
    #[arg(long, default_value = "localhost")]
    pub host: String,
    /// API port.
    #[arg(long, default_value_t = 8474)]
    pub port: u16,
    /// A populate-format JSON file applied before the API listens; an invalid file aborts startup.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Seed for every random choice (toxicity, jitter, slicer); time-based by default.
    #[arg(long)]
    pub seed: Option<i64>,
    /// Serve byte counters (and http proxies' request counts and latencies) at GET /metrics.
    #[arg(long)]
    pub proxy_metrics: bool,
    /// Serve process metrics at GET /metrics.
    #[arg(long)]
    pub runtime_metrics: bool,
    /// Print `toxiproxy-server version …` and exit.
    #[arg(long)]
    pub version: bool,
    /// Require `Authorization: Bearer <token>` on every API call (env MONKEYWRENCH_PROXY_TOKEN).
    #[arg(long, env = "MONKEYWRENCH_PROXY_TOKEN")]
    pub auth_token: Option<String>,
}

/// Rewrites Go-style flags (`-host=0.0.0.0`, `-port 8474`) that Toxiproxy's image passes.
pub(super) fn go_style_flags(args: Vec<String>) -> Vec<String> {
    const GO_FLAGS: [&str; 7] = [
        "host",
        "port",
        "config",
        "seed",
        "proxy-metrics",
        "runtime-metrics",
        "version",
    ];
    if !(args.get(1).map(String::as_str) == Some("proxy")
        && args.get(2).map(String::as_str) == Some("serve"))
    {
        return args;
    }
    args.into_iter()
        .map(|a| {
            let bare = a.strip_prefix('-').filter(|r| !r.starts_with('-'));
            match bare {
                Some(rest) if GO_FLAGS.contains(&rest.split('=').next().unwrap_or("")) => {
                    format!("-{a}")
                }
                _ => a,
            }
        })
        .collect()
}

pub(super) async fn execute(args: ProxyArgs) -> anyhow::Result<i32> {
    match args.command {
        ProxyCommand::Serve(a) => serve_command(a).await,
        ProxyCommand::Cli(a) => super::proxy_client::execute(a).await,
    }
}

async fn serve_command(args: ServeArgs) -> anyhow::Result<i32> {
    if args.version {
        println!(
            "toxiproxy-server version {} (monkeywrench {})",
            crate::proxy::api::TOXIPROXY_VERSION,
            env!("CARGO_PKG_VERSION")
        );
        return Ok(exit_code::OK);
    }
    // Checked before the config is applied (a refused address starts nothing), bound after it.
    let addr = format!("{}:{}", args.host, args.port);
    let resolved = match http_serve::resolve(&addr, args.auth_token.as_deref()).await {
        Ok(r) => r,
        Err(ServeError::TokenRequired { .. }) => {
            eprintln!(
                "monkeywrench proxy: binding {} beyond loopback needs --auth-token (or MONKEYWRENCH_PROXY_TOKEN)",
                args.host
            );
            return Ok(exit_code::USAGE);
        }
        Err(e) => return Err(e.into()),
    };
    let seed = args.seed.map(|s| s as u64).unwrap_or_else(rand::random);
    eprintln!("monkeywrench proxy: seed {seed}");
    // LOG_LEVEL as Toxiproxy reads it: info (the default) and below log each accepted client.
    let level = std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let log_clients = matches!(
        level.to_ascii_lowercase().as_str(),
        "trace" | "debug" | "info"
    );
    let registry = Registry::new(seed).with_client_log(log_clients);
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .or_usage(|| format!("read the config {}", path.display()))?;
        let value: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("monkeywrench proxy: {}: invalid JSON: {e}", path.display());
                return Ok(exit_code::USAGE);
            }
        };
        if let Err((e, _)) = registry.populate(&value).await {
            eprintln!("monkeywrench proxy: {}: {}", path.display(), e.message);
            return Ok(exit_code::USAGE);
        }
    }
    let listener = tokio::net::TcpListener::bind(&resolved[..])
        .await
        .with_context(|| format!("listen on {addr}"))?;
    eprintln!(
        "monkeywrench proxy: API listening on {}",
        listener.local_addr()?
    );
    let cancel = CancellationToken::new();
    let options = ApiOptions {
        token: args.auth_token,
        proxy_metrics: args.proxy_metrics,
        runtime_metrics: args.runtime_metrics,
    };
    let server = tokio::spawn(serve(listener, registry.clone(), options, cancel.clone()));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    cancel.cancel();
    registry.shutdown().await;
    let _ = server.await;
    Ok(exit_code::OK)
}
