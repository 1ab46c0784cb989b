//! Consumers of run events for people and programs: the live progress view (stderr; a spinner on a
//! TTY, plain lines otherwise) and the NDJSON event stream (`--output json`, `--events-file`).

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::dispatcher::EventSink;
use super::event::{EntryStatus, Phase, ProbeVerdict, RunEvent, Stamped};

/// Human progress on stderr.
pub struct ProgressView {
    spinner: Option<ProgressBar>,
    quiet: bool,
}

impl ProgressView {
    /// A view; `tty` draws a live spinner, `quiet` prints only warnings and the verdict.
    pub fn new(tty: bool, quiet: bool) -> Self {
        let spinner = tty.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        ProgressView { spinner, quiet }
    }

    fn line(&self, text: String) {
        match &self.spinner {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }
}

impl EventSink for ProgressView {
    fn on_event(&mut self, stamped: &Stamped) {
        match &stamped.event {
            RunEvent::RunStarted { title, .. } if !self.quiet => {
                self.line(format!("▶ running experiment: {title}"));
            }
            RunEvent::PhaseStarted { phase } if !self.quiet => {
                self.line(format!("── {}", phase.label()));
            }
            RunEvent::ActivityStarted {
                phase, name, kind, ..
            } => {
                if let Some(bar) = &self.spinner
                    && *phase != Phase::Safeguard
                {
                    bar.set_message(format!("{}: {name} ({})", phase.label(), kind_name(*kind)));
                }
            }
            RunEvent::ActivityFinished { phase, entry, .. } if !self.quiet => {
                if matches!(phase, Phase::Safeguard | Phase::Configuration) {
                    return;
                }
                let name = entry
                    .activity
                    .get("name")
                    .and_then(|n| n.as_str())
                    .unwrap_or("?");
                let mark = match (entry.status, entry.tolerance_met) {
                    (EntryStatus::Failed, _) => "✗",
                    (_, Some(false)) => "✗",
                    _ => "✓",
                };
                let mut text = format!("  {mark} {name} ({:.3} s)", entry.duration);
                if let Some(message) = entry.failure_message() {
                    text.push_str(&format!(": {message}"));
                } else if entry.tolerance_met == Some(false) {
                    let mut shown = entry.output.to_string();
                    if shown.chars().count() > 120 {
                        shown = shown.chars().take(119).collect::<String>() + "…";
                    }
                    text.push_str(&format!(": outside tolerance: {shown}"));
                }
                self.line(text);
            }
            RunEvent::HypothesisChecked { result, .. } if !self.quiet => {
                let verdict = match result {
                    ProbeVerdict::Met => "steady state met",
                    ProbeVerdict::Unmet => "steady state NOT met",
                    ProbeVerdict::Errored => "steady state NOT met (a probe errored)",
                };
                self.line(format!("  = {verdict}"));
            }
            RunEvent::SafeguardChecked {
                name,
                tripped: true,
                ..
            } => {
                self.line(format!(
                    "⚠ safeguard \"{name}\" tripped: stopping the method"
                ));
            }
            RunEvent::Warning { message } => self.line(format!("warning: {message}")),
            RunEvent::FaultApplied { fault } if !self.quiet => {
                self.line(format!(
                    "  ⚡ {} on {} (lease {}, revert by {})",
                    fault.func.name(),
                    crate::target::label::label(&fault.target),
                    fault.id.get(..8).unwrap_or(&fault.id),
                    super::event::format_timestamp(&fault.deadline)
                ));
            }
            RunEvent::FaultReverted {
                id, revert, error, ..
            } if !self.quiet => {
                let why = error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
                self.line(format!(
                    "  ↺ fault {} {}{why}",
                    id.get(..8).unwrap_or(id),
                    revert.name()
                ));
            }
            RunEvent::TargetsSelected {
                activity,
                matched,
                selected,
                mode,
                seed,
            } if !self.quiet => {
                self.line(format!(
                    "  ◎ {activity}: {matched} target(s) matched, {} selected ({mode}, seed {seed})",
                    selected.len()
                ));
            }
            RunEvent::Interrupted { interruption } => {
                self.line(format!("⚠ interrupted: {}", interruption.reason));
            }
            RunEvent::FailFastTripped => {
                self.line("⚠ steady state deviated: --fail-fast stops the method".into());
            }
            RunEvent::RollbacksSkipped { reason } => {
                self.line(format!("⚠ no rollbacks will play: {reason}"));
            }
            RunEvent::Aborted { reason } => self.line(format!("⚠ aborted: {reason}")),
            RunEvent::RunFinished { verdict, .. } => {
                if let Some(bar) = &self.spinner {
                    bar.finish_and_clear();
                }
                self.line(format!(
                    "■ {} (status {}, deviated {}, exit {})",
                    verdict.outcome.name(),
                    verdict.status.name(),
                    verdict.deviated,
                    verdict.exit_code
                ));
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = &self.spinner {
            bar.finish_and_clear();
        }
    }
}

fn kind_name(kind: super::model::ActivityKind) -> &'static str {
    match kind {
        super::model::ActivityKind::Probe => "probe",
        super::model::ActivityKind::Action => "action",
    }
}

/// One JSON object per event per line, to any writer (stdout or a file).
pub struct NdjsonSink<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> NdjsonSink<W> {
    pub fn new(out: W) -> Self {
        NdjsonSink { out }
    }
}

impl<W: Write + Send> EventSink for NdjsonSink<W> {
    fn on_event(&mut self, event: &Stamped) {
        if let Ok(line) = serde_json::to_string(event) {
            let _ = writeln!(self.out, "{line}");
        }
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}
