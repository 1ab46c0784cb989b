//! A process's control groups, v1 and v2: where they are mounted, joining them (so a stressor's
//! CPU and memory are charged to its target and its limits apply), and reading the usage and
//! limits the stress faults and their tests need.
//!
//! `/proc/<pid>/cgroup` names one line per hierarchy (`ID:controllers:path`; v2 is `0::path`),
//! relative to the reader's cgroup namespace; `/proc/self/mountinfo` tells where each hierarchy is
//! mounted here. A hybrid host (v1 controllers plus an empty v2 hierarchy) has both kinds.

use std::path::{Path, PathBuf};

/// Which cgroup interface a hierarchy speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// One cgroup of a process, as a directory here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    pub version: Version,
    /// Controllers of its hierarchy (`cpu`, `cpuacct`, `memory`, `name=systemd`; v2: empty).
    pub controllers: Vec<String>,
    /// The path inside its hierarchy, as `/proc/<pid>/cgroup` shows it.
    pub path: String,
    pub dir: PathBuf,
}

/// What went wrong with a process's cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// The process exited: it has no cgroups any more.
    #[error("process {0} is gone (it has no cgroup)")]
    Gone(i32),
    /// The process's cgroups could not be read, or none is mounted here.
    #[error("read the cgroups of process {pid}: {message}")]
    Read { pid: i32, message: String },
    /// Writing the pid into `cgroup.procs` failed.
    #[error("move process {pid} into cgroup {dir}: {message}")]
    Join {
        pid: i32,
        dir: String,
        message: String,
    },
}

#[derive(Debug, Clone)]
struct Mount {
    version: Version,
    controllers: Vec<String>,
    /// The hierarchy path this mount shows at its mount point.
    root: String,
    point: PathBuf,
}

fn mounts() -> Vec<Mount> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines().filter_map(parse_mount).collect()
}

/// One mountinfo line: `id parent dev root point opts [optional…] - fstype source superopts`.
fn parse_mount(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let right: Vec<&str> = right.split(' ').collect();
    let (root, point) = (unescape(left.get(3)?), unescape(left.get(4)?));
    let version = match *right.first()? {
        "cgroup" => Version::V1,
        "cgroup2" => Version::V2,
        _ => return None,
    };
    let controllers = match version {
        Version::V2 => Vec::new(),
        Version::V1 => right
            .get(2)?
            .split(',')
            .filter(|o| is_controller(o))
            .map(str::to_string)
            .collect(),
    };
    Some(Mount {
        version,
        controllers,
        root,
        point: PathBuf::from(point),
    })
}

/// Super options of a v1 cgroup mount that are not controllers.
fn is_controller(option: &str) -> bool {
    !matches!(
        option,
        "rw" | "ro" | "noprefix" | "clone_children" | "xattr" | "cpuset_v2_mode" | "favordynmods"
    ) && !option.starts_with("release_agent=")
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The cgroups of process `pid`, each where it is mounted here (hierarchies not mounted here are
/// left out; none at all is an error).
pub fn of_process(pid: i32) -> Result<Vec<Cgroup>, CgroupError> {
    let text = match std::fs::read_to_string(format!("/proc/{pid}/cgroup")) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CgroupError::Gone(pid)),
        Err(e) => {
            return Err(CgroupError::Read {
                pid,
                message: e.to_string(),
            });
        }
    };
    let found = resolve(&text, &mounts());
    if found.is_empty() {
        return Err(CgroupError::Read {
            pid,
            message: "none of its cgroup hierarchies is mounted here".into(),
        });
    }
    Ok(found)
}

fn resolve(proc_cgroup: &str, mounts: &[Mount]) -> Vec<Cgroup> {
    let mut found = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(list), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (version, controllers): (Version, Vec<String>) = if list.is_empty() {
            (Version::V2, Vec::new())
        } else {
            (Version::V1, list.split(',').map(str::to_string).collect())
        };
        let mount = mounts.iter().find(|m| {
            m.version == version && {
                let mut a = m.controllers.clone();
                let mut b = controllers.clone();
                a.sort();
                b.sort();
                a == b
            }
        });
        let Some(mount) = mount else {
            continue;
        };
        let Some(inside) = below(path, &mount.root) else {
            continue;
        };
        found.push(Cgroup {
            version,
            controllers,
            path: path.to_string(),
            dir: mount.point.join(inside.trim_start_matches('/')),
        });
    }
    found
}

/// `path` relative to a mount that shows hierarchy path `root` (None when outside it).
fn below<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    if root == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(root)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Moves process `pid` into every cgroup of `groups` (v1: each hierarchy; v2: the unified one),
/// then checks `/proc/<pid>/cgroup` shows it there.
pub fn join(pid: i32, groups: &[Cgroup]) -> Result<(), CgroupError> {
    for group in groups {
        std::fs::write(group.dir.join("cgroup.procs"), format!("{pid}\n")).map_err(|e| {
            CgroupError::Join {
                pid,
                dir: group.dir.display().to_string(),
                message: e.to_string(),
            }
        })?;
    }
    let now = of_process(pid)?;
    for group in groups {
        let there = now
            .iter()
            .any(|g| g.version == group.version && g.dir == group.dir);
        if !there {
            return Err(CgroupError::Join {
                pid,
                dir: group.dir.display().to_string(),
                message: "the kernel does not show it there after the move".into(),
            });
        }
    }
    Ok(())
}

