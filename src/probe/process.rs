//! STUB (replaced by the leaf branch).
#![allow(missing_docs)]
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
pub struct ProcessCall {
    pub program: PathBuf,
    pub arguments: ProcessArgs,
    pub timeout: Option<Duration>,
}
pub enum ProcessArgs {
    List(Vec<String>),
    Shell(String),
}
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("timed out after {seconds} s")]
    TimedOut { seconds: f64 },
}
pub async fn run(_call: &ProcessCall) -> Result<Value, ProcessError> {
    Ok(Value::Null)
}
pub fn python_str(v: &Value) -> Option<String> {
    Some(v.to_string())
}
