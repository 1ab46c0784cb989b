//! PromQL through the Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`): instant and
//! range queries, with the answer shaped for a tolerance (one number), as series, or as the raw
//! response (what `chaosprometheus.probes.query` returns, so its tolerances keep working).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    #[error("cannot reach Prometheus at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("Prometheus answered {status} to {query:?}: {message}")]
    Refused {
        status: u16,
        query: String,
        message: String,
    },
    #[error("Prometheus answered something other than its API's JSON: {0}")]
    NotJson(String),
    #[error("{0}")]
    Shape(String),
    #[error("{field}: {message}")]
    Time {
        field: &'static str,
        message: String,
    },
}

/// What an instant query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstantOutput {
    /// One number: a scalar, or a vector of exactly one series.
    Value,
    /// `[{metric, value}]`.
    Series,
    /// The API's JSON as it came.
    Response,
}

/// What a range query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOutput {
    /// `[{metric, values: [[t, v], …]}]`.
    Series,
    Response,
    /// One number over the only series' points.
    Reduce(Reduce),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    Min,
    Max,
    Mean,
    Last,
}

impl InstantOutput {
    pub const NAMES: [&'static str; 3] = ["value", "series", "response"];

    pub fn parse(name: &str) -> Option<InstantOutput> {
        match name {
            "value" => Some(InstantOutput::Value),
            "series" => Some(InstantOutput::Series),
            "response" => Some(InstantOutput::Response),
            _ => None,
        }
    }
}

impl RangeOutput {
    pub const NAMES: [&'static str; 6] = ["series", "response", "min", "max", "mean", "last"];

    pub fn parse(name: &str) -> Option<RangeOutput> {
        match name {
            "series" => Some(RangeOutput::Series),
            "response" => Some(RangeOutput::Response),
            "min" => Some(RangeOutput::Reduce(Reduce::Min)),
            "max" => Some(RangeOutput::Reduce(Reduce::Max)),
            "mean" => Some(RangeOutput::Reduce(Reduce::Mean)),
            "last" => Some(RangeOutput::Reduce(Reduce::Last)),
            _ => None,
        }
    }
}

/// Where and how long to ask.
#[derive(Debug, Clone)]
pub struct Server {
    /// `http://prometheus:9090` (a trailing `/` is fine).
    pub base_url: String,
    /// The whole request's limit; also sent as the query's evaluation `timeout`.
    pub timeout: Duration,
    pub verify_tls: bool,
}

impl Server {
    /// An instant query at `time` (RFC 3339, Unix seconds, `now`, `5 minutes ago`; default now).
    pub async fn instant(
        &self,
        query: &str,
        time: Option<&str>,
        output: InstantOutput,
    ) -> Result<Value, PrometheusError> {
        let mut params = vec![("query", query.to_string()), self.evaluation_timeout()];
        if let Some(t) = time {
            params.push(("time", rfc3339(parse_when("time", t, Timestamp::now())?)));
        }
        let response = self.get("query", query, &params).await?;
        match output {
            InstantOutput::Response => Ok(response),
            InstantOutput::Series => series(&response),
            InstantOutput::Value => single_value(&response),
        }
    }

    /// A range query from `start` to `end` (same forms as `time`) every `step` seconds.
    pub async fn range(
        &self,
        query: &str,
        start: &str,
        end: &str,
        step_s: f64,
        output: RangeOutput,
    ) -> Result<Value, PrometheusError> {
        let now = Timestamp::now();
        let from = parse_when("start", start, now)?;
        let to = parse_when("end", end, now)?;
        if from > to {
            return Err(PrometheusError::Time {
                field: "start",
                message: format!("{start:?} is after end {end:?}"),
            });
        }
        let params = vec![
            ("query", query.to_string()),
            ("start", rfc3339(from)),
            ("end", rfc3339(to)),
            ("step", step_s.to_string()),
            self.evaluation_timeout(),
        ];
        let response = self.get("query_range", query, &params).await?;
        match output {
            RangeOutput::Response => Ok(response),
            RangeOutput::Series => series(&response),
            RangeOutput::Reduce(how) => reduce(&response, how),
        }
    }

    // Prometheus stops evaluating at its own `timeout`, so a slow query fails with its reason
    // rather than only our client giving up.
    fn evaluation_timeout(&self) -> (&'static str, String) {
        ("timeout", format!("{}s", self.timeout.as_secs_f64()))
    }

