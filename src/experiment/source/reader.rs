//! Typed reading of a positioned tree for config files (the monkey's, the server's): each
//! accessor returns the value or records what was expected at the value's `file:line:column`,
//! so a file's problems are all collected in one pass; unknown keys get a "did you mean".

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};

use super::{Key, Node, NodeValue};
use crate::experiment::diagnostic::{Diagnostic, Span, nearest};

/// Collects the errors of one config file.
#[derive(Debug)]
pub struct Reader<'a> {
    pub file: &'a str,
    pub errors: Vec<Diagnostic>,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a str) -> Reader<'a> {
        Reader {
            file,
            errors: Vec::new(),
        }
    }

    pub fn error(&mut self, span: Span, path: &str, message: impl Into<String>) {
        self.errors
            .push(Diagnostic::error(self.file, span, path, message));
    }

    /// An unknown key, with the nearest of `known` as a suggestion.
    pub fn unknown_key<'k>(
        &mut self,
        key: &Key,
        path: &str,
        message: impl Into<String>,
        known: impl IntoIterator<Item = &'k str>,
    ) {
        let mut d = Diagnostic::error(self.file, key.span, path, message);
        if let Some(s) = nearest(&key.name, known) {
            d = d.with_suggestion(s);
        }
        self.errors.push(d);
    }

    pub fn boolean(&mut self, v: &Node, path: &str, default: bool) -> bool {
        match v.value {
            NodeValue::Bool(b) => b,
            _ => {
                self.error(v.span, path, "expected true or false");
                default
            }
        }
    }

    pub fn string(&mut self, v: &Node, path: &str) -> Option<String> {
        match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(
                    v.span,
                    path,
                    format!("expected a string, got {}", v.type_name()),
                );
                None
            }
        }
    }

    pub fn hour(&mut self, v: &Node, path: &str, default: i8) -> i8 {
        match v.value {
            NodeValue::Int(h) if (0..=24).contains(&h) => h as i8,
            _ => {
                self.error(v.span, path, "expected an hour from 0 to 24");
                default
            }
        }
    }

    pub fn list<'n>(&mut self, v: &'n Node, path: &str) -> &'n [Node] {
        match v.as_seq() {
            Some(items) => items,
            None => {
                self.error(
                    v.span,
                    path,
                    format!("expected a list, got {}", v.type_name()),
                );
                &[]
            }
        }
    }

    pub fn work_days(&mut self, v: &Node, path: &str) -> Vec<Weekday> {
        let mut days = Vec::new();
        for (i, item) in self.list(v, path).iter().enumerate() {
            let day = item.as_str().and_then(parse_weekday);
            match day {
                Some(d) if !days.contains(&d) => days.push(d),
                Some(_) => {}
                None => self.error(
                    item.span,
                    &format!("{path}[{i}]"),
                    "expected a day name such as monday (or mon)",
                ),
            }
        }
        days
    }

    pub fn holidays(&mut self, v: &Node, path: &str) -> BTreeSet<Date> {
        let mut dates = BTreeSet::new();
        for (i, item) in self.list(v, path).iter().enumerate() {
            match item.as_str().and_then(|s| s.parse::<Date>().ok()) {
                Some(d) => {
                    dates.insert(d);
                }
                None => self.error(
                    item.span,
                    &format!("{path}[{i}]"),
                    "expected a date as YYYY-MM-DD",
                ),
            }
        }
        dates
    }

    /// The entries of a mapping whose keys must be among `allowed` (others are reported with a
    /// suggestion); empty when `item` is not a mapping (reported).
    pub fn mapping<'n>(
        &mut self,
        item: &'n Node,
        path: &str,
        allowed: &[&str],
    ) -> &'n [(Key, Node)] {
        let Some(entries) = item.entries() else {
            self.error(
                item.span,
                path,
                format!("expected a mapping, got {}", item.type_name()),
            );
            return &[];
        };
        for (k, _) in entries {
            if !allowed.contains(&k.name.as_str()) {
                self.unknown_key(
                    k,
                    &join(path, &k.name),
                    format!("unknown key; expected {}", allowed.join(", ")),
                    allowed.iter().copied(),
                );
            }
        }
        entries
    }

    pub fn optional_string(&mut self, item: &Node, key: &str, path: &str) -> Option<String> {
        let v = item.get(key)?;
        self.string(v, &join(path, key))
    }
}

/// `a.b` (or `b` at the top).
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A number node as f64.
pub fn number(v: &Node) -> Option<f64> {
    match v.value {
        NodeValue::Int(i) => Some(i as f64),
        NodeValue::Float(f) => Some(f),
        _ => None,
    }
}

/// `monday` or `mon` (any case).
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    let s = s.to_ascii_lowercase();
    let days = [
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
        ("sunday", Weekday::Sunday),
    ];
    days.iter()
        .find(|(name, _)| *name == s || (s.len() == 3 && name.starts_with(&s)))
        .map(|(_, d)| *d)
}
