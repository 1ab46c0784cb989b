//! The stress verbs, their argument schemas, the scope (host, processes, containers) and typed
//! arguments parsed once.

use serde_json::Value;

use super::act::{Load, Size, Stressing, Victim};
use super::stressor::IoMode;
use crate::fault::process::parse_radius;
use crate::fault::{Error, Family, Selecting, Victims};
use crate::schema::{ArgSpec, ArgType, ArgumentProblem, Reader};
use crate::target::container_selector::ContainerSelector;
use crate::target::docker::Engine;
use crate::target::selector::ProcessSelector;
use crate::target::{BlastRadius, Driver, FindError, Processes, select};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `stress.cpu`.
    Cpu,
    /// `stress.memory`.
    Memory,
    /// `stress.disk`.
    Disk,
    /// `stress.io`.
    Io,
}

const SCOPE_ARG: ArgSpec = ArgSpec::optional(
    "scope",
    ArgType::Str,
    Some("host"),
    "host, process (the stressor joins each target process's cgroups) or container (it joins each target container's cgroups)",
);

const TARGET_ARG: ArgSpec = ArgSpec::optional(
    "target",
    ArgType::Target,
    None,
    "with scope process: a process selector ({pid}, {name}, {pattern}); with scope container: a container selector ({name}, {labels}, …)",
);

/// The most a size may be, in MiB (16 TiB).
const MAX_MIB: i64 = 1 << 24;

const CPU_ARGS: &[ArgSpec] = &[
    SCOPE_ARG,
    TARGET_ARG,
    ArgSpec::optional(
        "workers",
        ArgType::Int { min: 1, max: 1024 },
        Some("1"),
        "busy threads",
    ),
    ArgSpec::optional(
        "load",
        ArgType::Int { min: 1, max: 100 },
        Some("100"),
        "percent of one core each worker uses",
    ),
];

const MEMORY_ARGS: &[ArgSpec] = &[
    SCOPE_ARG,
    TARGET_ARG,
    ArgSpec::optional(
        "size_mib",
        ArgType::Int {
            min: 1,
            max: MAX_MIB,
        },
        None,
        "memory to allocate and keep resident, in MiB (or give percent)",
    ),
    ArgSpec::optional(
        "percent",
        ArgType::Number { min: 0.0 },
        None,
        "memory as a percent (up to 100) of the target's memory limit (the host's memory without one)",
    ),
    ArgSpec::optional(
        "rate_mib_s",
        ArgType::Int {
            min: 0,
            max: MAX_MIB,
        },
        Some("0"),
        "fill rate in MiB/s (0: as fast as it can)",
    ),
];

const DISK_ARGS: &[ArgSpec] = &[
    SCOPE_ARG,
    TARGET_ARG,
    ArgSpec::required(
        "path",
        ArgType::Str,
        "directory to fill (inside the container with scope container)",
    ),
    ArgSpec::optional(
        "size_mib",
        ArgType::Int {
            min: 1,
            max: MAX_MIB,
        },
        None,
        "size of the fill file in MiB (or give fill_percent)",
    ),
    ArgSpec::optional(
        "fill_percent",
        ArgType::Number { min: 0.0 },
        None,
        "fill the filesystem until this percent (up to 100) of it is used",
    ),
    ArgSpec::optional(
        "keep_free_percent",
        ArgType::Number { min: -1.0 },
        Some("5"),
        "safety floor: refuse to leave less than this percent of the filesystem free",
    ),
    ArgSpec::optional(
        "force",
        ArgType::Any,
        Some("false"),
        "true: go below the safety floor",
    ),
];

