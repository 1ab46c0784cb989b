//! A small JSON parser that keeps positions, accepting what Python's `json.loads` accepts
//! (including `NaN`, `Infinity`, `-Infinity`); duplicate keys: last value wins, with a warning.

use super::node::{Key, Node, NodeValue};
use crate::experiment::diagnostic::{Diagnostic, Span};

/// Nesting deeper than this is refused (never a stack overflow).
const MAX_DEPTH: usize = 128;

/// Parses `text`; syntax errors carry line and column.
pub(super) fn parse(text: &str, file: &str) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        col: 1,
        file,
        warnings: Vec::new(),
    };
    p.skip_ws();
    let node = p.value(0)?;
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(p.error("extra data after the JSON document"));
    }
    Ok((node, p.warnings))
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    col: u32,
    file: &'a str,
    warnings: Vec<Diagnostic>,
}

impl Parser<'_> {
    fn span(&self) -> Span {
        Span::new(self.line, self.col)
    }

    fn error(&self, message: &str) -> Diagnostic {
        Diagnostic::error(
            self.file,
            self.span(),
            "",
            format!("invalid JSON: {message}"),
        )
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn expect_word(&mut self, word: &str) -> Result<(), Diagnostic> {
        for expected in word.chars() {
            if self.peek() != Some(expected) {
                return Err(self.error(&format!("expected {word:?}")));
            }
            self.bump();
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Node, Diagnostic> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting is too deep"));
        }
        let span = self.span();
        let value = match self.peek() {
            None => return Err(self.error("unexpected end of input, expected a value")),
            Some('{') => self.object(depth)?,
            Some('[') => self.array(depth)?,
            Some('"') => NodeValue::Str(self.string()?),
            Some('t') => {
                self.expect_word("true")?;
                NodeValue::Bool(true)
            }
            Some('f') => {
                self.expect_word("false")?;
                NodeValue::Bool(false)
            }
            Some('n') => {
                self.expect_word("null")?;
                NodeValue::Null
            }
            Some('N') => {
                self.expect_word("NaN")?;
                NodeValue::Float(f64::NAN)
            }
            Some('I') => {
                self.expect_word("Infinity")?;
                NodeValue::Float(f64::INFINITY)
            }
            Some(c) if c == '-' || c.is_ascii_digit() => self.number()?,
            Some(c) => {
                return Err(self.error(&format!("unexpected character {c:?}, expected a value")));
            }
        };
        Ok(Node::new(value, span))
    }

    fn object(&mut self, depth: usize) -> Result<NodeValue, Diagnostic> {
        self.bump();
        let mut entries: Vec<(Key, Node)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some('}') {
            self.bump();
            return Ok(NodeValue::Map(entries));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some('"') {
                return Err(self.error("expected a double-quoted property name"));
            }
            let key_span = self.span();
            let name = self.string()?;
            self.skip_ws();
            if self.peek() != Some(':') {
                return Err(self.error("expected ':' after the property name"));
            }
            self.bump();
            self.skip_ws();
            let value = self.value(depth + 1)?;
            match entries.iter_mut().find(|(k, _)| k.name == name) {
                Some((first, slot)) => {
                    self.warnings.push(Diagnostic::warning(
                        self.file,
                        key_span,
                        "",
                        format!(
                            "duplicate key {name:?} (first at line {}); the last value wins",
                            first.span.line
                        ),
                    ));
                    *slot = value;
                }
                None => entries.push((
                    Key {
                        name,
                        span: key_span,
                    },
                    value,
                )),
            }
            self.skip_ws();
            match self.bump() {
                Some(',') => continue,
                Some('}') => return Ok(NodeValue::Map(entries)),
                _ => return Err(self.error("expected ',' or '}' in an object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<NodeValue, Diagnostic> {
        self.bump();
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(']') {
            self.bump();
            return Ok(NodeValue::Seq(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.bump() {
                Some(',') => continue,
                Some(']') => return Ok(NodeValue::Seq(items)),
                _ => return Err(self.error("expected ',' or ']' in an array")),
            }
        }
    }

    fn string(&mut self) -> Result<String, Diagnostic> {
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated string")),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('/') => out.push('/'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some('u') => {
                        let first = self.hex4()?;
                        let c = if (0xD800..0xDC00).contains(&first) && self.peek() == Some('\\') {
                            self.bump();
                            if self.bump() != Some('u') {
                                return Err(self.error("expected a low surrogate escape"));
                            }
                            let second = self.hex4()?;
                            let combined = 0x10000
                                + ((first - 0xD800) << 10)
                                + (second.wrapping_sub(0xDC00) & 0x3FF);
                            char::from_u32(combined).unwrap_or('\u{FFFD}')
                        } else {
                            char::from_u32(first).unwrap_or('\u{FFFD}')
                        };
                        out.push(c);
                    }
                    _ => return Err(self.error("invalid escape in a string")),
                },
                Some(c) if (c as u32) < 0x20 => {
                    return Err(self.error("control character in a string (escape it)"));
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Diagnostic> {
        let mut v = 0;
        for _ in 0..4 {
            let d = self
                .bump()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.error("expected 4 hex digits after \\u"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    fn number(&mut self) -> Result<NodeValue, Diagnostic> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
            if self.peek() == Some('I') {
                self.expect_word("Infinity")?;
                return Ok(NodeValue::Float(f64::NEG_INFINITY));
            }
        }
        match self.peek() {
            Some('0') => {
                self.bump();
            }
            Some(c) if c.is_ascii_digit() => {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
            }
            _ => return Err(self.error("expected a digit")),
        }
        let mut is_float = false;
        if self.peek() == Some('.') {
            is_float = true;
            self.bump();
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.error("expected a digit after '.'"));
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            is_float = true;
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.error("expected a digit in the exponent"));
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if !is_float && let Ok(i) = text.parse::<i64>() {
            return Ok(NodeValue::Int(i));
        }
        text.parse::<f64>()
            .map(NodeValue::Float)
            .map_err(|_| self.error("invalid number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_positions() {
        let (node, warnings) =
            parse("{\n  \"a\": [1, 2.5, \"x\"],\n  \"b\": null\n}", "f.json").unwrap();
        assert!(warnings.is_empty());
        let a = node.get("a").unwrap();
        assert_eq!((a.span.line, a.span.column), (2, 8));
        assert_eq!(node.entries().unwrap()[1].0.span, Span::new(3, 3));
        assert_eq!(a.to_json(), serde_json::json!([1, 2.5, "x"]));
    }

    #[test]
    fn python_extensions_and_big_numbers() {
        let (node, _) = parse(
            "[NaN, Infinity, -Infinity, 123456789012345678901234567890]",
            "f",
        )
        .unwrap();
        let items = node.as_seq().unwrap();
        assert!(matches!(items[0].value, NodeValue::Float(f) if f.is_nan()));
        assert_eq!(items[2].value, NodeValue::Float(f64::NEG_INFINITY));
        assert!(matches!(items[3].value, NodeValue::Float(_)));
    }

    #[test]
    fn duplicate_keys_warn_and_the_last_wins() {
        let (node, warnings) = parse("{\"a\": 1, \"a\": 2}", "f.json").unwrap();
        assert_eq!(node.get("a").unwrap().value, NodeValue::Int(2));
        assert_eq!(node.entries().unwrap().len(), 1);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].message.contains("duplicate key"));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let err = parse("{\n  \"a\": 1,\n  \"b\" 2\n}", "f.json").unwrap_err();
        assert_eq!((err.line, err.column), (3, 7));
        assert!(err.message.contains("expected ':'"), "{}", err.message);
        assert!(parse("", "f").is_err());
        assert!(parse("[1,]", "f").is_err());
        assert!(
            parse("{} x", "f")
                .unwrap_err()
                .message
                .contains("extra data")
        );
        let deep = "[".repeat(10_000);
        assert!(parse(&deep, "f").unwrap_err().message.contains("too deep"));
    }

    #[test]
    fn escapes_decode() {
        let (node, _) = parse(r#""a\n\u00e9\ud83d\ude00""#, "f").unwrap();
        assert_eq!(node.as_str(), Some("a\né😀"));
    }
}
