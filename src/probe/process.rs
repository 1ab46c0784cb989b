//! The `process` provider (spec §3.2): run a child with empty stdin in its own process group,
//! capture its output, kill the whole group on timeout or when the future is dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// A process to run, with arguments already substituted and stringified.
#[derive(Debug, Clone)]
pub struct ProcessCall {
    /// The resolved executable.
    pub program: PathBuf,
    pub arguments: ProcessArgs,
    /// Provider timeout.
    pub timeout: Option<Duration>,
    /// Extra environment (from `.env` var files) on top of the inherited one.
    pub env: Vec<(String, String)>,
}

/// How arguments are passed.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessArgs {
    /// argv items, no shell.
    List(Vec<String>),
    /// `sh -c "<program> <text>"` (Chaos Toolkit's string form; the path is not quoted).
    Shell(String),
}

/// Failures of the process provider.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The timeout expired; the process group was killed.
    #[error("timed out after {seconds} s")]
    TimedOut {
        /// The timeout, as the user wrote it.
        seconds: String,
    },
    /// The program could not be started.
    #[error("start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// Waiting for or reading from the child failed.
    #[error("wait for {program}: {source}")]
    Wait {
        program: String,
        source: std::io::Error,
    },
}

/// The provider's output plus warnings (e.g. invalid UTF-8 replaced).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessOutput {
    /// `{"status": …, "stdout": …, "stderr": …}`.
    pub value: Value,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

/// Kills the child's whole process group when dropped before the child was reaped.
struct GroupGuard {
    pgid: Option<i32>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

/// Runs the call; a non-zero exit is not an error. Cancel-safe: dropping the future kills the group.
pub async fn run(call: &ProcessCall) -> Result<ProcessOutput, ProcessError> {
    let program = call.program.display().to_string();
    let mut cmd = match &call.arguments {
        ProcessArgs::List(args) => {
            let mut c = Command::new(&call.program);
            c.args(args);
            c
        }
        ProcessArgs::Shell(text) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!("{program} {text}"));
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for (k, v) in &call.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
        program: program.clone(),
        source,
    })?;
    let mut guard = GroupGuard {
        pgid: child.id().map(|p| p as i32),
    };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let work = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.read_to_end(&mut err).await;
            }
        };
        let (status, _, _) = tokio::join!(child.wait(), read_out, read_err);
        status.map(|s| (s, out, err))
    };
    let result = match call.timeout {
        Some(t) => match tokio::time::timeout(t, work).await {
            Ok(r) => r,
            Err(_) => {
                return Err(ProcessError::TimedOut {
                    seconds: format_seconds(t.as_secs_f64()),
                });
            }
        },
        None => work.await,
    };
    let (status, out, err) = result.map_err(|source| ProcessError::Wait {
        program: program.clone(),
        source,
    })?;
    // Reaped: its group may still hold grandchildren, which we leave alone like CTK does.
    guard.pgid = None;
    let code = match status.code() {
        Some(c) => i64::from(c),
        None => -i64::from(std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)),
    };
    let mut warnings = Vec::new();
    let stdout = decode(&out, "stdout", &mut warnings);
    let stderr = decode(&err, "stderr", &mut warnings);
    let mut value = Map::new();
    value.insert("status".into(), Value::from(code));
    value.insert("stdout".into(), Value::String(stdout));
    value.insert("stderr".into(), Value::String(stderr));
    Ok(ProcessOutput {
        value: Value::Object(value),
        warnings,
    })
}

fn decode(bytes: &[u8], stream: &str, warnings: &mut Vec<String>) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            warnings.push(format!(
                "{stream} was not valid UTF-8; invalid bytes became U+FFFD"
            ));
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

/// `1`, `1.5`: seconds as a user wrote them.
pub fn format_seconds(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as i64)
    } else {
        format!("{s}")
    }
}

/// Python's `str()` of a JSON value, as Chaos Toolkit stringifies list arguments; `None` for null.
pub fn python_str(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        other => python_repr(other),
    })
}

