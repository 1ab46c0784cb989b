//! Calling an activity's provider: substitute its fields, build the call, run it.
//!
//! Every future returned here is cancel-safe by drop (process groups are killed, requests aborted),
//! which is how timeouts, fail-fast, safeguards and signals stop running work.

use std::time::Duration;

use serde_json::Value;

use super::context::RunContext;
use crate::builtin::{Func, python_result};
use crate::experiment::executable::resolve_executable;
use crate::experiment::model::{Activity, ProcessArguments, Provider};
use crate::probe::http::{self, HttpCall, HttpTimeout};
use crate::probe::process::{self, ProcessArgs, ProcessCall};

/// The provider-level timeout that combines with the activity's (the smaller wins).
pub(super) fn provider_timeout(activity: &Activity) -> Option<f64> {
    let provider = match &activity.provider {
        Provider::Process(p) => p.timeout,
        Provider::Builtin(b) => b.timeout,
        Provider::Http(_) | Provider::Python(_) => None,
    };
    match (activity.timeout, provider) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Why a provider call failed: the message (a lowercase fragment), and whether the platform it
/// needs (the Kubernetes API, the Docker engine) could not be used at all — the run then exits
/// 69, not 2.
#[derive(Debug)]
pub(super) struct CallError {
    pub message: String,
    pub unavailable: bool,
}

impl From<String> for CallError {
    fn from(message: String) -> Self {
        CallError {
            message,
            unavailable: false,
        }
    }
}

impl From<crate::builtin::BuiltinError> for CallError {
    fn from(e: crate::builtin::BuiltinError) -> Self {
        use crate::builtin::BuiltinError;
        let unavailable = match &e {
            BuiltinError::Unavailable(_) => true,
            BuiltinError::Arguments(_) | BuiltinError::Failed(_) => false,
        };
        CallError {
            message: e.to_string(),
            unavailable,
        }
    }
}

/// Runs the provider of `activity`.
pub(super) async fn call(ctx: &RunContext, activity: &Activity) -> Result<Value, CallError> {
    let subs = &ctx.substitutions;
    let substitute_arguments = ctx.experiment.has_configuration_or_secrets();
    match &activity.provider {
        Provider::Process(p) => {
            let program = resolve_executable(&p.path, &ctx.settings.cwd)?;
            let arguments = match &p.arguments {
                ProcessArguments::None => ProcessArgs::List(Vec::new()),
                ProcessArguments::List(items) => ProcessArgs::List(
                    items
                        .iter()
                        .map(|v| {
                            if substitute_arguments {
                                subs.value(v)
                            } else {
                                v.clone()
                            }
                        })
                        .filter_map(|v| process::python_str(&v))
                        .filter(|s| !s.is_empty())
                        .collect(),
                ),
                ProcessArguments::Shell(text) => ProcessArgs::Shell(if substitute_arguments {
                    text_of(&subs.text(text))
                } else {
                    text.clone()
                }),
            };
            let call = ProcessCall {
                program,
                arguments,
                // The engine enforces the combined timeout; the provider's own is a backstop.
                timeout: p.timeout.map(Duration::from_secs_f64),
                env: ctx.settings.env_overlay.clone(),
            };
            let output = process::run(&call).await.map_err(|e| e.to_string())?;
            for w in output.warnings {
                ctx.events
                    .warn(format!("activity \"{}\": {w}", activity.name));
            }
            Ok(output.value)
        }
        Provider::Http(h) => {
            let timeout = match &h.timeout {
                None => None,
                Some(v) => Some(HttpTimeout::from_value(&subs.value(v)).map_err(|e| {
                    format!("http timeout is not a number or [connect, read]: {e}")
                })?),
            };
            let headers = h
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), text_of(&subs.value(v))))
                .collect();
            let arguments = h.arguments.as_ref().map(|a| {
                if substitute_arguments {
                    subs.value(a)
                } else {
                    a.clone()
                }
            });
            let call = HttpCall {
                url: text_of(&subs.text(&h.url)),
                method: h.method.clone(),
                headers,
                arguments,
                timeout,
                verify_tls: h.verify_tls && ctx.settings.verify_tls,
                max_retries: h.max_retries,
            };
            Ok(http::run(&call).await.map_err(|e| e.to_string())?)
        }
        Provider::Builtin(b) => {
            let arguments = subs.value(&b.arguments);
            let output = if b.func.takes_targets() || b.func.is_fault() {
                // Boxed: the fault path's future is large, and every provider call would carry it.
                Box::pin(super::faults::run(ctx, activity, b.func, &arguments)).await
            } else {
                call_builtin(b.func, &arguments).await
            }?;
            Ok(match &b.python {
                Some(python) => python_result(python, output),
                None => output,
            })
        }
        Provider::Python(p) => super::python::call(ctx, p, None)
            .await
            .map_err(|f| CallError::from(f.message)),
    }
}

/// Runs a builtin with already-substituted arguments.
pub(super) async fn call_builtin(func: Func, arguments: &Value) -> Result<Value, CallError> {
    Ok(func.run(arguments).await?)
}

/// A value as text the way Chaos Toolkit would put it in a URL or header.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => process::python_str(other).unwrap_or_default(),
    }
}
