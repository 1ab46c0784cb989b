//! The worker process: the embedded script started in the user's interpreter, one JSON request per
//! line in, one JSON response per line out. [`Pool`] serves a run (async; a call cut short by a
//! timeout drops its worker, which kills it by pid, and the next call starts a fresh one);
//! [`Session`] serves validation (blocking, one worker for every check).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// The worker script, embedded in the binary.
pub const SCRIPT: &str = include_str!("worker.py");

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot start the Python worker with {python}: {source}")]
    Start {
        python: PathBuf,
        source: std::io::Error,
    },
    #[error("the Python worker exited unexpectedly{0}")]
    Exited(String),
    #[error("talking to the Python worker failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the Python worker answered with something that is not JSON: {0}")]
    Protocol(String),
}

fn arguments(python: &Path) -> (PathBuf, [&'static str; 3]) {
    (python.to_path_buf(), ["-u", "-c", SCRIPT])
}

fn parse(line: &str) -> Result<Value, WorkerError> {
    serde_json::from_str(line).map_err(|e| WorkerError::Protocol(format!("{e}: {line:?}")))
}

/// One worker process of a run; dropping it kills the process (by its pid).
#[derive(Debug)]
struct Worker {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::BufReader<tokio::process::ChildStdout>,
}

impl Worker {
    fn start(python: &Path) -> Result<Worker, WorkerError> {
        let (program, args) = arguments(python);
        let mut child = tokio::process::Command::new(&program)
            .args(args)
            .env("MONKEYWRENCH_PYTHON_PARENT", std::process::id().to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| WorkerError::Start {
                python: program.clone(),
                source,
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(WorkerError::Exited(" (no pipes)".into()));
        };
        Ok(Worker {
            child,
            stdin,
            stdout: tokio::io::BufReader::new(stdout),
        })
    }

    async fn request(&mut self, request: &Value) -> Result<Value, WorkerError> {
        let mut line = request.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        let mut answer = String::new();
        if self.stdout.read_line(&mut answer).await? == 0 {
            let status = self.child.wait().await.ok();
            return Err(WorkerError::Exited(
                status.map(|s| format!(" ({s})")).unwrap_or_default(),
            ));
        }
        parse(&answer)
    }
}

/// The run's workers: started on the first Python call only, reused while they answer.
#[derive(Debug)]
pub struct Pool {
    python: Result<PathBuf, String>,
    idle: Mutex<Vec<Worker>>,
    started: AtomicUsize,
}

impl Pool {
    /// A pool for `python` (`Err` holds why there is no interpreter; every call then fails with it).
    pub fn new(python: Result<PathBuf, String>) -> Self {
        Pool {
            python,
            idle: Mutex::new(Vec::new()),
            started: AtomicUsize::new(0),
        }
    }

    /// An empty pool for the same interpreter.
    pub fn sibling(&self) -> Pool {
        Pool::new(self.python.clone())
    }

    /// How many worker processes this pool has started.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::Relaxed)
    }

    /// Sends `request` to an idle worker (or a new one). Cancel-safe: dropping the future kills the
    /// worker it was using.
    pub async fn request(&self, request: &Value) -> Result<Value, String> {
        let python = self.python.as_ref().map_err(Clone::clone)?;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut worker = match idle {
            Some(w) => w,
            None => {
                self.started.fetch_add(1, Ordering::Relaxed);
                Worker::start(python).map_err(|e| e.to_string())?
            }
        };
        let answer = worker.request(request).await.map_err(|e| e.to_string())?;
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(worker);
        Ok(answer)
    }

    /// Closes every idle worker's stdin and waits for it to exit (killed if it does not in 2 s).
    pub async fn shutdown(&self) {
        let workers: Vec<Worker> =
            std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for mut w in workers {
            drop(w.stdin);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), w.child.wait()).await;
            let _ = w.child.start_kill();
            let _ = w.child.wait().await;
        }
    }
}

