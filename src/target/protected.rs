//! The one protected-target policy: what monkeywrench never acts on, whoever asks — a run's
//! faults, `targets`, `run --dry-run`, the monkey.
//!
//! Never a target:
//! - PID 1 (the init process, or a container's main process when monkeywrench runs inside it);
//! - this process;
//! - the guard of the state directory in use (its pid from the guard lock, given by the caller);
//! - any monkeywrench process: another run, a guard or monkey daemon, a `proxy serve`, a `demo`.
//!   One is recognised by its executable, not its command line (which a pattern may well match):
//!   `/proc/<pid>/exe` is the very file this process runs (same device and inode, so another path
//!   to it, or a binary replaced since it started, still counts), or an executable named
//!   `monkeywrench` (another install or version), or — when `/proc/<pid>/exe` cannot be read, as
//!   for another user's process — a process name (`comm`) of `monkeywrench`. A copy of the binary
//!   under another name, run by another user, is the one case this cannot see;
//! - the container monkeywrench runs in.

use std::os::unix::fs::MetadataExt;

use super::docker::own_container_id;
use super::process::ProcessInfo;

/// The executable's name, as `/proc/<pid>/exe` and `comm` show it.
const EXECUTABLE_NAME: &str = "monkeywrench";

/// Why a target is never acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// PID 1.
    Init,
    /// This process.
    Itself,
    /// The guard of the state directory in use.
    Guard,
    /// Another monkeywrench process.
    Monkeywrench,
    /// The container monkeywrench runs in.
    OwnContainer,
}

impl Protection {
    /// A fragment for messages: "pid 42 is protected: {reason}".
    pub fn reason(self) -> &'static str {
        match self {
            Protection::Init => "PID 1 is never a target",
            Protection::Itself => "monkeywrench never targets itself",
            Protection::Guard => "monkeywrench never targets its guard",
            Protection::Monkeywrench => "monkeywrench never targets a monkeywrench process",
            Protection::OwnContainer => "monkeywrench never targets the container it runs in",
        }
    }
}

