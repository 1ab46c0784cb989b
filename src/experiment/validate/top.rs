//! Top level: required keys, tags, extensions, contributions, runtime, controls, and the order in
//! which the rest is checked (configuration first, so `${name}` warnings know what is declared).

use super::activity::{Definitions, Item, activity_list, resolve_refs};
use super::checker::{Checker, join};
use super::{config, controls, extension};
use crate::experiment::diagnostic::nearest;
use crate::experiment::model::{
    ActivityKind, Experiment, Hypothesis, HypothesisStrategy, Provider, RollbackStrategy, Runtime,
};
use crate::experiment::source::Node;

/// Every top-level key the format knows.
pub(super) const TOP_KEYS: &[&str] = &[
    "title",
    "description",
    "method",
    "steady-state-hypothesis",
    "rollbacks",
    "tags",
    "configuration",
    "secrets",
    "extensions",
    "contributions",
    "runtime",
    "version",
    "dry",
    "controls",
    "safeguards",
    "blast-radius",
    "max-surge-rate",
];

/// Builds the experiment, or `None` when something essential is unusable.
pub(super) fn experiment(c: &mut Checker, root: &Node) -> Option<Experiment> {
    let root = c.mapping(root, "")?;
    c.unknown_keys(root, "", "top-level", TOP_KEYS);
    let title = c.required_str(root, "title", "");
    let description = c.required_str(root, "description", "");
    let tags = tags(c, root);
    check_extensions(c, root);
    check_contributions(c, root);
    let controls = controls::controls(c, root, "");

    let (configuration, secrets) = config::configuration_and_secrets(c, root);
    if let Some(t) = root.get("title") {
        c.check_placeholders(t, "title");
    }
    let runtime = runtime(c, root);

    let mut defs = Definitions::default();
    let hypothesis = root
        .get("steady-state-hypothesis")
        .filter(|n| !n.is_null())
        .and_then(|n| hypothesis(c, n, &mut defs));
    let method = match root.get("method") {
        None => {
            c.error(root, "", "missing required key \"method\"");
            Vec::new()
        }
        Some(n) => activity_list(c, n, "method", false, &mut defs),
    };
    let rollbacks = root
        .get("rollbacks")
        .filter(|n| !n.is_null())
        .map(|n| activity_list(c, n, "rollbacks", false, &mut Definitions::default()))
        .unwrap_or_default();
    // Hypothesis refs resolve like method ones: against every hypothesis probe and method activity.
    let hypothesis = hypothesis.map(|(h, items)| Hypothesis {
        probes: resolve_refs(c, items, &defs, "steady-state-hypothesis.probes"),
        ..h
    });
    let method = resolve_refs(c, method, &defs, "method");
    let rollbacks = resolve_refs(c, rollbacks, &defs, "rollbacks");
    if rollbacks.is_empty() {
        warn_unrevertable(c, root, &method);
    }
    let safeguards = root
        .get("safeguards")
        .filter(|n| !n.is_null())
        .map(|n| extension::safeguards(c, n, &defs))
        .unwrap_or_default();
    let blast_radius = root
        .get("blast-radius")
        .filter(|n| !n.is_null())
        .and_then(|n| extension::blast_radius(c, n, "blast-radius"));
    let max_surge_rate = root
        .get("max-surge-rate")
        .filter(|n| !n.is_null())
        .and_then(|n| extension::max_surge_rate(c, n));

    Some(Experiment {
        title: title?,
        description: description?,
        tags,
        hypothesis,
        method,
        rollbacks,
        configuration,
        secrets,
        runtime,
        safeguards,
        blast_radius,
        max_surge_rate,
        controls,
        document: root.to_json(),
    })
}

/// Python actions are outside the ledger: nothing reverts them if the run fails or is killed.
fn warn_unrevertable(c: &mut Checker, root: &Node, method: &[crate::experiment::model::Activity]) {
    let items = root
        .get("method")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    for a in method {
        let Provider::Python(p) = &a.provider else {
            continue;
        };
        if a.kind != ActivityKind::Action {
            continue;
        }
        let index = a
            .location
            .strip_prefix("method[")
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|s| s.parse::<usize>().ok());
        let Some(node) = index.and_then(|i| items.get(i)) else {
            continue;
        };
        c.warn(
            node,
            &a.location,
            format!(
                "python action {}.{} is not in monkeywrench's ledger (its undo is unknown) and the experiment has no rollbacks: if the run fails or is killed, its effect stays",
                p.module, p.func
            ),
        );
    }
}

fn tags(c: &mut Checker, root: &Node) -> Vec<String> {
    let Some(n) = root.get("tags").filter(|n| !n.is_null()) else {
        return Vec::new();
    };
    let Some(items) = n.as_seq() else {
        c.error(
            n,
            "tags",
            format!("expected a list of strings, got {}", n.type_name()),
        );
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, t)| c.non_empty_str(t, &format!("tags[{i}]")))
        .collect()
}

