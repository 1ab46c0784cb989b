//! The demo service as replicas: child processes run from a copy of this binary named
//! `demo-replica` (a process whose executable is monkeywrench itself, or is named `monkeywrench`,
//! is a protected target, and the demo's experiment must be able to stop one). Each binds
//! 127.0.0.1:0 and says where on its first line of output; each dies with the demo (it asks for
//! `PR_SET_PDEATHSIG`) and is killed by pid when the demo ends.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The executable name of the replicas (a process target `{name: demo-replica}`).
pub const REPLICA_NAME: &str = "demo-replica";

/// The replicas could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("find the monkeywrench binary: {0}")]
    Exe(std::io::Error),
    #[error("copy the binary to {path}: {source}")]
    Copy {
        path: String,
        source: std::io::Error,
    },
    #[error("start replica {name}: {source}")]
    Spawn {
        name: String,
        source: std::io::Error,
    },
    #[error("replica {name} did not say where it listens (got {line:?})")]
    NoAddress { name: String, line: String },
}

/// One running replica.
#[derive(Debug)]
pub struct Replica {
    pub name: String,
    pub pid: u32,
    /// `127.0.0.1:PORT`.
    pub address: String,
    child: Child,
}

/// The replicas; dropping them kills each by pid and reaps it.
#[derive(Debug, Default)]
pub struct Replicas {
    pub list: Vec<Replica>,
}

/// The line a replica prints first: `listening on 127.0.0.1:PORT`.
pub const LISTENING: &str = "listening on ";

/// Copies the running binary to `dir/demo-replica` (through a temporary file renamed over it, so
/// a replica of an earlier demo still running from it is not disturbed).
fn replica_binary(dir: &Path) -> Result<PathBuf, ReplicaError> {
    let exe = std::env::current_exe().map_err(ReplicaError::Exe)?;
    let path = dir.join(REPLICA_NAME);
    let tmp = dir.join(format!(".{REPLICA_NAME}.{}", std::process::id()));
    let copy_err = |source| ReplicaError::Copy {
        path: path.display().to_string(),
        source,
    };
    std::fs::copy(&exe, &tmp).map_err(copy_err)?;
    std::fs::rename(&tmp, &path).map_err(copy_err)?;
    Ok(path)
}

impl Replicas {
    /// Starts `n` replicas named `r1`…`rN` from a copy of this binary in `dir`.
    pub fn start(dir: &Path, n: usize) -> Result<Replicas, ReplicaError> {
        let exe = replica_binary(dir)?;
        let mut replicas = Replicas::default();
        for i in 1..=n {
            let name = format!("r{i}");
            let spawn_err = |source| ReplicaError::Spawn {
                name: name.clone(),
                source,
            };
            // Spawned from this thread, which lives as long as the demo: PR_SET_PDEATHSIG
            // fires when the thread that forked the child ends.
            let mut child = Command::new(&exe)
                .args(["demo", "--replica", &name, "--listen", "127.0.0.1:0"])
                .arg("--parent")
                .arg(std::process::id().to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(spawn_err)?;
            let pid = child.id();
            let mut line = String::new();
            if let Some(out) = child.stdout.take() {
                let _ = std::io::BufReader::new(out).read_line(&mut line);
            }
            let address = line.trim().strip_prefix(LISTENING).map(str::to_string);
            // Registered before the check, so a replica that said nothing useful is killed too.
            replicas.list.push(Replica {
                name: name.clone(),
                pid,
                address: address.clone().unwrap_or_default(),
                child,
            });
            if address.is_none() {
                return Err(ReplicaError::NoAddress { name, line });
            }
        }
        Ok(replicas)
    }

    /// `host:port` of every replica.
    pub fn addresses(&self) -> Vec<String> {
        self.list.iter().map(|r| r.address.clone()).collect()
    }

    /// Kills every replica by pid (SIGKILL, which also ends a stopped one) and reaps it.
    pub fn stop(&mut self) {
        for r in &mut self.list {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
        self.list.clear();
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What `/proc/<pid>/stat` says of a process: `R`, `S`, `T` (stopped), … (`None`: gone).
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name in parentheses may hold spaces; the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}
