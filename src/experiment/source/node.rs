//! The span-carrying value tree every experiment file is parsed into.

use serde_json::Value;

use crate::experiment::diagnostic::Span;

/// A parsed value with the position where it starts in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    /// Where the value starts (for a mapping entry's value: the value, not the key).
    pub span: Span,
}

/// The kinds of value a JSON or (safe) YAML document can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// `null` / `~` / empty.
    Null,
    /// A boolean (YAML 1.1: `yes`/`no`/`on`/`off` too).
    Bool(bool),
    /// An integer that fits in i64.
    Int(i64),
    Float(f64),
    Str(String),
    /// A list.
    Seq(Vec<Node>),
    /// A mapping in source order; duplicate keys were already collapsed (last value wins, first
    /// position kept, as a Python dict does).
    Map(Vec<(Key, Node)>),
}

/// A mapping key (always a string: non-string YAML keys are stringified as Python's `json` does).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// Where the key starts.
    pub span: Span,
}

impl Node {
    pub fn new(value: NodeValue, span: Span) -> Self {
        Node { value, span }
    }

    /// The entry for `key` if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The mapping's entries, if this is a mapping.
    pub fn entries(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The list items, if this is a list.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }

    /// A short name of the value's type for messages ("a string", "a list", …).
    pub fn type_name(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::Str(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    /// The plain JSON value, key order kept (positions dropped).
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}
