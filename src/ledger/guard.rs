//! The guard: a small detached process that reverts leases whose deadline passed or whose owner
//! died (even by SIGKILL), so a fault never outlives the run that applied it. One guard per state
//! directory, enforced with an exclusive `flock` on `guard.lock`; it exits when nothing is left.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{FlockOperation, flock};
use tokio_util::sync::CancellationToken;

use super::{Ledger, LedgerError};

/// Held while this process is the guard of a state directory.
#[derive(Debug)]
pub struct GuardLock {
    _file: File,
    pid_path: PathBuf,
}

impl Drop for GuardLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pid_path);
    }
}

/// Takes the guard lock of `state_dir`; `Ok(None)` when another guard holds it.
pub fn try_lock(state_dir: &Path) -> std::io::Result<Option<GuardLock>> {
    std::fs::create_dir_all(state_dir)?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state_dir.join("guard.lock"))?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {
            let pid_path = state_dir.join("guard.pid");
            let mut pid_file = File::create(&pid_path)?;
            writeln!(pid_file, "{}", std::process::id())?;
            Ok(Some(GuardLock {
                _file: file,
                pid_path,
            }))
        }
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether a guard currently holds the lock of `state_dir`.
pub fn is_running(state_dir: &Path) -> bool {
    let Ok(file) = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state_dir.join("guard.lock"))
    else {
        return false;
    };
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        Ok(()) => false,
        Err(_) => true,
    }
}

/// The running guard's pid (never a target), if any.
pub fn guard_pid(state_dir: &Path) -> Option<i32> {
    if !is_running(state_dir) {
        return None;
    }
    std::fs::read_to_string(state_dir.join("guard.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Starts a detached guard (`<exe> guard …`) unless one is running; returns whether it started one.
pub fn ensure_running(exe: &Path, state_dir: &Path, store: Option<&str>) -> std::io::Result<bool> {
    if is_running(state_dir) {
        return Ok(false);
    }
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("guard").arg("--state-dir").arg(state_dir);
    if let Some(store) = store {
        cmd.arg("--store").arg(store);
    }
    // Its own process group: a Ctrl-C or SIGKILL aimed at the run's group must not reach it.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    Ok(true)
}

/// What the guard loop did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GuardReport {
    /// Leases reverted (or closed as gone).
    pub reverted: usize,
    /// Reverts that failed (retried each poll).
    pub failed: usize,
}

/// Reverts leftovers every `poll` until nothing is active for `idle_polls` polls, or `cancel`.
pub async fn watch(
    ledger: &Ledger,
    poll: Duration,
    idle_polls: u32,
    cancel: &CancellationToken,
) -> Result<GuardReport, LedgerError> {
    let mut report = GuardReport::default();
    let mut idle = 0;
    loop {
        for (_, outcome) in ledger.revert_leftovers().await? {
            match outcome {
                super::RevertOutcome::Failed(_) => report.failed += 1,
                super::RevertOutcome::Reverted
                | super::RevertOutcome::TargetGone
                | super::RevertOutcome::Nothing => report.reverted += 1,
            }
        }
        if ledger.active().await?.is_empty() {
            idle += 1;
            if idle >= idle_polls {
                return Ok(report);
            }
        } else {
            idle = 0;
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = cancel.cancelled() => return Ok(report),
        }
    }
}
