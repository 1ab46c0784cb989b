//! Secret redaction (spec §5): resolved secret values of ≥ 4 characters never reach journals,
//! events or logs; inline secrets in the journal's experiment copy become `***`.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// The replacement text.
pub const MASK: &str = "***";

/// Replaces secret values inside strings.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: Vec<String>,
    count: AtomicUsize,
}

impl Redactor {
    /// A redactor for these resolved secret values (shorter than 4 characters are ignored: too
    /// likely to occur by chance).
    pub fn new(secrets: Vec<String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.chars().count() >= 4)
            .collect();
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor {
            secrets,
            count: AtomicUsize::new(0),
        }
    }

    /// `s` with every secret occurrence replaced.
    pub fn redact_str(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.secrets {
            let n = out.matches(secret.as_str()).count();
            if n > 0 {
                self.count.fetch_add(n, Ordering::Relaxed);
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// `v` with every secret occurrence inside strings (keys included) replaced.
    pub fn redact_value(&self, v: &Value) -> Value {
        if self.secrets.is_empty() {
            return v.clone();
        }
        match v {
            Value::String(s) => Value::String(self.redact_str(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| self.redact_value(i)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.redact_str(k), self.redact_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// How many occurrences were replaced so far.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

/// In an experiment document, replaces inline secret values (not `{type: env|vault}` references)
/// with `***`.
pub fn redact_inline_secrets(document: &mut Value) {
    let Some(Value::Object(groups)) = document.get_mut("secrets") else {
        return;
    };
    for group in groups.values_mut() {
        let Value::Object(entries) = group else {
            continue;
        };
        for value in entries.values_mut() {
            let is_reference = value
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t == "env" || t == "vault");
            if !is_reference {
                *value = Value::String(MASK.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_everywhere_and_counted() {
        let r = Redactor::new(vec!["s3cr3t-value".into(), "abc".into(), "s3cr3t".into()]);
        let v = json!({"stdout": "token=s3cr3t-value; again s3cr3t-value", "list": ["s3cr3t"], "short": "abc"});
        assert_eq!(
            r.redact_value(&v),
            json!({"stdout": "token=***; again ***", "list": ["***"], "short": "abc"})
        );
        assert_eq!(r.count(), 3);
    }

    #[test]
    fn inline_secrets_are_masked_but_references_kept() {
        let mut doc =
            json!({"secrets": {"g": {"inline": "pw", "env": {"type": "env", "key": "K"}, "n": 5}}});
        redact_inline_secrets(&mut doc);
        assert_eq!(
            doc,
            json!({"secrets": {"g": {"inline": "***", "env": {"type": "env", "key": "K"}, "n": "***"}}})
        );
    }
}
