//! `monkeywrench proxy cli …`: toxiproxy-cli's commands and output against any
//! Toxiproxy-compatible API (ours or Toxiproxy's).

use std::io::IsTerminal;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::exit_code;
use crate::proxy::{ApiError, ProxyApi};

/// Options of `proxy cli`.
#[derive(Debug, Args)]
pub(super) struct ClientArgs {
    /// API URL (env TOXIPROXY_URL); `http://` is added when missing.
    #[arg(
        long = "host",
        short = 'h',
        env = "TOXIPROXY_URL",
        default_value = "http://localhost:8474"
    )]
    pub host: String,
    /// Bearer token for a server started with --auth-token (env MONKEYWRENCH_PROXY_TOKEN).
    #[arg(long, env = "MONKEYWRENCH_PROXY_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Print help (`-h` is the host, as in toxiproxy-cli).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// What to do.
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// toxiproxy-cli commands.
#[derive(Debug, Subcommand)]
pub(super) enum ClientCommand {
    /// List proxies.
    #[command(visible_aliases = ["l", "li", "ls"])]
    List,
    /// Show a proxy and its toxics.
    #[command(visible_aliases = ["i", "ins"])]
    Inspect {
        /// Proxy name.
        proxy: String,
    },
    /// Create a proxy.
    #[command(visible_aliases = ["c", "new"])]
    Create {
        /// Address to listen on.
        #[arg(long, short = 'l')]
        listen: String,
        /// Upstream address.
        #[arg(long, short = 'u')]
        upstream: String,
        /// Proxy name.
        proxy: String,
    },
    /// Enable a disabled proxy, disable an enabled one.
    #[command(visible_alias = "tog")]
    Toggle {
        /// Proxy name.
        proxy: String,
    },
    /// Delete a proxy.
    #[command(visible_alias = "d")]
    Delete {
        /// Proxy name.
        proxy: String,
    },
    /// Add, update or remove toxics.
    #[command(visible_alias = "t", subcommand)]
    Toxic(ToxicCommand),
}

/// `toxic` subcommands.
#[derive(Debug, Subcommand)]
pub(super) enum ToxicCommand {
    /// Add a toxic.
    #[command(visible_alias = "a")]
    Add {
        /// Toxic type.
        #[arg(long = "type", short = 't')]
        kind: String,
        /// Toxic name (default TYPE_STREAM).
        #[arg(long = "toxicName", short = 'n')]
        name: Option<String>,
        /// Share of connections, 0–1.
        #[arg(long = "toxicity", visible_alias = "tox", default_value_t = 1.0)]
        toxicity: f64,
        /// Client → server.
        #[arg(long, short = 'u')]
        upstream: bool,
        /// Server → client (default).
        #[arg(long, short = 'd')]
        downstream: bool,
        /// key=value (repeatable).
        #[arg(long = "attribute", short = 'a')]
        attributes: Vec<String>,
        /// Proxy name.
        proxy: String,
    },
    /// Update a toxic (toxicity kept unless --tox is given).
    #[command(visible_alias = "u")]
    Update {
        /// Toxic name.
        #[arg(long = "toxicName", short = 'n')]
        name: String,
        /// New toxicity.
        #[arg(long = "toxicity", visible_alias = "tox")]
        toxicity: Option<f64>,
        /// key=value (repeatable).
        #[arg(long = "attribute", short = 'a')]
        attributes: Vec<String>,
        /// Proxy name.
        proxy: String,
    },
    /// Remove a toxic.
    #[command(visible_aliases = ["r", "delete", "d"])]
    Remove {
        /// Toxic name.
        #[arg(long = "toxicName", short = 'n')]
        name: String,
        /// Proxy name.
        proxy: String,
    },
}

/// Runs the command; errors print a message and exit 1 like toxiproxy-cli.
pub(super) async fn execute(args: ClientArgs) -> anyhow::Result<i32> {
    let base = if args.host.contains("://") {
        args.host.clone()
    } else {
        format!("http://{}", args.host)
    };
    let api = ProxyApi::new(&base)
        .with_token(args.auth_token)
        .with_user_agent(format!(
            "toxiproxy-cli/{} ({}/{})",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        ));
    match run(&api, args.command).await {
        Ok(()) => Ok(exit_code::toxiproxy_cli::OK),
        Err(message) => {
            eprintln!("{message}");
            Ok(exit_code::toxiproxy_cli::FAILED)
        }
    }
}

/// toxiproxy-cli's wording after its prefix (`Failed to create proxy: `): `HTTP 409: proxy
/// already exists`, `failed to reach <base>: …`.
fn cli_message(api: &ProxyApi, e: ApiError) -> String {
    match e {
        ApiError::NotFound { message, .. } => format!("HTTP 404: {message}"),
        ApiError::Status {
            status, message, ..
        } => format!("HTTP {status}: {message}"),
        ApiError::Unreachable { message, .. } => {
            format!("failed to reach {}: {message}", api.base())
        }
        e @ (ApiError::TimedOut { .. } | ApiError::Decode { .. }) => format!("failed to {e}"),
    }
}

