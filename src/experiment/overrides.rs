//! `--var KEY[:TYPE]=VALUE` and `--var-file` (spec §5): override declared configuration (and
//! secrets); `.env` files put variables into the run's environment.

use std::path::Path;

use serde_json::{Map, Value};

use crate::experiment::model::{ConfigValue, Experiment, SecretValue};
use crate::experiment::source::{Format, parse};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OverrideError {
    /// Not `KEY=VALUE`.
    #[error("expected KEY=VALUE or KEY:TYPE=VALUE")]
    Shape,
    /// An unknown `:TYPE`.
    #[error("unknown type {0:?}; expected str, int, float, bytes, bool or json")]
    UnknownType(String),
    /// The value does not convert.
    #[error("{value:?} is not a valid {ty}")]
    BadValue { value: String, ty: String },
    /// The var file cannot be read or parsed.
    #[error("{0}")]
    File(String),
}

/// Contents of a `--var-file`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VarFile {
    pub configuration: Map<String, Value>,
    /// Secret overrides: group → (name → value).
    pub secrets: Map<String, Value>,
    /// `.env` variables.
    pub env: Vec<(String, String)>,
}

/// Parses `KEY=VALUE` or `KEY:TYPE=VALUE`.
pub fn parse_var(spec: &str) -> Result<(String, Value), OverrideError> {
    let (left, value) = spec.split_once('=').ok_or(OverrideError::Shape)?;
    let (key, ty) = match left.split_once(':') {
        Some((k, t)) => (k, t),
        None => (left, "str"),
    };
    if key.is_empty() {
        return Err(OverrideError::Shape);
    }
    let bad = || OverrideError::BadValue {
        value: value.to_string(),
        ty: ty.to_string(),
    };
    let v = match ty {
        "str" | "bytes" => Value::String(value.to_string()),
        "int" => Value::from(value.trim().parse::<i64>().map_err(|_| bad())?),
        "float" => serde_json::Number::from_f64(value.trim().parse::<f64>().map_err(|_| bad())?)
            .map(Value::Number)
            .ok_or_else(bad)?,
        "bool" => Value::Bool(!matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "false" | "0" | "no" | ""
        )),
        "json" => serde_json::from_str(value).map_err(|_| bad())?,
        other => return Err(OverrideError::UnknownType(other.to_string())),
    };
    Ok((key.to_string(), v))
}

/// Reads a var file: `.json`/`.yaml`/`.yml` hold `{configuration?, secrets?}`; anything else is a
/// `.env` file (`KEY=VALUE` lines, `#` comments, optional quotes and `export `).
pub fn load_var_file(path: &Path) -> Result<VarFile, OverrideError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| OverrideError::File(format!("cannot read {}: {e}", path.display())))?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let format = match ext.as_str() {
        "json" => Some(Format::Json),
        "yaml" | "yml" => Some(Format::Yaml),
        _ => None,
    };
    let Some(format) = format else {
        return Ok(VarFile {
            env: parse_env(&text),
            ..Default::default()
        });
    };
    let parsed = parse(&text, format, &path.display().to_string())
        .map_err(|d| OverrideError::File(d.to_string()))?;
    let doc = parsed.root.to_json();
    let section = |name: &str| -> Result<Map<String, Value>, OverrideError> {
        match doc.get(name) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(OverrideError::File(format!(
                "{}: {name} must be a mapping",
                path.display()
            ))),
        }
    };
    Ok(VarFile {
        configuration: section("configuration")?,
        secrets: section("secrets")?,
        env: Vec::new(),
    })
}

fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// Overrides declared keys only; returns the undeclared names (the caller warns).
pub fn apply(
    experiment: &mut Experiment,
    configuration: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Vec<String> {
    let mut undeclared = Vec::new();
    for (key, value) in configuration {
        match experiment.configuration.iter_mut().find(|(k, _)| k == key) {
            Some((_, slot)) => *slot = ConfigValue::Literal(value.clone()),
            None => undeclared.push(key.clone()),
        }
    }
    for (group, entries) in secrets {
        let Value::Object(entries) = entries else {
            undeclared.push(format!("secrets.{group}"));
            continue;
        };
        for (name, value) in entries {
            let slot = experiment
                .secrets
                .iter_mut()
                .find(|(g, _)| g == group)
                .and_then(|(_, list)| list.iter_mut().find(|(n, _)| n == name));
            match slot {
                Some((_, s)) => *s = SecretValue::Inline(value.clone()),
                None => undeclared.push(format!("secrets.{group}.{name}")),
            }
        }
    }
    undeclared
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vars_parse_with_types() {
        assert_eq!(parse_var("a=1").unwrap(), ("a".into(), json!("1")));
        assert_eq!(parse_var("a:int=1").unwrap(), ("a".into(), json!(1)));
        assert_eq!(parse_var("a:float=1.5").unwrap(), ("a".into(), json!(1.5)));
        assert_eq!(parse_var("a:bool=no").unwrap(), ("a".into(), json!(false)));
        assert_eq!(parse_var("a:json=[1]").unwrap(), ("a".into(), json!([1])));
        assert_eq!(
            parse_var("url=http://x/?a=b").unwrap(),
            ("url".into(), json!("http://x/?a=b"))
        );
        assert_eq!(parse_var("nope"), Err(OverrideError::Shape));
        assert!(matches!(
            parse_var("a:int=x"),
            Err(OverrideError::BadValue { .. })
        ));
        assert!(matches!(
            parse_var("a:date=x"),
            Err(OverrideError::UnknownType(_))
        ));
    }

    #[test]
    fn var_files_in_three_shapes() {
        let dir = std::env::temp_dir().join(format!("mw-vars-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let env = dir.join("prod.env");
        std::fs::write(&env, "# comment\nexport A=1\nB=\"two words\"\nC='x'\n\n").unwrap();
        let vf = load_var_file(&env).unwrap();
        assert_eq!(
            vf.env,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x".into())
            ]
        );
        let yaml = dir.join("vars.yaml");
        std::fs::write(
            &yaml,
            "configuration:\n  port: 8080\nsecrets:\n  g: {pw: s}\n",
        )
        .unwrap();
        let vf = load_var_file(&yaml).unwrap();
        assert_eq!(vf.configuration["port"], json!(8080));
        assert_eq!(vf.secrets["g"]["pw"], json!("s"));
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "{\"configuration\": 5}").unwrap();
        assert!(load_var_file(&bad).is_err());
        assert!(load_var_file(&dir.join("missing.env")).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
