//! Safe YAML into positioned nodes: standard tags only (anything else, such as
//! `!!python/object/apply:…`, is refused before anything runs), anchors/aliases and `<<` merges
//! resolved, PyYAML's YAML 1.1 scalar rules, one document.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::node::{Key, Node, NodeValue};
use super::scalar::{resolve_plain, resolve_yaml11};
use crate::experiment::diagnostic::{Diagnostic, Span};

/// Alias expansion beyond this many nodes is refused (a "billion laughs" file).
const MAX_NODES: usize = 1_000_000;

/// Nesting deeper than this is refused (never a stack overflow; experiments are shallow).
const MAX_DEPTH: usize = 128;

/// Parses one YAML document.
pub(super) fn parse(text: &str, file: &str) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    let mut collector = Collector::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut collector, true) {
        let m = e.marker();
        return Err(Diagnostic::error(
            file,
            span(m),
            "",
            format!("invalid YAML: {}", e.info()),
        ));
    }
    let mut builder = Builder {
        events: collector.events,
        pos: 0,
        text,
        file,
        anchors: HashMap::new(),
        warnings: Vec::new(),
        nodes: 0,
    };
    builder.document().map(|node| (node, builder.warnings))
}

fn span(m: &Marker) -> Span {
    // yaml-rust2 markers: 1-based line, 0-based column.
    Span::new(m.line().max(1) as u32, m.col() as u32 + 1)
}

#[derive(Default)]
struct Collector {
    events: Vec<(Event, Marker)>,
}

impl MarkedEventReceiver for Collector {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        self.events.push((ev, mark));
    }
}

struct Builder<'a> {
    events: Vec<(Event, Marker)>,
    pos: usize,
    text: &'a str,
    file: &'a str,
    anchors: HashMap<usize, Node>,
    warnings: Vec<Diagnostic>,
    nodes: usize,
}