fn check_extensions(c: &mut Checker, root: &Node) {
    let Some(n) = root.get("extensions").filter(|n| !n.is_null()) else {
        return;
    };
    let Some(items) = n.as_seq() else {
        c.error(
            n,
            "extensions",
            format!("expected a list, got {}", n.type_name()),
        );
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let path = format!("extensions[{i}]");
        if c.mapping(item, &path).is_some() {
            c.required_str(item, "name", &path);
        }
    }
}

fn check_contributions(c: &mut Checker, root: &Node) {
    let Some(n) = root.get("contributions").filter(|n| !n.is_null()) else {
        return;
    };
    let Some(entries) = n.entries() else {
        c.error(
            n,
            "contributions",
            format!("expected a mapping, got {}", n.type_name()),
        );
        return;
    };
    const LEVELS: [&str; 4] = ["high", "medium", "low", "none"];
    for (k, v) in entries {
        let ok = v.as_str().is_some_and(|s| LEVELS.contains(&s));
        if !ok {
            c.warn(
                v,
                &join("contributions", &k.name),
                "expected one of high, medium, low, none (Chaos Toolkit does not check this)",
            );
        }
    }
}

fn runtime(c: &mut Checker, root: &Node) -> Runtime {
    let mut rt = Runtime::default();
    let Some(n) = root.get("runtime").filter(|n| !n.is_null()) else {
        return rt;
    };
    let Some(n) = c.mapping(n, "runtime") else {
        return rt;
    };
    c.unknown_keys(
        n,
        "runtime",
        "runtime",
        &["hypothesis", "rollbacks", "python"],
    );
    if let Some(py) = n.get("python") {
        c.warn(
            py,
            "runtime.python",
            "ignored: python providers run in the interpreter chosen by --python, MONKEYWRENCH_PYTHON or PATH",
        );
    }
    if let Some(h) = n
        .get("hypothesis")
        .and_then(|h| c.mapping(h, "runtime.hypothesis"))
    {
        c.unknown_keys(
            h,
            "runtime.hypothesis",
            "runtime",
            &["strategy", "frequency", "fail_fast"],
        );
        if let Some(s) = h.get("strategy") {
            rt.hypothesis = strategy(
                c,
                s,
                "runtime.hypothesis.strategy",
                &HypothesisStrategy::NAMES,
                |name| {
                    if name == "continously" {
                        Some(HypothesisStrategy::Continuously)
                    } else {
                        HypothesisStrategy::parse(name)
                    }
                },
            );
            if s.as_str() == Some("continously") {
                c.warn(s, "runtime.hypothesis.strategy", "\"continously\" is accepted for Chaos Toolkit compatibility; the spelling is \"continuously\"");
            }
        }
        rt.hypothesis_frequency = c.optional_seconds(h, "frequency", "runtime.hypothesis");
        if let Some(n) = h.get("frequency")
            && rt.hypothesis_frequency == Some(0.0)
        {
            c.error(n, "runtime.hypothesis.frequency", "expected seconds > 0");
            rt.hypothesis_frequency = None;
        }
        rt.fail_fast = c
            .optional_bool(h, "fail_fast", "runtime.hypothesis")
            .unwrap_or(false);
    }
    if let Some(r) = n
        .get("rollbacks")
        .and_then(|r| c.mapping(r, "runtime.rollbacks"))
    {
        c.unknown_keys(r, "runtime.rollbacks", "runtime", &["strategy"]);
        if let Some(s) = r.get("strategy") {
            rt.rollbacks = strategy(
                c,
                s,
                "runtime.rollbacks.strategy",
                &RollbackStrategy::NAMES,
                RollbackStrategy::parse,
            );
        }
    }
    rt
}

fn strategy<T>(
    c: &mut Checker,
    n: &Node,
    path: &str,
    names: &[&str],
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    let Some(s) = n.as_str() else {
        c.error(
            n,
            path,
            format!("expected a strategy name, got {}", n.type_name()),
        );
        return None;
    };
    let parsed = parse(s);
    if parsed.is_none() {
        let mut d = crate::experiment::diagnostic::Diagnostic::error(
            c.file,
            n.span,
            path,
            format!(
                "unknown strategy {s:?}; expected one of {}",
                names.join(", ")
            ),
        );
        if let Some(near) = nearest(s, names.iter().copied()) {
            d = d.with_suggestion(near);
        }
        c.push(d);
    }
    parsed
}

fn hypothesis(
    c: &mut Checker,
    n: &Node,
    defs: &mut Definitions,
) -> Option<(Hypothesis, Vec<Item>)> {
    let path = "steady-state-hypothesis";
    let n = c.mapping(n, path)?;
    c.unknown_keys(n, path, "hypothesis", &["title", "probes", "controls"]);
    let controls = controls::controls(c, n, path);
    let title = c.required_str(n, "title", path);
    let items = match n.get("probes").filter(|p| !p.is_null()) {
        None => Vec::new(),
        Some(p) => activity_list(c, p, &join(path, "probes"), true, defs),
    };
    Some((
        Hypothesis {
            title: title?,
            probes: Vec::new(),
            controls,
            document: n.to_json(),
        },
        items,
    ))
}
