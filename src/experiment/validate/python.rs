//! Python providers and control modules checked in the chosen interpreter, all in one worker
//! session after the tree pass: each module imported, each function found, each call's arguments
//! bound to its signature. Every problem is reported, where Chaos Toolkit stops at the first.

use super::checker::{Checker, PythonUse, join};
use crate::experiment::diagnostic::{Diagnostic, Span, nearest};
use crate::experiment::python::check::{self, Answer};
use crate::experiment::python::interpreter::Interpreter;
use crate::experiment::python::packages::package_for;
use crate::experiment::python::worker::Session;

/// Checks every recorded use; `interpreter` `None` skips the checks (callers that never run).
pub(super) fn check_uses(c: &mut Checker, interpreter: Option<&Interpreter>) {
    let uses = std::mem::take(&mut c.python_uses);
    let Some(interpreter) = interpreter else {
        return;
    };
    let Some(first) = uses.first() else {
        return;
    };
    let python = match interpreter.path() {
        Ok(p) => p.to_path_buf(),
        Err(message) => {
            // Said once, at the first use; an error only if some Python code would run.
            let runs = uses.iter().any(|u| u.runs && !u.control);
            let first_name = if first.control {
                format!("control module {}", first.module)
            } else {
                format!("{}.{}", first.module, first.func)
            };
            let text = format!(
                "{message} ({} python provider(s)/control(s) in this file, first {first_name})",
                uses.len()
            );
            let d = if runs {
                Diagnostic::error(c.file, first.span, &first.path, text)
            } else {
                Diagnostic::warning(c.file, first.span, &first.path, text)
            };
            c.push(d);
            return;
        }
    };
    let mut session = match Session::start(&python) {
        Ok(s) => s,
        Err(e) => {
            c.push(Diagnostic::error(
                c.file,
                first.span,
                &first.path,
                e.to_string(),
            ));
            return;
        }
    };
    for u in &uses {
        let answer = if u.control {
            check::control(&mut session, &u.module)
        } else {
            let names: Vec<String> = u.arguments.iter().map(|(n, _)| n.clone()).collect();
            check::function(&mut session, &u.module, &u.func, &names)
        };
        match answer {
            Ok(a) => report(c, u, a, &python.display().to_string()),
            Err(e) => {
                c.push(Diagnostic::error(c.file, u.span, &u.path, e.to_string()));
                match Session::start(&python) {
                    Ok(s) => session = s,
                    Err(_) => return,
                }
            }
        }
    }
}

fn install_hint(module: &str) -> String {
    match package_for(module) {
        Some(p) => format!("install the {p} package into that environment (pip install {p})"),
        None => "install the package that provides it into that environment".to_string(),
    }
}

fn report(c: &mut Checker, u: &PythonUse, answer: Answer, python: &str) {
    let what = if u.control {
        format!("control module {}", u.module)
    } else {
        format!("python function {}.{}", u.module, u.func)
    };
    let at = |c: &mut Checker, span: Span, path: String, message: String| {
        let d = if u.control {
            Diagnostic::warning(
                c.file,
                span,
                path,
                format!("{message}; Chaos Toolkit runs the experiment without this control"),
            )
        } else if u.runs {
            Diagnostic::error(c.file, span, path, message)
        } else {
            Diagnostic::warning(
                c.file,
                span,
                path,
                format!("{message} (it is skipped by the dry mode)"),
            )
        };
        c.push(d);
    };
    let module_path = join(&u.path, "module");
    match answer {
        Answer::Fine => {}
        Answer::NoModule { missing, message } => {
            let own = missing
                .as_deref()
                .is_none_or(|m| u.module == m || u.module.starts_with(&format!("{m}.")));
            let text = if own {
                format!(
                    "{what}: module {} is not installed for {python}; {}",
                    u.module,
                    install_hint(&u.module)
                )
            } else {
                format!(
                    "{what}: importing {} failed ({message}); {}",
                    u.module,
                    install_hint(&u.module)
                )
            };
            at(c, u.module_span, module_path, text);
        }
        Answer::ImportFailed(message) => at(
            c,
            u.module_span,
            module_path,
            format!("{what}: importing {} raised {message}", u.module),
        ),
        Answer::NoFunction(names) => {
            let mut d = Diagnostic::error(
                c.file,
                u.func_span,
                join(&u.path, "func"),
                format!("module {} has no function {:?}", u.module, u.func),
            );
            if let Some(s) = nearest(&u.func, names.iter().map(String::as_str)) {
                d = d.with_suggestion(s);
            }
            if !u.runs {
                d.severity = crate::experiment::diagnostic::Severity::Warning;
            }
            c.push(d);
        }
        Answer::Bind {
            unexpected,
            missing,
            accepted,
        } => {
            let args_path = join(&u.path, "arguments");
            // A misspelt argument is one problem, not also a missing one.
            let meant: Vec<&str> = unexpected
                .iter()
                .filter_map(|n| nearest(n, missing.iter().map(String::as_str)))
                .collect();
            let missing: Vec<String> = missing
                .iter()
                .filter(|m| !meant.contains(&m.as_str()))
                .cloned()
                .collect();
            for name in unexpected {
                let span = u
                    .arguments
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(u.arguments_span.unwrap_or(u.span), |(_, s)| *s);
                let takes = if accepted.is_empty() {
                    "no arguments".to_string()
                } else {
                    accepted.join(", ")
                };
                let mut d = Diagnostic::error(
                    c.file,
                    span,
                    join(&args_path, &name),
                    format!("{what} takes no argument {name:?} (it takes {takes})"),
                );
                if let Some(s) = nearest(&name, accepted.iter().map(String::as_str)) {
                    d = d.with_suggestion(s);
                }
                if !u.runs {
                    d.severity = crate::experiment::diagnostic::Severity::Warning;
                }
                c.push(d);
            }
            for name in missing {
                at(
                    c,
                    u.arguments_span.unwrap_or(u.span),
                    args_path.clone(),
                    format!("{what} needs the argument {name:?}"),
                );
            }
        }
    }
}
