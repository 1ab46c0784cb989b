//! STUB (replaced by the validate branch).
#![allow(missing_docs)]
use crate::experiment::diagnostic::Diagnostic;
use crate::experiment::model::{DryMode, Experiment};
use crate::experiment::source::Node;
use std::path::PathBuf;
pub struct ValidateOptions {
    pub cwd: PathBuf,
    pub dry: Option<DryMode>,
}
pub struct Validated {
    pub experiment: Option<Experiment>,
    pub diagnostics: Vec<Diagnostic>,
}
pub fn validate(_root: &Node, _file: &str, _o: &ValidateOptions) -> Validated {
    todo!()
}
