//! Undoing a stress fault: stop the stressor by pidfd (checked gone), then remove the files it
//! wrote (checked gone).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::fault::owned;
use crate::ledger::UndoAttempt;
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
    },
}

impl Undo {
    pub async fn undo(&self) -> UndoAttempt {
        let Undo::StopStressor {
            process,
            files,
            root_of,
        } = self;
        match (owned::Undo::StopWork { process: *process }).undo().await {
            UndoAttempt::Verified | UndoAttempt::Gone | UndoAttempt::Nothing => {}
            not_yet @ UndoAttempt::NotYet(_) => return not_yet,
        }
        if files.is_empty() {
            return UndoAttempt::Verified;
        }
        if root_of.is_some_and(|r| !r.is_alive()) {
            return UndoAttempt::Gone;
        }
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
}
