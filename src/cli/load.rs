//! `monkeywrench load URL`: an HTTP load generator for people (and, with the hidden `--figures`,
//! the process of a `traffic.surge` fault).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use tokio_util::sync::CancellationToken;

use super::failure::Blameworthy;
use crate::exit_code;
use crate::loadgen::{self, Config, Model, ProfileSpec, Requests, Template, Url};

const AFTER_HELP: &str = "\
Models:
  With --rate or --profile the load is an OPEN model: requests are due at the asked rate whatever
  the server does, and each latency is measured from the request's intended send time, so a
  stalling server shows its queueing delay (coordinated omission corrected, as wrk2 does).
  Without them it is a CLOSED model: each of --connections sends its next request as soon as the
  previous one is answered (as wrk and ab do; a stall then hides in fewer requests).

Profiles (--profile), stages separated by ',' and run in turn:
  constant:RATE/DUR          RATE req/s for DUR
  ramp:FROM..TO/DUR          linear from FROM to TO req/s over DUR
  step:FROM..TO/DUR@N        N equal steps from FROM to TO (default 4)
  spike:BASE..PEAK/DUR@LEN   BASE req/s with PEAK for LEN in the middle (default DUR/5)
  RATE is req/s, or Nx: N times --base-rate. DUR is 500ms, 30s, 2m, 1h (bare number: seconds).
  After the last stage its last rate holds if --duration is longer.

URLs file (--urls-file): one `URL [WEIGHT]` per line (weight default 1, `#` comments); every URL
goes to the same host:port, picked at random by weight.

Examples:
  monkeywrench load http://127.0.0.1:8080/ --duration 10s --connections 64
  monkeywrench load http://127.0.0.1:8080/api --rate 500 --duration 1m
  monkeywrench load http://127.0.0.1:8080/ --profile ramp:100..1000/30s,constant:1000/60s
  monkeywrench load --urls-file urls.txt --rate 200 --requests 10000 --output json
  monkeywrench load http://127.0.0.1:8080/orders -X POST -H 'Content-Type: application/json' \\
      --body '{\"item\": 1}' --rate 50 --duration 30s

Exit codes: 0 the load ran (whatever the server answered), 64 bad options or files, 70 a bug.";

/// Options of `monkeywrench load`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(super) struct LoadArgs {
    /// The http:// URL to load (or give --urls-file).
    #[arg(value_name = "URL", required_unless_present = "urls_file")]
    url: Option<String>,
    /// Open model at this constant rate, req/s.
    #[arg(long, conflicts_with = "profile")]
    rate: Option<f64>,
    /// Open model with a shaped rate (see Profiles below).
    #[arg(long, value_name = "STAGES")]
    profile: Option<String>,
    /// The rate `Nx` in --profile multiplies.
    #[arg(long, value_name = "REQ/S")]
    base_rate: Option<f64>,
    /// Keep-alive connections (the concurrency of the closed model; the most requests in flight in
    /// the open model).
    #[arg(short, long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    connections: u64,
    /// How long to send (default: the profile's length; 10s for the closed model).
    #[arg(short, long, value_name = "DUR", value_parser = parse_dur)]
    duration: Option<Duration>,
    /// Stop after this many requests.
    #[arg(short = 'n', long, value_parser = clap::value_parser!(u64).range(1..))]
    requests: Option<u64>,
    /// HTTP method.
    #[arg(short = 'X', long, default_value = "GET")]
    method: String,
    /// A request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// The request body (`@FILE` reads it from a file).
    #[arg(long)]
    body: Option<String>,
    /// Weighted URLs, one `URL [WEIGHT]` per line.
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    urls_file: Option<PathBuf>,
    /// Per-request timeout (from the intended send time in the open model).
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_dur)]
    timeout: Duration,
    /// Refuse a rate or profile above this, req/s.
    #[arg(long, value_name = "REQ/S")]
    max_rate: Option<f64>,
    /// The summary's format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Per-second figures as JSON lines on stdout, no summary (the process of traffic.surge).
    #[arg(long, hide = true)]
    figures: bool,
    /// Stop at this Unix time (seconds) whatever else says (traffic.surge's backstop).
    #[arg(long, hide = true, value_name = "UNIX_S")]
    until: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