fn attributes(pairs: &[String]) -> Result<Map<String, Value>, String> {
    let mut m = Map::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("attribute {pair:?} is not key=value"))?;
        let value = if let Ok(i) = v.parse::<i64>() {
            json!(i)
        } else if let Ok(f) = v.parse::<f64>() {
            json!(f)
        } else {
            json!(v)
        };
        m.insert(k.to_string(), value);
    }
    Ok(m)
}

async fn run(api: &ProxyApi, command: ClientCommand) -> Result<(), String> {
    let fail = |e| cli_message(api, e);
    let retrieve = |proxy: &str, e| format!("Failed to retrieve proxy {proxy}: {}", fail(e));
    let tty = std::io::stdout().is_terminal();
    match command {
        ClientCommand::List => {
            let proxies = api
                .proxies()
                .await
                .map_err(|e| format!("Failed to retrieve proxies: {}", fail(e)))?;
            let map = proxies.as_object().cloned().unwrap_or_default();
            if tty {
                println!(
                    "{:<20} {:<24} {:<24} {:<9} toxics",
                    "name", "listen", "upstream", "enabled"
                );
            }
            for (name, p) in map {
                let enabled = if p["enabled"] == json!(true) {
                    "enabled"
                } else {
                    "disabled"
                };
                let count = p["toxics"].as_array().map_or(0, Vec::len);
                let (listen, upstream) = (
                    p["listen"].as_str().unwrap_or(""),
                    p["upstream"].as_str().unwrap_or(""),
                );
                if tty {
                    println!("{name:<20} {listen:<24} {upstream:<24} {enabled:<9} {count}");
                } else {
                    println!("{name}\t{listen}\t{upstream}\t{enabled}\t{count}");
                }
            }
        }
        ClientCommand::Inspect { proxy } => {
            let p = api.proxy(&proxy).await.map_err(|e| retrieve(&proxy, e))?;
            if tty {
                println!(
                    "Name: {}\tListen: {}\tUpstream: {}",
                    proxy,
                    p["listen"].as_str().unwrap_or(""),
                    p["upstream"].as_str().unwrap_or("")
                );
            }
            for t in p["toxics"].as_array().cloned().unwrap_or_default() {
                let mut attrs: Vec<String> = t["attributes"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                    .unwrap_or_default();
                attrs.sort();
                println!(
                    "{}\ttype={}\tstream={}\ttoxicity={:.2}\tattributes=[\t{}\t]",
                    t["name"].as_str().unwrap_or(""),
                    t["type"].as_str().unwrap_or(""),
                    t["stream"].as_str().unwrap_or(""),
                    t["toxicity"].as_f64().unwrap_or(1.0),
                    attrs.join("\t")
                );
            }
        }
        ClientCommand::Create {
            listen,
            upstream,
            proxy,
        } => {
            api.create_proxy(&json!({"name": proxy, "listen": listen, "upstream": upstream}))
                .await
                .map_err(|e| format!("Failed to create proxy: {}", fail(e)))?;
            println!("Created new proxy {proxy}");
        }
        ClientCommand::Toggle { proxy } => {
            let p = api.proxy(&proxy).await.map_err(|e| retrieve(&proxy, e))?;
            let enable = p["enabled"] != json!(true);
            api.set_enabled(&proxy, enable)
                .await
                .map_err(|e| format!("Failed to toggle proxy {proxy}: {}", fail(e)))?;
            println!(
                "Proxy {proxy} is now {}",
                if enable { "enabled" } else { "disabled" }
            );
        }
        ClientCommand::Delete { proxy } => {
            api.proxy(&proxy).await.map_err(|e| retrieve(&proxy, e))?;
            api.delete_proxy(&proxy)
                .await
                .map_err(|e| format!("Failed to delete proxy: {}", fail(e)))?;
            println!("Deleted proxy {proxy}");
        }
        ClientCommand::Toxic(ToxicCommand::Add {
            kind,
            name,
            toxicity,
            upstream,
            downstream,
            attributes: attrs,
            proxy,
        }) => {
            if upstream && downstream {
                return Err("Only one should be specified: upstream or downstream.".into());
            }
            let stream = if upstream { "upstream" } else { "downstream" };
            let mut body = json!({"type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes(&attrs)?});
            if let Some(n) = &name {
                body["name"] = json!(n);
            }
            let t = api
                .add_toxic(&proxy, &body)
                .await
                .map_err(|e| format!("Failed to add toxic: {}", fail(e)))?;
            println!(
                "Added {stream} {kind} toxic '{}' on proxy '{proxy}'",
                t["name"].as_str().unwrap_or("")
            );
        }
        ClientCommand::Toxic(ToxicCommand::Update {
            name,
            toxicity,
            attributes: attrs,
            proxy,
        }) => {
            let mut body = json!({"attributes": attributes(&attrs)?});
            if let Some(t) = toxicity {
                body["toxicity"] = json!(t);
            }
            api.update_toxic(&proxy, &name, &body)
                .await
                .map_err(|e| format!("Failed to update toxic: {}", fail(e)))?;
            println!("Updated toxic '{name}' on proxy '{proxy}'");
        }
        ClientCommand::Toxic(ToxicCommand::Remove { name, proxy }) => {
            api.remove_toxic(&proxy, &name)
                .await
                .map_err(|e| format!("Failed to remove toxic: {}", fail(e)))?;
            println!("Removed toxic '{name}' on proxy '{proxy}'");
        }
    }
    Ok(())
}
