//! Declarative argument schemas of the native functions (probes and faults): checked at
//! validation (literal values) and again at run time (after substitution); the source of the
//! argument docs and of every default ([`Reader`] applies them), so validation and execution
//! cannot disagree.

use serde_json::Value;

/// The type an argument must have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgType {
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
    /// `true`/`false` (or the strings, as substituted `--var` values are).
    Bool,
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
    pub name: &'static str,
    pub ty: ArgType,
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

/// Whether a value still holds a `${name}` placeholder (checked again after substitution).
pub fn is_placeholder(v: &Value) -> bool {
    v.to_string().contains("${")
}

/// The candidate within edit distance 2 of `word` (for "did you mean" hints).
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, _)| *d <= 2 && *d > 0)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
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
        ArgType::Bool => bool_of(v)
            .is_none()
            .then(|| format!("expected true or false, got {v}")),
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

/// A boolean from a JSON boolean or the strings `true`/`false`.
pub fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim() {
            "true" | "True" => Some(true),
            "false" | "False" => Some(false),
            _ => None,
        },
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

/// Reads typed arguments after [`check`], applying the schema's defaults: the one place a default
/// lives. Problems found while reading (beyond the schema's) are collected with the schema's, so
/// validation reports them all at once.
#[derive(Debug)]
pub struct Reader<'a> {
    specs: &'static [ArgSpec],
    args: &'a Value,
    problems: Vec<ArgumentProblem>,
}

impl<'a> Reader<'a> {
    /// Checks `args` against `specs` (no placeholders may be left).
    pub fn new(specs: &'static [ArgSpec], args: &'a Value) -> Reader<'a> {
        Reader {
            specs,
            args,
            problems: check(specs, args, false),
        }
    }

    fn given(&self, name: &str) -> Option<&'a Value> {
        self.args.get(name).filter(|v| !v.is_null())
    }

    fn default_of(&self, name: &str) -> Option<&'static str> {
        let spec = self.specs.iter().find(|s| s.name == name);
        debug_assert!(spec.is_some(), "{name} is not in the schema");
        spec.and_then(|s| s.default)
    }

    /// The argument as given (no default).
    pub fn value(&self, name: &str) -> Option<&'a Value> {
        self.given(name)
    }

    /// A string argument, or its default.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.given(name) {
            Some(v) => v.as_str().map(str::to_string),
            None => self.default_of(name).map(str::to_string),
        }
    }

    /// An integer argument, or its default.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.given(name) {
            Some(v) => int_of(v),
            None => self.default_of(name).and_then(|d| d.parse().ok()),
        }
    }

    /// A number argument, or its default.
    pub fn number(&self, name: &str) -> Option<f64> {
        match self.given(name) {
            Some(v) => number_of(v),
            None => self.default_of(name).and_then(|d| d.parse().ok()),
        }
    }

    /// A boolean argument, or its default.
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.given(name) {
            Some(v) => bool_of(v),
            None => self.default_of(name).and_then(|d| d.parse().ok()),
        }
    }

    /// Records a problem with argument `path`.
    pub fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(ArgumentProblem {
            path: path.to_string(),
            message: message.into(),
            suggestion: None,
        });
    }

    /// `value` if no problem was found, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<ArgumentProblem>> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.problems)
        }
    }
}

/// Problems as one line (run-time errors, after substitution).
pub fn describe_problems(problems: &[ArgumentProblem]) -> String {
    problems
        .iter()
        .map(|p| {
            if p.path.is_empty() {
                p.message.clone()
            } else {
                format!("{}: {}", p.path, p.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
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
    fn the_reader_applies_schema_defaults_and_collects_problems() {
        let args = json!({"host": "h", "port": "8080"});
        let r = Reader::new(SPECS, &args);
        assert_eq!(r.text("host").as_deref(), Some("h"));
        assert_eq!(r.int("port"), Some(8080));
        assert_eq!(
            r.number("timeout_s"),
            Some(3.0),
            "the default from the schema"
        );
        assert!(r.finish(()).is_ok());

        let bad = json!({"port": 0});
        let mut r = Reader::new(SPECS, &bad);
        r.problem("port", "not this one either");
        let problems = r.finish(()).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(describe_problems(&problems).contains("port: not this one either"));
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
