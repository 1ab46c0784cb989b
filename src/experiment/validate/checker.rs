//! The shared state of one validation pass and small typed accessors that report problems.

use std::collections::HashSet;

use super::ValidateOptions;
use crate::experiment::diagnostic::{Diagnostic, Span, nearest};
use crate::experiment::source::{Node, NodeValue};
use crate::experiment::substitute::braced_names;

/// Collects diagnostics while walking the tree.
pub(super) struct Checker<'a> {
    pub file: &'a str,
    pub options: &'a ValidateOptions,
    diagnostics: Vec<Diagnostic>,
    /// Configuration and secret names, for unknown-`${name}` warnings.
    pub declared: HashSet<String>,
    /// Configuration keys only (extensions read their server addresses from them).
    pub configured: HashSet<String>,
    /// Whether the experiment declares configuration or secrets.
    pub has_config: bool,
    /// Python functions and control modules to check in the interpreter after the tree pass.
    pub python_uses: Vec<PythonUse>,
}

/// A python provider (or control module) found in the tree, checked through the worker at the end.
#[derive(Debug, Clone)]
pub(super) struct PythonUse {
    pub module: String,
    /// The function; unused for controls.
    pub func: String,
    pub path: String,
    pub span: Span,
    pub module_span: Span,
    pub func_span: Span,
    /// Argument names with their key positions.
    pub arguments: Vec<(String, Span)>,
    pub arguments_span: Option<Span>,
    /// False when a dry mode means it never executes.
    pub runs: bool,
    /// A control module (a missing one is a warning: CTK carries on without it).
    pub control: bool,
}

impl<'a> Checker<'a> {
    pub(super) fn new(file: &'a str, options: &'a ValidateOptions) -> Self {
        Checker {
            file,
            options,
            diagnostics: Vec::new(),
            declared: HashSet::new(),
            configured: HashSet::new(),
            has_config: false,
            python_uses: Vec::new(),
        }
    }

    pub(super) fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    pub(super) fn error(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(self.file, node.span, path, message));
    }

    pub(super) fn warn(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::warning(self.file, node.span, path, message));
    }

    pub(super) fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Warns about every key of `node` not in `known`, suggesting the nearest known key.
    pub(super) fn unknown_keys(&mut self, node: &Node, path: &str, what: &str, known: &[&str]) {
        let Some(entries) = node.entries() else {
            return;
        };
        for (key, _) in entries {
            if known.contains(&key.name.as_str()) {
                continue;
            }
            let mut d = Diagnostic::warning(
                self.file,
                key.span,
                path,
                format!("unknown {what} key {:?}", key.name),
            );
            if let Some(s) = nearest(&key.name, known.iter().copied()) {
                d = d.with_suggestion(s);
            }
            self.diagnostics.push(d);
        }
    }

    /// A mapping, or an error saying what was expected.
    pub(super) fn mapping<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n Node> {
        if node.entries().is_some() {
            Some(node)
        } else {
            self.error(
                node,
                path,
                format!("expected a mapping, got {}", node.type_name()),
            );
            None
        }
    }

    /// A required non-empty string field.
    pub(super) fn required_str(&mut self, parent: &Node, key: &str, path: &str) -> Option<String> {
        match parent.get(key) {
            None => {
                self.error(parent, path, format!("missing required key {key:?}"));
                None
            }
            Some(n) => self.non_empty_str(n, &join(path, key)),
        }
    }

    /// A non-empty string, or an error.
    pub(super) fn non_empty_str(&mut self, node: &Node, path: &str) -> Option<String> {
        match node.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s.to_string()),
            Some(_) => {
                self.error(node, path, "must not be empty");
                None
            }
            None => {
                self.error(
                    node,
                    path,
                    format!("expected a string, got {}", node.type_name()),
                );
                None
            }
        }
    }

    /// An optional string field.
    pub(super) fn optional_str(&mut self, parent: &Node, key: &str, path: &str) -> Option<String> {
        let n = parent.get(key).filter(|n| !n.is_null())?;
        match n.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(
                    n,
                    &join(path, key),
                    format!("expected a string, got {}", n.type_name()),
                );
                None
            }
        }
    }

    /// An optional boolean field.
    pub(super) fn optional_bool(&mut self, parent: &Node, key: &str, path: &str) -> Option<bool> {
        let n = parent.get(key).filter(|n| !n.is_null())?;
        match n.value {
            NodeValue::Bool(b) => Some(b),
            _ => {
                self.error(
                    n,
                    &join(path, key),
                    format!("expected true or false, got {}", n.type_name()),
                );
                None
            }
        }
    }

    /// An optional non-negative number field.
    pub(super) fn optional_seconds(&mut self, parent: &Node, key: &str, path: &str) -> Option<f64> {
        let n = parent.get(key).filter(|n| !n.is_null())?;
        match number(n) {
            Some(f) if f >= 0.0 && f.is_finite() => Some(f),
            _ => {
                self.error(
                    n,
                    &join(path, key),
                    format!(
                        "expected a non-negative number of seconds, got {}",
                        n.type_name()
                    ),
                );
                None
            }
        }
    }

    /// Warns about braced `${name}`s in the strings of `node` that are not declared.
    pub(super) fn check_placeholders(&mut self, node: &Node, path: &str) {
        match &node.value {
            NodeValue::Str(s) => {
                for name in braced_names(s) {
                    if self.declared.contains(&name) {
                        continue;
                    }
                    let mut d = Diagnostic::warning(
                        self.file,
                        node.span,
                        path,
                        format!(
                            "${{{name}}} is not declared in configuration or secrets; it stays verbatim"
                        ),
                    );
                    if let Some(s) = nearest(&name, self.declared.iter().map(String::as_str)) {
                        d = d.with_suggestion(s);
                    }
                    self.diagnostics.push(d);
                }
            }
            NodeValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.check_placeholders(item, &format!("{path}[{i}]"));
                }
            }
            NodeValue::Map(entries) => {
                for (k, v) in entries {
                    self.check_placeholders(v, &join(path, &k.name));
                }
            }
            _ => {}
        }
    }
}

/// `a.b` (or `b` at the top).
pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A number node as f64.
pub(super) fn number(n: &Node) -> Option<f64> {
    match n.value {
        NodeValue::Int(i) => Some(i as f64),
        NodeValue::Float(f) => Some(f),
        _ => None,
    }
}

/// Whether a string is exactly one `${name}` placeholder.
pub(super) fn is_placeholder(n: &Node) -> bool {
    n.as_str()
        .is_some_and(|s| crate::experiment::substitute::exact_placeholder(s).is_some())
}