impl Builder<'_> {
    fn next(&mut self) -> Option<(Event, Marker)> {
        let e = self.events.get(self.pos).cloned();
        self.pos += 1;
        e
    }

    fn err(&self, mark: &Marker, message: String) -> Diagnostic {
        Diagnostic::error(self.file, span(mark), "", message)
    }

    fn document(&mut self) -> Result<Node, Diagnostic> {
        let mut root = None;
        while let Some((ev, mark)) = self.next() {
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart => {
                    if root.is_some() {
                        return Err(self.err(
                            &mark,
                            "a second YAML document: an experiment file holds exactly one".into(),
                        ));
                    }
                    let (ev, mark) = self
                        .next()
                        .ok_or_else(|| self.err(&mark, "empty document".into()))?;
                    root = Some(self.node(ev, mark, 0)?);
                }
                other => {
                    // Documents without an explicit start still begin with DocumentStart in
                    // yaml-rust2; anything else here is unexpected.
                    return Err(self.err(&mark, format!("unexpected YAML event {other:?}")));
                }
            }
        }
        root.ok_or_else(|| Diagnostic::error(self.file, Span::new(1, 1), "", "empty document"))
    }

    fn count(&mut self, mark: &Marker) -> Result<(), Diagnostic> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.err(
                mark,
                format!("more than {MAX_NODES} nodes after expanding aliases; refusing"),
            ));
        }
        Ok(())
    }

    fn node(&mut self, ev: Event, mark: Marker, depth: usize) -> Result<Node, Diagnostic> {
        if depth > MAX_DEPTH {
            return Err(self.err(&mark, "nesting is too deep".into()));
        }
        self.count(&mark)?;
        let (node, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => (
                Node::new(self.scalar(&text, style, tag.as_ref(), &mark)?, span(&mark)),
                anchor,
            ),
            Event::SequenceStart(anchor, tag) => {
                self.check_collection_tag(tag.as_ref(), "seq", &mark)?;
                let mut items = Vec::new();
                loop {
                    let (ev, m) = self
                        .next()
                        .ok_or_else(|| self.err(&mark, "unterminated sequence".into()))?;
                    if ev == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(ev, m, depth + 1)?);
                }
                (Node::new(NodeValue::Seq(items), span(&mark)), anchor)
            }
            Event::MappingStart(anchor, tag) => {
                self.check_collection_tag(tag.as_ref(), "map", &mark)?;
                (self.mapping(mark, depth)?, anchor)
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| self.err(&mark, "alias to an unknown anchor".into()))?;
                self.nodes += size(&node);
                if self.nodes > MAX_NODES {
                    return Err(self.err(
                        &mark,
                        format!("more than {MAX_NODES} nodes after expanding aliases; refusing"),
                    ));
                }
                return Ok(node);
            }
            other => return Err(self.err(&mark, format!("unexpected YAML event {other:?}"))),
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn mapping(&mut self, mark: Marker, depth: usize) -> Result<Node, Diagnostic> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        let mut merged: Vec<(Key, Node)> = Vec::new();
        loop {
            let (ev, key_mark) = self
                .next()
                .ok_or_else(|| self.err(&mark, "unterminated mapping".into()))?;
            if ev == Event::MappingEnd {
                break;
            }
            let is_merge =
                matches!(&ev, Event::Scalar(t, TScalarStyle::Plain, _, None) if t == "<<");
            let key_node = self.node(ev, key_mark, depth + 1)?;
            let (vev, vmark) = self
                .next()
                .ok_or_else(|| self.err(&key_mark, "a key without a value".into()))?;
            let value = self.node(vev, vmark, depth + 1)?;
            if is_merge {
                self.merge_into(&mut merged, value, &vmark)?;
                continue;
            }
            let name = self.key_text(&key_node, &key_mark)?;
            let key = Key {
                name,
                span: span(&key_mark),
            };
            match entries.iter_mut().find(|(k, _)| k.name == key.name) {
                Some((first, slot)) => {
                    self.warnings.push(Diagnostic::warning(
                        self.file,
                        key.span,
                        "",
                        format!(
                            "duplicate key {:?} (first at line {}); the last value wins",
                            key.name, first.span.line
                        ),
                    ));
                    *slot = value;
                }
                None => entries.push((key, value)),
            }
        }
        // Explicit keys win over merged ones; merged keys keep their place first (PyYAML order).
        let mut result: Vec<(Key, Node)> = Vec::new();
        for (k, v) in merged {
            match entries.iter().position(|(ek, _)| ek.name == k.name) {
                Some(i) => {
                    let explicit = entries.remove(i);
                    result.push(explicit);
                }
                None => result.push((k, v)),
            }
        }
        result.extend(entries);
        Ok(Node::new(NodeValue::Map(result), span(&mark)))
    }

    fn merge_into(
        &self,
        merged: &mut Vec<(Key, Node)>,
        value: Node,
        mark: &Marker,
    ) -> Result<(), Diagnostic> {
        let sources: Vec<Node> = match value.value {
            NodeValue::Map(_) => vec![value],
            NodeValue::Seq(items) => items,
            _ => {
                return Err(self.err(
                    mark,
                    "a merge key (<<) needs a mapping or a list of mappings".into(),
                ));
            }
        };
        for source in sources {
            let NodeValue::Map(pairs) = source.value else {
                return Err(self.err(
                    mark,
                    "a merge key (<<) needs a mapping or a list of mappings".into(),
                ));
            };
            for (k, v) in pairs {
                // Earlier mappings win among merged ones.
                if !merged.iter().any(|(mk, _)| mk.name == k.name) {
                    merged.push((k, v));
                }
            }
        }
        Ok(())
    }

    fn key_text(&self, key: &Node, mark: &Marker) -> Result<String, Diagnostic> {
        Ok(match &key.value {
            NodeValue::Str(s) => s.clone(),
            NodeValue::Null => "null".into(),
            NodeValue::Bool(b) => b.to_string(),
            NodeValue::Int(i) => i.to_string(),
            NodeValue::Float(f) => crate::probe::process::python_repr(&serde_json::json!(f)),
            NodeValue::Seq(_) | NodeValue::Map(_) => {
                return Err(self.err(mark, "a list or mapping cannot be a key here".into()));
            }
        })
    }

    fn check_collection_tag(
        &self,
        tag: Option<&Tag>,
        expected: &str,
        mark: &Marker,
    ) -> Result<(), Diagnostic> {
        match tag {
            None => Ok(()),
            Some(t) if standard_suffix(t) == Some(expected) => Ok(()),
            Some(t) => Err(self.unsupported_tag(t, mark)),
        }
    }

    fn unsupported_tag(&self, tag: &Tag, mark: &Marker) -> Diagnostic {
        let shown = if tag.handle == "tag:yaml.org,2002:" {
            format!("!!{}", tag.suffix)
        } else {
            format!("{}{}", tag.handle, tag.suffix)
        };
        let message = format!(
            "unsupported YAML tag \"{shown}\": only standard tags are allowed (nothing was run)"
        );
        // The event's marker is the node (e.g. the `[`); point at the tag itself when it is on that line.
        let line = mark.line().max(1);
        let column = self
            .text
            .lines()
            .nth(line - 1)
            .and_then(|l| l.find(&shown).map(|byte| l[..byte].chars().count() + 1));
        match column {
            Some(col) => {
                Diagnostic::error(self.file, Span::new(line as u32, col as u32), "", message)
            }
            None => self.err(mark, message),
        }
    }

    fn scalar(
        &mut self,
        text: &str,
        style: TScalarStyle,
        tag: Option<&Tag>,
        mark: &Marker,
    ) -> Result<NodeValue, Diagnostic> {
        if let Some(t) = tag {
            let bad = |b: &Self, what: &str| b.err(mark, format!("{text:?} is not a valid {what}"));
            return match standard_suffix(t) {
                Some("str") | Some("timestamp") | Some("") => Ok(NodeValue::Str(text.to_string())),
                Some("int") => match resolve_yaml11(text) {
                    v @ NodeValue::Int(_) => Ok(v),
                    _ => Err(bad(self, "!!int")),
                },
                Some("float") => match resolve_yaml11(text) {
                    NodeValue::Int(i) => Ok(NodeValue::Float(i as f64)),
                    v @ NodeValue::Float(_) => Ok(v),
                    _ => Err(bad(self, "!!float")),
                },
                Some("bool") => match resolve_yaml11(text) {
                    v @ NodeValue::Bool(_) => Ok(v),
                    _ => Err(bad(self, "!!bool")),
                },
                Some("null") => Ok(NodeValue::Null),
                _ => Err(self.unsupported_tag(t, mark)),
            };
        }
        if style != TScalarStyle::Plain {
            return Ok(NodeValue::Str(text.to_string()));
        }
        let (value, note) = resolve_plain(text);
        if let Some(note) = note {
            self.warnings
                .push(Diagnostic::warning(self.file, span(mark), "", note));
        }
        Ok(value)
    }
}

