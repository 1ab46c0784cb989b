//! Resolving configuration and secrets at run start (spec §5): environment lookups, type
//! conversions, and the list of secret values the redactor must hide. Dynamic configuration (probes)
//! is run by the engine, which owns provider execution.

use serde_json::{Map, Value};

use super::model::{ConfigValue, EnvVarType, Experiment, SecretValue};

/// Failures that stop a run before it starts.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigureError {
    /// An env configuration value or secret whose variable is unset (and has no default).
    #[error("resolve {what} \"{name}\": environment variable {key} is not set")]
    MissingEnv {
        /// `configuration` or `secret`.
        what: &'static str,
        /// The configuration key or `group.name`.
        name: String,
        key: String,
    },
    /// An env value that does not convert to its `env_var_type`.
    #[error(
        "resolve configuration \"{name}\": environment variable {key}={value:?} is not a valid {expected}"
    )]
    BadEnvValue {
        /// The configuration key.
        name: String,
        key: String,
        value: String,
        /// The type it should have had.
        expected: &'static str,
    },
    /// Vault secrets are declared but cannot be fetched.
    #[error(
        "resolve secret \"{name}\": vault secrets are not supported yet; refusing to run without them (Chaos Toolkit would silently continue with none)"
    )]
    VaultUnsupported {
        /// `group.name`.
        name: String,
    },
}

/// Configuration and secrets after static resolution.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// Configuration keys → values (dynamic entries not yet present).
    pub configuration: Map<String, Value>,
    /// Secret groups → (name → value).
    pub secrets: Map<String, Value>,
    /// Every resolved secret value as text, for redaction.
    pub secret_values: Vec<String>,
}

