//! Which controls apply where, and the hook names: a port of chaostoolkit-lib's
//! `chaoslib/control/__init__.py` (`get_context_controls`, `apply_controls`) and
//! `control/python.py` (`_level_mapping`), without global (settings) controls.

use crate::experiment::model::{Control, ControlScope};

/// The level a control hook wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Experiment,
    Hypothesis,
    Method,
    Rollback,
    Activity,
}

/// The Python function called for `level` and `scope`.
pub fn hook(level: Level, scope: ControlScope) -> &'static str {
    match (level, scope) {
        (Level::Experiment, ControlScope::Before) => "before_experiment_control",
        (Level::Experiment, ControlScope::After) => "after_experiment_control",
        (Level::Hypothesis, ControlScope::Before) => "before_hypothesis_control",
        (Level::Hypothesis, ControlScope::After) => "after_hypothesis_control",
        (Level::Method, ControlScope::Before) => "before_method_control",
        (Level::Method, ControlScope::After) => "after_method_control",
        (Level::Rollback, ControlScope::Before) => "before_rollback_control",
        (Level::Rollback, ControlScope::After) => "after_rollback_control",
        (Level::Activity, ControlScope::Before) => "before_activity_control",
        (Level::Activity, ControlScope::After) => "after_activity_control",
    }
}

/// The controls that apply at `level`: the context's own merged with the top-level ones exactly
/// as chaostoolkit-lib merges them (including its duplicates when a context has several).
pub fn applicable(level: Level, top: &[Control], context: &[Control]) -> Vec<Control> {
    let automatic = || top.iter().filter(|c| c.automatic).cloned().collect();
    let mut controls: Vec<Control> = context.to_vec();
    if top.is_empty() {
        return controls;
    }
    if controls.is_empty() || matches!(level, Level::Method | Level::Rollback) {
        return automatic();
    }
    for c in controls.clone() {
        if c.is_ref {
            if let Some(t) = top.iter().find(|t| t.name == c.name) {
                controls.push(t.clone());
            }
        } else {
            for tc in top.iter().rev() {
                if c.name == tc.name {
                    continue;
                }
                if level != Level::Experiment && tc.automatic {
                    controls.insert(0, tc.clone());
                }
            }
        }
    }
    controls
}

/// The controls whose `scope` lets them run in `scope`, with a Python module.
pub fn in_scope(controls: &[Control], scope: ControlScope) -> impl Iterator<Item = &Control> {
    controls
        .iter()
        .filter(move |c| c.scope.is_none_or(|s| s == scope) && !c.is_ref && c.module.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn control(name: &str, automatic: bool) -> Control {
        Control {
            name: name.into(),
            is_ref: false,
            module: Some("m".into()),
            arguments: json!({}),
            scope: None,
            automatic,
        }
    }

    fn names(cs: &[Control]) -> Vec<&str> {
        cs.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn merging_follows_chaostoolkit_lib() {
        let top = [control("t1", true), control("t2", false)];
        assert_eq!(
            names(&applicable(Level::Experiment, &top, &top)),
            ["t1", "t2"]
        );
        assert_eq!(names(&applicable(Level::Method, &top, &top)), ["t1"]);
        assert_eq!(names(&applicable(Level::Activity, &top, &[])), ["t1"]);
        let own = [control("a", true)];
        assert_eq!(names(&applicable(Level::Activity, &top, &own)), ["t1", "a"]);
        assert_eq!(names(&applicable(Level::Activity, &[], &own)), ["a"]);
        let mut r = control("t2", true);
        r.is_ref = true;
        r.module = None;
        let merged = applicable(Level::Activity, &top, &[r]);
        assert_eq!(names(&merged), ["t2", "t2"]);
        assert_eq!(in_scope(&merged, ControlScope::Before).count(), 1);
        let mut after = control("x", true);
        after.scope = Some(ControlScope::After);
        assert_eq!(in_scope(&[after.clone()], ControlScope::Before).count(), 0);
        assert_eq!(in_scope(&[after], ControlScope::After).count(), 1);
    }
}
