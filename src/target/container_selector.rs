//! Finding container targets: `{id}`, `{name}`, `{pattern}` (regex on the name), `{labels}`,
//! `{image}`, `{compose_project}`, `{compose_service}` or `{service}` (a Swarm service's tasks).
//! Every given criterion must hold. `monkeywrench.skip=true` and monkeywrench's own container
//! never match.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;

use super::docker::{ContainerInfo, Engine, EngineError};
use super::protected::Protected;
use super::selector::SelectorError;

const KEYS: &str = "id, name, pattern, labels, image, compose_project, compose_service or service";

#[derive(Debug, Clone, Default)]
pub struct ContainerSelector {
    id: Option<String>,
    name: Option<String>,
    pattern: Option<Regex>,
    labels: BTreeMap<String, String>,
    image: Option<String>,
}

impl ContainerSelector {
    /// Parses a selector mapping.
    pub fn parse(target: &Value) -> Result<ContainerSelector, SelectorError> {
        let missing = || SelectorError::MissingContainer {
            got: target.to_string(),
            keys: KEYS,
        };
        let Value::Object(map) = target else {
            return Err(missing());
        };
        let mut s = ContainerSelector::default();
        for (key, value) in map {
            match key.as_str() {
                "id" => s.id = Some(string(value, "id")?),
                "name" => s.name = Some(string(value, "name")?.trim_start_matches('/').into()),
                "pattern" => {
                    let text = string(value, "pattern")?;
                    s.pattern = Some(
                        Regex::new(&text).map_err(|e| SelectorError::BadPattern(e.to_string()))?,
                    );
                }
                "image" => s.image = Some(string(value, "image")?),
                "labels" => {
                    let Value::Object(labels) = value else {
                        return Err(SelectorError::WrongType {
                            field: "labels",
                            expected: "a mapping of label to value",
                        });
                    };
                    for (k, v) in labels {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            Value::Number(_) | Value::Bool(_) => v.to_string(),
                            _ => {
                                return Err(SelectorError::WrongType {
                                    field: "labels",
                                    expected: "label values that are strings",
                                });
                            }
                        };
                        s.labels.insert(k.clone(), v);
                    }
                }
                "compose_project" => {
                    s.labels.insert(
                        "com.docker.compose.project".into(),
                        string(value, "compose_project")?,
                    );
                }
                "compose_service" => {
                    s.labels.insert(
                        "com.docker.compose.service".into(),
                        string(value, "compose_service")?,
                    );
                }
                "service" => {
                    s.labels.insert(
                        "com.docker.swarm.service.name".into(),
                        string(value, "service")?,
                    );
                }
                other => {
                    return Err(SelectorError::UnknownContainerKey {
                        key: other.to_string(),
                        keys: KEYS,
                    });
                }
            }
        }
        if s.id.is_none()
            && s.name.is_none()
            && s.pattern.is_none()
            && s.image.is_none()
            && s.labels.is_empty()
        {
            return Err(missing());
        }
        Ok(s)
    }

    /// Whether `c` matches every given criterion (opt-out labels are checked by `find`).
    pub fn matches(&self, c: &ContainerInfo) -> bool {
        self.id
            .as_ref()
            .is_none_or(|id| !id.is_empty() && c.id.starts_with(id.as_str()))
            && self.name.as_ref().is_none_or(|n| *n == c.name)
            && self.pattern.as_ref().is_none_or(|r| r.is_match(&c.name))
            && self.image.as_ref().is_none_or(|i| *i == c.image)
            && self
                .labels
                .iter()
                .all(|(k, v)| c.labels.get(k).is_some_and(|have| have == v))
    }

    /// Running containers that match, by name; opted-out ones and our own container excluded.
    pub async fn find(&self, engine: &Engine) -> Result<Vec<ContainerInfo>, EngineError> {
        let protected = Protected::current();
        Ok(engine
            .containers(false)
            .await?
            .into_iter()
            .filter(|c| c.state == "running")
            .filter(|c| !c.opted_out() && protected.container(&c.id).is_none())
            .filter(|c| self.matches(c))
            .collect())
    }
}

fn string(v: &Value, field: &'static str) -> Result<String, SelectorError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(SelectorError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(name: &str, labels: &[(&str, &str)]) -> ContainerInfo {
        ContainerInfo {
            id: format!("{:0>64}", name.len()),
            name: name.into(),
            image: "busybox:1".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state: "running".into(),
        }
    }

    #[test]
    fn every_criterion_must_hold() {
        let web = container(
            "shop-web-1",
            &[
                ("app", "web"),
                ("com.docker.compose.project", "shop"),
                ("com.docker.compose.service", "web"),
            ],
        );
        let db = container("shop-db-1", &[("app", "db")]);
        let s = ContainerSelector::parse(&json!({"labels": {"app": "web"}})).unwrap();
        assert!(s.matches(&web) && !s.matches(&db));
        let s =
            ContainerSelector::parse(&json!({"pattern": "^shop-", "image": "busybox:1"})).unwrap();
        assert!(s.matches(&web) && s.matches(&db));
        let s =
            ContainerSelector::parse(&json!({"compose_project": "shop", "compose_service": "db"}))
                .unwrap();
        assert!(!s.matches(&web) && !s.matches(&db));
        let s = ContainerSelector::parse(&json!({"name": "/shop-db-1"})).unwrap();
        assert!(s.matches(&db));
        let s = ContainerSelector::parse(&json!({"id": ""})).unwrap();
        assert!(!s.matches(&db), "an empty id prefix matches nothing");
    }

    #[test]
    fn bad_selectors_are_named() {
        let e = ContainerSelector::parse(&json!({}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("labels"), "{e}");
        let e = ContainerSelector::parse(&json!({"lables": {}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"lables\""), "{e}");
        let e = ContainerSelector::parse(&json!({"labels": ["a"]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("target.labels"), "{e}");
        assert!(matches!(
            ContainerSelector::parse(&json!({"pattern": "("})),
            Err(SelectorError::BadPattern(_))
        ));
    }

    #[test]
    fn skip_label_opts_out() {
        assert!(container("a", &[("monkeywrench.skip", "true")]).opted_out());
        assert!(!container("a", &[("monkeywrench.skip", "false")]).opted_out());
    }
}
