//! Each firing runs as a child process — `monkeywrench run FILE --trigger … --run-id …` with the
//! server's store — so a crashing run cannot take the server down, and the ledger's guard sees a
//! real owner for every lease. The children are kept in a table (run id → its process), each
//! watched by its own task that reaps it, reads the verdict the run stored in the history,
//! counts it in the metrics, tells the webhooks and hands the outcome back to the scheduler.
//!
//! A child dies with the server (`PR_SET_PDEATHSIG` = SIGKILL, set by the `monkeywrench work`
//! wrapper it is started through): a server that is SIGKILLed
//! leaves no run going on unobserved; the guard reverts the children's faults as for any dead
//! owner, and the next start marks their runs interrupted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use nix::sys::signal::Signal;
use serde::Serialize;
use tokio::sync::mpsc;

use super::config::{HookEvent, ScheduledExperiment};
use super::firings::{Firing, FiringState, Firings};
use super::metrics::Metrics;
use super::notify::Notifier;
use super::scheduler::{Completer, Launcher};
use crate::exit_code;
use crate::history::{History, HistoryStatus, RunRecord, Trigger};

/// How a child is started: the binary, the store and state directory it shares with the
/// server, and where its journal and output go.
#[derive(Debug, Clone)]
pub struct Spawn {
    /// The `monkeywrench` binary (the server's own).
    pub exe: PathBuf,
    pub state_dir: PathBuf,
    /// `--store` for the child (None: the state directory's ledger.db).
    pub store: Option<String>,
    /// Journals and stderr of the runs, `<run id>.json` and `<run id>.log`.
    pub runs_dir: PathBuf,
    /// `--keep-days` for the child (0: no age limit); the count limit is the server's.
    pub keep_days: u32,
    /// Where the runs start: the config's directory (relative paths in experiments mean the same
    /// as for `--check`).
    pub cwd: PathBuf,
}

/// One running child.
#[derive(Debug, Clone, Serialize)]
pub struct Running {
    pub run_id: String,
    pub experiment: String,
    pub pid: i32,
    pub started_at: Timestamp,
    pub trigger: Trigger,
    #[serde(skip)]
    signal: mpsc::UnboundedSender<Signal>,
}

