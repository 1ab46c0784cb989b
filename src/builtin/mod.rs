//! The `builtin` provider registry (spec §3.5, §11.1): a closed set of native probes and actions.
//!
//! Each member declares its kind and argument schema (checked at validation and again after
//! substitution) and runs cancel-safely: dropping the future stops the work.

mod args;
mod chaosk8s;
mod func;
mod k8s;
mod probes;
mod prometheus;
mod python;

pub use crate::schema::{ArgSpec, ArgType, ArgumentProblem};
pub use func::{Action, BuiltinError, Func, Probe};
pub use probes::proxy_api;
pub use python::{PythonAlias, python_alias, python_result};
