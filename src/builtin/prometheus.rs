//! `prometheus.query` and `prometheus.range`: PromQL probes whose output a tolerance can judge.

use std::time::Duration;

use serde_json::Value;

use super::BuiltinError;
use crate::probe::prometheus::{InstantOutput, PrometheusError, RangeOutput, Server, parse_when};
use crate::schema::{ArgSpec, ArgType, Reader};

/// chaostoolkit-prometheus's default server, kept so files written for it need no change.
const DEFAULT_BASE_URL: &str = "http://localhost:9090";

const QUERY_ARG: ArgSpec = ArgSpec::required("query", ArgType::Str, "a PromQL expression");
const BASE_URL_ARG: ArgSpec = ArgSpec::optional(
    "base_url",
    ArgType::Str,
    Some(DEFAULT_BASE_URL),
    "the Prometheus server (or anything serving its HTTP API: Thanos, Mimir, VictoriaMetrics)",
);
const TIMEOUT_ARG: ArgSpec = ArgSpec::optional(
    "timeout_s",
    ArgType::Number { min: 0.0 },
    Some("10"),
    "seconds for the whole request; Prometheus is asked to stop evaluating then too",
);
const VERIFY_TLS_ARG: ArgSpec = ArgSpec::optional(
    "verify_tls",
    ArgType::Bool,
    Some("true"),
    "check the server's certificate on https",
);

pub(super) const QUERY_ARGS: &[ArgSpec] = &[
    QUERY_ARG,
    BASE_URL_ARG,
    ArgSpec::optional(
        "time",
        ArgType::Str,
        Some("now"),
        "evaluation time: RFC 3339, Unix seconds, now, or \"5 minutes ago\"",
    ),
    ArgSpec::optional(
        "output",
        ArgType::Str,
        Some("value"),
        "value (one number, for tolerances), series ([{metric, value}]) or response (the API's JSON)",
    ),
    TIMEOUT_ARG,
    VERIFY_TLS_ARG,
];

pub(super) const RANGE_ARGS: &[ArgSpec] = &[
    QUERY_ARG,
    BASE_URL_ARG,
    ArgSpec::required(
        "start",
        ArgType::Str,
        "RFC 3339, Unix seconds, now, or \"5 minutes ago\"",
    ),
    ArgSpec::optional("end", ArgType::Str, Some("now"), "same forms as start"),
    ArgSpec::optional(
        "step_s",
        ArgType::Number { min: 0.0 },
        Some("1"),
        "seconds between points",
    ),
    ArgSpec::optional(
        "output",
        ArgType::Str,
        Some("series"),
        "series ([{metric, values}]), response (the API's JSON), or one number over the only series: min, max, mean, last",
    ),
    TIMEOUT_ARG,
    VERIFY_TLS_ARG,
];

fn server(r: &Reader) -> Server {
    Server {
        base_url: r.text("base_url").unwrap_or_default(),
        timeout: Duration::from_secs_f64(r.number("timeout_s").unwrap_or(10.0)),
        verify_tls: r.flag("verify_tls").unwrap_or(true),
    }
}

/// The schema's problems and [`check`]'s, all at once.
fn read<'a>(
    specs: &'static [ArgSpec],
    range: bool,
    args: &'a Value,
) -> Result<Reader<'a>, BuiltinError> {
    let mut problems = crate::schema::check(specs, args, false);
    problems.extend(check(range, args));
    if problems.is_empty() {
        Ok(Reader::new(specs, args))
    } else {
        Err(BuiltinError::Arguments(crate::schema::describe_problems(
            &problems,
        )))
    }
}

/// An instant query, shaped by `output`.
pub(super) async fn query(args: &Value) -> Result<Value, BuiltinError> {
    let r = read(QUERY_ARGS, false, args)?;
    let output = InstantOutput::parse(&r.text("output").unwrap_or_default());
    let time = r.text("time").unwrap_or_default();
    server(&r)
        .instant(
            &r.text("query").unwrap_or_default(),
            Some(&time),
            output.unwrap_or(InstantOutput::Value),
        )
        .await
        .map_err(|e| BuiltinError::Failed(e.to_string()))
}

/// A range query, shaped or reduced by `output`.
pub(super) async fn range(args: &Value) -> Result<Value, BuiltinError> {
    let r = read(RANGE_ARGS, true, args)?;
    let output = RangeOutput::parse(&r.text("output").unwrap_or_default());
    server(&r)
        .range(
            &r.text("query").unwrap_or_default(),
            &r.text("start").unwrap_or_default(),
            &r.text("end").unwrap_or_default(),
            r.number("step_s").unwrap_or(1.0),
            output.unwrap_or(RangeOutput::Series),
        )
        .await
        .map_err(|e| BuiltinError::Failed(e.to_string()))
}

/// Literal problems a schema cannot see: an unknown `output`, a time that does not parse.
pub(super) fn check(range: bool, args: &Value) -> Vec<crate::schema::ArgumentProblem> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, message: String| {
        problems.push(crate::schema::ArgumentProblem {
            path: path.into(),
            message,
            suggestion: None,
        })
    };
    if let Some(name) = args.get("output").and_then(Value::as_str) {
        let (known, names): (bool, &[&str]) = if range {
            (RangeOutput::parse(name).is_some(), &RangeOutput::NAMES)
        } else {
            (InstantOutput::parse(name).is_some(), &InstantOutput::NAMES)
        };
        if !known {
            problem(
                "output",
                format!("output {name:?}: expected one of {}", names.join(", ")),
            );
        }
    }
    let times: &[&'static str] = if range { &["start", "end"] } else { &["time"] };
    for &field in times {
        if let Some(text) = args.get(field).and_then(Value::as_str)
            && let Err(PrometheusError::Time { message, .. }) =
                parse_when(field, text, jiff::Timestamp::now())
        {
            problem(field, message);
        }
    }
    problems
}
