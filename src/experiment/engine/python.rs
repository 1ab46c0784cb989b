//! Python in a run: calling `python` providers through the worker pool (Chaos Toolkit's calling
//! convention) and running control hooks at each level, in chaostoolkit-lib's order.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::context::RunContext;
use crate::experiment::event::{Interruption, InterruptionKind};
use crate::experiment::model::{Control, ControlScope, PythonProvider};
use crate::experiment::python::Pool;
use crate::experiment::python::controls::{Level, applicable, hook, in_scope};

/// The run's Python side: the worker pool, and what hooks and functions receive.
#[derive(Debug)]
pub(super) struct PythonScope {
    pub pool: Arc<Pool>,
    /// Controls keep module state from `configure_control` to `cleanup_control`, as in chaos's
    /// one process: they get a worker of their own, one hook at a time, which no provider's
    /// timeout kills and no background activity shares.
    controls: Pool,
    control_turn: tokio::sync::Mutex<()>,
    /// Resolved configuration (the `configuration` argument).
    pub configuration: Value,
    /// Resolved secret groups (group → name → value).
    pub secrets: Map<String, Value>,
    /// Method and rollback entries so far: the `state` of after-method/rollback/experiment hooks.
    pub entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
pub(super) struct Entries {
    pub run: Vec<Value>,
    pub rollbacks: Vec<Value>,
}

impl PythonScope {
    pub(super) fn new(
        pool: Arc<Pool>,
        configuration: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Self {
        PythonScope {
            controls: pool.sibling(),
            control_turn: tokio::sync::Mutex::new(()),
            pool,
            configuration: Value::Object(configuration.clone()),
            secrets: secrets.clone(),
            entries: Mutex::new(Entries::default()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn record(&self, rollback: bool, entry: Value) {
        let mut e = self.entries();
        if rollback {
            e.rollbacks.push(entry)
        } else {
            e.run.push(entry)
        }
    }

    pub(super) fn run_entries(&self) -> Value {
        Value::Array(self.entries().run.clone())
    }

    pub(super) fn rollback_entries(&self) -> Value {
        Value::Array(self.entries().rollbacks.clone())
    }
}

/// A failed call: CTK's message (the exception's type and message, `ValueError: boom`) and the
/// Python traceback lines.
#[derive(Debug)]
pub(super) struct Failure {
    pub message: String,
    pub traceback: Vec<String>,
}

/// Calls a python provider; `value` is set for a `type: probe` tolerance.
pub(super) async fn call(
    ctx: &RunContext,
    p: &PythonProvider,
    value: Option<&Value>,
) -> Result<Value, Failure> {
    let mut arguments = if ctx.experiment.has_configuration_or_secrets() {
        ctx.substitutions.value(&p.arguments)
    } else {
        p.arguments.clone()
    };
    if let (Some(v), Value::Object(map)) = (value, &mut arguments) {
        map.insert("value".into(), v.clone());
    }
    let secrets = p.secrets.as_ref().map(|groups| {
        let mut merged = Map::new();
        for g in groups {
            if let Some(Value::Object(entries)) = ctx.python.secrets.get(g) {
                merged.extend(entries.clone());
            }
        }
        Value::Object(merged)
    });
    let request = json!({
        "op": "call",
        "module": p.module,
        "func": p.func,
        "arguments": arguments,
        "configuration": ctx.python.configuration,
        "secrets": secrets,
    });
    let answer = ctx
        .python
        .pool
        .request(&request)
        .await
        .map_err(|message| Failure {
            message,
            traceback: Vec::new(),
        })?;
    if answer.get("ok") == Some(&Value::Bool(true)) {
        return Ok(answer.get("value").cloned().unwrap_or(Value::Null));
    }
    Err(Failure {
        message: answer
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("the Python function failed")
            .to_string(),
        traceback: answer
            .get("traceback")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Whether the experiment declares any control (no worker is involved otherwise).
pub(super) fn has_controls(ctx: &RunContext) -> bool {
    let e = &ctx.experiment;
    !e.controls.is_empty()
        || e.hypothesis.as_ref().is_some_and(|h| {
            !h.controls.is_empty() || h.probes.iter().any(|p| !p.controls.is_empty())
        })
        || e.method
            .iter()
            .chain(&e.rollbacks)
            .any(|a| !a.controls.is_empty())
}

/// Every distinct control (by name) of the experiment, in chaostoolkit-lib's `get_controls` order.
fn every_control(ctx: &RunContext) -> Vec<Control> {
    let e = &ctx.experiment;
    let mut all: Vec<&Control> = e.controls.iter().collect();
    if let Some(h) = &e.hypothesis {
        all.extend(&h.controls);
        all.extend(h.probes.iter().flat_map(|p| &p.controls));
    }
    all.extend(
        e.method
            .iter()
            .chain(&e.rollbacks)
            .flat_map(|a| &a.controls),
    );
    let mut seen = std::collections::HashSet::new();
    all.into_iter()
        .filter(|c| !c.is_ref && c.module.is_some() && seen.insert(c.name.clone()))
        .cloned()
        .collect()
}

async fn send(
    ctx: &RunContext,
    control: &Control,
    hook_name: &str,
    mut request: Map<String, Value>,
) {
    let Some(module) = &control.module else {
        return;
    };
    request.insert("op".into(), "control".into());
    request.insert("module".into(), module.clone().into());
    request.insert("hook".into(), hook_name.into());
    let answer = {
        let _turn = ctx.python.control_turn.lock().await;
        ctx.python.controls.request(&Value::Object(request)).await
    };
    let failure = match answer {
        Ok(a) if a.get("ok") == Some(&Value::Bool(true)) => return,
        Ok(a) => {
            let error = a.get("error").and_then(Value::as_str).unwrap_or("failed");
            if a.get("interrupt") == Some(&Value::Bool(true)) {
                // chaoslib.exceptions.InterruptExecution: CTK stops the run as interrupted.
                ctx.interrupt(Interruption {
                    kind: InterruptionKind::Control,
                    name: control.name.clone(),
                    reason: ctx.redactor.redact_str(&format!(
                        "control \"{}\" interrupted the run in {hook_name}: {error}",
                        control.name
                    )),
                });
                return;
            }
            error.to_string()
        }
        Err(e) => e,
    };
    // CTK logs a failing control and carries on; so do we, loudly.
    ctx.events.warn(ctx.redactor.redact_str(&format!(
        "control \"{}\": {hook_name} failed: {failure}",
        control.name
    )));
}

/// `configure_control` of every control, once per name, before anything else runs.
pub(super) async fn configure(ctx: &RunContext) {
    if !has_controls(ctx) {
        return;
    }
    for control in every_control(ctx) {
        let mut r = Map::new();
        r.insert("arguments".into(), control.arguments.clone());
        r.insert("experiment".into(), ctx.experiment.document.clone());
        r.insert("configuration".into(), ctx.python.configuration.clone());
        r.insert("secrets".into(), Value::Object(ctx.python.secrets.clone()));
        r.insert("settings".into(), Value::Null);
        send(ctx, &control, "configure_control", r).await;
    }
}

/// `cleanup_control` of every control, once per name, at the very end.
pub(super) async fn cleanup(ctx: &RunContext) {
    if !has_controls(ctx) {
        return;
    }
    for control in every_control(ctx) {
        send(ctx, &control, "cleanup_control", Map::new()).await;
    }
    ctx.python.controls.shutdown().await;
}

/// Runs the `scope` hooks of `level` for a context with its own `controls`; `state` is the
/// after-hooks' state (the entry, the steady state, the runs, the journal).
pub(super) async fn hooks(
    ctx: &RunContext,
    level: Level,
    scope: ControlScope,
    own: &[Control],
    context: &Value,
    state: impl FnOnce() -> Value,
) {
    if !has_controls(ctx) {
        return;
    }
    let controls = applicable(level, &ctx.experiment.controls, own);
    let selected: Vec<&Control> = in_scope(&controls, scope).collect();
    if selected.is_empty() {
        return;
    }
    let state = match scope {
        ControlScope::Before => Value::Null,
        ControlScope::After => state(),
    };
    let configuration = ctx.python.configuration.clone();
    let secrets = Value::Object(ctx.python.secrets.clone());
    let extensions = ctx
        .experiment
        .document
        .get("extensions")
        .cloned()
        .unwrap_or(Value::Null);
    for control in selected {
        let arguments = if ctx.experiment.has_configuration_or_secrets() {
            ctx.substitutions.value(&control.arguments)
        } else {
            control.arguments.clone()
        };
        let mut r = Map::new();
        r.insert("arguments".into(), arguments);
        r.insert("context".into(), context.clone());
        r.insert("state".into(), state.clone());
        r.insert("experiment".into(), ctx.experiment.document.clone());
        r.insert("configuration".into(), configuration.clone());
        r.insert("secrets".into(), secrets.clone());
        r.insert("extensions".into(), extensions.clone());
        r.insert("settings".into(), Value::Null);
        send(ctx, control, hook(level, scope), r).await;
    }
}
