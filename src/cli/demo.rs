//! `monkeywrench demo`: the product's story on loopback. The demo service runs as three replica
//! processes behind an http proxy of ours that balances them; a load generator drives traffic
//! through it; two bundled experiments read the steady state from that traffic — one freezes a
//! replica (the balancer hides it: it holds), one adds 503s on a route (it breaks) — with the
//! live figures printed each second and an HTML report written for each run. `--serve` then
//! keeps the dashboard (an in-process `monkeywrench server`) up until Ctrl-C. Everything the
//! demo starts stops when it ends.

use std::path::{Path, PathBuf};

use clap::{Args, Parser};
use tokio_util::sync::CancellationToken;

use super::failure::Blameworthy;
use super::run::{RunArgs, execute as run_experiment};
use crate::demo::replicas::{LISTENING, Replicas, process_state};
use crate::demo::stage::{Stage, live_line};
use crate::demo::{EXPERIMENTS, service};
use crate::exit_code;

/// How many replicas the demo service runs as.
const REPLICAS: usize = 3;

/// Options of `monkeywrench demo`.
#[derive(Debug, Args)]
pub(super) struct DemoArgs {
    /// Where the experiment files, journals, reports, the store and the replicas' binary go.
    #[arg(long, default_value = "monkeywrench-demo")]
    pub dir: PathBuf,
    /// After the runs, keep the dashboard up (`monkeywrench server`, in this process, with the
    /// demo's runs and experiments) until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// Only run the demo service (one process, until Ctrl-C), e.g. to try the examples against it.
    #[arg(long)]
    pub service: bool,
    /// Address of the dashboard with --serve, of the service with --service (loopback by
    /// default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Requests per second the load generator sends through the proxy.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Serve as the named replica (what the demo's replica processes run).
    #[arg(long, hide = true, value_name = "NAME")]
    pub replica: Option<String>,
    /// The demo process a replica belongs to (it refuses to start once that one is gone).
    #[arg(long, hide = true, value_name = "PID")]
    pub parent: Option<i32>,
}

/// Parses `run` options from words, as a user would type them.
#[derive(Debug, Parser)]
struct RunWords {
    #[command(flatten)]
    args: RunArgs,
}

/// Writes the HTML report of a journal beside it (`x.journal.json` → `x.report.html`).
fn write_report(journal: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(journal)
        .or_usage(|| format!("read the journal {}", journal.display()))?;
    let report = crate::report::Report::from_journal_text(&journal.display().to_string(), &text)?;
    let path = PathBuf::from(
        journal
            .display()
            .to_string()
            .replace(".journal.json", ".report.html"),
    );
    std::fs::write(&path, crate::report::html::render(&report))
        .or_usage(|| format!("write the report {}", path.display()))?;
    Ok(path)
}

/// Runs the demo; exit 0 when both experiments behaved as expected (held, then deviated) and
/// every replica is running again after each.
pub(super) async fn execute(args: DemoArgs) -> anyhow::Result<i32> {
    if let Some(name) = &args.replica {
        return replica(name, args.parent, &args.listen).await;
    }
    if args.service {
        return service_only(&args.listen).await;
    }
    std::fs::create_dir_all(&args.dir).or_usage(|| format!("create {}", args.dir.display()))?;
    let dir = std::path::absolute(&args.dir)?;
    let stop = CancellationToken::new();
    let signals = watch_signals(stop.clone())?;
    let mut replicas = Replicas::start(&dir, REPLICAS)?;
    eprintln!("The demo service runs as {REPLICAS} replicas (processes named demo-replica):");
    for r in &replicas.list {
        eprintln!("  replica {} pid {} on {}", r.name, r.pid, r.address);
    }
    let mut stage = Stage::start(&replicas.addresses()).await?;
    eprintln!(
        "An http proxy of monkeywrench's balances them on {} (API {}); a load generator sends {} req/s through it.\n",
        stage.listen, stage.api, args.rate
    );
    stage.start_load(args.rate, |s| eprintln!("{}", live_line(s)))?;
    let outcome = story(&args, &dir, &stage, &replicas, &stop).await;
    let code = match outcome {
        Ok(code) if args.serve && !stop.is_cancelled() => {
            stage.set_live(false);
            let served = super::demo_serve::serve(&args.listen, &dir, &stage, &stop).await;
            served.map(|()| code)
        }
        other => other,
    };
    stage.stop().await;
    replicas.stop();
    wait_for_guard(&dir.join("state")).await;
    for s in signals {
        s.abort();
    }
    let code = code?;
    if stop.is_cancelled() && !args.serve {
        eprintln!("demo interrupted; the replicas and the proxy are stopped");
        return Ok(exit_code::INTERRUPTED);
    }
    Ok(code)
}

