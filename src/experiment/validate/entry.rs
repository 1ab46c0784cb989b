//! The entry point: what validation needs from outside, and the one pass over the tree.

use std::path::PathBuf;

use super::{checker, python, top};
use crate::experiment::diagnostic::Diagnostic;
use crate::experiment::model::{DryMode, Experiment};
use crate::experiment::python::Interpreter;
use crate::experiment::source::Node;

/// What validation needs from the outside world.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Directory process paths are resolved against.
    pub cwd: PathBuf,
    /// `--dry` (a python provider that never executes is only a warning).
    pub dry: Option<DryMode>,
    /// Environment variables visible to the run (process env plus `.env` var files).
    pub env: std::collections::HashMap<String, String>,
    /// The interpreter python providers and controls are checked in; `None` skips those checks.
    pub python: Option<Interpreter>,
}

impl ValidateOptions {
    /// Options with the process environment and the current directory.
    pub fn from_process() -> Self {
        ValidateOptions {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            dry: None,
            env: std::env::vars().collect(),
            python: None,
        }
    }
}

/// The result: the model (only when there are no errors) and every diagnostic.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The experiment, `Some` iff no diagnostic is an error.
    pub experiment: Option<Experiment>,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Validates a parsed experiment.
pub fn validate(root: &Node, file: &str, options: &ValidateOptions) -> Validated {
    let mut c = checker::Checker::new(file, options);
    let experiment = top::experiment(&mut c, root);
    python::check_uses(&mut c, options.python.as_ref());
    let mut diagnostics = c.into_diagnostics();
    diagnostics.sort_by_key(|d| (d.line, d.column));
    let experiment = experiment.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Validated {
        experiment,
        diagnostics,
    }
}
