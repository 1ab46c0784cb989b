//! `monkeywrench work --owner PID:START -- PROGRAM ARGS…`: the wrapper of owner-bound work
//! (`crate::fault::owned`). It dies with its owner (`PR_SET_PDEATHSIG`), refuses to start when the
//! owner is already gone, and waits for a go on stdin (sent once the lease is recorded) before it
//! execs the work. Started by monkeywrench itself, not by hand.

use std::ffi::CString;
use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Args;

use crate::exit_code;
use crate::fault::owned::GO;
use crate::target::process::ProcessIdentity;

/// Options of `monkeywrench work`.
#[derive(Debug, Args)]
pub(super) struct WorkArgs {
    /// The owner as `pid:start_time` (its start time from /proc, so a recycled pid never counts).
    #[arg(long, value_name = "PID:START")]
    pub owner: String,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Waits for the go, then execs the work (returns only when it could not).
pub(super) fn execute(args: WorkArgs) -> anyhow::Result<i32> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .context("ask to die with the owner (PR_SET_PDEATHSIG)")?;
    let (pid, start) = args
        .owner
        .split_once(':')
        .and_then(|(p, s)| Some((p.parse().ok()?, s.parse().ok()?)))
        .context("--owner: expected PID:START_TIME")?;
    let owner = ProcessIdentity {
        pid,
        start_time: start,
    };
    // The owner may have died before PR_SET_PDEATHSIG was in place: then nothing must run.
    if nix::unistd::getppid().as_raw() != owner.pid || !owner.is_alive() {
        bail!("the owner {} is gone; the work does not start", owner.pid);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("read the go from the owner")?;
    if line.trim() != GO {
        // EOF: the lease was refused (or the owner died) before the go.
        return Ok(exit_code::OK);
    }
    let argv = args
        .command
        .iter()
        .map(|a| CString::new(a.as_str()))
        .collect::<Result<Vec<_>, _>>()
        .context("a work argument holds a NUL byte")?;
    let err = nix::unistd::execvp(&argv[0], &argv).unwrap_err();
    bail!("run {}: {err}", args.command[0])
}
