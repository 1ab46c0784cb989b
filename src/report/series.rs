//! The numbers in a probe's output: which figures a chart can plot, and the tolerance band each is
//! judged against. The tolerance says which number matters (`target` of a range, the JSONPath of a
//! jsonpath tolerance, `status` for an integer); the well-known fields of our measuring probes
//! (`error_rate`, `p95_ms`, `p99_ms`, `rps`) are plotted too. A `traffic.compare` output gives one
//! line per cohort.

use serde_json::Value;
use serde_json_path::JsonPath;

/// The fields of `http.measure`, `traffic.metrics` and `traffic.compare` outputs worth a chart,
/// in the order the report shows them.
const WELL_KNOWN: [&str; 4] = ["error_rate", "p95_ms", "p99_ms", "rps"];

/// One number read from an output: the figure it belongs to, the line within that figure (a
/// cohort, or `value`) and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub field: String,
    pub line: String,
    pub value: f64,
}

/// The line name of a figure with a single line.
pub const VALUE: &str = "value";

fn reading(field: &str, line: &str, value: f64) -> Reading {
    Reading {
        field: field.to_string(),
        line: line.to_string(),
        value,
    }
}

/// Whether `output` has the shape of a `traffic.compare` result (both cohorts' figures).
pub fn is_comparison(output: &Value) -> bool {
    output["control"].is_object()
        && output["experiment"].is_object()
        && output["verdict"].is_string()
}

/// The numbers of `output` as judged by `activity`'s tolerance (the activity as written).
pub fn readings(activity: &Value, output: &Value) -> Vec<Reading> {
    let tolerance = &activity["tolerance"];
    if let Some(n) = output.as_f64() {
        return vec![reading(VALUE, VALUE, n)];
    }
    let Some(map) = output.as_object() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut push = |r: Reading| {
        if !found
            .iter()
            .any(|f: &Reading| f.field == r.field && f.line == r.line)
        {
            found.push(r);
        }
    };
    if is_comparison(output) {
        for field in ["error_rate", "p99_ms"] {
            for cohort in ["control", "experiment"] {
                if let Some(v) = output[cohort][field].as_f64() {
                    push(reading(field, cohort, v));
                }
            }
        }
        return found;
    }
    match tolerance {
        Value::Object(t) if t.get("type").and_then(Value::as_str) == Some("range") => {
            if let Some(target) = t.get("target").and_then(Value::as_str)
                && let Some(v) = map.get(target).and_then(Value::as_f64)
            {
                push(reading(target, VALUE, v));
            }
        }
        Value::Object(t) if t.get("type").and_then(Value::as_str) == Some("jsonpath") => {
            if let Some(path) = t.get("path").and_then(Value::as_str)
                && let Some(v) = jsonpath_number(output, path, t.get("target"))
            {
                push(reading(path, VALUE, v));
            }
        }
        Value::Number(_) => {
            if let Some(v) = map.get("status").and_then(Value::as_f64) {
                push(reading("status", VALUE, v));
            }
        }
        _ => {}
    }
    for field in WELL_KNOWN {
        if let Some(v) = map.get(field).and_then(Value::as_f64) {
            push(reading(field, VALUE, v));
        }
    }
    found
}

/// The first number the JSONPath selects (in `output[target]` when a target is given; a string
/// there is decoded as JSON first, as the tolerance does).
fn jsonpath_number(output: &Value, path: &str, target: Option<&Value>) -> Option<f64> {
    let subject = match target.and_then(Value::as_str) {
        Some(t) => output.get(t)?,
        None => output,
    };
    let decoded;
    let doc = match subject {
        Value::String(s) => {
            decoded = serde_json::from_str::<Value>(s).ok()?;
            &decoded
        }
        other => other,
    };
    let path = JsonPath::parse(path).ok()?;
    path.query(doc).all().into_iter().find_map(Value::as_f64)
}

