//! STUB (replaced by the source branch).
#![allow(missing_docs)]
use crate::experiment::diagnostic::Diagnostic;
use crate::experiment::source::Node;
pub struct LoadOptions {
    pub verify_tls: bool,
}
pub struct Loaded {
    pub root: Node,
    pub warnings: Vec<Diagnostic>,
    pub file: String,
}
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct LoadError;
impl LoadError {
    pub fn to_diagnostic(&self) -> Diagnostic {
        todo!()
    }
}
pub async fn load(_s: &str, _o: &LoadOptions) -> Result<Loaded, LoadError> {
    Err(LoadError)
}
