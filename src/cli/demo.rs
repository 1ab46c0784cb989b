//! `monkeywrench demo`: start the demo service on loopback and run the bundled experiments against
//! it — one whose steady state holds and one that breaks it — showing where the journals went.

use std::path::PathBuf;

use clap::{Args, Parser};
use tokio_util::sync::CancellationToken;

use super::failure::Blameworthy;
use super::run::{RunArgs, execute as run_experiment};
use crate::demo::{EXPERIMENTS, service};
use crate::exit_code;

/// Options of `monkeywrench demo`.
#[derive(Debug, Args)]
pub(super) struct DemoArgs {
    /// Where the experiment files and journals are written.
    #[arg(long, default_value = "monkeywrench-demo")]
    pub dir: PathBuf,
    /// Only run the demo service (until Ctrl-C), e.g. to try the examples against it.
    #[arg(long)]
    pub serve: bool,
    /// Address for the service (loopback by default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
}

/// Parses `run` options from words, as a user would type them.
#[derive(Debug, Parser)]
struct RunWords {
    #[command(flatten)]
    args: RunArgs,
}

/// Writes the HTML report of a journal beside it (`x.journal.json` → `x.report.html`).
fn write_report(journal: &std::path::Path) -> anyhow::Result<PathBuf> {
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

/// Runs the demo; exit 0 when both experiments behaved as expected (held, then deviated).
pub(super) async fn execute(args: DemoArgs) -> anyhow::Result<i32> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .or_usage(|| format!("bind the demo service to {}", args.listen))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let cancel = CancellationToken::new();
    let server = tokio::spawn(service::serve(listener, cancel.clone()));
    if args.serve {
        eprintln!("demo service listening on {url} (Ctrl-C to stop)");
        let _ = tokio::signal::ctrl_c().await;
        cancel.cancel();
        let _ = server.await;
        return Ok(exit_code::OK);
    }
    std::fs::create_dir_all(&args.dir).or_usage(|| format!("create {}", args.dir.display()))?;
    eprintln!("demo service listening on {url}\n");
    let expected = [
        ("steady.yaml", exit_code::OK),
        ("breaks.yaml", exit_code::DEVIATED),
    ];
    let mut all_as_expected = true;
    for (name, text) in EXPERIMENTS {
        let file = args.dir.join(name);
        std::fs::write(&file, text).or_usage(|| format!("write {}", file.display()))?;
        let journal = args.dir.join(name.replace(".yaml", ".journal.json"));
        let words = [
            "run".to_string(),
            "--var".into(),
            format!("demo_url={url}"),
            "--journal-path".into(),
            journal.display().to_string(),
            file.display().to_string(),
        ];
        let run_args = RunWords::try_parse_from(words)?.args;
        let code = run_experiment(run_args).await?;
        let want = expected
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| *c)
            .unwrap_or(exit_code::OK);
        let verdict = if code == want {
            "as expected"
        } else {
            "NOT as expected"
        };
        let report = write_report(&journal)?;
        eprintln!(
            "→ {name}: exit {code} ({verdict}); experiment {}, journal {}\n  report {} (open it in a browser)\n",
            file.display(),
            journal.display(),
            report.display()
        );
        all_as_expected &= code == want;
    }
    cancel.cancel();
    let _ = server.await;
    eprintln!(
        "Try it yourself: `monkeywrench demo --serve --listen 127.0.0.1:8080` in one terminal, then\n`monkeywrench run {}` in another.",
        args.dir.join("breaks.yaml").display()
    );
    Ok(if all_as_expected {
        exit_code::OK
    } else {
        exit_code::INTERNAL
    })
}
