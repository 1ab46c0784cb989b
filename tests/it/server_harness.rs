//! The harness of the server tests: the real `monkeywrench server` started on 127.0.0.1:0 (its
//! address from `--address-file`), a plain HTTP/1.1 client over TCP, a Server-Sent Events
//! reader, victim processes, and experiments that wait for a release file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{binary, wait_until};

/// Long enough for anything here to happen on a loaded machine; only a failure waits this long.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// A running server, SIGKILLed on drop if still running.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: String,
    pub(crate) log: PathBuf,
}

impl Server {
    /// Starts `server --config config` in `dir` with the state directory `dir/state`.
    pub(crate) fn start(dir: &Path, config: &str, env: &[(&str, &str)]) -> Server {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let addr_file = dir.join(format!("addr-{tag}"));
        let log = dir.join(format!("server-{tag}.log"));
        let mut command = Command::new(binary());
        command
            .args(["server", "--config", config, "--listen", "127.0.0.1:0"])
            .arg("--address-file")
            .arg(&addr_file)
            .env("MONKEYWRENCH_STATE_DIR", dir.join("state"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let up = wait_until(PATIENCE, || {
            addr_file.exists() || child.try_wait().ok().flatten().is_some()
        });
        let addr = std::fs::read_to_string(&addr_file).unwrap_or_default();
        assert!(
            up && !addr.is_empty(),
            "the server did not come up: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Server { child, addr, log }
    }

    pub(crate) fn get(&self, path: &str) -> (u16, Value) {
        request(&self.addr, "GET", path, "")
    }

    pub(crate) fn post(&self, path: &str, body: &str) -> (u16, Value) {
        request(&self.addr, "POST", path, body)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGTERM, then waits for the exit; its exit code.
    pub(crate) fn stop(&mut self) -> Option<i32> {
        signal(self.pid(), nix::sys::signal::Signal::SIGTERM);
        self.child.wait().unwrap().code()
    }

    pub(crate) fn sigkill(&mut self) {
        signal(self.pid(), nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// The run `id` once `check` holds for it.
    pub(crate) fn run_until(&self, id: &str, check: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let ok = wait_until(PATIENCE, || {
            last = self.get(&format!("/api/runs/{id}")).1;
            check(&last)
        });
        assert!(ok, "run {id} never got there: {last:#}\n{}", self.log());
        last
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.sigkill();
        }
    }
}

fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

/// One HTTP/1.1 request on a fresh connection: the status and the JSON body (Null if not JSON).
/// Runs `name` now through the API; the new run's id.
pub(crate) fn run_now(server: &Server, name: &str) -> String {
    let (status, body) = server.post(&format!("/api/experiments/{name}/runs"), "");
    assert_eq!(status, 202, "{body:#}\n{}", server.log());
    body["run_id"].as_str().unwrap().to_string()
}

pub(crate) fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (status, _, text) = raw_request(addr, method, path, body, &[]);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Status, head and body text.
pub(crate) fn raw_request(
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, rest) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), rest.to_string())
}

/// A Server-Sent Events stream read as it comes (chunked transfer decoding included).
pub(crate) struct Sse {
    reader: BufReader<TcpStream>,
    pending: String,
}

/// One SSE message: id, event type, data.
pub(crate) type Message = (Option<i64>, String, Value);

impl Sse {
    pub(crate) fn open(addr: &str, path: &str, last_event_id: Option<i64>) -> Sse {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let resume = last_event_id
            .map(|n| format!("Last-Event-ID: {n}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{resume}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("text/event-stream"), "{head}");
        Sse {
            reader,
            pending: String::new(),
        }
    }

    /// The next message (keep-alive comments skipped); None at the end of the stream.
    pub(crate) fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(at) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..at + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), Value::Null);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).unwrap_or(Value::Null);
                    }
                }
                if event.is_empty() {
                    continue;
                }
                return Some((id, event, data));
            }
            // One chunk: its size in hex, the bytes, CRLF.
            let mut size = String::new();
            if self.reader.read_line(&mut size).ok()? == 0 {
                return None;
            }
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                return None;
            }
            let mut chunk = vec![0u8; n + 2];
            self.reader.read_exact(&mut chunk).ok()?;
            self.pending.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    }

    /// Messages up to and including the first `event` named `until`.
    pub(crate) fn until(&mut self, until: &str) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(m) = self.next() {
            let done = m.1 == until;
            out.push(m);
            if done {
                return out;
            }
        }
        panic!(
            "the stream ended before {until:?}: {:?}",
            out.iter().map(|m| &m.1).collect::<Vec<_>>()
        );
    }
}

/// A victim with a unique command line in its own process group.
pub(crate) struct Victim {
    child: Child,
    pub(crate) marker: String,
}

impl Victim {
    pub(crate) fn start() -> Victim {
        let marker = format!("mw-srv-victim-{}", uuid::Uuid::new_v4().simple());
        let mut cmd = Command::new("bash");
        cmd.args(["-c", &format!("exec -a {marker} sleep 300")]);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.stdout(Stdio::null()).spawn().unwrap();
        let pid = child.id();
        assert!(wait_until(PATIENCE, || {
            String::from_utf8_lossy(
                &std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
            )
            .contains(&marker)
        }));
        Victim { child, marker }
    }

    pub(crate) fn stopped(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .ok()
            .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim().starts_with('T')))
            .unwrap_or(false)
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An experiment whose method waits until `release` exists (after freezing `victim`, if given).
pub(crate) fn blocked_experiment(release: &Path, victim: Option<&str>) -> String {
    let freeze = victim
        .map(|m| {
            format!(
                r#"{{"type": "action", "name": "freeze", "duration": 120,
                  "provider": {{"type": "builtin", "func": "process.stop", "arguments": {{"target": {{"pattern": "{m}"}}}}}}}},"#
            )
        })
        .unwrap_or_default();
    format!(
        r#"{{"title": "blocked", "description": "waits for its release file",
            "method": [{freeze}
              {{"type": "action", "name": "wait", "provider": {{"type": "process", "path": "sh",
                "arguments": ["-c", "while [ ! -f {} ]; do sleep 0.05; done"]}}}}]}}"#,
        release.display()
    )
}

/// An experiment that passes at once.
pub(crate) const PASSING: &str = r#"{"title": "passing", "description": "d",
  "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "tmp",
    "tolerance": true, "provider": {"type": "builtin", "func": "file.exists", "arguments": {"path": "/tmp"}}}]},
  "method": [{"type": "action", "name": "nap", "provider": {"type": "process", "path": "true"}}]}"#;

/// An experiment whose before-hypothesis is unmet (it fails).
pub(crate) const FAILING: &str = r#"{"title": "failing", "description": "d",
  "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "missing",
    "tolerance": true, "provider": {"type": "builtin", "func": "file.exists", "arguments": {"path": "/nonexistent/mw"}}}]},
  "method": []}"#;

/// A cron that never fires while a test runs (once a year, on a day long past by then).
pub(crate) const NEVER: &str = "'0 0 1 1 *'";
