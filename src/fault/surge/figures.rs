//! The surge's own figures: the load child prints one JSON line per second on its stdout; a
//! reader thread here parses them and hands them to the run (which makes them events).

use std::io::{BufRead, BufReader};
use std::process::ChildStdout;

use crate::loadgen::Second;

/// One second of a surge, from its process.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// The surge's process (as in its lease's target).
    pub pid: i32,
    pub second: Second,
}

/// Where a surge's figures go.
pub type FiguresSink = tokio::sync::mpsc::UnboundedSender<Figures>;

/// Reads the child's lines until it ends (a revert's SIGKILL closes the pipe).
pub(super) fn forward(pid: i32, stdout: ChildStdout, sink: FiguresSink) {
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            // A line that is not a figure (there are none today) is skipped, not fatal.
            if let Ok(second) = serde_json::from_str::<Second>(&line)
                && sink.send(Figures { pid, second }).is_err()
            {
                return;
            }
        }
    });
}
