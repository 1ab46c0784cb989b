//! Judging a probe output against its tolerance at run time: substitute the tolerance's
//! placeholders first (an exact `"${var}"` keeps the variable's type), then judge; `type: probe`
//! tolerances run their builtin with `arguments.value` set to the output.

use serde_json::Value;

use super::context::RunContext;
use super::provider::call_builtin;
use crate::experiment::model::{Provider, Tolerance};
use crate::probe::tolerance::judge as judge_value;

/// Whether `output` meets `tolerance`; `Err` is a tolerance error (recorded as a failed probe).
pub(super) async fn judge(
    ctx: &RunContext,
    tolerance: &Tolerance,
    output: &Value,
) -> Result<bool, String> {
    let subs = &ctx.substitutions;
    let substituted = match tolerance {
        Tolerance::Str(s) => match subs.text(s) {
            Value::String(text) => Tolerance::Str(text),
            Value::Bool(b) => Tolerance::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Tolerance::Int(i),
                // A float variable: CTK compares with ==.
                None => return Ok(output.as_f64() == n.as_f64()),
            },
            Value::Array(items) => Tolerance::List(items),
            other => return Ok(*output == other),
        },
        Tolerance::Regex { pattern, target } => Tolerance::Regex {
            pattern: as_text(&subs.text(pattern)),
            target: target.clone(),
        },
        Tolerance::JsonPath {
            path,
            expect,
            count,
            target,
        } => Tolerance::JsonPath {
            path: as_text(&subs.text(path)),
            expect: expect.as_ref().map(|e| subs.value(e)),
            count: *count,
            target: target.clone(),
        },
        Tolerance::Probe(activity) => {
            return match &activity.provider {
                Provider::Builtin(b) => {
                    let mut args = subs.value(&b.arguments);
                    if let Value::Object(map) = &mut args {
                        map.insert("value".into(), output.clone());
                    }
                    Ok(call_builtin(b.func, &args).await.is_ok_and(|v| truthy(&v)))
                }
                Provider::Python(p) => Ok(super::python::call(ctx, p, Some(output))
                    .await
                    .is_ok_and(|v| truthy(&v))),
                // CTK cannot run non-python tolerance probes; http ones are always met (validated with a warning).
                _ => Ok(true),
            };
        }
        other => other.clone(),
    };
    judge_value(&substituted, output).map_err(|e| e.to_string())
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Python truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}
