//! The API server's selector and patch semantics: label selectors (`=`, `==`, `!=`, `in`,
//! `notin`, `key`, `!key`), the field selectors pods support, JSON merge patch (RFC 7386).

use std::collections::BTreeMap;

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; `Err` is the message the API server answers 400 with.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct LabelSelector(Vec<Requirement>);

/// Splits at commas outside parentheses (`app in (a,b),tier=web`).
fn split_top(s: &str) -> Vec<String> {
    let (mut parts, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for ch in s.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn set_of(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).collect())
}

impl LabelSelector {
    pub(crate) fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let req = if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once(" notin ") {
                let set =
                    set_of(v).ok_or_else(|| format!("unable to parse requirement: {part}"))?;
                Requirement::NotIn(k.trim().into(), set)
            } else if let Some((k, v)) = part.split_once(" in ") {
                let set =
                    set_of(v).ok_or_else(|| format!("unable to parse requirement: {part}"))?;
                Requirement::In(k.trim().into(), set)
            } else if let Some(k) = part.strip_prefix('!') {
                Requirement::NotExists(k.trim().into())
            } else if part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            {
                Requirement::Exists(part)
            } else {
                return Err(format!("unable to parse requirement: {part}"));
            };
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    /// A `matchLabels` / `matchExpressions` selector of an object (PDBs, Deployments).
    pub(crate) fn of_object(selector: &Value) -> LabelSelector {
        let mut reqs = Vec::new();
        if let Some(m) = selector.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                reqs.push(Requirement::Equals(
                    k.clone(),
                    v.as_str().unwrap_or_default().into(),
                ));
            }
        }
        for e in selector
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = e["key"].as_str().unwrap_or_default().to_string();
            let values: Vec<String> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            reqs.push(match e["operator"].as_str() {
                Some("In") => Requirement::In(key, values),
                Some("NotIn") => Requirement::NotIn(key, values),
                Some("DoesNotExist") => Requirement::NotExists(key),
                _ => Requirement::Exists(key),
            });
        }
        LabelSelector(reqs)
    }

    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, set) => labels.get(k).is_some_and(|v| set.contains(v)),
            Requirement::NotIn(k, set) => labels.get(k).is_none_or(|v| !set.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
        })
    }
}

/// The labels of an object.
pub(crate) fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// A field selector on pods: `metadata.name`, `metadata.namespace`, `spec.nodeName`,
/// `status.phase` with `=`, `==` or `!=` (the fields the pod registry indexes); anything else is
/// the 400 the API server answers.
pub(crate) fn field_matches(selector: &str, pod: &Value) -> Result<bool, String> {
    for part in selector.split(',').filter(|p| !p.trim().is_empty()) {
        let (field, value, negate) = if let Some((f, v)) = part.split_once("!=") {
            (f, v, true)
        } else if let Some((f, v)) = part.split_once("==") {
            (f, v, false)
        } else if let Some((f, v)) = part.split_once('=') {
            (f, v, false)
        } else {
            return Err(format!(
                "invalid selector: '{part}'; can't understand '{part}'"
            ));
        };
        let actual = match field.trim() {
            "metadata.name" => pod["metadata"]["name"].as_str(),
            "metadata.namespace" => pod["metadata"]["namespace"].as_str(),
            "spec.nodeName" => pod["spec"]["nodeName"].as_str(),
            "status.phase" => pod["status"]["phase"].as_str(),
            other => {
                return Err(format!("field label not supported: {other}"));
            }
        }
        .unwrap_or_default();
        if (actual == value.trim()) == negate {
            return Ok(false);
        }
    }
    Ok(true)
}

/// RFC 7386: objects merge key by key, `null` removes, anything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (_, Some(p)) => {
            let mut fresh = Value::Object(Default::default());
            merge_patch(&mut fresh, &Value::Object(p.clone()));
            *target = fresh;
        }
        (_, None) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_follow_the_api_grammar() {
        let labels: BTreeMap<String, String> = [
            ("app".into(), "web".into()),
            ("tier".into(), "front".into()),
        ]
        .into();
        let ok = |s: &str| LabelSelector::parse(s).unwrap().matches(&labels);
        assert!(ok("app=web,tier in (front, back)"));
        assert!(ok("app==web,!db,tier"));
        assert!(!ok("app!=web"));
        assert!(!ok("tier notin (front)"));
        assert!(LabelSelector::parse("app in front").is_err());
        let pod = json!({"metadata": {"name": "a"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        assert!(field_matches("spec.nodeName=n1,status.phase!=Pending", &pod).unwrap());
        assert!(field_matches("spec.hostname=x", &pod).is_err());
        let mut v = json!({"spec": {"replicas": 3, "paused": true}});
        merge_patch(&mut v, &json!({"spec": {"replicas": 1, "paused": null}}));
        assert_eq!(v, json!({"spec": {"replicas": 1}}));
    }
}