/// A blocking worker for validation: every check of one file goes through it.
#[derive(Debug)]
pub struct Session {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Session {
    pub fn start(python: &Path) -> Result<Session, WorkerError> {
        let (program, args) = arguments(python);
        let mut child = std::process::Command::new(&program)
            .args(args)
            .env("MONKEYWRENCH_PYTHON_PARENT", std::process::id().to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .map_err(|source| WorkerError::Start {
                python: program.clone(),
                source,
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(WorkerError::Exited(" (no pipes)".into()));
        };
        Ok(Session {
            child,
            stdin: Some(stdin),
            stdout: std::io::BufReader::new(stdout),
        })
    }

    pub fn request(&mut self, request: &Value) -> Result<Value, WorkerError> {
        let mut line = request.to_string();
        line.push('\n');
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| WorkerError::Exited(String::new()))?;
        stdin.write_all(line.as_bytes())?;
        stdin.flush()?;
        let mut answer = String::new();
        if self.stdout.read_line(&mut answer)? == 0 {
            let status = self.child.wait().ok();
            return Err(WorkerError::Exited(
                status.map(|s| format!(" ({s})")).unwrap_or_default(),
            ));
        }
        parse(&answer)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // EOF ends the worker; imports are done, so it exits at once. Kill it if it lingers.
        drop(self.stdin.take());
        for _ in 0..200 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn python() -> Option<PathBuf> {
        let cwd = std::env::current_dir().ok()?;
        super::super::Interpreter::choose(None, &|k| std::env::var(k).ok(), &cwd)
            .path()
            .ok()
            .map(Path::to_path_buf)
    }

    #[tokio::test]
    async fn values_json_cannot_hold_come_back_as_text_and_one_worker_serves_every_call() {
        let Some(python) = python() else {
            eprintln!("SKIPPED: no python3 on PATH");
            return;
        };
        let pool = Pool::new(Ok(python));
        let call = |module: &str, func: &str, arguments: Value| json!({"op": "call", "module": module, "func": func, "arguments": arguments, "configuration": {}, "secrets": null});
        let date = pool
            .request(&call(
                "datetime",
                "date",
                json!({"year": 2026, "month": 12, "day": 2}),
            ))
            .await
            .unwrap();
        assert_eq!(date["value"], "2026-12-02");
        let frac = pool
            .request(&call(
                "fractions",
                "Fraction",
                json!({"numerator": 1, "denominator": 3}),
            ))
            .await
            .unwrap();
        assert_eq!(frac["value"], "1/3");
        let nan = pool
            .request(&call("json", "loads", json!({"s": "NaN"})))
            .await
            .unwrap();
        assert_eq!(nan["value"], "nan", "JSON has no NaN: {nan}");
        let failed = pool
            .request(&call("json", "loads", json!({"s": "{"})))
            .await
            .unwrap();
        assert_eq!(failed["ok"], false);
        assert!(
            failed["error"]
                .as_str()
                .unwrap()
                .starts_with("json.decoder.JSONDecodeError: "),
            "{failed}"
        );
        let missing = pool
            .request(&call("no_such_module_mw", "f", json!({})))
            .await
            .unwrap();
        assert_eq!(
            missing["error"],
            "ModuleNotFoundError: No module named 'no_such_module_mw'"
        );
        assert_eq!(pool.started(), 1);
        pool.shutdown().await;
    }

    #[tokio::test]
    async fn a_call_dropped_midway_kills_its_worker_and_the_next_call_starts_another() {
        let Some(python) = python() else {
            eprintln!("SKIPPED: no python3 on PATH");
            return;
        };
        let pool = Pool::new(Ok(python));
        let pid = pool
            .request(&json!({"op": "call", "module": "os", "func": "getpid", "arguments": {}}))
            .await
            .unwrap()["value"]
            .as_i64()
            .unwrap() as i32;
        // input() waits for a line on the worker's stdin, which never comes: a call that hangs.
        let slow = json!({"op": "call", "module": "builtins", "func": "input", "arguments": {}});
        let cut =
            tokio::time::timeout(std::time::Duration::from_millis(300), pool.request(&slow)).await;
        assert!(cut.is_err(), "the call was cut short");
        let dead = (0..100).any(|_| {
            let gone = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    s.rsplit(')')
                        .next()
                        .and_then(|r| r.split_whitespace().next())
                        == Some("Z")
                })
                .unwrap_or(true);
            if !gone {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            gone
        });
        assert!(dead, "worker {pid} still runs");
        let next = pool
            .request(&json!({"op": "call", "module": "os", "func": "getpid", "arguments": {}}))
            .await
            .unwrap();
        assert_ne!(next["value"].as_i64().unwrap() as i32, pid);
        assert_eq!(pool.started(), 2);
        pool.shutdown().await;
    }
}
