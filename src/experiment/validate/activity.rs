//! Activities: common fields, `ref` resolution (last definition wins; hypothesis beats method),
//! duplicate names, pauses, dry, duration.

use std::collections::{HashMap, HashSet};

use super::checker::{Checker, is_placeholder, join, number};
use super::controls::controls;
use super::provider::provider;
use super::tolerance::tolerance;
use crate::experiment::diagnostic::{Diagnostic, nearest};
use crate::experiment::model::{Activity, ActivityKind, DryMode, Provider, Seconds, Tolerance};
use crate::experiment::source::Node;

/// Every key an activity may have.
pub(super) const ACTIVITY_KEYS: &[&str] = &[
    "type",
    "name",
    "provider",
    "ref",
    "pauses",
    "background",
    "timeout",
    "tolerance",
    "dry",
    "configuration",
    "secrets",
    "controls",
    "duration",
];

/// Named activities that `ref` may point at.
#[derive(Debug, Default)]
pub(super) struct Definitions {
    hypothesis: HashMap<String, Activity>,
    method: HashMap<String, Activity>,
    /// Names of activities that exist but did not validate (their errors are already reported).
    invalid: HashSet<String>,
}

impl Definitions {
    /// The activity a ref names: hypothesis probes beat method activities.
    pub(super) fn get(&self, name: &str) -> Option<&Activity> {
        self.hypothesis.get(name).or_else(|| self.method.get(name))
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.hypothesis
            .keys()
            .chain(self.method.keys())
            .map(String::as_str)
    }
}

/// An activity or a reference still to resolve.
pub(super) enum Item {
    /// A full activity.
    Activity(Box<Activity>),
    /// `{ref: name}` at `node`.
    Ref {
        /// The referenced name.
        name: String,
        /// The ref's node (for positions).
        node: Node,
        path: String,
        /// A hypothesis ref carries its own tolerance (Chaos Toolkit judges the ref's, not the target's).
        tolerance: Option<Box<Tolerance>>,
    },
}

/// Parses a list of activities; in the hypothesis every item must be a probe with a tolerance.
pub(super) fn activity_list(
    c: &mut Checker,
    n: &Node,
    path: &str,
    hypothesis: bool,
    defs: &mut Definitions,
) -> Vec<Item> {
    let Some(items) = n.as_seq() else {
        c.error(
            n,
            path,
            format!("expected a list of activities, got {}", n.type_name()),
        );
        return Vec::new();
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(parsed) = activity(c, item, &p, hypothesis) else {
            if let Some(name) = item.get("name").and_then(Node::as_str) {
                defs.invalid.insert(name.to_string());
            }
            continue;
        };
        if let Item::Activity(a) = &parsed {
            let a: &Activity = a;
            if !seen.insert(a.name.clone()) {
                c.warn(item, &p, format!("another activity in {path} is also named {:?}; refs resolve to the last one", a.name));
            }
            if hypothesis {
                defs.hypothesis.insert(a.name.clone(), a.clone());
            } else {
                defs.method.insert(a.name.clone(), a.clone());
            }
        }
        out.push(parsed);
    }
    out
}

/// Turns refs into the activities they name; unknown refs are errors.
pub(super) fn resolve_refs(
    c: &mut Checker,
    items: Vec<Item>,
    defs: &Definitions,
    _section: &str,
) -> Vec<Activity> {
    items
        .into_iter()
        .filter_map(|item| match item {
            Item::Activity(a) => Some(*a),
            Item::Ref {
                name,
                node,
                path,
                tolerance,
            } => match defs.get(&name) {
                Some(a) => {
                    let mut a = a.clone();
                    a.location = path;
                    if let Some(t) = tolerance {
                        a.tolerance = Some(*t);
                    }
                    Some(a)
                }
                None if defs.invalid.contains(&name) => None,
                None => {
                    let mut d = Diagnostic::error(
                        c.file,
                        node.span,
                        &path,
                        format!("ref {name:?} names no hypothesis probe or method activity"),
                    );
                    if let Some(s) = nearest(&name, defs.names()) {
                        d = d.with_suggestion(s);
                    }
                    c.push(d);
                    None
                }
            },
        })
        .collect()
}

