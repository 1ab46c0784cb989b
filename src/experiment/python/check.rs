//! Validation-time checks through a worker: import the module, find the function, bind the
//! arguments to its signature (all problems at once, where Chaos Toolkit stops at the first).

use serde_json::{Value, json};

use super::worker::{Session, WorkerError};

/// What the worker found for one function or control module.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Fine,
    /// The import failed for want of a module (`missing`: the module Python could not find).
    NoModule {
        missing: Option<String>,
        message: String,
    },
    /// The import raised something else.
    ImportFailed(String),
    /// The module has no such function; `names` are its public callables.
    NoFunction(Vec<String>),
    /// Arguments the signature does not accept, and required parameters not given.
    Bind {
        unexpected: Vec<String>,
        missing: Vec<String>,
        accepted: Vec<String>,
    },
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn answer(v: &Value) -> Answer {
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    match v.get("kind").and_then(Value::as_str) {
        _ if v.get("ok") == Some(&Value::Bool(true)) => Answer::Fine,
        Some("module") => Answer::NoModule {
            missing: v.get("missing").and_then(Value::as_str).map(String::from),
            message: text("message"),
        },
        Some("func") => Answer::NoFunction(strings(v, "names")),
        Some("bind") => Answer::Bind {
            unexpected: strings(v, "unexpected"),
            missing: strings(v, "missing"),
            accepted: strings(v, "accepted"),
        },
        _ => Answer::ImportFailed(text("error")),
    }
}

/// Imports `module`, finds `func` and binds `arguments` (names) to its signature.
pub fn function(
    session: &mut Session,
    module: &str,
    func: &str,
    arguments: &[String],
) -> Result<Answer, WorkerError> {
    let v = session.request(&json!({
        "op": "check", "module": module, "func": func, "arguments": arguments,
    }))?;
    Ok(answer(&v))
}

/// Imports a control module.
pub fn control(session: &mut Session, module: &str) -> Result<Answer, WorkerError> {
    let v = session.request(&json!({"op": "check_control", "module": module}))?;
    Ok(answer(&v))
}
