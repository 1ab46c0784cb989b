//! Choosing the Python interpreter: `--python PATH`, then `MONKEYWRENCH_PYTHON`, then the first
//! `python3` on PATH (an activated virtualenv's comes first there).

use std::path::{Path, PathBuf};

use crate::experiment::executable::resolve_executable;

/// Where the interpreter choice came from (named in messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    Path,
}

/// The interpreter a run uses, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Interpreter {
    Found { path: PathBuf, source: Source },
    Missing(NoInterpreter),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoInterpreter {
    #[error("--python {given}: {why}")]
    Flag { given: String, why: String },
    #[error("MONKEYWRENCH_PYTHON={given}: {why}")]
    Env { given: String, why: String },
    #[error("no python3 on PATH")]
    NotOnPath,
}

/// How to fix a missing interpreter (said once, with the error).
pub const FIX: &str = "pass --python PATH, set MONKEYWRENCH_PYTHON, or activate a virtualenv with the experiment's extensions installed";

impl Interpreter {
    /// Resolves the choice; `flag` is `--python`, `env` looks variables up, `cwd` anchors relative paths.
    pub fn choose(
        flag: Option<&str>,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
        cwd: &Path,
    ) -> Self {
        let pick = |given: &str| resolve_executable(given, cwd);
        if let Some(given) = flag {
            return match pick(given) {
                Ok(path) => Interpreter::Found {
                    path,
                    source: Source::Flag,
                },
                Err(why) => Interpreter::Missing(NoInterpreter::Flag {
                    given: given.into(),
                    why,
                }),
            };
        }
        if let Some(given) = env("MONKEYWRENCH_PYTHON").filter(|s| !s.is_empty()) {
            return match pick(&given) {
                Ok(path) => Interpreter::Found {
                    path,
                    source: Source::Env,
                },
                Err(why) => Interpreter::Missing(NoInterpreter::Env { given, why }),
            };
        }
        match pick("python3") {
            Ok(path) => Interpreter::Found {
                path,
                source: Source::Path,
            },
            Err(_) => Interpreter::Missing(NoInterpreter::NotOnPath),
        }
    }

    /// The interpreter's path, or the message (with the fix) saying why there is none.
    pub fn path(&self) -> Result<&Path, String> {
        match self {
            Interpreter::Found { path, .. } => Ok(path),
            Interpreter::Missing(e) => Err(format!("no Python interpreter ({e}); {FIX}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_env_beats_path_and_missing_ones_say_why() {
        let cwd = std::env::current_dir().unwrap();
        let env = |k: &str| (k == "MONKEYWRENCH_PYTHON").then(|| "/nonexistent/python".to_string());
        let none = |_: &str| None;
        let missing = Interpreter::choose(None, &env, &cwd);
        let message = missing.path().unwrap_err();
        assert!(
            message.contains("MONKEYWRENCH_PYTHON=/nonexistent/python"),
            "{message}"
        );
        assert!(message.contains("--python PATH"), "{message}");
        let flag = Interpreter::choose(Some("/bin/sh"), &env, &cwd);
        assert_eq!(flag.path().unwrap(), Path::new("/bin/sh"));
        match Interpreter::choose(None, &none, &cwd) {
            Interpreter::Found { source, .. } => assert_eq!(source, Source::Path),
            Interpreter::Missing(e) => assert_eq!(e, NoInterpreter::NotOnPath),
        }
        let bad_flag = Interpreter::choose(Some("./no-such-python"), &none, &cwd);
        assert!(
            bad_flag
                .path()
                .unwrap_err()
                .starts_with("no Python interpreter (--python ./no-such-python:")
        );
    }
}
