//! Loading an experiment source (spec §1): a local file (format by extension) or an http(s) URL
//! (format by Content-Type), parsed into a positioned [`Node`] tree.

use std::path::Path;

use crate::experiment::diagnostic::{Diagnostic, Span};
use crate::experiment::source::{Format, Node, parse};

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Verify TLS certificates of URL sources.
    pub verify_tls: bool,
}

#[derive(Debug, Clone)]
pub struct Loaded {
    pub root: Node,
    pub warnings: Vec<Diagnostic>,
    /// The source as the user named it (used in diagnostics).
    pub file: String,
    /// SHA-256 of the source's bytes, lowercase hex (the history tells edited files apart).
    pub sha256: String,
}

/// Why a source could not be loaded (file-level problems are reported at 1:1).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A syntax error at a position.
    #[error("{0}")]
    Syntax(Diagnostic),
    /// Anything else about the source.
    #[error("{file}: {message}")]
    Source { file: String, message: String },
}

impl LoadError {
    fn source(file: &str, message: impl Into<String>) -> Self {
        LoadError::Source {
            file: file.to_string(),
            message: message.into(),
        }
    }

    /// The error as a positioned diagnostic.
    pub fn to_diagnostic(&self) -> Diagnostic {
        match self {
            LoadError::Syntax(d) => d.clone(),
            LoadError::Source { file, message } => {
                Diagnostic::error(file, Span::new(1, 1), "", message.clone())
            }
        }
    }
}

/// Loads and parses `source`.
pub async fn load(source: &str, options: &LoadOptions) -> Result<Loaded, LoadError> {
    let lower = source.to_ascii_lowercase();
    let (text, format) = if lower.starts_with("http://") || lower.starts_with("https://") {
        fetch(source, options).await?
    } else if let Some((scheme, _)) = source.split_once("://") {
        return Err(LoadError::source(
            source,
            format!("unsupported source scheme {scheme:?}; use a local path or an http(s) URL"),
        ));
    } else {
        read_local(source)?
    };
    match format {
        Some(format) => parsed(&text, format, source),
        // text/plain: JSON first, then YAML (Chaos Toolkit's order).
        None => {
            parsed(&text, Format::Json, source).or_else(|_| parsed(&text, Format::Yaml, source))
        }
    }
}

fn parsed(text: &str, format: Format, file: &str) -> Result<Loaded, LoadError> {
    let p = parse(text, format, file).map_err(LoadError::Syntax)?;
    Ok(Loaded {
        root: p.root,
        warnings: p.warnings,
        file: file.to_string(),
        sha256: sha256_hex(text.as_bytes()),
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_local(source: &str) -> Result<(String, Option<Format>), LoadError> {
    let path = Path::new(source);
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let format = match ext.as_str() {
        "json" => Format::Json,
        "yaml" | "yml" => Format::Yaml,
        _ => {
            return Err(LoadError::source(
                source,
                "unknown file extension; expected .json, .yaml or .yml",
            ));
        }
    };
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::source(source, "no such file"),
        _ => LoadError::source(source, format!("cannot read the file: {e}")),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        LoadError::source(
            source,
            format!(
                "the file is not UTF-8 (byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok((text, Some(format)))
}

async fn fetch(url: &str, options: &LoadOptions) -> Result<(String, Option<Format>), LoadError> {
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(!options.verify_tls)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| LoadError::source(url, e.to_string()))?;
    let mut request = client
        .get(url)
        .header("Accept", "application/json, application/x-yaml");
    if let Ok(token) = std::env::var("CHAOSTOOLKIT_LOADER_AUTH_BEARER_TOKEN") {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| LoadError::source(url, format!("cannot fetch: {e}")))?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let text = response
        .text()
        .await
        .map_err(|e| LoadError::source(url, format!("cannot read the response: {e}")))?;
    if status != reqwest::StatusCode::OK {
        let excerpt: String = text.chars().take(300).collect();
        return Err(LoadError::source(
            url,
            format!("the server answered {status}: {excerpt}"),
        ));
    }
    let format = match content_type.as_str() {
        "application/json" => Some(Format::Json),
        "application/x-yaml" | "text/yaml" | "application/yaml" => Some(Format::Yaml),
        "text/plain" => None,
        other => {
            return Err(LoadError::source(
                url,
                format!(
                    "unsupported Content-Type {other:?}; expected application/json, application/x-yaml, text/yaml or text/plain"
                ),
            ));
        }
    };
    Ok((text, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> LoadOptions {
        LoadOptions { verify_tls: true }
    }

    #[tokio::test]
    async fn local_files_by_extension_with_clear_errors() {
        let dir = std::env::temp_dir().join(format!("mw-load-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let yaml = dir.join("e.YML");
        std::fs::write(&yaml, "title: t\n").unwrap();
        let loaded = load(yaml.to_str().unwrap(), &opts()).await.unwrap();
        assert_eq!(loaded.root.get("title").unwrap().as_str(), Some("t"));
        let txt = dir.join("e.txt");
        std::fs::write(&txt, "{}").unwrap();
        let err = load(txt.to_str().unwrap(), &opts()).await.unwrap_err();
        assert!(err.to_string().contains("unknown file extension"), "{err}");
        let err = load(dir.join("missing.json").to_str().unwrap(), &opts())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no such file"));
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "{\"a\": }").unwrap();
        let d = load(bad.to_str().unwrap(), &opts())
            .await
            .unwrap_err()
            .to_diagnostic();
        assert_eq!((d.line, d.column), (1, 7));
        assert!(
            load("ftp://x/e.json", &opts())
                .await
                .unwrap_err()
                .to_string()
                .contains("unsupported source scheme")
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
