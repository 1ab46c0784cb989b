//! Declarative argument schemas for builtins: checked at validation (literal values) and again at
//! run time (after substitution); also the source of the argument docs.

use serde_json::Value;

use crate::experiment::diagnostic::nearest;

/// The type an argument must have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgType {
    /// A string.
    Str,
    /// An integer within bounds.
    Int {
        /// Inclusive minimum.
        min: i64,
        /// Inclusive maximum.
        max: i64,
    },
    /// A number greater than `min` (exclusive when `exclusive`).
    Number {
        /// Lower bound.
        min: f64,
    },
    /// A mapping.
    Map,
    /// A process target selector mapping (`pid`, `name`, `pattern`, …).
    Target,
    /// Any JSON value.
    Any,
}

/// One argument of a builtin.
#[derive(Debug, Clone, Copy)]
pub struct ArgSpec {
    /// The key.
    pub name: &'static str,
    /// Its type.
    pub ty: ArgType,
    /// Whether it must be given.
    pub required: bool,
    /// The default, as shown in docs.
    pub default: Option<&'static str>,
    /// One line of documentation.
    pub doc: &'static str,
}

impl ArgSpec {
    /// An argument that must be given.
    pub const fn required(name: &'static str, ty: ArgType, doc: &'static str) -> ArgSpec {
        ArgSpec {
            name,
            ty,
            required: true,
            default: None,
            doc,
        }
    }

    /// An argument that may be left out (`default`: what applies then, as shown in docs).
    pub const fn optional(
        name: &'static str,
        ty: ArgType,
        default: Option<&'static str>,
        doc: &'static str,
    ) -> ArgSpec {
        ArgSpec {
            name,
            ty,
            required: false,
            default,
            doc,
        }
    }
}

/// A problem with one argument.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgumentProblem {
    /// The key path below `arguments`.
    pub path: String,
    /// Lowercase message.
    pub message: String,
    /// A nearby known key.
    pub suggestion: Option<String>,
}

/// Checks `arguments` against `specs`; `${name}` placeholders pass when `allow_placeholders`.
pub fn check(
    specs: &[ArgSpec],
    arguments: &Value,
    allow_placeholders: bool,
) -> Vec<ArgumentProblem> {
    let mut problems = Vec::new();
    let Value::Object(map) = arguments else {
        problems.push(ArgumentProblem {
            path: String::new(),
            message: "arguments must be a mapping".into(),
            suggestion: None,
        });
        return problems;
    };
    for (key, value) in map {
        // Extensions every fault accepts.
        if key == "blast-radius" || key == "value" {
            continue;
        }
        let Some(spec) = specs.iter().find(|s| s.name == key) else {
            problems.push(ArgumentProblem {
                path: key.clone(),
                message: format!(
                    "unknown argument {key:?}; expected {}",
                    specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                ),
                suggestion: nearest(key, specs.iter().map(|s| s.name)).map(str::to_string),
            });
            continue;
        };
        if allow_placeholders && is_placeholder(value) {
            continue;
        }
        if let Some(message) = type_problem(spec.ty, value) {
            problems.push(ArgumentProblem {
                path: key.clone(),
                message,
                suggestion: None,
            });
        }
    }
    for spec in specs.iter().filter(|s| s.required) {
        if !map.contains_key(spec.name) {
            problems.push(ArgumentProblem {
                path: spec.name.into(),
                message: format!("missing required argument {:?} ({})", spec.name, spec.doc),
                suggestion: None,
            });
        }
    }
    problems
}

fn is_placeholder(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        crate::experiment::substitute::exact_placeholder(s).is_some() || s.contains("${")
    })
}

fn type_problem(ty: ArgType, v: &Value) -> Option<String> {
    match ty {
        ArgType::Str => (!v.is_string()).then(|| format!("expected a string, got {v}")),
        ArgType::Int { min, max } => match int_of(v) {
            Some(i) if (min..=max).contains(&i) => None,
            Some(i) => Some(format!("{i} is out of range {min}..={max}")),
            None => Some(format!("expected an integer, got {v}")),
        },
        ArgType::Number { min } => match number_of(v) {
            Some(f) if f > min && f.is_finite() => None,
            Some(f) => Some(format!("{f} must be greater than {min}")),
            None => Some(format!("expected a number, got {v}")),
        },
        ArgType::Map | ArgType::Target => {
            (!v.is_object()).then(|| format!("expected a mapping, got {v}"))
        }
        ArgType::Any => None,
    }
}

/// An integer from a JSON number or a numeric string (substituted `--var` values are strings).
pub fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number from a JSON number or a numeric string.
pub fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPECS: &[ArgSpec] = &[
        ArgSpec::required("host", ArgType::Str, "host"),
        ArgSpec::required("port", ArgType::Int { min: 1, max: 65535 }, "port"),
        ArgSpec::optional("timeout_s", ArgType::Number { min: 0.0 }, Some("3"), "t"),
    ];

    #[test]
    fn good_arguments_and_placeholders_pass() {
        assert!(check(SPECS, &json!({"host": "h", "port": 80}), false).is_empty());
        assert!(check(SPECS, &json!({"host": "${h}", "port": "${p}"}), true).is_empty());
        assert!(
            check(SPECS, &json!({"host": "h", "port": "8080"}), false).is_empty(),
            "numeric strings from --var"
        );
    }

    #[test]
    fn problems_are_named() {
        let p = check(
            SPECS,
            &json!({"hots": "h", "port": 70000, "timeout_s": 0}),
            false,
        );
        assert_eq!(p.len(), 4, "{p:?}");
        assert_eq!(p[0].suggestion.as_deref(), Some("host"));
        assert!(p.iter().any(|x| x.message.contains("out of range")));
        assert!(p.iter().any(|x| x.message.contains("greater than 0")));
        assert!(
            p.iter()
                .any(|x| x.message.contains("missing required argument \"host\""))
        );
    }
}
