//! Judging a probe's output against its tolerance (spec §4), with Chaos Toolkit's exact rules.
//! The engine substitutes placeholders first and runs `type: probe` tolerances itself.

use regex::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

/// How a probe's output is judged (spec §4). `P` is a `type: probe` tolerance's activity, which
/// the engine runs itself ([`judge`] refuses it).
#[derive(Debug, Clone)]
pub enum Tolerance<P> {
    /// `true`/`false`.
    Bool(bool),
    /// An integer (compared with `status` for http/process outputs).
    Int(i64),
    /// A string; exactly `"${var}"` is substituted keeping the variable's type.
    Str(String),
    /// A list: membership, or an inclusive range for two items on non-mapping outputs.
    List(Vec<Value>),
    /// `{type: regex, pattern, target?}`.
    Regex {
        /// Pattern, unsubstituted (compiled at validation when literal).
        pattern: String,
        /// `stdout`, `stderr`, `body`, … of a mapping output.
        target: Option<String>,
    },
    /// `{type: jsonpath, path, expect?, count?, target?}`.
    JsonPath {
        /// The JSONPath expression, unsubstituted.
        path: String,
        /// Expected value(s), unsubstituted.
        expect: Option<Value>,
        /// Exact number of matches.
        count: Option<u64>,
        /// Key of a mapping output to read.
        target: Option<String>,
    },
    /// `{type: range, range: [lo, hi], target?}`.
    Range {
        /// Lower bound (inclusive).
        lo: f64,
        /// Upper bound (inclusive).
        hi: f64,
        /// Key of a mapping output to read.
        target: Option<String>,
    },
    /// `{type: probe, …activity}`: runs with `arguments.value` = the output.
    Probe(P),
}

/// A tolerance that cannot be evaluated against this output (recorded as a failed probe).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ToleranceError {
    /// `target` names a key the output mapping lacks.
    #[error("the probe output has no key {0:?} (tolerance target)")]
    MissingTarget(String),
    /// `target` used on an output that is not a mapping.
    #[error("tolerance target {0:?} needs a mapping output")]
    NotAMapping(String),
    /// A regex tolerance on a value that is not a string.
    #[error("a regex tolerance needs a string, got {0}")]
    NotAString(String),
    /// The pattern does not compile.
    #[error("invalid regex: {0}")]
    BadRegex(String),
    /// The JSONPath does not compile.
    #[error("invalid jsonpath: {0}")]
    BadJsonPath(String),
    /// `type: probe` is run by the engine, not here.
    #[error("probe tolerances are evaluated by the engine")]
    ProbeTolerance,
}

/// Whether `value` meets `tolerance`.
pub fn judge<P>(tolerance: &Tolerance<P>, value: &Value) -> Result<bool, ToleranceError> {
    Ok(match tolerance {
        Tolerance::Bool(b) => value.as_bool() == Some(*b),
        Tolerance::Int(i) => match status_of(value) {
            Some(status) => status.as_i64() == Some(*i),
            None => {
                value.as_i64() == Some(*i) || value.as_f64() == Some(*i as f64) && value.is_f64()
            }
        },
        Tolerance::Str(s) => value.as_str() == Some(s.as_str()),
        Tolerance::List(items) => match status_of(value) {
            Some(status) => items.contains(status),
            None if items.len() == 2 && value.is_number() => {
                match (number(&items[0]), number(&items[1]), value.as_f64()) {
                    (Some(lo), Some(hi), Some(x)) => lo <= x && x <= hi,
                    _ => items.contains(value),
                }
            }
            None => items.contains(value),
        },
        Tolerance::Regex { pattern, target } => {
            let subject = targeted(value, target.as_deref())?;
            let text = match subject {
                Value::String(s) => s.clone(),
                other => return Err(ToleranceError::NotAString(type_name(other).into())),
            };
            compile_regex(pattern)
                .map_err(ToleranceError::BadRegex)?
                .is_match(&text)
        }
        Tolerance::JsonPath {
            path,
            expect,
            count,
            target,
        } => {
            let subject = targeted(value, target.as_deref())?;
            // Strings are JSON-decoded first (an http body that was not application/json).
            let decoded;
            let doc = match subject {
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(v) => {
                        decoded = v;
                        &decoded
                    }
                    Err(_) => subject,
                },
                other => other,
            };
            let path =
                JsonPath::parse(path).map_err(|e| ToleranceError::BadJsonPath(e.to_string()))?;
            let found: Vec<&Value> = path.query(doc).all();
            if found.is_empty() {
                return Ok(false);
            }
            if let Some(c) = count
                && found.len() as u64 != *c
            {
                return Ok(false);
            }
            match expect {
                None => true,
                Some(Value::Array(list)) => found.iter().copied().eq(list.iter()),
                Some(single) => found.len() == 1 && found[0] == single,
            }
        }
        Tolerance::Range { lo, hi, target } => {
            let subject = targeted(value, target.as_deref())?;
            match number(subject) {
                Some(x) => *lo <= x && x <= *hi,
                None => false,
            }
        }
        Tolerance::Probe(_) => return Err(ToleranceError::ProbeTolerance),
    })
}