/// Parses one activity (or ref).
pub(super) fn activity(c: &mut Checker, n: &Node, path: &str, hypothesis: bool) -> Option<Item> {
    let n = c.mapping(n, path)?;
    if let Some(r) = n.get("ref") {
        let tolerance = if hypothesis {
            match n.get("tolerance") {
                Some(t) => tolerance(c, t, &join(path, "tolerance"), None).map(Box::new),
                None => {
                    c.error(
                        n,
                        path,
                        "a hypothesis probe needs a tolerance (a ref carries its own)",
                    );
                    None
                }
            }
        } else {
            None
        };
        let name = c.non_empty_str(r, &join(path, "ref"))?;
        return Some(Item::Ref {
            name,
            node: n.clone(),
            path: path.to_string(),
            tolerance,
        });
    }
    c.unknown_keys(n, path, "activity", ACTIVITY_KEYS);
    let controls = controls(c, n, path);
    let kind = match n.get("type") {
        None => {
            c.error(n, path, "missing required key \"type\" (probe or action)");
            None
        }
        Some(t) => match t.as_str() {
            Some("probe") => Some(ActivityKind::Probe),
            Some("action") => {
                if hypothesis {
                    c.error(
                        t,
                        &join(path, "type"),
                        "the steady-state hypothesis holds probes only",
                    );
                }
                Some(ActivityKind::Action)
            }
            _ => {
                let mut d = Diagnostic::error(
                    c.file,
                    t.span,
                    join(path, "type"),
                    "expected \"probe\" or \"action\"",
                );
                if let Some(s) = t.as_str().and_then(|s| nearest(s, ["probe", "action"])) {
                    d = d.with_suggestion(s);
                }
                c.push(d);
                None
            }
        },
    };
    let name = match path.strip_prefix("configuration.") {
        // Chaos Toolkit's dynamic configuration probes need no name; the key names them.
        Some(key) => Some(
            c.optional_str(n, "name", path)
                .unwrap_or_else(|| key.to_string()),
        ),
        None => c.required_str(n, "name", path),
    };
    let dry = dry_mode(c, n, path);
    let provider = match n.get("provider") {
        None => {
            c.error(n, path, "missing required key \"provider\"");
            None
        }
        Some(p) => provider(c, p, &join(path, "provider"), dry.or(c.options.dry), kind),
    };
    let tolerance = match n.get("tolerance") {
        Some(t) => tolerance(c, t, &join(path, "tolerance"), provider.as_ref()),
        None => {
            if hypothesis {
                c.error(n, path, "a hypothesis probe needs a tolerance");
            }
            None
        }
    };
    let (pause_before, pause_after) = pauses(c, n, path);
    let background = c.optional_bool(n, "background", path).unwrap_or(false);
    let timeout = c.optional_seconds(n, "timeout", path);
    let duration = n.get("duration").filter(|d| !d.is_null()).and_then(|d| {
        let p = join(path, "duration");
        let reversible = matches!(&provider, Some(Provider::Builtin(b)) if b.func.is_reversible());
        if !reversible {
            c.error(d, &p, "duration applies only to reversible builtin faults");
            return None;
        }
        seconds(c, d, &p)
    });
    Some(Item::Activity(Box::new(Activity {
        kind: kind?,
        name: name?,
        provider: provider?,
        pause_before,
        pause_after,
        background,
        timeout,
        tolerance,
        dry,
        duration,
        controls,
        document: n.to_json(),
        location: path.to_string(),
    })))
}

fn dry_mode(c: &mut Checker, n: &Node, path: &str) -> Option<DryMode> {
    let d = n.get("dry").filter(|d| !d.is_null())?;
    let p = join(path, "dry");
    match d.as_str().and_then(DryMode::parse) {
        Some(m) => Some(m),
        None => {
            let mut diag = Diagnostic::error(
                c.file,
                d.span,
                p,
                format!("expected one of {}", DryMode::NAMES.join(", ")),
            );
            if let Some(s) = d.as_str().and_then(|s| nearest(s, DryMode::NAMES)) {
                diag = diag.with_suggestion(s);
            }
            c.push(diag);
            None
        }
    }
}

fn pauses(c: &mut Checker, n: &Node, path: &str) -> (Option<Seconds>, Option<Seconds>) {
    let Some(p) = n.get("pauses").filter(|p| !p.is_null()) else {
        return (None, None);
    };
    let path = join(path, "pauses");
    let Some(p) = c.mapping(p, &path) else {
        return (None, None);
    };
    c.unknown_keys(p, &path, "pauses", &["before", "after"]);
    let before = p
        .get("before")
        .filter(|b| !b.is_null())
        .and_then(|b| seconds(c, b, &join(&path, "before")));
    let after = p
        .get("after")
        .filter(|a| !a.is_null())
        .and_then(|a| seconds(c, a, &join(&path, "after")));
    (before, after)
}

/// A number of seconds or exactly `${var}`.
pub(super) fn seconds(c: &mut Checker, n: &Node, path: &str) -> Option<Seconds> {
    if is_placeholder(n) {
        c.check_placeholders(n, path);
        let name = n
            .as_str()
            .and_then(crate::experiment::substitute::exact_placeholder)?;
        return Some(Seconds::Var(name.to_string()));
    }
    match number(n) {
        Some(f) if f >= 0.0 && f.is_finite() => Some(Seconds::Literal(f)),
        _ => {
            c.error(
                n,
                path,
                format!(
                    "expected a non-negative number of seconds or \"${{var}}\", got {}",
                    n.type_name()
                ),
            );
            None
        }
    }
}