/// The band `field` must stay in under `activity`'s tolerance, if the tolerance states one:
/// a range (on its target, or on a plain number), a list of two numbers, a JSONPath `expect`
/// number, a `traffic.compare` threshold drawn over the experiment cohort's line is not a band
/// (it bounds a difference), so none.
pub fn band(activity: &Value, field: &str) -> Option<(f64, f64)> {
    let tolerance = &activity["tolerance"];
    match tolerance {
        Value::Array(items) if items.len() == 2 && field == VALUE => {
            Some(ordered(items[0].as_f64()?, items[1].as_f64()?))
        }
        Value::Number(n) if field == "status" => n.as_f64().map(|v| (v, v)),
        Value::Object(t) => match t.get("type").and_then(Value::as_str) {
            Some("range") => {
                let wanted = t.get("target").and_then(Value::as_str).unwrap_or(VALUE);
                let range = t.get("range")?.as_array()?;
                (wanted == field && range.len() == 2)
                    .then(|| Some(ordered(range[0].as_f64()?, range[1].as_f64()?)))
                    .flatten()
            }
            Some("jsonpath") => {
                let path = t.get("path").and_then(Value::as_str)?;
                let expect = t.get("expect")?.as_f64()?;
                (path == field).then_some((expect, expect))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The figure `activity`'s tolerance judges: a range's target, a JSONPath, the status an integer
/// compares, or the bare number (`value`).
pub fn judged_field(activity: &Value) -> Option<&str> {
    match &activity["tolerance"] {
        Value::Object(t) => match t.get("type").and_then(Value::as_str) {
            Some("range") => Some(t.get("target").and_then(Value::as_str).unwrap_or(VALUE)),
            Some("jsonpath") => t.get("path").and_then(Value::as_str),
            _ => None,
        },
        Value::Number(_) => Some("status"),
        Value::Array(_) => Some(VALUE),
        _ => None,
    }
}

fn ordered(a: f64, b: f64) -> (f64, f64) {
    if a <= b { (a, b) } else { (b, a) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_range_target_comes_first_with_its_band_then_the_well_known_fields() {
        let activity = json!({"name": "p", "tolerance": {"type": "range", "range": [0, 250], "target": "p95_ms"}});
        let output = json!({"requests": 50, "error_rate": 0.02, "p95_ms": 12.5, "p99_ms": 20.0, "rps": 900.0});
        let r = readings(&activity, &output);
        let fields: Vec<&str> = r.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(fields, ["p95_ms", "error_rate", "p99_ms", "rps"]);
        assert_eq!(r[0].value, 12.5);
        assert_eq!(band(&activity, "p95_ms"), Some((0.0, 250.0)));
        assert_eq!(band(&activity, "error_rate"), None);
    }

    #[test]
    fn plain_numbers_lists_statuses_and_jsonpaths_are_read() {
        let list = json!({"tolerance": [10, 2]});
        assert_eq!(
            readings(&list, &json!(4.5)),
            vec![reading(VALUE, VALUE, 4.5)]
        );
        assert_eq!(band(&list, VALUE), Some((2.0, 10.0)));
        let status = json!({"tolerance": 200});
        let r = readings(&status, &json!({"status": 503, "headers": {}, "body": ""}));
        assert_eq!(r, vec![reading("status", VALUE, 503.0)]);
        assert_eq!(band(&status, "status"), Some((200.0, 200.0)));
        let path = json!({"tolerance": {"type": "jsonpath", "path": "$.queue.depth", "expect": 0, "target": "body"}});
        let r = readings(
            &path,
            &json!({"status": 200, "body": "{\"queue\": {\"depth\": 7}}"}),
        );
        assert_eq!(r, vec![reading("$.queue.depth", VALUE, 7.0)]);
        assert_eq!(band(&path, "$.queue.depth"), Some((0.0, 0.0)));
        assert!(readings(&json!({"tolerance": true}), &json!(true)).is_empty());
    }

    #[test]
    fn a_comparison_gives_one_line_per_cohort() {
        let output = json!({
            "verdict": "worse", "worse": true,
            "control": {"requests": 400, "errors": 1, "error_rate": 0.0025, "p99_ms": 3.0},
            "experiment": {"requests": 390, "errors": 390, "error_rate": 1.0, "p99_ms": 2.0},
        });
        assert!(is_comparison(&output));
        let r = readings(
            &json!({"tolerance": {"type": "jsonpath", "path": "$.worse", "expect": false}}),
            &output,
        );
        assert_eq!(
            r,
            vec![
                reading("error_rate", "control", 0.0025),
                reading("error_rate", "experiment", 1.0),
                reading("p99_ms", "control", 3.0),
                reading("p99_ms", "experiment", 2.0),
            ]
        );
    }
}