/// The suffix of a standard `tag:yaml.org,2002:` tag (or `""` for the non-specific `!`).
fn standard_suffix(tag: &Tag) -> Option<&str> {
    if tag.handle == "tag:yaml.org,2002:" {
        let s = tag.suffix.as_str();
        return matches!(
            s,
            "str" | "int" | "float" | "bool" | "null" | "map" | "seq" | "timestamp"
        )
        .then_some(s);
    }
    (tag.handle == "!" && tag.suffix.is_empty()).then_some("")
}

fn size(node: &Node) -> usize {
    1 + match &node.value {
        NodeValue::Seq(items) => items.iter().map(size).sum(),
        NodeValue::Map(entries) => entries.iter().map(|(_, v)| size(v)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (Node, Vec<Diagnostic>) {
        parse(text, "f.yaml").unwrap()
    }

    #[test]
    fn positions_are_one_based() {
        let (node, _) = ok("title: t\nmethod:\n  - name: x\n");
        let method = node.get("method").unwrap();
        let first = &method.as_seq().unwrap()[0];
        assert_eq!(node.entries().unwrap()[1].0.span, Span::new(2, 1));
        assert_eq!(first.get("name").unwrap().span, Span::new(3, 11));
    }

    #[test]
    fn python_tags_are_refused_before_anything_runs() {
        let err = parse(
            "title: !!python/object/apply:os.system [\"id\"]\n",
            "f.yaml",
        )
        .unwrap_err();
        assert!(
            err.message
                .contains("unsupported YAML tag \"!!python/object/apply:os.system\""),
            "{}",
            err.message
        );
        assert_eq!(err.line, 1);
        assert!(
            parse("a: !custom x\n", "f")
                .unwrap_err()
                .message
                .contains("!custom")
        );
        assert!(parse("a: !!binary aGk=\n", "f").is_err());
    }

    #[test]
    fn standard_tags_convert() {
        let (node, _) = ok("a: !!str 123\nb: !!int \"42\"\nc: !!float 1\nd: !!bool yes\n");
        assert_eq!(node.get("a").unwrap().value, NodeValue::Str("123".into()));
        assert_eq!(node.get("b").unwrap().value, NodeValue::Int(42));
        assert_eq!(node.get("c").unwrap().value, NodeValue::Float(1.0));
        assert_eq!(node.get("d").unwrap().value, NodeValue::Bool(true));
    }

    #[test]
    fn yaml11_scalars_with_warnings() {
        let (node, warnings) = ok("a: on\nb: 0755\nc: 1e3\nd: \"on\"\ne: 12\n");
        assert_eq!(node.get("a").unwrap().value, NodeValue::Bool(true));
        assert_eq!(node.get("b").unwrap().value, NodeValue::Int(493));
        assert_eq!(node.get("c").unwrap().value, NodeValue::Str("1e3".into()));
        assert_eq!(node.get("d").unwrap().value, NodeValue::Str("on".into()));
        assert_eq!(warnings.len(), 3);
    }

    #[test]
    fn anchors_aliases_and_merges() {
        let text = "base: &b\n  x: 1\n  y: 2\nother: *b\nmerged:\n  <<: *b\n  y: 3\n  z: 4\n";
        let (node, _) = ok(text);
        assert_eq!(
            node.get("other").unwrap().to_json(),
            serde_json::json!({"x": 1, "y": 2})
        );
        assert_eq!(
            node.get("merged").unwrap().to_json(),
            serde_json::json!({"x": 1, "y": 3, "z": 4})
        );
        let list = "a: &a {k: 1}\nb: &b {k: 2, j: 2}\nc:\n  <<: [*a, *b]\n";
        assert_eq!(
            ok(list).0.get("c").unwrap().to_json(),
            serde_json::json!({"k": 1, "j": 2})
        );
    }

    #[test]
    fn duplicates_warn_and_keys_stringify() {
        let (node, warnings) = ok("a: 1\na: 2\n1: x\ntrue: y\n");
        assert_eq!(node.get("a").unwrap().value, NodeValue::Int(2));
        assert!(node.get("1").is_some());
        assert!(node.get("true").is_some());
        assert!(warnings.iter().any(|w| w.message.contains("duplicate key")));
    }

    #[test]
    fn one_document_and_syntax_errors_are_positioned() {
        assert!(
            parse("a: 1\n---\nb: 2\n", "f")
                .unwrap_err()
                .message
                .contains("second YAML document")
        );
        assert!(
            parse("", "f")
                .unwrap_err()
                .message
                .contains("empty document")
        );
        let err = parse("a: [1, 2\nb: 3\n", "f").unwrap_err();
        assert!(err.message.starts_with("invalid YAML"), "{}", err.message);
        assert!(err.line >= 1);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        assert!(parse(&format!("a: {}", "[".repeat(5000)), "f").is_err());
        let nested = format!("a: {}1{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(&nested, "f").is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n", p = i - 1));
        }
        assert!(parse(&text, "f").unwrap_err().message.contains("refusing"));
    }
}