/// The same file: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The executable of process `pid` (or `self`), which `/proc` resolves even once deleted.
    fn of_exe(pid: &str) -> Option<FileId> {
        FileId::of_exe_path(std::path::Path::new(&format!("/proc/{pid}/exe")))
    }

    fn of_exe_path(path: &std::path::Path) -> Option<FileId> {
        let meta = std::fs::metadata(path).ok()?;
        Some(FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

/// The policy as seen from this process (build it once per selection; it reads `/proc/self`).
#[derive(Debug, Clone)]
pub struct Protected {
    own_pid: i32,
    own_exe: Option<FileId>,
    guard: Option<i32>,
    own_container: Option<String>,
}

impl Protected {
    /// PID 1, this process, every monkeywrench process and this process's container.
    pub fn current() -> Protected {
        Protected {
            own_pid: std::process::id() as i32,
            own_exe: FileId::of_exe("self"),
            guard: None,
            own_container: own_container_id(),
        }
    }

    /// Also the guard whose pid is `guard` (`ledger::guard::guard_pid` of the state directory).
    pub fn with_guard(mut self, guard: Option<i32>) -> Protected {
        self.guard = guard;
        self
    }

    /// Why `p` is never a target, or `None` when it may be one.
    pub fn process(&self, p: &ProcessInfo) -> Option<Protection> {
        let pid = p.identity.pid;
        if pid == 1 {
            Some(Protection::Init)
        } else if pid == self.own_pid {
            Some(Protection::Itself)
        } else if self.guard == Some(pid) {
            Some(Protection::Guard)
        } else if self.is_monkeywrench(p) {
            Some(Protection::Monkeywrench)
        } else {
            None
        }
    }

    /// Why the container `id` is never a target, or `None` when it may be one.
    pub fn container(&self, id: &str) -> Option<Protection> {
        self.own_container
            .as_deref()
            .filter(|own| *own == id)
            .map(|_| Protection::OwnContainer)
    }

    fn is_monkeywrench(&self, p: &ProcessInfo) -> bool {
        let pid = p.identity.pid.to_string();
        if self.own_exe.is_some() && FileId::of_exe(&pid) == self.own_exe {
            return true;
        }
        match std::fs::read_link(format!("/proc/{pid}/exe")) {
            Ok(exe) => exe.file_name().is_some_and(|name| {
                let name = name.to_string_lossy();
                // A binary replaced or removed since it started shows as "monkeywrench (deleted)".
                name.strip_suffix(" (deleted)").unwrap_or(&name) == EXECUTABLE_NAME
            }),
            Err(_) => p.name == EXECUTABLE_NAME,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::process::process_info;

    fn info(pid: u32) -> ProcessInfo {
        process_info(pid as i32).expect("the process is listed")
    }

    #[test]
    fn init_itself_and_the_guard_are_protected_and_a_stranger_is_not() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let policy = Protected::current();
        assert_eq!(policy.process(&info(1)), Some(Protection::Init));
        assert_eq!(
            policy.process(&info(std::process::id())),
            Some(Protection::Itself)
        );
        assert_eq!(policy.process(&info(child.id())), None);
        let with_guard = policy.with_guard(Some(child.id() as i32));
        assert_eq!(
            with_guard.process(&info(child.id())),
            Some(Protection::Guard)
        );
        let _ = child.kill();
        let _ = child.wait();
    }

    /// A real `sleep` running from `exe`, killed when dropped.
    struct Sleeper(std::process::Child);

    impl Sleeper {
        fn start(exe: &std::path::Path) -> Sleeper {
            Sleeper(std::process::Command::new(exe).arg("30").spawn().unwrap())
        }

        fn info(&self) -> ProcessInfo {
            info(self.0.id())
        }
    }

    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn sleep_binary() -> std::path::PathBuf {
        let out = std::process::Command::new("sh")
            .args(["-c", "command -v sleep"])
            .output()
            .unwrap();
        std::fs::canonicalize(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
    }

    #[test]
    fn the_same_executable_by_any_path_or_deleted_is_protected() {
        let dir = std::env::temp_dir().join(format!("mw-protected-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        // Pretend `sleep` is this process's executable: its copy, a hard link to the copy and the
        // copy once deleted are all "the same executable".
        let copy = dir.join("some-tool");
        std::fs::copy(sleep_binary(), &copy).unwrap();
        let link = dir.join("another-name");
        std::fs::hard_link(&copy, &link).unwrap();
        let policy = Protected {
            own_exe: FileId::of_exe_path(&copy),
            ..Protected::current()
        };
        let by_link = Sleeper::start(&link);
        assert_eq!(
            policy.process(&by_link.info()),
            Some(Protection::Monkeywrench)
        );
        let deleted = Sleeper::start(&copy);
        std::fs::remove_file(&copy).unwrap();
        std::fs::remove_file(&link).unwrap();
        assert_eq!(
            policy.process(&deleted.info()),
            Some(Protection::Monkeywrench)
        );
        // A different executable is not protected.
        let stranger = Sleeper::start(&sleep_binary());
        assert_eq!(policy.process(&stranger.info()), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_executable_named_monkeywrench_is_protected_even_once_deleted() {
        let dir = std::env::temp_dir().join(format!("mw-protected-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let other_version = dir.join(EXECUTABLE_NAME);
        std::fs::copy(sleep_binary(), &other_version).unwrap();
        let running = Sleeper::start(&other_version);
        let policy = Protected::current();
        assert_eq!(
            policy.process(&running.info()),
            Some(Protection::Monkeywrench)
        );
        std::fs::remove_file(&other_version).unwrap();
        assert_eq!(
            policy.process(&running.info()),
            Some(Protection::Monkeywrench)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_the_own_container_is_protected() {
        let policy = Protected {
            own_container: Some("abc".into()),
            ..Protected::current()
        };
        assert_eq!(policy.container("abc"), Some(Protection::OwnContainer));
        assert_eq!(policy.container("abd"), None);
    }
}
