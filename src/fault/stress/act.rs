//! What a stress fault does to one victim: size the load against the target (its memory limit,
//! its filesystem and the safety floor), start the stressor idle as owner-bound work, record the
//! lease (stressor pid + start time, files it writes), move it into the target's cgroups, then
//! say go — and for memory and disk, wait until the load is in place (or the OOM killer struck).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::stressor::{IoMode, Job};
use super::undo::{InContainer, Undo};
use crate::fault::owned::{self, Host, Waiting, Work, registry};
use crate::fault::{self, Act, Error, Origin, Plan};
use crate::target::cgroup::{self, Cgroup, CgroupError};
use crate::target::docker::{ContainerInfo, Engine};
use crate::target::process::{ProcessIdentity, ProcessInfo};

pub(crate) const MIB: u64 = 1 << 20;

/// A size: MiB, or a percent (of the memory limit; of the filesystem, as the share used).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Size {
    Mib(u64),
    Percent(f64),
}

/// The load of one stress call.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    Cpu {
        workers: u32,
        load: u32,
    },
    Memory {
        size: Size,
        rate_mib_s: u64,
    },
    Disk {
        path: String,
        size: Size,
        keep_free_percent: f64,
        force: bool,
    },
    Io {
        path: String,
        mode: IoMode,
        ops_per_s: f64,
        block: u64,
        file_bytes: u64,
    },
}

/// The act of every stress verb.
#[derive(Debug, Clone)]
pub struct Stressing {
    pub load: Load,
}

/// Where a stressor runs.
#[derive(Debug, Clone)]
pub enum Victim {
    Host,
    Process(ProcessInfo),
    Container {
        engine: Engine,
        container: ContainerInfo,
    },
}

/// The target as seen from here: its cgroups (none for the host) and its root filesystem.
struct Place {
    target: Value,
    cgroups: Vec<Cgroup>,
    /// The process whose `/proc/<pid>/root` the paths go through (none for the host).
    root_of: Option<ProcessIdentity>,
    /// The container's id (scope container).
    container: Option<String>,
}

impl Place {
    async fn of(victim: &Victim) -> Result<Place, Error> {
        match victim {
            Victim::Host => Ok(Place {
                target: json!({"kind": "host"}),
                cgroups: Vec::new(),
                root_of: None,
                container: None,
            }),
            Victim::Process(p) => {
                let cgroups = cgroup::of_process(p.identity.pid).map_err(cgroup_error)?;
                Ok(Place {
                    target: json!({"kind": "process", "pid": p.identity.pid, "name": p.name,
                                   "cmdline": p.cmdline}),
                    cgroups,
                    root_of: Some(p.identity),
                    container: None,
                })
            }
            Victim::Container { engine, container } => {
                let gone = || Error::Gone(format!("container {} is not running", container.name));
                let inspected = engine
                    .docker()
                    .inspect_container(
                        &container.id,
                        None::<bollard::query_parameters::InspectContainerOptions>,
                    )
                    .await
                    .map_err(|_| gone())?;
                let pid = inspected.state.and_then(|s| s.pid).unwrap_or(0);
                let process = (pid > 0)
                    .then(|| ProcessIdentity::of(pid as i32))
                    .flatten()
                    .ok_or_else(gone)?;
                let cgroups = cgroup::of_process(process.pid).map_err(cgroup_error)?;
                let mut target = container.describe();
                target["pid"] = json!(process.pid);
                Ok(Place {
                    target,
                    cgroups,
                    root_of: Some(process),
                    container: Some(container.id.clone()),
                })
            }
        }
    }

    /// `path` of the target's filesystem, as reachable from here.
    fn host_path(&self, path: &str) -> PathBuf {
        match &self.root_of {
            Some(p) => {
                PathBuf::from(format!("/proc/{}/root", p.pid)).join(path.trim_start_matches('/'))
            }
            None => PathBuf::from(path),
        }
    }
}

fn cgroup_error(e: CgroupError) -> Error {
    match e {
        CgroupError::Gone(pid) => Error::Gone(format!("process {pid} is gone (it has no cgroup)")),
        other => Error::failed("read the target's cgroups", other),
    }
}

/// A file a stressor writes: its path from here, and inside the target.
type Written = (PathBuf, PathBuf);

/// What the plan hands to the apply.
#[derive(Debug)]
pub struct Planned {
    work: Work,
    waiting: Waiting,
    stressor: ProcessIdentity,
    cgroups: Vec<Cgroup>,
    job: Job,
    deadline: jiff::Timestamp,
}

