//! `monkeywrench report RUN_ID|JOURNAL.json -o report.html [--format html|markdown]`: a run as one
//! self-contained HTML file (or Markdown for a CI comment), from its stored event stream or from a
//! journal file.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::failure::Blameworthy;
use super::state::StateArgs;
use crate::exit_code;
use crate::history::{History, HistoryError};
use crate::report::{Report, ReportError, html, markdown};
use crate::store::Store;

/// What the report is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
    /// One self-contained HTML file (inline CSS and SVG; opens offline).
    Html,
    /// Markdown tables, e.g. for a CI comment.
    Markdown,
}

/// Options of `monkeywrench report`.
#[derive(Debug, Args)]
pub(super) struct ReportArgs {
    /// A recorded run (its id, or a unique prefix as `history` lists it) for the full picture, or a
    /// journal file (`run --journal-path`), which holds fewer details.
    #[arg(value_name = "RUN_ID|JOURNAL.json")]
    pub source: String,
    /// Where to write it (`-`: standard output) [default: report.html, or report.md].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Html)]
    pub format: Format,
    /// Where the history lives (for a run id).
    #[command(flatten)]
    pub state: StateArgs,
}

/// Whether `source` names a journal file rather than a run id.
fn is_journal(source: &str) -> bool {
    let path = Path::new(source);
    path.is_file() || source.ends_with(".json") || source.contains('/')
}

pub(super) async fn execute(args: ReportArgs) -> anyhow::Result<i32> {
    let report = if is_journal(&args.source) {
        let text = std::fs::read_to_string(&args.source)
            .or_usage(|| format!("read the journal {}", args.source))?;
        Report::from_journal_text(&args.source, &text).or_usage(|| "make the report".into())?
    } else {
        let store = Store::open(&args.state.location())
            .await
            .or_unavailable(|| "open the history".to_string())?;
        let history = History::new(store);
        let made = Report::from_history(&history, &args.source).await;
        history.store().close().await;
        match made {
            Ok(r) => r,
            Err(
                e @ ReportError::History(
                    HistoryError::NotFound(_)
                    | HistoryError::Ambiguous { .. }
                    | HistoryError::BadPrefix(_),
                ),
            ) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "{:?} is neither a journal file nor a recorded run",
                    args.source
                )))
                .or_usage(|| "make the report".into());
            }
            Err(e @ ReportError::History(_)) => {
                return Err(e).or_unavailable(|| "read the history".into());
            }
            Err(e) => return Err(e).or_usage(|| "make the report".into()),
        }
    };
    let text = match args.format {
        Format::Html => html::render(&report),
        Format::Markdown => markdown::render(&report),
    };
    let path = args.output.unwrap_or_else(|| {
        PathBuf::from(match args.format {
            Format::Html => "report.html",
            Format::Markdown => "report.md",
        })
    });
    if path.as_os_str() == "-" {
        print!("{text}");
        return Ok(exit_code::OK);
    }
    std::fs::write(&path, text).or_usage(|| format!("write the report {}", path.display()))?;
    eprintln!(
        "report of run {} ({}) written to {}",
        super::state::short(&report.run_id),
        report.verdict_line(),
        path.display()
    );
    Ok(exit_code::OK)
}
