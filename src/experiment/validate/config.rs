//! Configuration and secrets (spec §5): literal, env (with default and type), dynamic probes;
//! secrets inline, env or vault.

use super::activity::{Item, activity};
use super::checker::{Checker, join};
use crate::experiment::diagnostic::{Diagnostic, nearest};
use crate::experiment::model::{ConfigValue, EnvVarType, SecretValue};
use crate::experiment::source::Node;

const ENV_TYPES: [&str; 9] = [
    "str", "string", "int", "integer", "float", "number", "bytes", "bool", "json",
];

/// Configuration entries and secret groups, in file order; declares their names.
#[allow(clippy::type_complexity)]
pub(super) fn configuration_and_secrets(
    c: &mut Checker,
    root: &Node,
) -> (
    Vec<(String, ConfigValue)>,
    Vec<(String, Vec<(String, SecretValue)>)>,
) {
    let mut configuration = Vec::new();
    let mut secrets = Vec::new();
    if let Some(n) = root.get("configuration").filter(|n| !n.is_null())
        && let Some(n) = c.mapping(n, "configuration")
    {
        for (k, v) in n.entries().unwrap_or_default() {
            c.declared.insert(k.name.clone());
            c.configured.insert(k.name.clone());
            if let Some(value) = config_value(c, v, &join("configuration", &k.name)) {
                configuration.push((k.name.clone(), value));
            }
        }
    }
    if let Some(n) = root.get("secrets").filter(|n| !n.is_null())
        && let Some(n) = c.mapping(n, "secrets")
    {
        for (group, entries) in n.entries().unwrap_or_default() {
            let gp = join("secrets", &group.name);
            let Some(entries) = c.mapping(entries, &gp) else {
                continue;
            };
            let mut values = Vec::new();
            for (k, v) in entries.entries().unwrap_or_default() {
                c.declared.insert(k.name.clone());
                if let Some(value) = secret_value(c, v, &join(&gp, &k.name)) {
                    values.push((k.name.clone(), value));
                }
            }
            secrets.push((group.name.clone(), values));
        }
    }
    c.has_config = !configuration.is_empty() || !secrets.is_empty();
    (configuration, secrets)
}

fn config_value(c: &mut Checker, v: &Node, path: &str) -> Option<ConfigValue> {
    let ty = v.get("type").and_then(Node::as_str);
    match ty {
        Some("env") => {
            c.unknown_keys(
                v,
                path,
                "env configuration",
                &["type", "key", "default", "env_var_type"],
            );
            let key = c.required_str(v, "key", path)?;
            let var_type = match v.get("env_var_type").filter(|t| !t.is_null()) {
                None => EnvVarType::Str,
                Some(t) => match t.as_str() {
                    Some("str" | "string") => EnvVarType::Str,
                    Some("int" | "integer") => EnvVarType::Int,
                    Some("float" | "number") => EnvVarType::Float,
                    Some("bytes") => EnvVarType::Bytes,
                    Some("bool") => EnvVarType::Bool,
                    Some("json") => EnvVarType::Json,
                    other => {
                        let mut d = Diagnostic::error(
                            c.file,
                            t.span,
                            join(path, "env_var_type"),
                            format!("expected one of {}", ENV_TYPES.join(", ")),
                        );
                        if let Some(s) = other.and_then(|o| nearest(o, ENV_TYPES)) {
                            d = d.with_suggestion(s);
                        }
                        c.push(d);
                        return None;
                    }
                },
            };
            let default = v.get("default").map(Node::to_json);
            if default.is_none() && !c.options.env.contains_key(&key) {
                c.error(
                    v,
                    path,
                    format!(
                        "environment variable {key} is not set and has no default; set it, add a default, or give the value with --var {name}=VALUE or --var-file",
                        name = path.strip_prefix("configuration.").unwrap_or(path)
                    ),
                );
            }
            Some(ConfigValue::Env {
                key,
                default,
                var_type,
            })
        }
        Some("probe") => match activity(c, v, path, false) {
            Some(Item::Activity(a)) => Some(ConfigValue::Dynamic(a)),
            _ => None,
        },
        _ => Some(ConfigValue::Literal(v.to_json())),
    }
}

fn secret_value(c: &mut Checker, v: &Node, path: &str) -> Option<SecretValue> {
    match v.get("type").and_then(Node::as_str) {
        Some("env") => {
            c.unknown_keys(v, path, "env secret", &["type", "key"]);
            let key = c.required_str(v, "key", path)?;
            if !c.options.env.contains_key(&key) {
                c.error(
                    v,
                    path,
                    format!("environment variable {key} is not set (env secrets have no default)"),
                );
            }
            Some(SecretValue::Env { key })
        }
        Some("vault") => {
            c.unknown_keys(v, path, "vault secret", &["type", "path", "key"]);
            let vpath = c.required_str(v, "path", path)?;
            let key = c.optional_str(v, "key", path);
            Some(SecretValue::Vault { path: vpath, key })
        }
        _ => Some(SecretValue::Inline(v.to_json())),
    }
}
