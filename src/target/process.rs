//! Process targets: identity (pid + start time, so a recycled pid is never mistaken for the
//! original), enumeration from `/proc`, and signalling through a pidfd where the kernel has one.

use std::path::Path;

use rustix::process::{Pid, PidfdFlags, Signal as RSignal, pidfd_open, pidfd_send_signal};
use serde::{Deserialize, Serialize};

/// A process as it was when we saw it: a pid plus its start time (clock ticks since boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    pub pid: i32,
    /// Start time from `/proc/<pid>/stat` (field 22), in clock ticks after boot.
    pub start_time: u64,
}

/// What can go wrong when signalling a process target.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignalError {
    /// The process exited (or its pid now belongs to another process).
    #[error("process {0} is gone")]
    Gone(i32),
    /// Not allowed to signal it.
    #[error("not permitted to signal process {0}")]
    Denied(i32),
    /// An unknown signal name.
    #[error("unknown signal {0:?}; expected a name such as SIGKILL, SIGTERM, SIGSTOP, SIGCONT")]
    UnknownSignal(String),
    /// Any other OS error.
    #[error("signal process {pid}: {message}")]
    Os { pid: i32, message: String },
}

impl ProcessIdentity {
    /// The identity of the live process `pid`, if it exists.
    pub fn of(pid: i32) -> Option<ProcessIdentity> {
        Some(ProcessIdentity {
            pid,
            start_time: read_start_time(pid)?,
        })
    }

    /// This process.
    pub fn current() -> ProcessIdentity {
        let pid = std::process::id() as i32;
        ProcessIdentity {
            pid,
            start_time: read_start_time(pid).unwrap_or(0),
        }
    }

    /// Whether this exact process (not a recycled pid) is still running (zombies count as gone).
    pub fn is_alive(&self) -> bool {
        read_stat(self.pid).is_some_and(|s| s.start_time == self.start_time && s.state != 'Z')
    }

    /// Sends `signal`; a pidfd pins the process so a recycled pid is never signalled.
    pub fn signal(&self, signal: &str) -> Result<(), SignalError> {
        let sig = parse_signal(signal)?;
        let pid = Pid::from_raw(self.pid).ok_or(SignalError::Gone(self.pid))?;
        let fd = match pidfd_open(pid, PidfdFlags::empty()) {
            Ok(fd) => Some(fd),
            Err(rustix::io::Errno::SRCH) => return Err(SignalError::Gone(self.pid)),
            // Old kernels: fall back to checking the start time right before kill(2).
            Err(_) => None,
        };
        // With the pidfd open, the pid cannot be reused: verify it is still the same process.
        if !self.is_alive() {
            return Err(SignalError::Gone(self.pid));
        }
        let result = match &fd {
            Some(fd) => pidfd_send_signal(fd, sig),
            None => rustix::process::kill_process(pid, sig),
        };
        result.map_err(|e| match e {
            rustix::io::Errno::SRCH => SignalError::Gone(self.pid),
            rustix::io::Errno::PERM => SignalError::Denied(self.pid),
            other => SignalError::Os {
                pid: self.pid,
                message: other.to_string(),
            },
        })
    }

    /// The process state letter (`R`, `S`, `T` stopped, `Z` zombie, …), if it still exists.
    pub fn state(&self) -> Option<char> {
        read_stat(self.pid)
            .filter(|s| s.start_time == self.start_time)
            .map(|s| s.state)
    }
}

/// Parses `SIGKILL`, `KILL`, `sigterm`, `9`.
pub fn parse_signal(name: &str) -> Result<RSignal, SignalError> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let sig = match bare {
        "KILL" | "9" => RSignal::KILL,
        "TERM" | "15" => RSignal::TERM,
        "INT" | "2" => RSignal::INT,
        "HUP" | "1" => RSignal::HUP,
        "QUIT" | "3" => RSignal::QUIT,
        "STOP" | "19" => RSignal::STOP,
        "CONT" | "18" => RSignal::CONT,
        "USR1" | "10" => RSignal::USR1,
        "USR2" | "12" => RSignal::USR2,
        "ABRT" | "6" => RSignal::ABORT,
        _ => return Err(SignalError::UnknownSignal(name.to_string())),
    };
    Ok(sig)
}

/// Fields of `/proc/<pid>/stat` we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// `comm`, the executable name (15 chars max).
    pub comm: String,
    /// State letter.
    pub state: char,
    pub ppid: i32,
    /// Start time in clock ticks after boot.
    pub start_time: u64,
}

/// Reads `/proc/<pid>/stat`.
pub fn read_stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<Stat> {
    // comm may contain spaces and parentheses: it ends at the LAST ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 2..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); field 4 is ppid; field 22 (starttime) is rest[19].
    Some(Stat {
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        start_time: rest.get(19)?.parse().ok()?,
    })
}

fn read_start_time(pid: i32) -> Option<u64> {
    read_stat(pid).map(|s| s.start_time)
}

/// A running process as the selector sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessInfo {
    pub identity: ProcessIdentity,
    /// Executable name (`comm`).
    pub name: String,
    /// Full command line, arguments joined by spaces.
    pub cmdline: String,
    pub ppid: i32,
    /// Real user id.
    pub uid: u32,
}

/// Every process visible in `/proc` (races with exiting processes are skipped).
pub fn list_processes() -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(process_info)
        .collect()
}

/// Reads one process's info.
pub fn process_info(pid: i32) -> Option<ProcessInfo> {
    let stat = read_stat(pid)?;
    if stat.state == 'Z' {
        return None;
    }
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = raw
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Some(ProcessInfo {
        identity: ProcessIdentity {
            pid,
            start_time: stat.start_time,
        },
        name: stat.comm,
        cmdline,
        ppid: stat.ppid,
        uid: uid_of(Path::new(&format!("/proc/{pid}"))).unwrap_or(u32::MAX),
    })
}

fn uid_of(proc_dir: &Path) -> Option<u32> {
    let status = std::fs::read_to_string(proc_dir.join("status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_names() {
        let line = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000000 100";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.comm, "my (odd) name");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.start_time, 987654);
    }

    #[test]
    fn current_process_is_alive_and_a_forged_start_time_is_not() {
        let me = ProcessIdentity::current();
        assert!(me.is_alive());
        let forged = ProcessIdentity {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!forged.is_alive());
        assert_eq!(forged.signal("SIGCONT"), Err(SignalError::Gone(me.pid)));
    }

    #[test]
    fn signal_names_parse_in_every_spelling() {
        assert_eq!(parse_signal("SIGKILL").unwrap(), RSignal::KILL);
        assert_eq!(parse_signal("term").unwrap(), RSignal::TERM);
        assert_eq!(parse_signal("19").unwrap(), RSignal::STOP);
        assert!(matches!(
            parse_signal("SIGFOO"),
            Err(SignalError::UnknownSignal(_))
        ));
    }

    #[test]
    fn stop_and_continue_a_real_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let id = ProcessIdentity::of(child.id() as i32).unwrap();
        id.signal("SIGSTOP").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while id.state() != Some('T') && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(id.state(), Some('T'));
        id.signal("SIGCONT").unwrap();
        while id.state() == Some('T') && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_ne!(id.state(), Some('T'));
        let _ = child.kill();
        let _ = child.wait();
        assert!(!id.is_alive());
        assert_eq!(id.signal("SIGCONT"), Err(SignalError::Gone(id.pid)));
    }
}