/// Both experiments, each followed by its report and a look at the replicas.
async fn story(
    args: &DemoArgs,
    dir: &Path,
    stage: &Stage,
    replicas: &Replicas,
    stop: &CancellationToken,
) -> anyhow::Result<i32> {
    // A few seconds of traffic first, so the steady state has something to read.
    tokio::select! {
        () = tokio::time::sleep(std::time::Duration::from_secs(3)) => {}
        () = stop.cancelled() => return Ok(exit_code::INTERRUPTED),
    }
    let state_dir = dir.join("state");
    let mut all_as_expected = true;
    for (name, text, want) in EXPERIMENTS {
        let file = dir.join(name);
        std::fs::write(&file, text).or_usage(|| format!("write {}", file.display()))?;
        let journal = dir.join(name.replace(".yaml", ".journal.json"));
        eprintln!("\n▶ {name}");
        let words = [
            "run".to_string(),
            "--var".into(),
            format!("proxy_api={}", stage.api),
            "--var".into(),
            format!("demo_pid:int={}", std::process::id()),
            "--state-dir".into(),
            state_dir.display().to_string(),
            "--journal-path".into(),
            journal.display().to_string(),
            file.display().to_string(),
        ];
        let run_args = RunWords::try_parse_from(words)?.args;
        let code = run_experiment(run_args).await?;
        let verdict = if code == *want {
            "as expected"
        } else {
            "NOT as expected"
        };
        let report = write_report(&journal)?;
        let running = replicas_running(replicas);
        eprintln!(
            "→ {name}: exit {code} ({verdict}); journal {}\n  report {} (open it in a browser)\n  replicas after the run: {}",
            journal.display(),
            report.display(),
            running.1
        );
        all_as_expected &= code == *want && running.0;
        if stop.is_cancelled() {
            return Ok(exit_code::INTERRUPTED);
        }
    }
    let t = stage.traffic().await;
    eprintln!(
        "\nThe proxy saw {} requests ({} with 5xx); per replica: {}",
        t["http"]["requests"],
        t["http"]["status"]["5xx"],
        t["upstreams"]
            .as_array()
            .map(|us| us
                .iter()
                .map(|u| format!(
                    "{} {} responses, {} failures",
                    u["address"].as_str().unwrap_or(""),
                    u["responses"],
                    u["failures"]
                ))
                .collect::<Vec<_>>()
                .join("; "))
            .unwrap_or_default()
    );
    if !args.serve {
        eprintln!(
            "See it live: `monkeywrench demo --serve --dir {}` keeps the dashboard up after the runs.",
            args.dir.display()
        );
    }
    Ok(if all_as_expected {
        exit_code::OK
    } else {
        exit_code::INTERNAL
    })
}

/// Whether every replica is running (not stopped, not gone), and a line saying so.
fn replicas_running(replicas: &Replicas) -> (bool, String) {
    let states: Vec<(String, Option<char>)> = replicas
        .list
        .iter()
        .map(|r| (format!("{} (pid {})", r.name, r.pid), process_state(r.pid)))
        .collect();
    let ok = states
        .iter()
        .all(|(_, s)| s.is_some_and(|c| !matches!(c, 'T' | 't' | 'Z' | 'X')));
    let line = states
        .iter()
        .map(|(who, s)| match s {
            Some('T' | 't') => format!("{who} STOPPED"),
            Some('Z' | 'X') | None => format!("{who} GONE"),
            Some(_) => format!("{who} running"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    (ok, line)
}

/// Waits (up to 10 s) for the guard the runs started to see nothing left and exit, so nothing the
/// demo started outlives it.
async fn wait_for_guard(state_dir: &Path) {
    for _ in 0..100 {
        if !crate::ledger::guard::is_running(state_dir) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    eprintln!(
        "the guard of {} is still running (it exits once it finds no active fault)",
        state_dir.display()
    );
}

/// SIGINT and SIGTERM cancel `stop` (a run in progress sees them too, and reverts its faults).
fn watch_signals(stop: CancellationToken) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut handles = Vec::new();
    for kind in [SignalKind::interrupt(), SignalKind::terminate()] {
        let mut stream = signal(kind)?;
        let stop = stop.clone();
        handles.push(tokio::spawn(async move {
            if stream.recv().await.is_some() {
                stop.cancel();
            }
        }));
    }
    Ok(handles)
}

/// `demo --service`: one demo service until Ctrl-C.
async fn service_only(listen: &str) -> anyhow::Result<i32> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .or_usage(|| format!("bind the demo service to {listen}"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let cancel = CancellationToken::new();
    let server = tokio::spawn(service::serve(listener, cancel.clone()));
    eprintln!("demo service listening on {url} (Ctrl-C to stop)");
    let _ = tokio::signal::ctrl_c().await;
    cancel.cancel();
    let _ = server.await;
    Ok(exit_code::OK)
}

/// A replica: dies with the demo, says where it listens on its first line, serves until
/// SIGTERM/SIGINT.
async fn replica(name: &str, parent: Option<i32>, listen: &str) -> anyhow::Result<i32> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    // The demo may have died before PR_SET_PDEATHSIG was in place: then nothing must serve.
    if parent.is_some_and(|p| nix::unistd::getppid().as_raw() != p) {
        anyhow::bail!("the demo that started replica {name} is gone");
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .or_usage(|| format!("bind replica {name} to {listen}"))?;
    println!("{LISTENING}{}", listener.local_addr()?);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        stop.cancel();
    });
    service::serve_as(listener, Some(name), cancel).await;
    Ok(exit_code::OK)
}