/// Resolves every static configuration value and every secret; `env` looks variables up.
pub fn resolve(
    experiment: &Experiment,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Resolved, ConfigureError> {
    let mut resolved = Resolved::default();
    for (name, value) in &experiment.configuration {
        match value {
            ConfigValue::Literal(v) => {
                resolved.configuration.insert(name.clone(), v.clone());
            }
            ConfigValue::Env {
                key,
                default,
                var_type,
            } => {
                let v = match env(key) {
                    Some(text) => convert(name, key, &text, *var_type)?,
                    None => default.clone().ok_or_else(|| ConfigureError::MissingEnv {
                        what: "configuration",
                        name: name.clone(),
                        key: key.clone(),
                    })?,
                };
                resolved.configuration.insert(name.clone(), v);
            }
            ConfigValue::Dynamic(_) => {}
        }
    }
    for (group, entries) in &experiment.secrets {
        let mut values = Map::new();
        for (name, secret) in entries {
            let v = match secret {
                SecretValue::Inline(v) => v.clone(),
                SecretValue::Env { key } => {
                    Value::String(env(key).ok_or_else(|| ConfigureError::MissingEnv {
                        what: "secret",
                        name: format!("{group}.{name}"),
                        key: key.clone(),
                    })?)
                }
                SecretValue::Vault { .. } => {
                    return Err(ConfigureError::VaultUnsupported {
                        name: format!("{group}.{name}"),
                    });
                }
            };
            collect_secret_text(&v, &mut resolved.secret_values);
            values.insert(name.clone(), v);
        }
        resolved
            .secrets
            .insert(group.clone(), Value::Object(values));
    }
    Ok(resolved)
}

fn collect_secret_text(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|i| collect_secret_text(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_secret_text(i, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Converts an environment string per `env_var_type`.
fn convert(
    name: &str,
    key: &str,
    text: &str,
    var_type: EnvVarType,
) -> Result<Value, ConfigureError> {
    let bad = |expected| ConfigureError::BadEnvValue {
        name: name.to_string(),
        key: key.to_string(),
        value: text.to_string(),
        expected,
    };
    Ok(match var_type {
        EnvVarType::Str | EnvVarType::Bytes => Value::String(text.to_string()),
        EnvVarType::Int => Value::from(text.trim().parse::<i64>().map_err(|_| bad("integer"))?),
        EnvVarType::Float => {
            serde_json::Number::from_f64(text.trim().parse::<f64>().map_err(|_| bad("number"))?)
                .map(Value::Number)
                .ok_or_else(|| bad("finite number"))?
        }
        EnvVarType::Bool => {
            let lower = text.trim().to_ascii_lowercase();
            Value::Bool(!matches!(lower.as_str(), "false" | "0" | "no"))
        }
        EnvVarType::Json => serde_json::from_str(text).map_err(|_| bad("JSON document"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::model::Runtime;

    fn experiment(
        configuration: Vec<(String, ConfigValue)>,
        secrets: Vec<(String, Vec<(String, SecretValue)>)>,
    ) -> Experiment {
        Experiment {
            title: "t".into(),
            description: "d".into(),
            tags: vec![],
            hypothesis: None,
            method: vec![],
            rollbacks: vec![],
            configuration,
            secrets,
            runtime: Runtime::default(),
            safeguards: vec![],
            blast_radius: None,
            max_surge_rate: None,
            controls: vec![],
            document: Value::Null,
        }
    }

    fn env_value(key: &str, var_type: EnvVarType, default: Option<Value>) -> ConfigValue {
        ConfigValue::Env {
            key: key.into(),
            default,
            var_type,
        }
    }

    #[test]
    fn env_values_convert_by_type() {
        let exp = experiment(
            vec![
                ("n".into(), env_value("N", EnvVarType::Int, None)),
                ("b".into(), env_value("B", EnvVarType::Bool, None)),
                ("j".into(), env_value("J", EnvVarType::Json, None)),
                (
                    "d".into(),
                    env_value("MISSING", EnvVarType::Str, Some(Value::from(7))),
                ),
                ("lit".into(), ConfigValue::Literal(Value::from("x"))),
            ],
            vec![],
        );
        let env = |k: &str| match k {
            "N" => Some("42".to_string()),
            "B" => Some("No".to_string()),
            "J" => Some("{\"a\": [1]}".to_string()),
            _ => None,
        };
        let r = resolve(&exp, &env).unwrap();
        assert_eq!(r.configuration["n"], Value::from(42));
        assert_eq!(r.configuration["b"], Value::Bool(false));
        assert_eq!(r.configuration["j"], serde_json::json!({"a": [1]}));
        assert_eq!(r.configuration["d"], Value::from(7));
        assert_eq!(r.configuration["lit"], Value::from("x"));
    }

    #[test]
    fn bad_and_missing_env_values_are_errors() {
        let exp = experiment(
            vec![("n".into(), env_value("N", EnvVarType::Int, None))],
            vec![],
        );
        let err = resolve(&exp, &|_| Some("forty".into())).unwrap_err();
        assert!(err.to_string().contains("not a valid integer"), "{err}");
        let err = resolve(&exp, &|_| None).unwrap_err();
        assert!(err.to_string().contains("N is not set"), "{err}");
    }

    #[test]
    fn secrets_resolve_and_are_collected_for_redaction() {
        let exp = experiment(
            vec![],
            vec![(
                "g".into(),
                vec![
                    (
                        "inline".into(),
                        SecretValue::Inline(Value::from("s3cr3t-value")),
                    ),
                    (
                        "env".into(),
                        SecretValue::Env {
                            key: "TOKEN".into(),
                        },
                    ),
                ],
            )],
        );
        let r = resolve(&exp, &|k| (k == "TOKEN").then(|| "tok-123".to_string())).unwrap();
        assert_eq!(r.secrets["g"]["env"], Value::from("tok-123"));
        assert_eq!(
            r.secret_values,
            vec!["s3cr3t-value".to_string(), "tok-123".to_string()]
        );
        let vault = experiment(
            vec![],
            vec![(
                "g".into(),
                vec![(
                    "v".into(),
                    SecretValue::Vault {
                        path: "p".into(),
                        key: None,
                    },
                )],
            )],
        );
        assert!(matches!(
            resolve(&vault, &|_| None),
            Err(ConfigureError::VaultUnsupported { .. })
        ));
    }
}
