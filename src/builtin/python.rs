//! Python functions that Chaos Toolkit files often use, mapped to builtins or answered with a hint.

use serde_json::Value;

use super::{Func, Probe};

/// A Python function mapped to a builtin with identical output.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonAlias {
    pub func: Func,
    /// Its arguments, mapped from the Python ones.
    pub arguments: Value,
}

/// The builtin a well-known Python function maps to (Chaos Toolkit files often use these).
pub fn python_alias(module: &str, func: &str, arguments: &Value) -> Option<PythonAlias> {
    match (module, func) {
        ("os.path", "exists") => Some(PythonAlias {
            func: Func::Probe(Probe::FileExists),
            arguments: serde_json::json!({"path": arguments.get("path").cloned().unwrap_or(Value::Null)}),
        }),
        _ => None,
    }
}

/// The builtin to suggest for a Python function that cannot run (a hint, by keyword).
pub fn python_suggestion(module: &str, func: &str) -> Option<&'static str> {
    let text = format!("{module}.{func}").to_ascii_lowercase();
    let table: [(&[&str], &str); 4] = [
        (
            &["kill", "terminate", "stop", "delete_pod"],
            "process.kill (processes) or container.kill (containers)",
        ),
        (&["port", "connect", "socket", "tcp"], "tcp.connect"),
        (
            &["http", "request", "latency", "response", "url"],
            "http.measure",
        ),
        (&["file", "path", "exists"], "file.exists"),
    ];
    table
        .iter()
        .find(|(words, _)| words.iter().any(|w| text.contains(w)))
        .map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_aliases_and_suggestions() {
        let a = python_alias("os.path", "exists", &json!({"path": "/tmp"})).unwrap();
        assert_eq!(a.func, Func::Probe(Probe::FileExists));
        assert_eq!(a.arguments, json!({"path": "/tmp"}));
        assert!(python_alias("os", "system", &json!({})).is_none());
        assert!(
            python_suggestion("chaosk8s.pod.actions", "terminate_pods")
                .unwrap()
                .contains("kill")
        );
    }
}
