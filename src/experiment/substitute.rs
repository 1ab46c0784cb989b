//! `${name}` substitution with Python `string.Template.safe_substitute` semantics (spec §5).
//!
//! `${name}` and bare `$name` are replaced, `$$` becomes `$`, unknown names and invalid
//! placeholders stay verbatim. A string that is exactly one `${name}` takes the value's type.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::probe::process::python_str;

/// Values available to placeholders: configuration first, then secrets (second level, first
/// group wins).
#[derive(Debug, Clone, Default)]
pub struct Substitutions {
    values: HashMap<String, Value>,
}

impl Substitutions {
    /// Builds the lookup from resolved configuration and secret groups.
    pub fn new(configuration: &Map<String, Value>, secrets: &Map<String, Value>) -> Self {
        let mut values: HashMap<String, Value> = HashMap::new();
        for group in secrets.values() {
            if let Value::Object(entries) = group {
                for (k, v) in entries {
                    values.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        for (k, v) in configuration {
            values.insert(k.clone(), v.clone());
        }
        Substitutions { values }
    }

    /// The value of `name`, if declared.
    pub fn lookup(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Substitutes recursively through lists and objects (keys are left alone).
    pub fn value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => self.text(s),
            Value::Array(items) => Value::Array(items.iter().map(|i| self.value(i)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Substitutes one string; exactly `"${name}"` returns the value with its type.
    pub fn text(&self, s: &str) -> Value {
        if let Some(name) = exact_placeholder(s)
            && let Some(v) = self.values.get(name)
        {
            return v.clone();
        }
        Value::String(self.render(s))
    }

    fn render(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
                continue;
            }
            let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) if is_identifier(&inner[..end]) => (Some(&inner[..end]), end + 2),
                    _ => (None, 0),
                }
            } else {
                let len = identifier_len(after);
                if len > 0 {
                    (Some(&after[..len]), len)
                } else {
                    (None, 0)
                }
            };
            match name.and_then(|n| self.values.get(n)) {
                Some(v) => {
                    out.push_str(&python_str(v).unwrap_or_else(|| "None".into()));
                    rest = &after[consumed..];
                }
                None => {
                    // Unknown or invalid: keep the `$` and go on after it (safe_substitute).
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The name in a string that is exactly `${name}`.
pub fn exact_placeholder(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("${")?.strip_suffix('}')?;
    is_identifier(inner).then_some(inner)
}

/// Every braced `${name}` in `s` (for "unknown placeholder" warnings).
pub fn braced_names(s: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
            continue;
        }
        if let Some(inner) = after.strip_prefix('{')
            && let Some(end) = inner.find('}')
            && is_identifier(&inner[..end])
        {
            names.push(inner[..end].to_string());
        }
        rest = after;
    }
    names
}

fn identifier_len(s: &str) -> usize {
    let mut len = 0;
    for (i, c) in s.char_indices() {
        let ok = if i == 0 {
            c == '_' || c.is_ascii_alphabetic()
        } else {
            c == '_' || c.is_ascii_alphanumeric()
        };
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && identifier_len(s) == s.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subs() -> Substitutions {
        let config =
            json!({"expected": 0, "name": "web", "list": ["a", 1], "flag": true, "ratio": 1.0});
        let secrets = json!({"g1": {"token": "t1", "name": "shadowed"}, "g2": {"token": "t2"}});
        Substitutions::new(config.as_object().unwrap(), secrets.as_object().unwrap())
    }

    #[test]
    fn exact_placeholders_keep_their_type() {
        let s = subs();
        assert_eq!(s.text("${expected}"), json!(0));
        assert_eq!(s.text("${list}"), json!(["a", 1]));
        assert_eq!(s.text("$expected"), json!("0"), "bare form is always text");
    }

    #[test]
    fn embedded_values_render_like_python_str() {
        let s = subs();
        assert_eq!(
            s.text("n=${expected} f=$flag r=${ratio} l=${list}"),
            json!("n=0 f=True r=1.0 l=['a', 1]")
        );
    }

    #[test]
    fn escapes_unknown_and_invalid_placeholders_stay() {
        let s = subs();
        assert_eq!(
            s.text("$$x ${nope} $ ${some-key} $1 $"),
            json!("$x ${nope} $ ${some-key} $1 $")
        );
        assert_eq!(s.text("$$name"), json!("$name"));
        assert_eq!(s.text("${name}s and $names"), json!("webs and $names"));
    }

    #[test]
    fn configuration_beats_secrets_and_the_first_group_wins() {
        let s = subs();
        assert_eq!(s.text("${name}"), json!("web"));
        assert_eq!(s.text("${token}"), json!("t1"));
    }

    #[test]
    fn substitution_recurses_but_leaves_keys() {
        let s = subs();
        assert_eq!(
            s.value(&json!({"${name}": ["${name}", {"k": "$name"}]})),
            json!({"${name}": ["web", {"k": "web"}]})
        );
    }

    #[test]
    fn braced_names_are_found() {
        assert_eq!(
            braced_names("a ${x} $$ ${y_2} $z ${bad-name}"),
            vec!["x", "y_2"]
        );
    }
}