/// Free space of the filesystem holding `dir`.
struct Space {
    total: u64,
    avail: u64,
}

fn space_of(dir: &Path) -> Result<Space, Error> {
    let what = format!("the directory {}", dir.display());
    if !dir.is_dir() {
        return Err(Error::failed(what, "it is not a directory that exists"));
    }
    let s = rustix::fs::statvfs(dir).map_err(|e| Error::failed(&what, e))?;
    Ok(Space {
        total: s.f_blocks * s.f_frsize,
        avail: s.f_bavail * s.f_frsize,
    })
}

/// Refuses a write of `bytes` that would leave less than the floor free (nothing is written).
fn check_floor(
    dir: &Path,
    space: &Space,
    bytes: u64,
    keep_free: f64,
    force: bool,
) -> Result<(), Error> {
    let floor = (space.total as f64 * keep_free / 100.0) as u64;
    let left = space.avail.saturating_sub(bytes);
    if bytes > space.avail {
        return Err(Error::failed(
            format!("fill {}", dir.display()),
            format!(
                "{} MiB do not fit: only {} MiB are free; nothing was written",
                bytes / MIB,
                space.avail / MIB
            ),
        ));
    }
    if left < floor && !force {
        return Err(Error::failed(
            format!("fill {}", dir.display()),
            format!(
                "it would leave {} MiB free, below the safety floor of {keep_free}% ({} MiB; {} MiB are free now); nothing was written (force: true goes below it)",
                left / MIB,
                floor / MIB,
                space.avail / MIB
            ),
        ));
    }
    Ok(())
}