/// The table of running children.
#[derive(Debug, Clone, Default)]
pub struct Children {
    table: Arc<Mutex<BTreeMap<String, Running>>>,
    /// Run ids launched whose process is not started yet (so their events can be awaited).
    pending: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Children {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn list(&self) -> Vec<Running> {
        self.lock().values().cloned().collect()
    }

    pub fn get(&self, run_id: &str) -> Option<Running> {
        self.lock().get(run_id).cloned()
    }

    /// Whether this server launched the run and it has not ended yet.
    pub fn is_live(&self, run_id: &str) -> bool {
        self.lock().contains_key(run_id) || self.pending().contains_key(run_id)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Asks the child of `run_id` to stop (SIGTERM: it interrupts its method, reverts its faults
    /// and plays its rollbacks); false when this server runs no such child.
    pub fn interrupt(&self, run_id: &str) -> bool {
        self.lock()
            .get(run_id)
            .is_some_and(|r| r.signal.send(Signal::SIGTERM).is_ok())
    }

    /// Interrupts every child; returns their run ids.
    pub fn interrupt_all(&self) -> Vec<String> {
        self.lock()
            .values()
            .filter(|r| r.signal.send(Signal::SIGTERM).is_ok())
            .map(|r| r.run_id.clone())
            .collect()
    }

    /// Waits until no child is left.
    pub async fn wait_empty(&self) {
        while !(self.is_empty() && self.pending().is_empty()) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// Starts children for firings (the scheduler's [`Launcher`]).
#[derive(Debug, Clone)]
pub struct Runner {
    pub spawn: Spawn,
    pub experiments: Arc<Vec<ScheduledExperiment>>,
    pub children: Children,
    pub firings: Firings,
    pub history: History,
    pub metrics: Metrics,
    pub notifier: Notifier,
}

impl Launcher for Runner {
    fn launch(&self, firing: Firing, done: Completer) {
        let run_id = firing
            .run_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.children
            .pending()
            .insert(run_id.clone(), firing.experiment.clone());
        let runner = self.clone();
        tokio::spawn(async move {
            let outcome = runner.run(&firing, &run_id).await;
            runner.children.pending().remove(&run_id);
            // Stored here too: when the server stops, the scheduler is gone before its children.
            if let Err(e) = runner
                .firings
                .update(
                    &firing,
                    FiringState::Finished,
                    Some(&outcome),
                    Some(&run_id),
                    Timestamp::now(),
                )
                .await
            {
                eprintln!(
                    "monkeywrench server: {}: store the outcome: {e}",
                    firing.experiment
                );
            }
            done.finish(outcome);
        });
    }
}

impl Runner {
    fn experiment(&self, name: &str) -> Option<&ScheduledExperiment> {
        self.experiments.iter().find(|e| e.name == name)
    }

    /// The child's command line.
    fn command(&self, e: &ScheduledExperiment, firing: &Firing, run_id: &str) -> Vec<String> {
        let s = &self.spawn;
        let detail = match firing.trigger {
            // The planned time names the firing: one firing, one run, whichever server ran it.
            Trigger::Schedule => format!(
                "{} (planned {})",
                e.schedule.trigger.describe(),
                crate::monkey::history::format_time(&firing.planned)
            ),
            Trigger::Api | Trigger::Cli => firing
                .requested_by
                .clone()
                .unwrap_or_else(|| "api".to_string()),
        };
        let mut args = vec![
            "run".to_string(),
            "--experiment-name".into(),
            e.name.clone(),
            "--trigger".into(),
            firing.trigger.name().into(),
            "--trigger-detail".into(),
            detail,
            "--run-id".into(),
            run_id.into(),
            "--journal-path".into(),
            s.runs_dir
                .join(format!("{run_id}.json"))
                .display()
                .to_string(),
            "--state-dir".into(),
            s.state_dir.display().to_string(),
            "--keep-days".into(),
            s.keep_days.to_string(),
            "--keep-runs".into(),
            "0".into(),
        ];
        if let Some(store) = &s.store {
            args.push("--store".into());
            args.push(store.clone());
        }
        for (key, value) in &e.variables {
            args.push("--var".into());
            args.push(format!("{key}:json={value}"));
        }
        // Absolute: the child's working directory is the server's, not the config's.
        let file = std::path::absolute(&e.file).unwrap_or_else(|_| e.file.clone());
        args.push(file.display().to_string());
        args
    }

    /// Runs the child to its end; the outcome as stored with the firing.
    async fn run(&self, firing: &Firing, run_id: &str) -> String {
        let Some(e) = self.experiment(&firing.experiment).cloned() else {
            return format!(
                "not run: {} is not in this server's config",
                firing.experiment
            );
        };
        if let Err(err) = self
            .firings
            .update(
                firing,
                FiringState::Started,
                None,
                Some(run_id),
                Timestamp::now(),
            )
            .await
        {
            eprintln!("monkeywrench server: {}: store the start: {err}", e.name);
        }
        let log = self.spawn.runs_dir.join(format!("{run_id}.log"));
        let stderr = match std::fs::File::create(&log) {
            Ok(f) => Stdio::from(f),
            Err(_) => Stdio::null(),
        };
        // Through `monkeywrench work`, which asks to die with its parent (PR_SET_PDEATHSIG) and
        // checks the parent is still us before it execs the run. The death signal fires when the
        // forking *thread* ends: this task runs on a runtime worker, which lives as long as the
        // server.
        let me = crate::target::process::ProcessIdentity::current();
        let mut command = tokio::process::Command::new(&self.spawn.exe);
        command
            .arg("work")
            .arg("--owner")
            .arg(format!("{}:{}", me.pid, me.start_time))
            .arg("--")
            .arg(&self.spawn.exe)
            .args(self.command(&e, firing, run_id))
            .current_dir(&self.spawn.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(stderr)
            .env_remove("MONKEYWRENCH_STORE")
            .env_remove("MONKEYWRENCH_STATE_DIR")
            .kill_on_drop(false);
        let started_at = Timestamp::now();
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(err) => {
                let outcome = format!("not run: start {}: {err}", self.spawn.exe.display());
                self.metrics.record(&e.name, "not-started", 0.0);
                self.notifier
                    .send(
                        HookEvent::Failed,
                        super::notify::about_start_failure(&e.name, run_id, &outcome),
                    )
                    .await;
                return outcome;
            }
        };
        if let Some(mut stdin) = child.stdin.take() {
            use tokio::io::AsyncWriteExt;
            // A wrapper that already died reads nothing: its exit is reaped below.
            let _ = stdin
                .write_all(format!("{}\n", crate::fault::owned::GO).as_bytes())
                .await;
        }
        let (signal, mut signals) = mpsc::unbounded_channel();
        let pid = child.id().map_or(0, |p| p as i32);
        self.children.lock().insert(
            run_id.to_string(),
            Running {
                run_id: run_id.to_string(),
                experiment: e.name.clone(),
                pid,
                started_at,
                trigger: firing.trigger,
                signal,
            },
        );
        self.children.pending().remove(run_id);
        let status = loop {
            tokio::select! {
                status = child.wait() => break status,
                Some(sig) = signals.recv() => {
                    // Not reaped yet (this task reaps it), so the pid is still the child's.
                    if let Some(pid) = child.id() {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid as i32),
                            sig,
                        );
                    }
                }
            }
        };
        self.children.lock().remove(run_id);
        let code = status.ok().and_then(|s| s.code());
        let record = self.history.get(run_id).await.ok().flatten();
        let duration =
            (Timestamp::now().as_millisecond() - started_at.as_millisecond()) as f64 / 1000.0;
        let (label, outcome) = describe(record.as_ref(), code, &log);
        self.metrics.record(&e.name, &label, duration);
        self.metrics
            .set_last(&e.name, &label, record.as_ref().is_some_and(|r| r.deviated));
        for event in hook_events(record.as_ref(), code) {
            self.notifier
                .send(
                    event,
                    super::notify::about_run(&e.name, run_id, record.as_ref(), code, &outcome),
                )
                .await;
        }
        outcome
    }
}

/// The outcome's metric label and its text: the stored verdict, or why none was stored.
fn describe(
    record: Option<&RunRecord>,
    code: Option<i32>,
    log: &std::path::Path,
) -> (String, String) {
    let exit = code.map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}"));
    match record {
        Some(r) => {
            // The verdict's word (passed, deviated, baseline-not-met, …), else the status.
            let label = r
                .outcome
                .clone()
                .unwrap_or_else(|| r.status.name().to_string());
            let verdict = r.outcome.as_deref().unwrap_or(r.status.name());
            (label, format!("{} {verdict} ({exit})", r.status.name()))
        }
        None => {
            // The run stopped before it was recorded (an invalid file, an unreachable store):
            // the last line of its stderr says why.
            let why = std::fs::read_to_string(log)
                .ok()
                .and_then(|t| {
                    t.lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .map(str::to_string)
                })
                .unwrap_or_default();
            (
                "not-recorded".into(),
                format!("not recorded ({exit}): {why}"),
            )
        }
    }
}

/// What the webhooks are told about a finished run: from the verdict's word as stored, and
/// the exit code for what a dead or unrecorded run still tells.
fn hook_events(record: Option<&RunRecord>, code: Option<i32>) -> Vec<HookEvent> {
    let outcome = record.and_then(|r| r.outcome.as_deref()).unwrap_or("");
    let mut events = Vec::new();
    if record.is_some_and(|r| r.deviated) {
        events.push(HookEvent::Deviated);
    }
    let failed = match record.map(|r| r.status) {
        Some(HistoryStatus::Failed | HistoryStatus::Aborted) | None => true,
        Some(HistoryStatus::Completed | HistoryStatus::Running | HistoryStatus::Interrupted) => {
            matches!(
                outcome,
                "aborted" | "probe-error" | "baseline-not-met" | "action-failed"
            ) || matches!(code, Some(exit_code::USAGE | exit_code::INTERNAL))
        }
    };
    if failed {
        events.push(HookEvent::Failed);
    }
    if outcome == "safeguard-broken" || code == Some(exit_code::SAFEGUARD) {
        events.push(HookEvent::SafeguardTripped);
    }
    if outcome == "rollback-failed" || code == Some(exit_code::ROLLBACK_FAILED) {
        events.push(HookEvent::RevertFailed);
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: HistoryStatus, deviated: bool) -> RunRecord {
        RunRecord {
            id: "r".into(),
            experiment: "e".into(),
            title: "t".into(),
            file_path: "f".into(),
            file_sha256: "0".into(),
            trigger: Trigger::Schedule,
            trigger_detail: None,
            host: "h".into(),
            pid: 1,
            started_at: Timestamp::UNIX_EPOCH,
            ended_at: None,
            status,
            outcome: Some(if deviated { "deviated" } else { "passed" }.into()),
            deviated,
            exit_code: Some(0),
            note: None,
        }
    }

    #[test]
    fn hooks_hear_of_deviations_failures_safeguards_and_failed_reverts() {
        let ok = record(HistoryStatus::Completed, false);
        assert!(hook_events(Some(&ok), Some(0)).is_empty());
        let deviated = record(HistoryStatus::Completed, true);
        assert_eq!(
            hook_events(Some(&deviated), Some(exit_code::DEVIATED)),
            vec![HookEvent::Deviated]
        );
        let failed = record(HistoryStatus::Failed, false);
        assert_eq!(hook_events(Some(&failed), Some(1)), vec![HookEvent::Failed]);
        let tripped = record(HistoryStatus::Interrupted, false);
        assert_eq!(
            hook_events(Some(&tripped), Some(exit_code::SAFEGUARD)),
            vec![HookEvent::SafeguardTripped]
        );
        assert_eq!(
            hook_events(Some(&ok), Some(exit_code::ROLLBACK_FAILED)),
            vec![HookEvent::RevertFailed]
        );
        assert_eq!(
            hook_events(None, Some(exit_code::USAGE)),
            vec![HookEvent::Failed],
            "a run that never got recorded failed"
        );
    }

    #[test]
    fn an_unrecorded_run_is_explained_by_its_last_stderr_line() {
        let dir = std::env::temp_dir().join(format!("mw-runner-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("x.log");
        std::fs::write(&log, "first\nmonkeywrench: failed to open the store\n\n").unwrap();
        let (label, text) = describe(None, Some(69), &log);
        assert_eq!(label, "not-recorded");
        assert_eq!(
            text,
            "not recorded (exit 69): monkeywrench: failed to open the store"
        );
        let (label, text) = describe(Some(&record(HistoryStatus::Completed, true)), Some(1), &log);
        assert_eq!(
            (label.as_str(), text.as_str()),
            ("deviated", "completed deviated (exit 1)")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
