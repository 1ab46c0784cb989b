//! `monkeywrench proxy cli …`: toxiproxy-cli's commands and output against any
//! Toxiproxy-compatible API (ours or Toxiproxy's).

use std::io::IsTerminal;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::exit_code;

/// Options of `proxy cli`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// API URL (env TOXIPROXY_URL); `http://` is added when missing.
    #[arg(
        long = "host",
        short = 'h',
        env = "TOXIPROXY_URL",
        default_value = "http://localhost:8474"
    )]
    pub host: String,
    /// Print help (`-h` is the host, as in toxiproxy-cli).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// What to do.
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// toxiproxy-cli commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
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
pub enum ToxicCommand {
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
pub async fn execute(args: ClientArgs) -> anyhow::Result<i32> {
    let base = if args.host.contains("://") {
        args.host.trim_end_matches('/').to_string()
    } else {
        format!("http://{}", args.host.trim_end_matches('/'))
    };
    match run(&base, args.command).await {
        Ok(()) => Ok(exit_code::toxiproxy_cli::OK),
        Err(message) => {
            eprintln!("{message}");
            Ok(exit_code::toxiproxy_cli::FAILED)
        }
    }
}

async fn call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let client = reqwest::Client::builder()
        .user_agent(format!(
            "toxiproxy-cli/{} ({}/{})",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = client.request(method, format!("{base}{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("failed to reach {base}: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        let msg = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or(text);
        return Err(format!("HTTP {}: {msg}", status.as_u16()));
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
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

async fn run(base: &str, command: ClientCommand) -> Result<(), String> {
    use reqwest::Method;
    let tty = std::io::stdout().is_terminal();
    match command {
        ClientCommand::List => {
            let proxies = call(base, Method::GET, "/proxies", None).await?;
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
            let p = call(base, Method::GET, &format!("/proxies/{proxy}"), None).await?;
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
            call(
                base,
                Method::POST,
                "/proxies",
                Some(json!({"name": proxy, "listen": listen, "upstream": upstream})),
            )
            .await?;
            println!("Created new proxy {proxy}");
        }
        ClientCommand::Toggle { proxy } => {
            let p = call(base, Method::GET, &format!("/proxies/{proxy}"), None).await?;
            let enable = p["enabled"] != json!(true);
            call(
                base,
                Method::POST,
                &format!("/proxies/{proxy}"),
                Some(json!({"enabled": enable})),
            )
            .await?;
            println!(
                "Proxy {proxy} is now {}",
                if enable { "enabled" } else { "disabled" }
            );
        }
        ClientCommand::Delete { proxy } => {
            call(base, Method::DELETE, &format!("/proxies/{proxy}"), None).await?;
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
                return Err("only one of --upstream and --downstream may be given".into());
            }
            let stream = if upstream { "upstream" } else { "downstream" };
            let mut body = json!({"type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes(&attrs)?});
            if let Some(n) = &name {
                body["name"] = json!(n);
            }
            let t = call(
                base,
                Method::POST,
                &format!("/proxies/{proxy}/toxics"),
                Some(body),
            )
            .await?;
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
            call(
                base,
                Method::POST,
                &format!("/proxies/{proxy}/toxics/{name}"),
                Some(body),
            )
            .await?;
            println!("Updated toxic '{name}' on proxy '{proxy}'");
        }
        ClientCommand::Toxic(ToxicCommand::Remove { name, proxy }) => {
            call(
                base,
                Method::DELETE,
                &format!("/proxies/{proxy}/toxics/{name}"),
                None,
            )
            .await?;
            println!("Removed toxic '{name}' on proxy '{proxy}'");
        }
    }
    Ok(())
}
