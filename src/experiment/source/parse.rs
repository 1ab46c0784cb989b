//! Choosing the parser by syntax; every parser reports positions the same way.

use super::{Node, json, yaml};
use crate::experiment::diagnostic::Diagnostic;

/// The syntax of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON (as Python's `json` reads it).
    Json,
    /// YAML (safe, one document, YAML 1.1 scalars).
    Yaml,
}

impl Format {
    /// A config file's syntax by its name: `.json` is JSON, anything else YAML.
    pub fn of_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            _ => Format::Yaml,
        }
    }
}

/// A parsed document and the warnings found while parsing (duplicate keys, YAML 1.1 scalars).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub root: Node,
    pub warnings: Vec<Diagnostic>,
}

/// Parses `text` in `format`; `file` names the source in diagnostics.
pub fn parse(text: &str, format: Format, file: &str) -> Result<Parsed, Diagnostic> {
    let (root, warnings) = match format {
        Format::Json => json::parse(text, file)?,
        Format::Yaml => yaml::parse(text, file)?,
    };
    Ok(Parsed { root, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn json_never_panics(text in "\\PC{0,200}") {
            if let Err(d) = parse(&text, Format::Json, "f") {
                prop_assert!(d.line >= 1 && d.column >= 1);
            }
        }

        #[test]
        fn yaml_never_panics(text in "\\PC{0,200}") {
            if let Err(d) = parse(&text, Format::Yaml, "f") {
                prop_assert!(d.line >= 1 && d.column >= 1);
            }
        }

        #[test]
        fn structured_yaml_never_panics(text in "([a-z]{1,3}: (\\[|\\{|&a |\\*a|<<|!!|'|\"|-|[0-9.e:]{1,4}|\\n  )*\\n){1,6}") {
            let _ = parse(&text, Format::Yaml, "f");
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse(&text, Format::Json, "f");
            let _ = parse(&text, Format::Yaml, "f");
        }
    }
}
