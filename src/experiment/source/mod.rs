//! Parsing experiment text (JSON or YAML) into a [`Node`] tree that keeps every value's position.
//!
//! This is the "raw mirror" of the file: no meaning is given to keys here, only to syntax. YAML is
//! parsed safely (standard tags only, anchors/aliases/merges resolved) with PyYAML's YAML 1.1 scalar
//! rules, because Chaos Toolkit files are read by PyYAML.

mod json;
mod node;
mod parse;
mod reader;
mod scalar;
mod yaml;

pub use node::{Key, Node, NodeValue};
pub use parse::{Format, Parsed, parse};
pub use reader::{Reader, join, number, parse_weekday};