fn with_controller<'a>(groups: &'a [Cgroup], controller: &str) -> Option<&'a Cgroup> {
    groups
        .iter()
        .find(|g| g.version == Version::V1 && g.controllers.iter().any(|c| c == controller))
}

/// The unified (v2) cgroup, when its hierarchy has `controller` enabled.
fn unified_with<'a>(groups: &'a [Cgroup], controller: &str) -> Option<&'a Cgroup> {
    groups.iter().find(|g| {
        g.version == Version::V2
            && read(&g.dir.join("cgroup.controllers"))
                .is_some_and(|c| c.split_whitespace().any(|w| w == controller))
    })
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn read_u64(path: &Path) -> Option<u64> {
    read(path)?.trim().parse().ok()
}

/// `key value` lines (cpu.stat, memory.events, memory.oom_control).
fn keyed(path: &Path, key: &str) -> Option<u64> {
    read(path)?.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// The memory limit of the cgroup, in bytes (None when unlimited or unknown).
pub fn memory_limit(groups: &[Cgroup]) -> Option<u64> {
    // v1 shows "no limit" as a huge page-aligned number.
    const UNLIMITED_V1: u64 = 1 << 60;
    if let Some(g) = with_controller(groups, "memory") {
        return read_u64(&g.dir.join("memory.limit_in_bytes")).filter(|l| *l < UNLIMITED_V1);
    }
    let g = unified_with(groups, "memory")?;
    read_u64(&g.dir.join("memory.max"))
}

/// Memory charged to the cgroup now, in bytes.
pub fn memory_usage(groups: &[Cgroup]) -> Option<u64> {
    if let Some(g) = with_controller(groups, "memory") {
        return read_u64(&g.dir.join("memory.usage_in_bytes"));
    }
    read_u64(&unified_with(groups, "memory")?.dir.join("memory.current"))
}

/// How many processes the cgroup's OOM killer has killed.
pub fn oom_kills(groups: &[Cgroup]) -> Option<u64> {
    if let Some(g) = with_controller(groups, "memory") {
        return keyed(&g.dir.join("memory.oom_control"), "oom_kill");
    }
    keyed(
        &unified_with(groups, "memory")?.dir.join("memory.events"),
        "oom_kill",
    )
}

/// CPU time used by the cgroup's processes, in microseconds.
pub fn cpu_usage_usec(groups: &[Cgroup]) -> Option<u64> {
    if let Some(g) = with_controller(groups, "cpuacct") {
        return read_u64(&g.dir.join("cpuacct.usage")).map(|ns| ns / 1000);
    }
    // cpu.stat's usage_usec is there even when the cpu controller is not enabled.
    let g = groups.iter().find(|g| g.version == Version::V2)?;
    keyed(&g.dir.join("cpu.stat"), "usage_usec")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
36 25 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
37 25 0:32 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
38 25 0:33 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
39 25 0:34 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
40 25 0:35 /docker /mnt/cg\\040x rw - cgroup cgroup rw,blkio
";

    fn hybrid() -> Vec<Mount> {
        HYBRID.lines().filter_map(parse_mount).collect()
    }

    #[test]
    fn v1_hierarchies_resolve_to_their_mounts_whatever_the_controller_order() {
        let groups = resolve(
            "5:cpuacct,cpu:/docker/abc\n4:memory:/docker/abc\n3:name=systemd:/docker/abc\n\
             2:blkio:/docker/abc\n1:pids:/docker/abc\n0::/\n",
            &hybrid(),
        );
        let dirs: Vec<String> = groups.iter().map(|g| g.dir.display().to_string()).collect();
        assert_eq!(
            dirs,
            [
                "/sys/fs/cgroup/cpu,cpuacct/docker/abc",
                "/sys/fs/cgroup/memory/docker/abc",
                "/sys/fs/cgroup/systemd/docker/abc",
                "/mnt/cg x/abc",
                "/sys/fs/cgroup/unified/",
            ],
            "pids is not mounted here: left out"
        );
        assert_eq!(groups[4].version, Version::V2);
    }

    #[test]
    fn a_v2_path_outside_the_mounted_root_is_left_out() {
        let mounts: Vec<Mount> = ["30 1 0:26 /sub /sys/fs/cgroup rw - cgroup2 cgroup2 rw"]
            .into_iter()
            .filter_map(parse_mount)
            .collect();
        let inside = resolve("0::/sub/system.slice/docker-1.scope\n", &mounts);
        assert_eq!(
            inside[0].dir,
            PathBuf::from("/sys/fs/cgroup/system.slice/docker-1.scope")
        );
        assert!(resolve("0::/other\n", &mounts).is_empty());
        assert!(resolve("0::/subway\n", &mounts).is_empty());
    }

    #[test]
    fn an_exited_process_has_no_cgroup() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(matches!(of_process(pid), Err(CgroupError::Gone(p)) if p == pid));
    }
}
