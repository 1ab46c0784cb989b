//! STUB (replaced by the validate branch).
#![allow(missing_docs)]
use crate::experiment::model::Experiment;
use serde_json::{Map, Value};
use std::path::Path;
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct OverrideError;
pub struct VarFile {
    pub configuration: Map<String, Value>,
    pub secrets: Map<String, Value>,
    pub env: Vec<(String, String)>,
}
pub fn parse_var(_s: &str) -> Result<(String, Value), OverrideError> {
    Err(OverrideError)
}
pub fn load_var_file(_p: &Path) -> Result<VarFile, OverrideError> {
    Err(OverrideError)
}
pub fn apply(_e: &mut Experiment, _c: &Map<String, Value>, _s: &Map<String, Value>) -> Vec<String> {
    vec![]
}
