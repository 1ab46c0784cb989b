//! `monkeywrench stressor KIND …`: one stressor of the stress faults (`crate::fault::stress`),
//! exec'd by the `work` wrapper once its lease is recorded. Started by monkeywrench itself.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::exit_code;
use crate::fault::stress::{IoMode, Job};

/// Options of `monkeywrench stressor`.
#[derive(Debug, Args)]
pub(super) struct StressorArgs {
    /// Stop at this Unix time (seconds) even if nothing reverts it.
    #[arg(long, global = true, value_name = "UNIX_S", default_value_t = 0)]
    until: u64,
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Debug, Subcommand)]
enum Kind {
    /// Busy threads.
    Cpu {
        #[arg(long)]
        workers: u32,
        /// Percent of one core per worker.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        load: u32,
    },
    /// Resident memory.
    Memory {
        #[arg(long)]
        bytes: u64,
        /// Bytes per second (0: at once).
        #[arg(long, default_value_t = 0)]
        rate: u64,
    },
    /// A file of a size.
    Disk {
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        bytes: u64,
    },
    /// Block reads/writes on a scratch file.
    Io {
        #[arg(long)]
        file: PathBuf,
        #[arg(long, value_parser = IoMode::NAMES)]
        mode: String,
        #[arg(long)]
        file_bytes: u64,
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        block: u64,
        #[arg(long)]
        ops_per_s: f64,
    },
}

/// Runs the stressor until `--until` (or until killed).
pub(super) fn execute(args: StressorArgs) -> anyhow::Result<i32> {
    let job = match args.kind {
        Kind::Cpu { workers, load } => Job::Cpu { workers, load },
        Kind::Memory { bytes, rate } => Job::Memory { bytes, rate },
        Kind::Disk { file, bytes } => Job::Disk { file, bytes },
        Kind::Io {
            file,
            mode,
            file_bytes,
            block,
            ops_per_s,
        } => Job::Io {
            file,
            mode: IoMode::parse(&mode).context("--mode: expected read, write or readwrite")?,
            file_bytes,
            block,
            ops_per_s: if ops_per_s.is_finite() && ops_per_s > 0.0 {
                ops_per_s
            } else {
                anyhow::bail!("--ops-per-s: expected a positive number")
            },
        },
    };
    let until = if args.until == 0 {
        SystemTime::now() + Duration::from_secs(365 * 24 * 3600)
    } else {
        SystemTime::UNIX_EPOCH + Duration::from_secs(args.until)
    };
    job.run(until).context("run the stressor")?;
    Ok(exit_code::OK)
}
