//! The stressors themselves: what `monkeywrench stressor …` runs once the work wrapper has exec'd
//! it (its cgroups already joined). Each works until it is killed (the revert) or until its
//! `until` time passes (a backstop should nothing revert it).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use rustix::time::{ClockId, clock_gettime};

const MIB: u64 = 1 << 20;

/// What a stressor does.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// `workers` threads, each busy `load` % of the time.
    Cpu { workers: u32, load: u32 },
    /// Allocate and touch `bytes`, at `rate` bytes/s (0: as fast as it can), then hold them.
    Memory { bytes: u64, rate: u64 },
    /// Write a file of `bytes` (created new) and keep it.
    Disk { file: PathBuf, bytes: u64 },
    /// Read and/or write blocks of a scratch file of `file_bytes` at `ops_per_s`.
    Io {
        file: PathBuf,
        mode: IoMode,
        file_bytes: u64,
        block: u64,
        ops_per_s: f64,
    },
}

/// What an I/O stressor does with each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoMode {
    Read,
    Write,
    /// Alternate a write and a read.
    ReadWrite,
}

impl IoMode {
    pub const NAMES: [&str; 3] = ["read", "write", "readwrite"];

    pub fn parse(s: &str) -> Option<IoMode> {
        match s {
            "read" => Some(IoMode::Read),
            "write" => Some(IoMode::Write),
            "readwrite" => Some(IoMode::ReadWrite),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            IoMode::Read => "read",
            IoMode::Write => "write",
            IoMode::ReadWrite => "readwrite",
        }
    }
}

/// A stressor failed.
#[derive(Debug, thiserror::Error)]
pub enum StressorError {
    #[error("create {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("write {path} (after {written} bytes): {source}")]
    Write {
        path: String,
        written: u64,
        source: std::io::Error,
    },
    #[error("read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

impl Job {
    /// The stressor's command-line arguments (after `stressor`), as the CLI parses them back.
    pub fn to_args(&self) -> Vec<String> {
        match self {
            Job::Cpu { workers, load } => vec![
                "cpu".into(),
                format!("--workers={workers}"),
                format!("--load={load}"),
            ],
            Job::Memory { bytes, rate } => vec![
                "memory".into(),
                format!("--bytes={bytes}"),
                format!("--rate={rate}"),
            ],
            Job::Disk { file, bytes } => vec![
                "disk".into(),
                format!("--file={}", file.display()),
                format!("--bytes={bytes}"),
            ],
            Job::Io {
                file,
                mode,
                file_bytes,
                block,
                ops_per_s,
            } => vec![
                "io".into(),
                format!("--file={}", file.display()),
                format!("--mode={}", mode.name()),
                format!("--file-bytes={file_bytes}"),
                format!("--block={block}"),
                format!("--ops-per-s={ops_per_s}"),
            ],
        }
    }