    async fn get(
        &self,
        endpoint: &str,
        query: &str,
        params: &[(&str, String)],
    ) -> Result<Value, PrometheusError> {
        let url = format!("{}/api/v1/{endpoint}", self.base_url.trim_end_matches('/'));
        let unreachable = |e: reqwest::Error| PrometheusError::Unreachable {
            url: self.base_url.clone(),
            message: e.to_string(),
        };
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .danger_accept_invalid_certs(!self.verify_tls)
            .build()
            .map_err(unreachable)?;
        let answer = client
            .get(&url)
            .header("Accept", "application/json")
            .query(params)
            .send()
            .await
            .map_err(unreachable)?;
        let status = answer.status().as_u16();
        let text = answer.text().await.map_err(unreachable)?;
        let body: Option<Value> = serde_json::from_str(&text).ok();
        if status != 200 {
            // The API explains a bad query in `error`; anything else is shown as it came.
            let message = body
                .as_ref()
                .and_then(|b| b["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| text.chars().take(300).collect());
            return Err(PrometheusError::Refused {
                status,
                query: query.to_string(),
                message,
            });
        }
        body.ok_or_else(|| PrometheusError::NotJson(text.chars().take(300).collect()))
    }
}

fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}

/// RFC 3339, Unix seconds, `now`, or `N second(s)|minute(s)|hour(s)|day(s) ago` — the forms
/// chaosprometheus users write (it parses them with dateparser).
pub fn parse_when(
    field: &'static str,
    text: &str,
    now: Timestamp,
) -> Result<Timestamp, PrometheusError> {
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(t) = trimmed.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(seconds) = trimmed.parse::<f64>()
        && seconds.is_finite()
    {
        let whole = SignedDuration::try_from_secs_f64(seconds).ok();
        if let Some(t) = whole.and_then(|d| Timestamp::UNIX_EPOCH.checked_add(d).ok()) {
            return Ok(t);
        }
    }
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    if let [amount, unit, "ago"] = words.as_slice()
        && let Ok(amount) = amount.parse::<f64>()
        && amount >= 0.0
    {
        let unit_seconds = match unit.trim_end_matches('s') {
            "second" | "sec" => Some(1.0),
            "minute" | "min" => Some(60.0),
            "hour" => Some(3600.0),
            "day" => Some(86_400.0),
            _ => None,
        };
        if let Some(back) =
            unit_seconds.and_then(|u| SignedDuration::try_from_secs_f64(amount * u).ok())
            && let Ok(t) = now.checked_sub(back)
        {
            return Ok(t);
        }
    }
    Err(PrometheusError::Time {
        field,
        message: format!(
            "cannot read {text:?} as a time; expected RFC 3339 (2026-12-02T10:00:00Z), Unix seconds, \"now\" or \"5 minutes ago\""
        ),
    })
}

fn data(response: &Value) -> Result<(&str, &Value), PrometheusError> {
    if response["status"] != "success" {
        return Err(PrometheusError::Shape(format!(
            "the query did not succeed: {}",
            response["error"].as_str().unwrap_or("no error given")
        )));
    }
    let kind = response["data"]["resultType"].as_str().unwrap_or("");
    Ok((kind, &response["data"]["result"]))
}

/// A sample's value: Prometheus sends numbers as strings (`"1.5"`, `"NaN"`, `"+Inf"`).
fn number(sample: &Value) -> Option<f64> {
    sample.get(1)?.as_str()?.parse::<f64>().ok()
}

fn json_number(v: Option<f64>) -> Value {
    v.filter(|x| x.is_finite())
        .map_or(Value::Null, |x| json!(x))
}

fn series(response: &Value) -> Result<Value, PrometheusError> {
    let (kind, result) = data(response)?;
    let rows = result.as_array().cloned().unwrap_or_default();
    Ok(match kind {
        "vector" => Value::Array(
            rows.iter()
                .map(|r| json!({"metric": r["metric"], "value": json_number(number(&r["value"]))}))
                .collect(),
        ),
        "matrix" => Value::Array(
            rows.iter()
                .map(|r| {
                    let points: Vec<Value> = r["values"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| json!([p[0], json_number(number(p))]))
                        .collect();
                    json!({"metric": r["metric"], "values": points})
                })
                .collect(),
        ),
        "scalar" | "string" => json!([{"metric": {}, "value": json_number(number(result))}]),
        other => return Err(unknown_type(other)),
    })
}

fn unknown_type(kind: &str) -> PrometheusError {
    PrometheusError::Shape(format!("unexpected result type {kind:?}"))
}

fn single_value(response: &Value) -> Result<Value, PrometheusError> {
    let (kind, result) = data(response)?;
    let value = match kind {
        "scalar" => number(result),
        "string" => return Ok(result.get(1).cloned().unwrap_or(Value::Null)),
        "vector" => {
            let rows = result.as_array().map_or(&[][..], Vec::as_slice);
            match rows {
                [one] => number(&one["value"]),
                [] => {
                    return Err(PrometheusError::Shape(
                        "the query returned no series (append `or vector(0)` if none means 0)"
                            .into(),
                    ));
                }
                many => {
                    return Err(PrometheusError::Shape(format!(
                        "the query returned {} series where one number is needed; aggregate them (sum, max, …) or ask for output: series",
                        many.len()
                    )));
                }
            }
        }
        "matrix" => {
            return Err(PrometheusError::Shape(
                "an instant query with a range selector returns a matrix; use prometheus.range or wrap it (rate(...[5m]))".into(),
            ));
        }
        other => return Err(unknown_type(other)),
    };
    match value {
        Some(v) if v.is_finite() => Ok(json!(v)),
        Some(v) => Err(PrometheusError::Shape(format!("the value is {v}"))),
        None => Err(PrometheusError::Shape(
            "the sample has no numeric value".into(),
        )),
    }
}

fn reduce(response: &Value, how: Reduce) -> Result<Value, PrometheusError> {
    let (kind, result) = data(response)?;
    if kind != "matrix" {
        return Err(unknown_type(kind));
    }
    let rows = result.as_array().map_or(&[][..], Vec::as_slice);
    let row = match rows {
        [one] => one,
        [] => {
            return Err(PrometheusError::Shape(
                "the query returned no series".into(),
            ));
        }
        many => {
            return Err(PrometheusError::Shape(format!(
                "the query returned {} series where one is needed; aggregate them (sum, max, …)",
                many.len()
            )));
        }
    };
    let points: Vec<f64> = row["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(number)
        .filter(|v| v.is_finite())
        .collect();
    let Some(last) = points.last().copied() else {
        return Err(PrometheusError::Shape(
            "the series has no numeric points".into(),
        ));
    };
    let value = match how {
        Reduce::Last => last,
        Reduce::Min => points.iter().copied().fold(f64::INFINITY, f64::min),
        Reduce::Max => points.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Reduce::Mean => points.iter().sum::<f64>() / points.len() as f64,
    };
    Ok(json!(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(values: &[&str]) -> Value {
        let result: Vec<Value> = values
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"metric": {"i": i.to_string()}, "value": [1700000000.0, v]}))
            .collect();
        json!({"status": "success", "data": {"resultType": "vector", "result": result}})
    }

    #[test]
    fn one_number_from_a_scalar_or_a_single_series_and_clear_errors_otherwise() {
        assert_eq!(single_value(&vector(&["0.25"])).unwrap(), json!(0.25));
        let scalar =
            json!({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "3"]}});
        assert_eq!(single_value(&scalar).unwrap(), json!(3.0));
        let none = single_value(&vector(&[])).unwrap_err().to_string();
        assert!(none.contains("or vector(0)"), "{none}");
        let many = single_value(&vector(&["1", "2"])).unwrap_err().to_string();
        assert!(many.contains("2 series"), "{many}");
        let nan = single_value(&vector(&["NaN"])).unwrap_err().to_string();
        assert!(nan.contains("NaN"), "{nan}");
        assert_eq!(
            series(&vector(&["+Inf", "2"])).unwrap(),
            json!([{"metric": {"i": "0"}, "value": null}, {"metric": {"i": "1"}, "value": 2.0}])
        );
    }