const IO_ARGS: &[ArgSpec] = &[
    SCOPE_ARG,
    TARGET_ARG,
    ArgSpec::required(
        "path",
        ArgType::Str,
        "directory for the scratch file (inside the container with scope container)",
    ),
    ArgSpec::optional(
        "mode",
        ArgType::Str,
        Some("write"),
        "read, write (each write is synced) or readwrite",
    ),
    ArgSpec::optional(
        "ops_per_s",
        ArgType::Number { min: 0.0 },
        None,
        "operations per second (or give bytes_per_s; default 100)",
    ),
    ArgSpec::optional(
        "bytes_per_s",
        ArgType::Int {
            min: 1,
            max: 1 << 40,
        },
        None,
        "bytes per second, in blocks of block_kib",
    ),
    ArgSpec::optional(
        "block_kib",
        ArgType::Int { min: 1, max: 65536 },
        Some("64"),
        "size of each read or write, in KiB",
    ),
    ArgSpec::optional(
        "file_mib",
        ArgType::Int {
            min: 1,
            max: MAX_MIB,
        },
        Some("64"),
        "size of the scratch file, in MiB (removed on revert)",
    ),
];

impl Verb {
    pub const ALL: [Verb; 4] = [Verb::Cpu, Verb::Memory, Verb::Disk, Verb::Io];

    /// The builtin's name.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Cpu => "stress.cpu",
            Verb::Memory => "stress.memory",
            Verb::Disk => "stress.disk",
            Verb::Io => "stress.io",
        }
    }

    /// One line for the catalogue.
    pub fn describe(self) -> &'static str {
        match self {
            Verb::Cpu => {
                "busy CPU workers (load % of a core each) on the host, in a process's or a container's cgroups; stopped on revert"
            }
            Verb::Memory => {
                "allocate and touch memory (MiB or % of the target's limit, at a fill rate), charged to the target's cgroup; freed on revert"
            }
            Verb::Disk => {
                "fill a directory's filesystem (MiB or % used) above a safety floor; the file is removed on revert"
            }
            Verb::Io => {
                "read/write load (ops/s or bytes/s) on a scratch file in a directory; removed on revert"
            }
        }
    }

    pub fn arguments(self) -> &'static [ArgSpec] {
        match self {
            Verb::Cpu => CPU_ARGS,
            Verb::Memory => MEMORY_ARGS,
            Verb::Disk => DISK_ARGS,
            Verb::Io => IO_ARGS,
        }
    }

    /// Parses substituted arguments.
    pub fn parse(self, args: &Value) -> Result<StressFault, Vec<ArgumentProblem>> {
        let mut r = Reader::new(self.arguments(), args);
        let scope = read_scope(&mut r);
        let load = match self {
            Verb::Cpu => Load::Cpu {
                workers: r.int("workers").unwrap_or(1) as u32,
                load: r.int("load").unwrap_or(100) as u32,
            },
            Verb::Memory => Load::Memory {
                size: read_size(&mut r, "size_mib", "percent"),
                rate_mib_s: r.int("rate_mib_s").unwrap_or(0) as u64,
            },
            Verb::Disk => Load::Disk {
                path: r.text("path").unwrap_or_default(),
                size: read_size(&mut r, "size_mib", "fill_percent"),
                keep_free_percent: read_percent(&mut r, "keep_free_percent").unwrap_or(5.0),
                force: read_bool(&mut r, "force"),
            },
            Verb::Io => read_io(&mut r),
        };
        let scope = r.finish(scope)?;
        Ok(StressFault {
            verb: self,
            scope,
            act: Stressing { load },
        })
    }
}

fn read_io(r: &mut Reader) -> Load {
    let mode = r.text("mode").unwrap_or_default();
    let mode = IoMode::parse(&mode).unwrap_or_else(|| {
        r.problem(
            "mode",
            format!("expected read, write or readwrite, got {mode:?}"),
        );
        IoMode::Write
    });
    let block = r.int("block_kib").unwrap_or(64) as u64 * 1024;
    let ops = r.number("ops_per_s");
    let bytes = r.int("bytes_per_s");
    let ops_per_s = match (ops, bytes) {
        (Some(_), Some(_)) => {
            r.problem("bytes_per_s", "give ops_per_s or bytes_per_s, not both");
            1.0
        }
        (Some(o), None) => o,
        (None, Some(b)) => b as f64 / block as f64,
        (None, None) => 100.0,
    };
    if ops_per_s > 1e6 {
        r.problem("ops_per_s", format!("{ops_per_s} is more than 1000000"));
    }
    Load::Io {
        path: r.text("path").unwrap_or_default(),
        mode,
        ops_per_s,
        block,
        file_bytes: r.int("file_mib").unwrap_or(64) as u64 * super::act::MIB,
    }
}

