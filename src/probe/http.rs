//! STUB (replaced by the leaf branch).
#![allow(missing_docs)]
use serde_json::Value;
use std::time::Duration;
pub struct HttpCall {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub arguments: Option<Value>,
    pub timeout: Option<HttpTimeout>,
    pub verify_tls: bool,
    pub max_retries: u32,
}
pub struct HttpTimeout {
    pub connect: Option<Duration>,
    pub read: Option<Duration>,
}
impl HttpTimeout {
    pub fn from_value(_v: &Value) -> Result<HttpTimeout, String> {
        Ok(HttpTimeout {
            connect: None,
            read: None,
        })
    }
}
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("x")]
    X,
}
pub async fn run(_call: &HttpCall) -> Result<Value, HttpError> {
    Ok(Value::Null)
}
