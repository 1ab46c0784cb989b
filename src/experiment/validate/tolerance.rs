//! Tolerances (spec §4): the kind is chosen by the JSON type; object tolerances by `type`; traps
//! that silently mislead in Chaos Toolkit get warnings.

use serde_json::Value;

use super::activity::{Item, activity};
use super::checker::{Checker, join, number};
use crate::experiment::diagnostic::{Diagnostic, nearest};
use crate::experiment::model::{Provider, Tolerance};
use crate::experiment::source::{Node, NodeValue};
use crate::probe::tolerance::compile_regex;

/// Parses a tolerance for an activity whose provider is `provider` (for trap warnings).
pub(super) fn tolerance(
    c: &mut Checker,
    n: &Node,
    path: &str,
    provider: Option<&Provider>,
) -> Option<Tolerance> {
    let mapping_output = matches!(provider, Some(Provider::Http(_) | Provider::Process(_)));
    match &n.value {
        NodeValue::Bool(b) => Some(Tolerance::Bool(*b)),
        NodeValue::Int(i) => Some(Tolerance::Int(*i)),
        NodeValue::Str(s) => {
            c.check_placeholders(n, path);
            Some(Tolerance::Str(s.clone()))
        }
        NodeValue::Seq(items) => {
            let values: Vec<Value> = items.iter().map(Node::to_json).collect();
            if mapping_output
                && items.len() == 2
                && items.iter().all(|i| matches!(i.value, NodeValue::Int(_)))
            {
                let (a, b) = (&values[0], &values[1]);
                c.push(
                    Diagnostic::warning(
                        c.file,
                        n.span,
                        path,
                        format!("against an http/process output a two-item list means \"status is {a} or {b}\", not a range"),
                    )
                    .with_suggestion(format!("{{type: range, range: [{a}, {b}], target: status}}")),
                );
            }
            Some(Tolerance::List(values))
        }
        NodeValue::Map(_) => object(c, n, path, provider, mapping_output),
        NodeValue::Float(_) | NodeValue::Null => {
            c.error(n, path, format!("a tolerance cannot be {}; use a boolean, integer, string, list or a typed mapping", n.type_name()));
            None
        }
    }
}

fn object(
    c: &mut Checker,
    n: &Node,
    path: &str,
    provider: Option<&Provider>,
    mapping_output: bool,
) -> Option<Tolerance> {
    let Some(ty) = n.get("type").and_then(Node::as_str) else {
        c.error(
            n,
            path,
            "a mapping tolerance needs a type: regex, jsonpath, range or probe",
        );
        return None;
    };
    let target = n.get("target").and_then(Node::as_str).map(str::to_string);
    match ty {
        "regex" => {
            c.unknown_keys(n, path, "regex tolerance", &["type", "pattern", "target"]);
            let pattern = c.required_str(n, "pattern", path)?;
            let pn = n.get("pattern").unwrap_or(n).clone();
            if pattern.contains("${") {
                c.check_placeholders(&pn, &join(path, "pattern"));
            } else if let Err(e) = compile_regex(&pattern) {
                c.error(&pn, &join(path, "pattern"), format!("invalid regex: {e}"));
                return None;
            }
            warn_untargeted(c, n, path, mapping_output, &target, "regex");
            Some(Tolerance::Regex { pattern, target })
        }
        "jsonpath" => {
            c.unknown_keys(
                n,
                path,
                "jsonpath tolerance",
                &["type", "path", "expect", "count", "target"],
            );
            let jp = c.required_str(n, "path", path)?;
            let pn = n.get("path").unwrap_or(n).clone();
            if jp.contains("${") {
                c.check_placeholders(&pn, &join(path, "path"));
            } else if let Err(e) = serde_json_path::JsonPath::parse(&jp) {
                c.error(&pn, &join(path, "path"), format!("invalid jsonpath: {e}"));
                return None;
            }
            let count = match n.get("count").filter(|x| !x.is_null()) {
                None => None,
                Some(x) => match x.value {
                    NodeValue::Int(i) if i >= 0 => Some(i as u64),
                    _ => {
                        c.error(x, &join(path, "count"), "expected a non-negative integer");
                        return None;
                    }
                },
            };
            if let Some(e) = n.get("expect") {
                c.check_placeholders(e, &join(path, "expect"));
            }
            Some(Tolerance::JsonPath {
                path: jp,
                expect: n.get("expect").map(Node::to_json),
                count,
                target,
            })
        }
        "range" => {
            c.unknown_keys(n, path, "range tolerance", &["type", "range", "target"]);
            let r = match n.get("range") {
                None => {
                    c.error(n, path, "missing required key \"range\" ([low, high])");
                    return None;
                }
                Some(r) => r,
            };
            let bounds: Option<Vec<f64>> = r
                .as_seq()
                .map(|items| items.iter().filter_map(number).collect());
            match bounds.filter(|b| b.len() == 2 && r.as_seq().is_some_and(|s| s.len() == 2)) {
                Some(b) if b[0] <= b[1] => {
                    warn_untargeted(c, n, path, mapping_output, &target, "range");
                    Some(Tolerance::Range {
                        lo: b[0],
                        hi: b[1],
                        target,
                    })
                }
                Some(_) => {
                    c.error(
                        r,
                        &join(path, "range"),
                        "the low bound is greater than the high bound",
                    );
                    None
                }
                None => {
                    c.error(
                        r,
                        &join(path, "range"),
                        "expected [low, high] with two numbers",
                    );
                    None
                }
            }
        }
        "probe" => {
            let Some(Item::Activity(a)) = activity(c, n, path, false) else {
                return None;
            };
            match &a.provider {
                Provider::Process(_) => {
                    c.error(n, path, "a probe tolerance cannot use a process provider (Chaos Toolkit crashes on it)");
                    None
                }
                Provider::Http(_) => {
                    c.warn(
                        n,
                        path,
                        "an http probe tolerance is always met (it cannot receive the value)",
                    );
                    Some(Tolerance::Probe(a))
                }
                Provider::Builtin(_) | Provider::Python(_) => Some(Tolerance::Probe(a)),
            }
        }
        other => {
            let mut d = Diagnostic::error(
                c.file,
                n.get("type").unwrap_or(n).span,
                join(path, "type"),
                format!(
                    "unknown tolerance type {other:?}; expected regex, jsonpath, range or probe"
                ),
            );
            if let Some(s) = nearest(other, ["regex", "jsonpath", "range", "probe"]) {
                d = d.with_suggestion(s);
            }
            c.push(d);
            let _ = provider;
            None
        }
    }
}

fn warn_untargeted(
    c: &mut Checker,
    n: &Node,
    path: &str,
    mapping_output: bool,
    target: &Option<String>,
    kind: &str,
) {
    if mapping_output && target.is_none() {
        c.warn(
            n,
            path,
            format!("a {kind} tolerance without a target on an http/process output fails at run time (the output is a mapping); add target: status, stdout, stderr or body"),
        );
    }
}
