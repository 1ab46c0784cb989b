//! The `http` provider (spec §3.3): every response status is a success (judge it with a
//! tolerance); only connection errors and timeouts fail.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::probe::process::python_str;

/// One request, fields already substituted.
#[derive(Debug, Clone)]
pub struct HttpCall {
    pub url: String,
    /// Upper-case method.
    pub method: String,
    pub headers: Vec<(String, String)>,
    /// Query (GET) or body (JSON iff Content-Type is exactly application/json, else form).
    pub arguments: Option<Value>,
    /// Connect/read timeouts.
    pub timeout: Option<HttpTimeout>,
    /// Verify TLS certificates.
    pub verify_tls: bool,
    /// Retries on connection errors.
    pub max_retries: u32,
}

/// `timeout: N` (both) or `timeout: [connect, read]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpTimeout {
    pub connect: Option<Duration>,
    pub read: Option<Duration>,
}

impl HttpTimeout {
    /// Parses a number or a two-item list of numbers (seconds).
    pub fn from_value(v: &Value) -> Result<HttpTimeout, String> {
        let secs = |v: &Value| -> Result<Duration, String> {
            let f = v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| format!("{v} is not a number"))?;
            if f.is_finite() && f > 0.0 {
                Ok(Duration::from_secs_f64(f))
            } else {
                Err(format!("{v} is not a positive number of seconds"))
            }
        };
        match v {
            Value::Array(items) if items.len() == 2 => Ok(HttpTimeout {
                connect: Some(secs(&items[0])?),
                read: Some(secs(&items[1])?),
            }),
            other => {
                let d = secs(other)?;
                Ok(HttpTimeout {
                    connect: Some(d),
                    read: Some(d),
                })
            }
        }
    }
}

/// Failures of the http provider.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request could not be built (bad URL, method or header).
    #[error("build the request to {url}: {message}")]
    Build { url: String, message: String },
    /// Connecting or reading failed.
    #[error("failed to connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("request to {url} timed out")]
    TimedOut { url: String },
}

/// Sends the request; output `{"status", "headers", "body"}`. Cancel-safe by drop.
pub async fn run(call: &HttpCall) -> Result<Value, HttpError> {
    let build_err = |message: String| HttpError::Build {
        url: call.url.clone(),
        message,
    };
    let mut builder = reqwest::Client::builder()
        .danger_accept_invalid_certs(!call.verify_tls)
        .redirect(reqwest::redirect::Policy::limited(30));
    if let Some(t) = call.timeout {
        if let Some(c) = t.connect {
            builder = builder.connect_timeout(c);
        }
        if let Some(r) = t.read {
            builder = builder.read_timeout(r);
        }
    }
    let client = builder.build().map_err(|e| build_err(e.to_string()))?;
    let method = reqwest::Method::from_bytes(call.method.as_bytes())
        .map_err(|_| build_err(format!("invalid method {:?}", call.method)))?;
    let json_body = call
        .headers
        .iter()
        .any(|(k, v)| k == "Content-Type" && v == "application/json");
    let mut attempt = 0;
    loop {
        let mut request = client.request(method.clone(), &call.url);
        for (k, v) in &call.headers {
            request = request.header(k, v);
        }
        if let Some(args) = &call.arguments {
            request = if method == reqwest::Method::GET {
                request.query(&pairs(args))
            } else if json_body {
                request.body(args.to_string())
            } else {
                request.form(&pairs(args))
            };
        }
        match request.send().await {
            Ok(response) => return output(response).await.map_err(|e| classify(&call.url, e)),
            Err(e) if e.is_connect() && attempt < call.max_retries => attempt += 1,
            Err(e) => return Err(classify(&call.url, e)),
        }
    }
}

fn classify(url: &str, e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        return HttpError::TimedOut {
            url: url.to_string(),
        };
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    if e.is_builder() {
        HttpError::Build {
            url: url.to_string(),
            message,
        }
    } else {
        HttpError::Connect {
            url: url.to_string(),
            message,
        }
    }
}

/// Key/value pairs for a query string or form, values stringified like Python's `str()`.
fn pairs(args: &Value) -> Vec<(String, String)> {
    match args {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| match v {
                Value::Array(items) => items
                    .iter()
                    .filter_map(|i| python_str(i).map(|s| (k.clone(), s)))
                    .collect::<Vec<_>>(),
                other => python_str(other)
                    .map(|s| (k.clone(), s))
                    .into_iter()
                    .collect(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

async fn output(response: reqwest::Response) -> Result<Value, reqwest::Error> {
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&text);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(text));
            }
        }
    }
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    let bytes = response.bytes().await?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = if is_json {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    } else {
        Value::String(text)
    };
    let mut out = Map::new();
    out.insert("status".into(), Value::from(status));
    out.insert("headers".into(), Value::Object(headers));
    out.insert("body".into(), body);
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timeouts_parse_from_numbers_and_pairs() {
        let t = HttpTimeout::from_value(&json!(2)).unwrap();
        assert_eq!(t.connect, Some(Duration::from_secs(2)));
        let t = HttpTimeout::from_value(&json!([1, 5.5])).unwrap();
        assert_eq!(t.read, Some(Duration::from_secs_f64(5.5)));
        assert!(HttpTimeout::from_value(&json!("soon")).is_err());
        assert!(HttpTimeout::from_value(&json!(-1)).is_err());
    }

    #[test]
    fn pairs_stringify_like_python() {
        assert_eq!(
            pairs(&json!({"a": 1, "b": true, "c": ["x", "y"], "d": null})),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "True".to_string()),
                ("c".to_string(), "x".to_string()),
                ("c".to_string(), "y".to_string()),
            ]
        );
    }
}
