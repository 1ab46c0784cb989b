//! Shared helpers for integration tests: run the real binary, make temp dirs.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Path of the `monkeywrench` binary built for this test run.
pub(crate) fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_monkeywrench"))
}

/// Runs the binary with `args` in `dir`, with empty stdin, and returns its output. Its state
/// (ledger, history) lives under `dir` unless the test's environment names one.
pub(crate) fn run_in(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut command = Command::new(binary());
    if std::env::var_os("MONKEYWRENCH_STATE_DIR").is_none() {
        command.env("MONKEYWRENCH_STATE_DIR", dir.join(".mw-state"));
    }
    command
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the monkeywrench binary starts")
}

/// A fresh temporary directory removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// Creates a unique directory under the system temp dir.
    pub(crate) fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "mw-it-{label}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    /// The directory's path.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub(crate) fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path.to_string_lossy().into_owned()
}

/// Runs an experiment with the real binary in `dir`; returns the output and the journal (if any).
pub(crate) fn run_experiment(
    dir: &std::path::Path,
    file: &str,
    extra: &[&str],
) -> (Output, Option<serde_json::Value>) {
    let journal = dir.join("journal.json");
    let _ = std::fs::remove_file(&journal);
    let journal_arg = journal.to_string_lossy().into_owned();
    let mut args = vec!["run", "--journal-path", journal_arg.as_str()];
    args.extend_from_slice(extra);
    args.push(file);
    let out = run_in(dir, &args);
    let doc = std::fs::read_to_string(&journal)
        .ok()
        .map(|t| serde_json::from_str(&t).expect("journal is JSON"));
    (out, doc)
}

/// Stderr of an output, for assertion messages.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A tiny real HTTP/1.1 server on 127.0.0.1:0 whose response status can be changed while it runs.
pub(crate) struct StatusServer {
    addr: std::net::SocketAddr,
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StatusServer {
    /// Starts answering every request with `status` and a small JSON body.
    pub(crate) fn start(status: u16) -> Self {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let status = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(status));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (status.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let s = s.clone();
                        std::thread::spawn(move || {
                            let _ = stream.set_nonblocking(false);
                            let _ =
                                stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                            let mut reader = BufReader::new(stream);
                            loop {
                                let mut line = String::new();
                                let mut content_length = 0usize;
                                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                    return;
                                }
                                loop {
                                    let mut h = String::new();
                                    if reader.read_line(&mut h).unwrap_or(0) == 0 {
                                        return;
                                    }
                                    if h == "\r\n" {
                                        break;
                                    }
                                    let lower = h.to_ascii_lowercase();
                                    if let Some(v) = lower.strip_prefix("content-length:") {
                                        content_length = v.trim().parse().unwrap_or(0);
                                    }
                                }
                                let mut body = vec![0u8; content_length];
                                if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
                                    return;
                                }
                                let code = s.load(Ordering::Relaxed);
                                let payload = format!("{{\"status\": {code}}}");
                                let response = if code == 204 {
                                    "HTTP/1.1 204 No Content\r\n\r\n".to_string()
                                } else {
                                    format!(
                                        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
                                        payload.len()
                                    )
                                };
                                if reader.get_mut().write_all(response.as_bytes()).is_err() {
                                    return;
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        StatusServer { addr, status, stop }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the status future requests get.
    pub(crate) fn set_status(&self, status: u16) {
        self.status
            .store(status, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A loopback port with nothing listening on it (bound then released).
pub(crate) fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Checks an exposition with Prometheus's own `promtool check metrics` (Debian's `prometheus`
/// package, which `scripts/test` installs): it must parse and pass promtool's lint.
pub(crate) fn promtool_check(text: &str) {
    use std::io::Write;
    let promtool =
        std::env::var("MONKEYWRENCH_TEST_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var("MONKEYWRENCH_REQUIRE_PROMTOOL").is_err(),
                "promtool ({promtool}) is required: {e}"
            );
            eprintln!("promtool not found ({e}); exposition not checked");
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls `check` every 50 ms until it holds or `within` passes; whether it held.
pub(crate) fn wait_until(within: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    check()
}
