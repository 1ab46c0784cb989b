//! monkeywrench extensions (spec §11): safeguards, blast-radius and max-surge-rate.

use super::activity::{Definitions, Item, activity, resolve_refs};
use super::checker::{Checker, join, number};
use crate::experiment::diagnostic::{Diagnostic, nearest};
use crate::experiment::model::{ActivityKind, Safeguard};
use crate::experiment::source::{Node, NodeValue};
use crate::target::BlastRadius;
use crate::target::selector::Pick;

const MODES: [&str; 5] = ["one", "all", "fixed", "fixed-percent", "random-max-percent"];

/// `safeguards`: probes with tolerances, `frequency` (s, default 1) and `failures` (default 1).
pub(super) fn safeguards(c: &mut Checker, n: &Node, defs: &Definitions) -> Vec<Safeguard> {
    let Some(items) = n.as_seq() else {
        c.error(
            n,
            "safeguards",
            format!("expected a list of probes, got {}", n.type_name()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("safeguards[{i}]");
        let Some(m) = c.mapping(item, &path) else {
            continue;
        };
        // frequency/failures are ours; strip them before the activity checks.
        let frequency = match m.get("frequency").filter(|f| !f.is_null()) {
            None => 1.0,
            Some(f) => match number(f) {
                Some(x) if x > 0.0 && x.is_finite() => x,
                _ => {
                    c.error(
                        f,
                        &join(&path, "frequency"),
                        "expected a positive number of seconds",
                    );
                    1.0
                }
            },
        };
        let failures = match m.get("failures").filter(|f| !f.is_null()) {
            None => 1,
            Some(f) => match f.value {
                NodeValue::Int(x) if x >= 1 => x as u32,
                _ => {
                    c.error(f, &join(&path, "failures"), "expected an integer ≥ 1");
                    1
                }
            },
        };
        let stripped = without_keys(m, &["frequency", "failures"]);
        let parsed = activity(c, &stripped, &path, false);
        let probe = match parsed {
            Some(item @ Item::Ref { .. }) => resolve_refs(c, vec![item], defs, "safeguards").pop(),
            Some(Item::Activity(a)) => Some(*a),
            None => None,
        };
        let Some(probe) = probe else {
            continue;
        };
        if probe.kind != ActivityKind::Probe {
            c.error(item, &path, "a safeguard must be a probe");
            continue;
        }
        if probe.tolerance.is_none() {
            c.error(item, &path, "a safeguard needs a tolerance");
            continue;
        }
        out.push(Safeguard {
            probe,
            frequency,
            failures,
        });
    }
    out
}

fn without_keys(n: &Node, keys: &[&str]) -> Node {
    match &n.value {
        NodeValue::Map(entries) => Node::new(
            NodeValue::Map(
                entries
                    .iter()
                    .filter(|(k, _)| !keys.contains(&k.name.as_str()))
                    .cloned()
                    .collect(),
            ),
            n.span,
        ),
        _ => n.clone(),
    }
}

/// `max-surge-rate: 2000`: req/s, above 0.
pub(super) fn max_surge_rate(c: &mut Checker, n: &Node) -> Option<f64> {
    match number(n) {
        Some(x) if x > 0.0 && x.is_finite() => Some(x),
        other => {
            let got = other.map_or_else(|| n.type_name().to_string(), |x| x.to_string());
            c.error(
                n,
                "max-surge-rate",
                format!(
                    "expected the most requests per second all traffic surges of the run may send together (a number above 0), got {got}"
                ),
            );
            None
        }
    }
}

/// `blast-radius: {mode, value?, seed?}`.
pub(super) fn blast_radius(c: &mut Checker, n: &Node, path: &str) -> Option<BlastRadius> {
    let n = c.mapping(n, path)?;
    c.unknown_keys(n, path, "blast-radius", &["mode", "value", "seed"]);
    let mode_name = c
        .optional_str(n, "mode", path)
        .unwrap_or_else(|| "one".into());
    let value = n.get("value").filter(|v| !v.is_null());
    let num = value.and_then(number);
    let need = |c: &mut Checker, what: &str, max: Option<f64>| -> Option<f64> {
        match num {
            Some(x) if x >= 0.0 && max.is_none_or(|m| x <= m) => Some(x),
            _ => {
                let at = value.unwrap_or(n).clone();
                c.error(
                    &at,
                    &join(path, "value"),
                    format!("mode {mode_name} needs a value {what}"),
                );
                None
            }
        }
    };
    let mode = match mode_name.as_str() {
        "one" => Pick::One,
        "all" => Pick::All,
        "fixed" => Pick::Fixed(need(c, "≥ 0 (a count)", None)? as u64),
        "fixed-percent" => Pick::FixedPercent(need(c, "between 0 and 100", Some(100.0))?),
        "random-max-percent" => Pick::RandomMaxPercent(need(c, "between 0 and 100", Some(100.0))?),
        other => {
            let at = n.get("mode").unwrap_or(n).clone();
            let mut d = Diagnostic::error(
                c.file,
                at.span,
                join(path, "mode"),
                format!(
                    "unknown mode {other:?}; expected one of {}",
                    MODES.join(", ")
                ),
            );
            if let Some(s) = nearest(other, MODES) {
                d = d.with_suggestion(s);
            }
            c.push(d);
            return None;
        }
    };
    let seed = match n.get("seed").filter(|s| !s.is_null()) {
        None => None,
        Some(s) => match s.value {
            NodeValue::Int(x) if x >= 0 => Some(x as u64),
            _ => {
                c.error(s, &join(path, "seed"), "expected a non-negative integer");
                None
            }
        },
    };
    Some(BlastRadius { pick: mode, seed })
}
