//! Positioned diagnostics: every validation problem names file, line, column and key path.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Never fails a run, except under `--strict`.
    Warning,
    /// Stops the experiment from running (exit 64).
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
}

impl Span {
    /// A span at `line`:`column` (both 1-based).
    pub fn new(line: u32, column: u32) -> Self {
        Span { line, column }
    }
}

/// One problem found in a file, printed as `file:line:column: severity: path: message`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file (or URL) as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Key path such as `method[1].provider.type`; empty for file-level problems.
    pub path: String,
    /// Lowercase message fragment.
    pub message: String,
    /// The likely intended key or value, if one is close.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl Diagnostic {
    /// An error at `span` of `file`.
    pub fn error(
        file: &str,
        span: Span,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, file, span, path, message)
    }

    /// A warning at `span` of `file`.
    pub fn warning(
        file: &str,
        span: Span,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, file, span, path, message)
    }

    fn new(
        severity: Severity,
        file: &str,
        span: Span,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            file: file.to_string(),
            line: span.line,
            column: span.column,
            path: path.into(),
            message: message.into(),
            suggestion: None,
        }
    }

    /// Adds a "did you mean" suggestion.
    pub fn with_suggestion(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: ",
            self.file, self.line, self.column, self.severity
        )?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean \"{s}\"?)")?;
        }
        Ok(())
    }
}

pub use crate::schema::nearest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_a_compiler() {
        let d = Diagnostic::warning(
            "exp.yaml",
            Span::new(3, 1),
            "",
            "unknown top-level key \"steady-state-hypotesis\"",
        )
        .with_suggestion("steady-state-hypothesis");
        assert_eq!(
            d.to_string(),
            "exp.yaml:3:1: warning: unknown top-level key \"steady-state-hypotesis\" (did you mean \"steady-state-hypothesis\"?)"
        );
        let e = Diagnostic::error(
            "exp.yaml",
            Span::new(21, 13),
            "method[1].provider.type",
            "unknown provider type \"pyhton\"",
        );
        assert_eq!(
            e.to_string(),
            "exp.yaml:21:13: error: method[1].provider.type: unknown provider type \"pyhton\""
        );
    }

    #[test]
    fn nearest_finds_typos_only() {
        let keys = ["steady-state-hypothesis", "method", "rollbacks"];
        assert_eq!(
            nearest("steady-state-hypotesis", keys),
            Some("steady-state-hypothesis")
        );
        assert_eq!(nearest("completely-else", keys), None);
        assert_eq!(nearest("method", keys), None);
    }
}
