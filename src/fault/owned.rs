//! Owner-bound faults: live work (a CPU stressor, a traffic surge) rather than a state change.
//!
//! The work runs in a child process that dies with its owner. The child is `monkeywrench work`,
//! which sets `PR_SET_PDEATHSIG` for itself (no `unsafe` pre-exec hook needed), checks that its
//! parent is still the owner, and waits for a go on stdin before it execs the real work. So the
//! lease can name the exact process (pid + start time) *before* anything runs: the plan spawns
//! the idle child, the ledger records the lease, the apply says go. Reverting stops it by pidfd,
//! which is also what the guard does when the owner was SIGKILLed. A handle registry keyed by
//! lease id keeps each child until it is reaped, with its exit status.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Act, Error, Origin, Plan};
use crate::ledger::UndoAttempt;
use crate::target::process::{ProcessIdentity, SignalError};

/// The word on stdin that lets the child exec its work.
pub const GO: &str = "go";

/// Work to run as an owner-bound fault: `program` with `args`, started through `exe work`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    /// The monkeywrench binary (it runs the `work` wrapper).
    pub exe: PathBuf,
    /// What to exec once the lease is recorded.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Whether its stdout comes back here (`Waiting::take_stdout`) rather than to /dev/null.
    pub pipe_stdout: bool,
}

/// The host: owner-bound work has no other target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host;

/// How to undo owner-bound work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// Kill the exact process.
    StopWork {
        /// The work's process.
        process: ProcessIdentity,
    },
}

impl Undo {
    /// SIGKILL by pidfd, then checks the process is gone.
    pub async fn undo(&self) -> UndoAttempt {
        let Undo::StopWork { process } = self;
        match process.signal("SIGKILL") {
            Ok(()) => {}
            Err(SignalError::Gone(_)) => return UndoAttempt::Verified,
            Err(e) => return UndoAttempt::NotYet(e.to_string()),
        }
        // SIGKILL is delivered at once but the exit takes a moment; the ledger retries.
        for _ in 0..50 {
            if !process.is_alive() {
                return UndoAttempt::Verified;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        UndoAttempt::NotYet(format!("process {} still runs after SIGKILL", process.pid))
    }
}

/// A spawned, idle work child, handed from the plan to the apply.
#[derive(Debug)]
pub struct Waiting {
    child: Option<Child>,
    identity: ProcessIdentity,
}

impl Waiting {
    /// The child's stdout, when its work pipes it (taken once, before the go).
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut()?.stdout.take()
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        // Never told to go (the lease was refused): it must not linger.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Act for Work {
    type Victim = Host;
    type Planned = Waiting;

    async fn plan(&self, _: &Host, _: &Origin) -> Result<(Plan, Waiting), Error> {
        let waiting = spawn_idle(self.clone())
            .await
            .map_err(|e| Error::failed(format!("start {}", self.program), e))?;
        let plan = Plan {
            target: json!({
                "kind": "work",
                "pid": waiting.identity.pid,
                "program": self.program,
                "args": self.args,
            }),
            undo: super::Undo::Owned(Undo::StopWork {
                process: waiting.identity,
            }),
            settles_within: None,
        };
        Ok((plan, waiting))
    }

    async fn apply(self, _: Host, mut waiting: Waiting) -> Result<(), Error> {
        let what = format!("start {}", self.program);
        let Some(mut child) = waiting.child.take() else {
            return Err(Error::failed(
                what,
                "the work process was already handed on",
            ));
        };
        let told = child
            .stdin
            .take()
            .map(|mut stdin| writeln!(stdin, "{GO}"))
            .unwrap_or_else(|| Err(std::io::Error::other("no stdin")));
        if let Err(e) = told {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::failed(what, e));
        }
        registry().adopt(waiting.identity, child);
        Ok(())
    }
}

/// Children of this process that run owner-bound work, by pid, with how they ended.
#[derive(Debug, Default)]
pub struct Registry {
    exits: Mutex<HashMap<i32, Run>>,
}

/// Where one work child is.
#[derive(Debug, Clone, Copy)]
enum Run {
    Running,
    /// Ended; its status, when it could be waited for.
    Ended(Option<ExitStatus>),
}

/// The process-wide registry.
pub fn registry() -> &'static Arc<Registry> {
    static REGISTRY: OnceLock<Arc<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| Arc::new(Registry::default()))
}

impl Registry {
    fn adopt(&self, identity: ProcessIdentity, mut child: Child) {
        self.lock().insert(identity.pid, Run::Running);
        let registry = registry().clone();
        // Reap it whenever it ends (a revert's SIGKILL, its own exit, an OOM kill).
        std::thread::spawn(move || {
            let status = child.wait().ok();
            registry.lock().insert(identity.pid, Run::Ended(status));
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Run>> {
        self.exits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How work started here ended: `None` while it runs (or if it is not ours), `Some(None)`
    /// if it ended but could not be waited for.
    pub fn exit_of(&self, pid: i32) -> Option<Option<ExitStatus>> {
        match self.lock().get(&pid) {
            Some(Run::Ended(status)) => Some(*status),
            Some(Run::Running) | None => None,
        }
    }

    /// Whether work with this pid was started here and has not ended.
    pub fn is_running(&self, pid: i32) -> bool {
        matches!(self.lock().get(&pid), Some(Run::Running))
    }
}

/// A request to the spawner thread.
type SpawnRequest = (Work, tokio::sync::oneshot::Sender<std::io::Result<Child>>);

/// Spawns `exe work …` idle. `PR_SET_PDEATHSIG` fires when the *thread* that forked the child
/// ends, so every child is forked by one thread that lives as long as the process.
async fn spawn_idle(work: Work) -> std::io::Result<Waiting> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::spawn(move || {
            for (work, reply) in rx {
                let _ = reply.send(spawn_now(&work));
            }
        });
        Mutex::new(tx)
    });
    let (reply, answer) = tokio::sync::oneshot::channel();
    spawner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((work, reply))
        .map_err(|_| std::io::Error::other("the work spawner thread is gone"))?;
    let child = answer
        .await
        .map_err(|_| std::io::Error::other("the work spawner thread is gone"))??;
    let identity = ProcessIdentity::of(child.id() as i32).ok_or_else(|| {
        std::io::Error::other(format!("work process {} ended at once", child.id()))
    })?;
    Ok(Waiting {
        child: Some(child),
        identity,
    })
}

fn spawn_now(work: &Work) -> std::io::Result<Child> {
    let me = ProcessIdentity::current();
    Command::new(&work.exe)
        .arg("work")
        .arg("--owner")
        .arg(format!("{}:{}", me.pid, me.start_time))
        .arg("--")
        .arg(&work.program)
        .args(&work.args)
        .stdin(Stdio::piped())
        .stdout(if work.pipe_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::inherit())
        .spawn()
}