    #[test]
    fn range_reductions_over_the_only_series() {
        let matrix = json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {}, "values": [[1.0, "4"], [2.0, "1"], [3.0, "NaN"], [4.0, "7"]]}]}});
        assert_eq!(reduce(&matrix, Reduce::Min).unwrap(), json!(1.0));
        assert_eq!(reduce(&matrix, Reduce::Max).unwrap(), json!(7.0));
        assert_eq!(reduce(&matrix, Reduce::Mean).unwrap(), json!(4.0));
        assert_eq!(reduce(&matrix, Reduce::Last).unwrap(), json!(7.0));
    }

    #[test]
    fn times_in_the_forms_people_write() {
        let now: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        let at = |t: &str| parse_when("time", t, now).map(|t| t.to_string());
        assert_eq!(at("now").unwrap(), "2026-12-02T10:00:00Z");
        assert_eq!(at("5 minutes ago").unwrap(), "2026-12-02T09:55:00Z");
        assert_eq!(at("1 hour ago").unwrap(), "2026-12-02T09:00:00Z");
        assert_eq!(at("30 seconds ago").unwrap(), "2026-12-02T09:59:30Z");
        assert_eq!(at("1764669600").unwrap(), "2025-12-02T10:00:00Z");
        assert_eq!(
            at("2026-12-01T00:00:00+01:00").unwrap(),
            "2026-11-30T23:00:00Z"
        );
        let bad = at("yesterday-ish").unwrap_err().to_string();
        assert!(bad.contains("RFC 3339"), "{bad}");
    }
}
