//! Undoing a stress fault: stop the stressor by pidfd (checked gone), then remove the files it
//! wrote (checked gone) — also when the container they were written in has restarted or stopped
//! meanwhile (a full disk may well crash it): then they are reached through its new main process,
//! its mounts or its writable layer.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fault::owned;
use crate::ledger::UndoAttempt;
use crate::target::docker::Engine;
use crate::target::process::ProcessIdentity;

/// How to undo a stress fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// Kill the stressor and remove what it wrote.
    StopStressor {
        process: ProcessIdentity,
        /// Files it writes, as paths from this host (through `/proc/<pid>/root` for a target).
        files: Vec<PathBuf>,
        /// The target process those paths go through; once it is gone they lead nowhere (or to
        /// a process that reused its pid), so they are not touched.
        root_of: Option<ProcessIdentity>,
        /// The container the files are in, with their paths inside it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<InContainer>,
    },
}

/// Files inside a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InContainer {
    pub id: String,
    pub paths: Vec<PathBuf>,
}

impl Undo {
    pub async fn undo(&self) -> UndoAttempt {
        let Undo::StopStressor {
            process,
            files,
            root_of,
            container,
        } = self;
        match (owned::Undo::StopWork { process: *process }).undo().await {
            UndoAttempt::Verified | UndoAttempt::Gone | UndoAttempt::Nothing => {}
            not_yet @ UndoAttempt::NotYet(_) => return not_yet,
        }
        if files.is_empty() {
            return UndoAttempt::Verified;
        }
        if root_of.is_none_or(|r| r.is_alive()) {
            return remove_all(files);
        }
        let Some(container) = container else {
            return UndoAttempt::Gone;
        };
        match container.reach().await {
            Ok(Some(files)) => remove_all(&files),
            Ok(None) => UndoAttempt::Gone,
            Err(e) => UndoAttempt::NotYet(e),
        }
    }
}

fn remove_all(files: &[PathBuf]) -> UndoAttempt {
    for file in files {
        match std::fs::remove_file(file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return UndoAttempt::NotYet(format!("remove {}: {e}", file.display())),
        }
        if std::fs::symlink_metadata(file).is_ok() {
            return UndoAttempt::NotYet(format!("{} is still there", file.display()));
        }
    }
    UndoAttempt::Verified
}

impl InContainer {
    /// The files as paths from this host now; `None` once the container was removed.
    async fn reach(&self) -> Result<Option<Vec<PathBuf>>, String> {
        let engine = Engine::connect().await.map_err(|e| e.to_string())?;
        let inspected = match engine
            .docker()
            .inspect_container(
                &self.id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(c) => c,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => return Err(format!("inspect container {}: {e}", self.id)),
        };
        let pid = inspected.state.as_ref().and_then(|s| s.pid).unwrap_or(0);
        if pid > 0 {
            let root = PathBuf::from(format!("/proc/{pid}/root"));
            return Ok(Some(self.paths.iter().map(|p| under(&root, p)).collect()));
        }
        let mounts: Vec<(String, String)> = inspected
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| Some((m.destination?, m.source?)))
            .collect();
        let upper = inspected
            .graph_driver
            .and_then(|g| g.data.get("UpperDir").cloned());
        self.paths
            .iter()
            .map(|p| {
                stopped_path(p, &mounts, upper.as_deref()).ok_or_else(|| {
                    format!(
                        "container {} is stopped and {} is in neither a mount nor an overlay layer",
                        self.id,
                        p.display()
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

fn under(root: &Path, inside: &Path) -> PathBuf {
    root.join(inside.strip_prefix("/").unwrap_or(inside))
}

/// Where `inside` of a stopped container is on this host: in the mount with the longest
/// destination holding it, else in its writable (overlay upper) layer.
fn stopped_path(
    inside: &Path,
    mounts: &[(String, String)],
    upper: Option<&str>,
) -> Option<PathBuf> {
    let mount = mounts
        .iter()
        .filter(|(dest, _)| inside.starts_with(dest))
        .max_by_key(|(dest, _)| dest.len());
    match mount {
        Some((dest, source)) => Some(Path::new(source).join(inside.strip_prefix(dest).ok()?)),
        None => Some(under(Path::new(upper?), inside)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_container_file_is_found_in_its_mount_or_its_layer() {
        let mounts = vec![
            (
                "/data".to_string(),
                "/var/lib/docker/volumes/v/_data".to_string(),
            ),
            ("/data/logs".to_string(), "/srv/logs".to_string()),
        ];
        let upper = Some("/var/lib/docker/overlay2/abc/diff");
        let at = |p: &str| stopped_path(Path::new(p), &mounts, upper).unwrap();
        assert_eq!(
            at("/data/f"),
            PathBuf::from("/var/lib/docker/volumes/v/_data/f")
        );
        assert_eq!(at("/data/logs/f"), PathBuf::from("/srv/logs/f"));
        assert_eq!(
            at("/datax/f"),
            PathBuf::from("/var/lib/docker/overlay2/abc/diff/datax/f")
        );
        assert_eq!(stopped_path(Path::new("/f"), &[], None), None);
    }
}