fn host_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn scratch_name(ext: &str) -> String {
    format!(
        ".monkeywrench-stress-{}.{ext}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

impl Stressing {
    /// The stressor's job for this place, and the file it writes (to remove on revert): its path
    /// from here and inside the target.
    fn job(&self, place: &Place) -> Result<(Job, Option<Written>, Value), Error> {
        Ok(match &self.load {
            Load::Cpu { workers, load } => (
                Job::Cpu {
                    workers: *workers,
                    load: *load,
                },
                None,
                json!({"workers": workers, "load_percent": load}),
            ),
            Load::Memory { size, rate_mib_s } => {
                let bytes = match size {
                    Size::Mib(m) => m * MIB,
                    Size::Percent(p) => {
                        let limit = cgroup::memory_limit(&place.cgroups)
                            .or_else(host_memory)
                            .ok_or_else(|| {
                                Error::failed("stress memory", "the memory limit cannot be read")
                            })?;
                        ((limit as f64) * p / 100.0) as u64
                    }
                };
                let job = Job::Memory {
                    bytes,
                    rate: rate_mib_s * MIB,
                };
                (job, None, json!({"bytes": bytes, "rate_mib_s": rate_mib_s}))
            }
            Load::Disk {
                path,
                size,
                keep_free_percent,
                force,
            } => {
                let dir = place.host_path(path);
                let space = space_of(&dir)?;
                let bytes = match size {
                    Size::Mib(m) => m * MIB,
                    Size::Percent(p) => {
                        let used = space.total - space.avail;
                        let want = (space.total as f64 * p / 100.0) as u64;
                        if want <= used {
                            return Err(Error::failed(
                                format!("fill {}", dir.display()),
                                format!(
                                    "the filesystem is already {:.1}% used; nothing was written",
                                    used as f64 * 100.0 / space.total.max(1) as f64
                                ),
                            ));
                        }
                        want - used
                    }
                };
                check_floor(&dir, &space, bytes, *keep_free_percent, *force)?;
                let name = scratch_name("fill");
                let file = dir.join(&name);
                let target = json!({"path": path, "file": file, "bytes": bytes});
                let job = Job::Disk {
                    file: file.clone(),
                    bytes,
                };
                (job, Some((file, Path::new(path).join(name))), target)
            }
            Load::Io {
                path,
                mode,
                ops_per_s,
                block,
                file_bytes,
            } => {
                let dir = place.host_path(path);
                let space = space_of(&dir)?;
                check_floor(&dir, &space, *file_bytes, 5.0, false)?;
                let name = scratch_name("io");
                let file = dir.join(&name);
                let target = json!({"path": path, "file": file, "mode": mode.name(),
                                    "ops_per_s": ops_per_s, "block": block});
                let job = Job::Io {
                    file: file.clone(),
                    mode: *mode,
                    file_bytes: *file_bytes,
                    block: *block,
                    ops_per_s: *ops_per_s,
                };
                (job, Some((file, Path::new(path).join(name))), target)
            }
        })
    }
}

impl Act for Stressing {
    type Victim = Victim;
    type Planned = Planned;

    async fn plan(&self, victim: &Victim, origin: &Origin) -> Result<(Plan, Planned), Error> {
        let place = Place::of(victim).await?;
        let (job, file, details) = self.job(&place)?;
        let exe = std::env::current_exe()
            .map_err(|e| Error::failed("find the monkeywrench binary", e))?;
        // A backstop: the stressor stops by itself a little after the deadline.
        let until = origin.deadline.as_second().max(0) as u64 + 30;
        let mut args = vec!["stressor".to_string(), format!("--until={until}")];
        args.extend(job.to_args());
        let work = Work {
            exe: exe.clone(),
            program: exe.to_string_lossy().into_owned(),
            args,
            pipe_stdout: false,
        };
        let (work_plan, waiting) = work.plan(&Host, origin).await?;
        let fault::Undo::Owned(owned::Undo::StopWork { process: stressor }) = work_plan.undo else {
            return Err(Error::failed(
                "start the stressor",
                "owner-bound work without its process",
            ));
        };
        let mut target = json!({
            "kind": "stress",
            "scope": place.target,
            "stressor": {"pid": stressor.pid},
        });
        if let (Value::Object(t), Value::Object(d)) = (&mut target, details) {
            t.extend(d);
        }
        let plan = Plan {
            target,
            undo: fault::Undo::Stress(Undo::StopStressor {
                process: stressor,
                container: place.container.map(|id| InContainer {
                    id,
                    paths: file.iter().map(|(_, inside)| inside.clone()).collect(),
                }),
                files: file.into_iter().map(|(here, _)| here).collect(),
                root_of: place.root_of,
            }),
            settles_within: None,
        };
        let planned = Planned {
            work,
            waiting,
            stressor,
            cgroups: place.cgroups,
            job,
            deadline: origin.deadline,
        };
        Ok((plan, planned))
    }

    async fn apply(self, _: Victim, planned: Planned) -> Result<(), Error> {
        let Planned {
            work,
            waiting,
            stressor,
            cgroups,
            job,
            deadline,
        } = planned;
        if !cgroups.is_empty() {
            // Before the go: everything it touches is charged to the target.
            cgroup::join(stressor.pid, &cgroups)
                .map_err(|e| Error::failed("move the stressor into the target's cgroups", e))?;
        }
        let ooms = cgroup::oom_kills(&cgroups);
        work.apply(Host, waiting).await?;
        match job {
            Job::Memory { bytes, .. } => {
                let resident = || resident_bytes(stressor.pid).is_some_and(|r| r >= bytes);
                settle(stressor, deadline, resident, &cgroups, ooms).await
            }
            Job::Disk { file, bytes } => {
                let written = || std::fs::metadata(&file).is_ok_and(|m| m.len() >= bytes);
                settle(stressor, deadline, written, &cgroups, ooms).await
            }
            Job::Cpu { .. } | Job::Io { .. } => Ok(()),
        }
    }
}

/// Resident anonymous memory of a process (`RssAnon`: what the stressor allocated, not its
/// binary's pages), in bytes.
fn resident_bytes(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Waits until the load is in place, the stressor ended, or the deadline passed. An end by the
/// target's OOM killer, or with an error, is the outcome; a SIGKILL otherwise is a revert's (a
/// halt's) and the revert reports it.
async fn settle(
    stressor: ProcessIdentity,
    deadline: jiff::Timestamp,
    mut in_place: impl FnMut() -> bool,
    cgroups: &[Cgroup],
    ooms_before: Option<u64>,
) -> Result<(), Error> {
    loop {
        if let Some(status) = registry().exit_of(stressor.pid) {
            let oom = match (ooms_before, cgroup::oom_kills(cgroups)) {
                (Some(before), Some(now)) => now > before,
                _ => false,
            };
            let signal = status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s));
            return if oom {
                let limit = cgroup::memory_limit(cgroups)
                    .map(|l| format!("{} MiB", l / MIB))
                    .unwrap_or_else(|| "its limit".into());
                Err(Error::failed(
                    "stress memory",
                    format!("the target's OOM killer killed the stressor (memory limit {limit})"),
                ))
            } else if signal == Some(9) {
                Ok(())
            } else {
                let how = status.map_or_else(|| "unknown status".into(), |s| s.to_string());
                Err(Error::failed(
                    "run the stressor",
                    format!("it ended early ({how})"),
                ))
            };
        }
        if in_place() || jiff::Timestamp::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