/// A percent argument: 0 to 100.
fn read_percent(r: &mut Reader, name: &str) -> Option<f64> {
    let v = r.number(name)?;
    if !(0.0..=100.0).contains(&v) {
        r.problem(name, format!("{v} is out of range 0..=100 (a percent)"));
        return None;
    }
    Some(v)
}

/// Exactly one of a size in MiB and a percent (a value the schema refused is reported already).
fn read_size(r: &mut Reader, mib: &str, percent: &str) -> Size {
    match (r.value(mib).is_some(), r.value(percent).is_some()) {
        (true, true) => {
            r.problem(percent, format!("give {mib} or {percent}, not both"));
            Size::Mib(1)
        }
        (true, false) => Size::Mib(r.int(mib).unwrap_or(1).max(1) as u64),
        (false, true) => match read_percent(r, percent) {
            Some(p) if p > 0.0 => Size::Percent(p),
            Some(_) | None => Size::Percent(1.0),
        },
        (false, false) => {
            r.problem(mib, format!("give {mib} or {percent}"));
            Size::Mib(1)
        }
    }
}

fn read_bool(r: &mut Reader, name: &str) -> bool {
    match r.value(name) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
        Some(other) => {
            r.problem(name, format!("expected true or false, got {other}"));
            false
        }
    }
}

/// Where the stressors run.
#[derive(Debug, Clone)]
enum Scope {
    Host,
    Processes {
        selector: ProcessSelector,
        raw: Value,
        radius: Option<BlastRadius>,
    },
    Containers {
        selector: ContainerSelector,
        raw: Value,
        radius: Option<BlastRadius>,
    },
}

fn read_scope(r: &mut Reader) -> Scope {
    let radius = parse_radius(r);
    let scope = r.text("scope").unwrap_or_default();
    let target = r.value("target").cloned();
    match (scope.as_str(), target) {
        ("host", None) => Scope::Host,
        ("host", Some(_)) => {
            r.problem(
                "target",
                "scope host takes no target (use scope process or container)",
            );
            Scope::Host
        }
        ("process" | "container", None) => {
            r.problem("target", format!("scope {scope} needs a target selector"));
            Scope::Host
        }
        ("process", Some(raw)) => match ProcessSelector::parse(&raw) {
            Ok(selector) => Scope::Processes {
                selector,
                raw,
                radius,
            },
            Err(e) => {
                r.problem("target", e.to_string());
                Scope::Host
            }
        },
        ("container", Some(raw)) => match ContainerSelector::parse(&raw) {
            Ok(selector) => Scope::Containers {
                selector,
                raw,
                radius,
            },
            Err(e) => {
                r.problem("target", e.to_string());
                Scope::Host
            }
        },
        (other, _) => {
            r.problem(
                "scope",
                format!("expected host, process or container, got {other:?}"),
            );
            Scope::Host
        }
    }
}

/// A parsed stress fault call.
#[derive(Debug, Clone)]
pub struct StressFault {
    pub verb: Verb,
    scope: Scope,
    act: Stressing,
}

impl StressFault {
    /// Whether it stresses the host (no target is picked).
    pub fn on_host(&self) -> bool {
        matches!(self.scope, Scope::Host)
    }
}

impl Family for StressFault {
    type Act = Stressing;