fn parse_dur(text: &str) -> Result<Duration, String> {
    loadgen::parse_duration(text)
}

/// The engine's configuration from the options.
fn config(args: &LoadArgs) -> anyhow::Result<Config> {
    let body = match args.body.as_deref() {
        Some(b) if b.starts_with('@') => std::fs::read(&b[1..])
            .or_usage(|| format!("read the body file {}", &b[1..]))?
            .into(),
        Some(b) => bytes::Bytes::from(b.to_string()),
        None => bytes::Bytes::new(),
    };
    let headers = args
        .headers
        .iter()
        .map(|h| loadgen::parse_header(h))
        .collect::<Result<Vec<_>, _>>()
        .or_usage(|| "read --header".into())?;
    let template = Template {
        method: args.method.to_ascii_uppercase(),
        headers,
        body,
    };
    let requests = match (&args.url, &args.urls_file) {
        (_, Some(file)) => {
            Requests::from_file(file, &template).or_usage(|| "read --urls-file".into())?
        }
        (Some(url), None) => {
            let url = Url::parse(url)
                .map_err(anyhow::Error::msg)
                .or_usage(|| "read the URL".into())?;
            Requests::single(&url, &template).or_usage(|| "build the request".into())?
        }
        (None, None) => bail!("no URL given"),
    };
    let check_rate = |r: f64| {
        if r.is_finite() && r > 0.0 {
            Ok(r)
        } else {
            Err(anyhow::anyhow!("expected a positive number, found {r}"))
        }
    };
    let spec = match (args.rate, &args.profile) {
        (Some(r), _) => {
            let r = check_rate(r).or_usage(|| "read --rate".into())?;
            Some(ProfileSpec::constant(
                r,
                args.duration.unwrap_or(Duration::from_secs(10)),
            ))
        }
        (None, Some(p)) => Some(ProfileSpec::parse(p).or_usage(|| "read --profile".into())?),
        (None, None) => None,
    };
    let base = args
        .base_rate
        .map(check_rate)
        .transpose()
        .or_usage(|| "read --base-rate".into())?;
    let model = match &spec {
        Some(spec) => Model::Open(
            spec.resolve(base, args.max_rate)
                .or_usage(|| "read the rate".into())?,
        ),
        None => Model::Closed,
    };
    let mut duration = match (&spec, args.duration, args.requests) {
        (_, Some(d), _) => Some(d),
        (_, None, Some(_)) => None,
        (Some(spec), None, None) => Some(spec.duration()),
        (None, None, None) => Some(Duration::from_secs(10)),
    };
    if let Some(until) = args.until {
        let left = (SystemTime::UNIX_EPOCH + Duration::from_secs(until))
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        duration = Some(duration.map_or(left, |d| d.min(left)));
    }
    Ok(Config {
        requests: Arc::new(requests),
        model,
        connections: args.connections as usize,
        duration,
        max_requests: args.requests,
        timeout: args.timeout,
    })
}

pub(super) async fn execute(args: LoadArgs) -> anyhow::Result<i32> {
    let config = config(&args)?;
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let progress = !args.figures && std::io::stderr().is_terminal();
    let figures = args.figures;
    let summary = loadgen::run(config, cancel, move |second, totals| {
        if figures {
            let mut out = std::io::stdout().lock();
            let line = serde_json::to_string(second).unwrap_or_default();
            // The owner reads these; if it is gone, so is the point of going on (SIGPIPE aside).
            let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        } else if progress {
            eprint!(
                "\r\x1b[2K{:>4}s  {:>9.1} req/s  errors {}  p50 {:.2} ms  p99 {:.2} ms",
                second.second,
                second.requests as f64,
                totals.errors(),
                second.p50_ms,
                second.p99_ms
            );
        }
    })
    .await
    .or_usage(|| "start the load".into())?;
    if progress {
        eprintln!();
    }
    if figures {
        return Ok(exit_code::OK);
    }
    let text = match args.output {
        Output::Table => loadgen::to_table(&summary),
        Output::Json => {
            serde_json::to_string_pretty(&loadgen::to_json(&summary))
                .context("write the summary")?
                + "\n"
        }
    };
    // A closed pipe (`| head`) is not a failure of the load.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(exit_code::OK)
}