    /// Does the work until `until`.
    pub fn run(&self, until: SystemTime) -> Result<(), StressorError> {
        let left = until
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let end = Instant::now() + left;
        match self {
            Job::Cpu { workers, load } => {
                cpu(*workers, *load, end);
                Ok(())
            }
            Job::Memory { bytes, rate } => {
                let held = memory(*bytes, *rate, end);
                hold(end);
                drop(held);
                Ok(())
            }
            Job::Disk { file, bytes } => {
                let written = disk(file, *bytes)?;
                hold(end);
                drop(written);
                Ok(())
            }
            Job::Io {
                file,
                mode,
                file_bytes,
                block,
                ops_per_s,
            } => io(file, *mode, *file_bytes, *block, *ops_per_s, end),
        }
    }
}

fn hold(end: Instant) {
    while Instant::now() < end {
        std::thread::sleep((end - Instant::now()).min(Duration::from_secs(1)));
    }
}

fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn cpu(workers: u32, load: u32, end: Instant) {
    let load = f64::from(load.clamp(1, 100)) / 100.0;
    let threads: Vec<_> = (0..workers.max(1))
        .map(|_| std::thread::spawn(move || cpu_worker(load, end)))
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// Keeps this thread's CPU time at `load` × wall time: spin while behind, sleep while ahead. CPU
/// time (not wall time spent spinning) is what counts, so time lost to preemption is made up —
/// within a window of a second, so a long stall does not turn into a long burst.
fn cpu_worker(load: f64, end: Instant) {
    const WINDOW: Duration = Duration::from_secs(1);
    let (mut wall0, mut cpu0) = (Instant::now(), thread_cpu());
    loop {
        let now = Instant::now();
        if now >= end {
            return;
        }
        if now - wall0 > WINDOW {
            wall0 = now - WINDOW / 2;
            cpu0 = thread_cpu().saturating_sub(WINDOW.mul_f64(load / 2.0));
        }
        let wall = (now - wall0).as_secs_f64();
        let used = (thread_cpu() - cpu0).as_secs_f64();
        let want = wall * load;
        if used < want {
            let spin_until = Instant::now() + Duration::from_millis(1);
            while Instant::now() < spin_until {
                std::hint::spin_loop();
            }
        } else {
            let ahead = used / load - wall;
            std::thread::sleep(Duration::from_secs_f64(ahead.clamp(0.0005, 0.1)));
        }
    }
}

/// Touched memory: every byte written, so every page is resident and charged.
fn memory(bytes: u64, rate: u64, end: Instant) -> Vec<Vec<u8>> {
    let start = Instant::now();
    let mut held = Vec::new();
    let mut done = 0u64;
    while done < bytes && Instant::now() < end {
        let chunk = (bytes - done).min(MIB) as usize;
        held.push(vec![0xa5u8; chunk]);
        done += chunk as u64;
        if rate > 0 {
            let due = Duration::from_secs_f64(done as f64 / rate as f64);
            let elapsed = start.elapsed();
            if due > elapsed {
                std::thread::sleep(due - elapsed);
            }
        }
    }
    held
}

fn disk(path: &PathBuf, bytes: u64) -> Result<File, StressorError> {
    let shown = || path.display().to_string();
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| StressorError::Create {
            path: shown(),
            source,
        })?;
    let block = vec![0x5au8; MIB as usize];
    let mut written = 0u64;
    while written < bytes {
        let n = (bytes - written).min(MIB) as usize;
        file.write_all(&block[..n])
            .map_err(|source| StressorError::Write {
                path: shown(),
                written,
                source,
            })?;
        written += n as u64;
    }
    file.sync_all().map_err(|source| StressorError::Write {
        path: shown(),
        written,
        source,
    })?;
    Ok(file)
}

fn io(
    path: &PathBuf,
    mode: IoMode,
    file_bytes: u64,
    block: u64,
    ops_per_s: f64,
    end: Instant,
) -> Result<(), StressorError> {
    let shown = || path.display().to_string();
    let file = disk(path, file_bytes)?;
    let file = File::options()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|source| StressorError::Create {
            path: shown(),
            source,
        })
        .inspect(|_| drop(file))?;
    let blocks = (file_bytes / block).max(1);
    let data = vec![0x3cu8; block as usize];
    let mut buf = vec![0u8; block as usize];
    let interval = Duration::from_secs_f64(1.0 / ops_per_s);
    let mut next = Instant::now();
    let mut op = 0u64;
    while Instant::now() < end {
        let offset = (op % blocks) * block;
        let write = match mode {
            IoMode::Write => true,
            IoMode::Read => false,
            IoMode::ReadWrite => op.is_multiple_of(2),
        };
        if write {
            file.write_all_at(&data, offset)
                .and_then(|()| file.sync_data())
                .map_err(|source| StressorError::Write {
                    path: shown(),
                    written: offset,
                    source,
                })?;
        } else {
            // Drop the block from the page cache first, so the read reaches the device.
            let len = std::num::NonZeroU64::new(block);
            let _ = rustix::fs::fadvise(&file, offset, len, rustix::fs::Advice::DontNeed);
            file.read_exact_at(&mut buf, offset)
                .map_err(|source| StressorError::Read {
                    path: shown(),
                    source,
                })?;
        }
        op += 1;
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > Duration::from_secs(1) {
            // Far behind (a slow device): do not burst to catch up.
            next = now;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_allocated_to_the_byte_and_paced() {
        let held = memory(3 * MIB + 5, 0, Instant::now() + Duration::from_secs(60));
        assert_eq!(
            held.iter().map(|c| c.len() as u64).sum::<u64>(),
            3 * MIB + 5
        );
        assert!(held.iter().all(|c| c.iter().all(|b| *b == 0xa5)));
        let paced = Instant::now();
        memory(2 * MIB, 4 * MIB, Instant::now() + Duration::from_secs(60));
        assert!(
            paced.elapsed() >= Duration::from_millis(450),
            "2 MiB at 4 MiB/s"
        );
    }

    #[test]
    fn the_disk_stressor_never_overwrites_a_file() {
        let dir = std::env::temp_dir().join(format!("mw-stressor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fill");
        disk(&path, MIB + 1).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), MIB + 1);
        assert!(matches!(disk(&path, 1), Err(StressorError::Create { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn arguments_name_every_field() {
        let job = Job::Io {
            file: "/tmp/x".into(),
            mode: IoMode::ReadWrite,
            file_bytes: 10,
            block: 4,
            ops_per_s: 2.5,
        };
        assert_eq!(
            job.to_args(),
            [
                "io",
                "--file=/tmp/x",
                "--mode=readwrite",
                "--file-bytes=10",
                "--block=4",
                "--ops-per-s=2.5"
            ]
        );
    }
}
