//! `controls` lists (experiment, hypothesis and activity level): Chaos Toolkit's hooks, run
//! through the Python worker. Checked as chaostoolkit-lib's `validate_controls` does.

use super::checker::{Checker, PythonUse, join};
use crate::experiment::diagnostic::{Diagnostic, nearest};
use crate::experiment::model::{Control, ControlScope};
use crate::experiment::source::Node;

const CONTROL_KEYS: &[&str] = &["name", "ref", "provider", "scope", "automatic"];

/// Parses `parent.controls`; python modules are recorded for the import check.
pub(super) fn controls(c: &mut Checker, parent: &Node, path: &str) -> Vec<Control> {
    let Some(n) = parent.get("controls").filter(|n| !n.is_null()) else {
        return Vec::new();
    };
    let cp = join(path, "controls");
    let Some(items) = n.as_seq() else {
        c.error(
            n,
            &cp,
            format!("expected a list of controls, got {}", n.type_name()),
        );
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| control(c, item, &format!("{cp}[{i}]")))
        .collect()
}

fn control(c: &mut Checker, n: &Node, path: &str) -> Option<Control> {
    let n = c.mapping(n, path)?;
    c.unknown_keys(n, path, "control", CONTROL_KEYS);
    if let Some(r) = n.get("ref") {
        let name = c.non_empty_str(r, &join(path, "ref"))?;
        return Some(Control {
            name,
            is_ref: true,
            module: None,
            arguments: serde_json::Value::Object(Default::default()),
            scope: None,
            automatic: true,
        });
    }
    let name = c.required_str(n, "name", path);
    let scope = match n.get("scope").filter(|s| !s.is_null()) {
        None => None,
        Some(s) => match s.as_str() {
            Some("before") => Some(ControlScope::Before),
            Some("after") => Some(ControlScope::After),
            other => {
                let mut d = Diagnostic::error(
                    c.file,
                    s.span,
                    join(path, "scope"),
                    "expected \"before\" or \"after\"",
                );
                if let Some(near) = other.and_then(|o| nearest(o, ["before", "after"])) {
                    d = d.with_suggestion(near);
                }
                c.push(d);
                None
            }
        },
    };
    let automatic = c.optional_bool(n, "automatic", path).unwrap_or(true);
    let pp = join(path, "provider");
    let Some(p) = n.get("provider") else {
        c.error(n, path, "missing required key \"provider\"");
        return None;
    };
    let p = c.mapping(p, &pp)?;
    let mut module = None;
    let mut arguments = serde_json::Value::Object(Default::default());
    match p.get("type").and_then(Node::as_str) {
        Some("python") => {
            c.unknown_keys(p, &pp, "control provider", &["type", "module", "arguments"]);
            module = c.required_str(p, "module", &pp);
            if let Some(a) = p.get("arguments").filter(|a| !a.is_null()) {
                if a.entries().is_some() {
                    arguments = a.to_json();
                } else {
                    c.error(
                        a,
                        &join(&pp, "arguments"),
                        format!("expected a mapping, got {}", a.type_name()),
                    );
                }
            }
            if let Some(m) = &module {
                c.python_uses.push(PythonUse {
                    module: m.clone(),
                    func: String::new(),
                    path: pp.clone(),
                    span: p.span,
                    module_span: p.get("module").map_or(p.span, |m| m.span),
                    func_span: p.span,
                    arguments: Vec::new(),
                    arguments_span: None,
                    runs: true,
                    control: true,
                });
            }
        }
        _ => c.warn(
            p,
            &pp,
            "only python controls run (Chaos Toolkit ignores the others too)",
        ),
    }
    Some(Control {
        name: name?,
        is_ref: false,
        module,
        arguments,
        scope,
        automatic,
    })
}
