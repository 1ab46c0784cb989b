//! Python functions that Chaos Toolkit files often use, run natively with the same output. This
//! table is the one place native mappings live; everything else runs in the user's interpreter.

use serde_json::Value;

use super::func::BuiltinError;
use super::{Action, Func, Probe};

/// A Python function mapped to a builtin with identical output.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonAlias {
    pub func: Func,
    /// Its arguments, mapped from the Python ones.
    pub arguments: Value,
}

/// The builtin a well-known Python function maps to (Chaos Toolkit files often use these).
pub fn python_alias(module: &str, func: &str, arguments: &Value) -> Option<PythonAlias> {
    let arg = |name: &str| arguments.get(name).cloned().unwrap_or(Value::Null);
    match (module, func) {
        ("os.path", "exists") => Some(PythonAlias {
            func: Func::Probe(Probe::FileExists),
            arguments: serde_json::json!({"path": arg("path")}),
        }),
        ("os", "rename") => Some(PythonAlias {
            func: Func::Action(Action::FileRename),
            arguments: serde_json::json!({"src": arg("src"), "dst": arg("dst")}),
        }),
        ("os", "remove" | "unlink") => Some(PythonAlias {
            func: Func::Action(Action::FileRemove),
            arguments: serde_json::json!({"path": arg("path")}),
        }),
        _ => None,
    }
}

/// Python's `repr` of a str (what its OSError messages show).
fn repr(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{}\"", s.replace('\\', "\\\\"))
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// The message Python's OSError subclass for `e` prints: `FileNotFoundError: [Errno 2] No such
/// file or directory: 'a'`.
fn os_error(e: &std::io::Error, paths: &[&str]) -> BuiltinError {
    let errno = e.raw_os_error().unwrap_or(0);
    let class = match nix::errno::Errno::from_raw(errno) {
        nix::errno::Errno::ENOENT => "FileNotFoundError",
        nix::errno::Errno::EACCES | nix::errno::Errno::EPERM => "PermissionError",
        nix::errno::Errno::EEXIST => "FileExistsError",
        nix::errno::Errno::EISDIR => "IsADirectoryError",
        nix::errno::Errno::ENOTDIR => "NotADirectoryError",
        _ => "OSError",
    };
    let text = nix::errno::Errno::from_raw(errno).desc();
    let shown: Vec<String> = paths.iter().map(|p| repr(p)).collect();
    BuiltinError::Failed(format!(
        "{class}: [Errno {errno}] {text}: {}",
        shown.join(" -> ")
    ))
}

/// `os.rename(src, dst)`.
pub(super) fn os_rename(arguments: &Value) -> Result<Value, BuiltinError> {
    let src = arguments["src"].as_str().unwrap_or_default();
    let dst = arguments["dst"].as_str().unwrap_or_default();
    std::fs::rename(src, dst).map_err(|e| os_error(&e, &[src, dst]))?;
    Ok(Value::Null)
}

/// `os.remove(path)`.
pub(super) fn os_remove(arguments: &Value) -> Result<Value, BuiltinError> {
    let path = arguments["path"].as_str().unwrap_or_default();
    std::fs::remove_file(path).map_err(|e| os_error(&e, &[path]))?;
    Ok(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_aliases() {
        let a = python_alias("os.path", "exists", &json!({"path": "/tmp"})).unwrap();
        assert_eq!(a.func, Func::Probe(Probe::FileExists));
        assert_eq!(a.arguments, json!({"path": "/tmp"}));
        let r = python_alias("os", "rename", &json!({"src": "a", "dst": "b"})).unwrap();
        assert_eq!(r.func, Func::Action(Action::FileRename));
        assert_eq!(r.arguments, json!({"src": "a", "dst": "b"}));
        assert!(python_alias("os", "system", &json!({})).is_none());
        assert!(python_alias("chaosaws.ec2.actions", "stop_instance", &json!({})).is_none());
    }

    #[test]
    fn rename_and_remove_behave_like_python() {
        let dir = std::env::temp_dir().join(format!("mw-os-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a").to_string_lossy().into_owned();
        let b = dir.join("b").to_string_lossy().into_owned();
        std::fs::write(&a, "x").unwrap();
        assert_eq!(
            os_rename(&json!({"src": a, "dst": b})).unwrap(),
            Value::Null
        );
        assert!(std::path::Path::new(&b).exists());
        let missing = os_rename(&json!({"src": a, "dst": b}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            missing,
            format!("FileNotFoundError: [Errno 2] No such file or directory: '{a}' -> '{b}'")
        );
        assert_eq!(os_remove(&json!({"path": b})).unwrap(), Value::Null);
        let gone = os_remove(&json!({"path": b})).unwrap_err().to_string();
        assert_eq!(
            gone,
            format!("FileNotFoundError: [Errno 2] No such file or directory: '{b}'")
        );
        let d = dir.to_string_lossy().into_owned();
        assert!(
            os_remove(&json!({"path": d}))
                .unwrap_err()
                .to_string()
                .starts_with("IsADirectoryError: [Errno 21]")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