/// Python's `repr()`-like rendering used inside `str()` of containers.
pub fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => python_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("'{k}': {}", python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `1.0`, `0.5`, `1e+20`-style floats as Python prints them (close enough for arguments).
fn python_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Resolves a `process` path like `which`: `~` expanded, names with `/` from `cwd`, bare names via
/// `PATH`; the result must be an executable file.
pub fn resolve_executable(path: &str, cwd: &Path) -> Result<PathBuf, String> {
    let expanded = if let Some(rest) = path.strip_prefix("~/") {
        match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => PathBuf::from(path),
        }
    } else {
        PathBuf::from(path)
    };
    if path.is_empty() {
        return Err("path is empty".into());
    }
    if path.contains('/') {
        let full = if expanded.is_absolute() {
            expanded
        } else {
            cwd.join(expanded)
        };
        return if is_executable(&full) {
            Ok(full)
        } else if full.exists() {
            Err(format!("{} is not an executable file", full.display()))
        } else {
            Err(format!("{} does not exist", full.display()))
        };
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .map(|dir| dir.join(path))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| format!("executable {path:?} not found in PATH"))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(program: &str, args: &[&str]) -> ProcessCall {
        ProcessCall {
            program: resolve_executable(program, Path::new("/")).unwrap(),
            arguments: ProcessArgs::List(args.iter().map(|s| s.to_string()).collect()),
            timeout: None,
            env: vec![],
        }
    }

    #[tokio::test]
    async fn output_has_status_stdout_stderr_in_order() {
        let out = run(&call("sh", &["-c", "echo out; echo err >&2; exit 3"]))
            .await
            .unwrap();
        assert_eq!(
            serde_json::to_string(&out.value).unwrap(),
            r#"{"status":3,"stdout":"out\n","stderr":"err\n"}"#
        );
    }

    #[tokio::test]
    async fn stdin_is_empty_so_cat_does_not_hang() {
        let mut c = call("cat", &["-"]);
        c.timeout = Some(Duration::from_secs(5));
        assert_eq!(run(&c).await.unwrap().value["status"], 0);
    }

    #[tokio::test]
    async fn shell_form_and_env_overlay() {
        let c = ProcessCall {
            program: resolve_executable("echo", Path::new("/")).unwrap(),
            arguments: ProcessArgs::Shell("$GREETING world".into()),
            timeout: None,
            env: vec![("GREETING".into(), "hello".into())],
        };
        assert_eq!(run(&c).await.unwrap().value["stdout"], "hello world\n");
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced_with_a_warning() {
        let out = run(&call("printf", &["\\377ok"])).await.unwrap();
        assert_eq!(out.value["stdout"], "\u{FFFD}ok");
        assert_eq!(out.warnings.len(), 1);
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group() {
        let marker =
            std::env::temp_dir().join(format!("mw-proc-{}", uuid::Uuid::new_v4().simple()));
        let mut c = call(
            "sh",
            &[
                "-c",
                &format!("sleep 30 & echo $! > {}; wait", marker.display()),
            ],
        );
        c.timeout = Some(Duration::from_millis(500));
        let err = run(&c).await.unwrap_err();
        assert_eq!(err.to_string(), "timed out after 0.5 s");
        let grandchild: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let alive = std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
            .is_ok_and(|s| !s.contains(") Z"));
        assert!(!alive, "the grandchild survived the timeout");
        let _ = std::fs::remove_file(marker);
    }

    #[tokio::test]
    async fn dropping_the_future_kills_the_group() {
        let marker =
            std::env::temp_dir().join(format!("mw-proc-{}", uuid::Uuid::new_v4().simple()));
        let c = call(
            "sh",
            &["-c", &format!("echo $$ > {}; sleep 30", marker.display())],
        );
        let fut = run(&c);
        let _ = tokio::time::timeout(Duration::from_millis(300), fut).await;
        let pid: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let alive =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"));
        assert!(!alive, "the shell survived the cancellation");
        let _ = std::fs::remove_file(marker);
    }

    #[test]
    fn python_str_matches_ctk_stringification() {
        assert_eq!(python_str(&serde_json::json!(true)).unwrap(), "True");
        assert_eq!(python_str(&serde_json::json!(1.0)).unwrap(), "1.0");
        assert_eq!(python_str(&serde_json::json!(5)).unwrap(), "5");
        assert_eq!(python_str(&Value::Null), None);
        assert_eq!(
            python_str(&serde_json::json!(["a", 1])).unwrap(),
            "['a', 1]"
        );
        assert_eq!(
            python_str(&serde_json::json!({"k": "v"})).unwrap(),
            "{'k': 'v'}"
        );
    }

    #[test]
    fn executables_resolve_like_which() {
        assert!(
            resolve_executable("sh", Path::new("/"))
                .unwrap()
                .is_absolute()
        );
        assert!(
            resolve_executable("no-such-program-xyz", Path::new("/"))
                .unwrap_err()
                .contains("not found")
        );
        assert!(
            resolve_executable("./missing", Path::new("/tmp"))
                .unwrap_err()
                .contains("does not exist")
        );
        let plain =
            std::env::temp_dir().join(format!("mw-plain-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&plain, "not a program").unwrap();
        let err = resolve_executable(plain.to_str().unwrap(), Path::new("/")).unwrap_err();
        assert!(err.contains("not an executable"), "{err}");
        let _ = std::fs::remove_file(plain);
    }
}