    async fn victims(&self, selecting: &Selecting) -> Result<Victims<Victim>, Error> {
        match &self.scope {
            Scope::Host => Ok(Victims::named(Victim::Host)),
            Scope::Processes {
                selector,
                raw,
                radius,
            } => {
                let driver = Processes {
                    protected: selecting.protected.clone(),
                };
                let radius = radius.as_ref().unwrap_or(&selecting.radius);
                let what = format!("the process target {raw}");
                let selection = select(&driver, selector, &what, radius, selecting.seed).await?;
                Ok(Victims::picked(
                    selection,
                    Processes::describe,
                    Victim::Process,
                ))
            }
            Scope::Containers {
                selector,
                raw,
                radius,
            } => {
                let engine = Engine::connect().await.map_err(FindError::from)?;
                let radius = radius.as_ref().unwrap_or(&selecting.radius);
                let what = format!("the running-container target {raw}");
                let selection = select(&engine, selector, &what, radius, selecting.seed).await?;
                Ok(Victims::picked(selection, Engine::describe, |container| {
                    Victim::Container {
                        engine: engine.clone(),
                        container,
                    }
                }))
            }
        }
    }

    fn act(&self) -> &Stressing {
        &self.act
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(problems: &[ArgumentProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn defaults_and_sizes() {
        let f = Verb::Cpu.parse(&json!({})).unwrap();
        assert!(matches!(f.scope, Scope::Host));
        assert_eq!(
            f.act.load,
            Load::Cpu {
                workers: 1,
                load: 100
            }
        );
        let f = Verb::Memory
            .parse(&json!({"scope": "container", "target": {"name": "web"}, "percent": 50}))
            .unwrap();
        assert!(matches!(f.scope, Scope::Containers { .. }));
        assert_eq!(
            f.act.load,
            Load::Memory {
                size: Size::Percent(50.0),
                rate_mib_s: 0
            }
        );
        let f = Verb::Io
            .parse(&json!({"path": "/tmp", "bytes_per_s": 1048576, "block_kib": 256}))
            .unwrap();
        assert!(matches!(f.act.load, Load::Io { ops_per_s, .. } if ops_per_s == 4.0));
    }

    #[test]
    fn out_of_range_and_conflicting_arguments_are_problems_with_their_paths() {
        let p = Verb::Cpu
            .parse(&json!({"load": 150, "workers": 0}))
            .unwrap_err();
        assert_eq!(paths(&p), ["load", "workers"], "{p:?}");
        assert!(p[0].message.contains("out of range 1..=100"), "{p:?}");
        let p = Verb::Memory.parse(&json!({"percent": 120})).unwrap_err();
        assert_eq!(paths(&p), ["percent"], "{p:?}");
        let p = Verb::Memory.parse(&json!({})).unwrap_err();
        assert_eq!(paths(&p), ["size_mib"], "{p:?}");
        let p = Verb::Memory
            .parse(&json!({"size_mib": 1, "percent": 5}))
            .unwrap_err();
        assert_eq!(paths(&p), ["percent"], "{p:?}");
        let p = Verb::Disk
            .parse(&json!({"size_mib": 1, "keep_free_percent": 101, "force": "yes"}))
            .unwrap_err();
        assert_eq!(paths(&p), ["path", "keep_free_percent", "force"], "{p:?}");
        let p = Verb::Io
            .parse(&json!({"path": "/tmp", "mode": "append", "ops_per_s": 5, "bytes_per_s": 5}))
            .unwrap_err();
        assert_eq!(paths(&p), ["mode", "bytes_per_s"], "{p:?}");
    }

    #[test]
    fn the_scope_and_the_target_must_agree() {
        let p = Verb::Cpu
            .parse(&json!({"target": {"name": "x"}}))
            .unwrap_err();
        assert_eq!(paths(&p), ["target"]);
        let p = Verb::Cpu.parse(&json!({"scope": "process"})).unwrap_err();
        assert_eq!(paths(&p), ["target"]);
        let p = Verb::Cpu
            .parse(&json!({"scope": "pod", "target": {"name": "x"}}))
            .unwrap_err();
        assert_eq!(paths(&p), ["scope"]);
        let p = Verb::Cpu
            .parse(&json!({"scope": "process", "target": {"nmae": "x"}}))
            .unwrap_err();
        assert_eq!(paths(&p), ["target"]);
    }
}