/// `value.status` when the output is an http/process mapping.
fn status_of(value: &Value) -> Option<&Value> {
    value.as_object()?.get("status")
}

fn targeted<'a>(value: &'a Value, target: Option<&str>) -> Result<&'a Value, ToleranceError> {
    match target {
        None => Ok(value),
        Some(key) => match value {
            Value::Object(map) => map
                .get(key)
                .ok_or_else(|| ToleranceError::MissingTarget(key.to_string())),
            _ => Err(ToleranceError::NotAMapping(key.to_string())),
        },
    }
}

/// A number, or a string holding one (CTK converts with `Decimal(str(x))`).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// How a JSON value is named in messages ("a list", "a mapping", …).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Compiles a tolerance regex; Python constructs our engine lacks (look-around, backreferences)
/// are reported as such instead of silently mismatching.
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    for (needle, what) in [
        ("(?=", "look-ahead"),
        ("(?!", "negative look-ahead"),
        ("(?<=", "look-behind"),
        ("(?<!", "negative look-behind"),
        ("(?P=", "named backreference"),
    ] {
        if let Some(at) = pattern.find(needle) {
            return Err(format!(
                "{what} at character {} is not supported (no look-around or backreferences)",
                at + 1
            ));
        }
    }
    let bytes = pattern.as_bytes();
    for i in 0..bytes.len().saturating_sub(1) {
        if bytes[i] == b'\\'
            && bytes[i + 1].is_ascii_digit()
            && bytes[i + 1] != b'0'
            && (i == 0 || bytes[i - 1] != b'\\')
        {
            return Err(format!(
                "backreference at character {} is not supported (no look-around or backreferences)",
                i + 1
            ));
        }
    }
    Regex::new(pattern).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Tolerance = super::Tolerance<()>;
    use serde_json::json;

    fn process(status: i64, stdout: &str) -> Value {
        json!({"status": status, "stdout": stdout, "stderr": ""})
    }

    #[test]
    fn booleans_never_equal_a_mapping() {
        assert!(judge(&Tolerance::Bool(true), &json!(true)).unwrap());
        assert!(!judge(&Tolerance::Bool(true), &process(0, "")).unwrap());
        assert!(!judge(&Tolerance::Bool(false), &json!(0)).unwrap());
    }

    #[test]
    fn integers_compare_the_status_of_mappings() {
        assert!(judge(&Tolerance::Int(0), &process(0, "x")).unwrap());
        assert!(!judge(&Tolerance::Int(0), &process(1, "x")).unwrap());
        assert!(
            judge(
                &Tolerance::Int(200),
                &json!({"status": 200, "headers": {}, "body": ""})
            )
            .unwrap()
        );
        assert!(judge(&Tolerance::Int(5), &json!(5)).unwrap());
        assert!(!judge(&Tolerance::Int(5), &json!("5")).unwrap());
    }

    #[test]
    fn strings_match_exactly() {
        assert!(judge(&Tolerance::Str("ok".into()), &json!("ok")).unwrap());
        assert!(!judge(&Tolerance::Str("0".into()), &process(0, "")).unwrap());
    }

    #[test]
    fn lists_are_membership_for_statuses_and_ranges_for_two_numbers() {
        let two = Tolerance::List(vec![json!(200), json!(299)]);
        assert!(
            !judge(&two, &json!({"status": 204})).unwrap(),
            "membership, even with two items"
        );
        assert!(judge(&two, &json!({"status": 299})).unwrap());
        assert!(
            judge(&two, &json!(250)).unwrap(),
            "a range for plain numbers"
        );
        let three = Tolerance::List(vec![json!(1), json!(2), json!(3)]);
        assert!(judge(&three, &json!(2)).unwrap());
        assert!(!judge(&three, &json!(4)).unwrap());
        assert!(judge(&Tolerance::List(vec![json!("a"), json!("b")]), &json!("b")).unwrap());
    }

    #[test]
    fn regex_searches_the_target() {
        let t = Tolerance::Regex {
            pattern: "ready$".into(),
            target: Some("stdout".into()),
        };
        assert!(judge(&t, &process(0, "all ready")).unwrap());
        assert!(!judge(&t, &process(0, "not yet")).unwrap());
        let missing = Tolerance::Regex {
            pattern: "x".into(),
            target: Some("body".into()),
        };
        assert_eq!(
            judge(&missing, &process(0, "")),
            Err(ToleranceError::MissingTarget("body".into()))
        );
        let untargeted = Tolerance::Regex {
            pattern: "x".into(),
            target: None,
        };
        assert!(matches!(
            judge(&untargeted, &process(0, "")),
            Err(ToleranceError::NotAString(_))
        ));
    }

    #[test]
    fn jsonpath_counts_and_expectations() {
        let body = json!({"status": 200, "headers": {}, "body": "{\"items\": [{\"ok\": true}, {\"ok\": true}]}"});
        let t = |expect: Option<Value>, count: Option<u64>| Tolerance::JsonPath {
            path: "$.items[*].ok".into(),
            expect,
            count,
            target: Some("body".into()),
        };
        assert!(judge(&t(None, None), &body).unwrap());
        assert!(judge(&t(None, Some(2)), &body).unwrap());
        assert!(!judge(&t(None, Some(1)), &body).unwrap());
        assert!(judge(&t(Some(json!([true, true])), None), &body).unwrap());
        assert!(
            !judge(&t(Some(json!(true)), None), &body).unwrap(),
            "scalar expect needs one match"
        );
        let none = Tolerance::JsonPath {
            path: "$.nope".into(),
            expect: None,
            count: None,
            target: None,
        };
        assert!(!judge(&none, &json!({"a": 1})).unwrap());
    }

    #[test]
    fn range_reads_numbers_and_numeric_strings() {
        let t = Tolerance::Range {
            lo: 0.0,
            hi: 0.05,
            target: Some("error_rate".into()),
        };
        assert!(judge(&t, &json!({"error_rate": 0.01})).unwrap());
        assert!(!judge(&t, &json!({"error_rate": 0.5})).unwrap());
        let plain = Tolerance::Range {
            lo: 1.0,
            hi: 2.0,
            target: None,
        };
        assert!(judge(&plain, &json!("1.5")).unwrap());
        assert!(!judge(&plain, &json!("abc")).unwrap());
    }

    #[test]
    fn unsupported_regex_constructs_are_named() {
        assert!(compile_regex("a(?=b)").unwrap_err().contains("look-ahead"));
        assert!(
            compile_regex("(a)\\1")
                .unwrap_err()
                .contains("backreference")
        );
        assert!(
            compile_regex("(?<!x)y")
                .unwrap_err()
                .contains("look-behind")
        );
        assert!(compile_regex("\\d+\\.\\d").is_ok());
    }
}
