//! Toxics: the Toxiproxy model (types, attributes, streams, toxicity) and its JSON shapes, with the
//! exact defaults and error messages clients depend on (spec §3, §4, §7).

use serde_json::{Map, Number, Value};

/// A direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Client → server.
    Upstream,
    /// Server → client (the default).
    Downstream,
}

impl Stream {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }
}

/// Every toxic type, with its attribute names in Toxiproxy's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToxicKind {
    /// Per-chunk delay: `latency`, `jitter` (ms).
    Latency,
    /// Throughput cap: `rate` KB/s (1 KB = 1000 B); 0 holds everything.
    Bandwidth,
    /// Delays the close: `delay` ms.
    SlowClose,
    /// Drops data; closes after `timeout` ms of silence (0 = never).
    Timeout,
    /// Resets the connection (RST) `timeout` ms after the first data.
    ResetPeer,
    /// Splits chunks: `average_size`, `size_variation` B, `delay` µs.
    Slicer,
    /// Closes after `bytes` have passed.
    LimitData,
    /// Passes data unchanged.
    Noop,
    /// monkeywrench: drops `percent` % of chunks (like packet loss on a stream).
    Loss,
    /// http proxies: answer with a status (and body, headers) instead of the upstream.
    HttpStatus,
    /// http proxies: cut the connection (reset or close) before the head or mid-body.
    HttpAbort,
    /// http proxies: delay the response head, or each body chunk.
    HttpDelay,
    /// http proxies: cut the body after `bytes`.
    HttpTruncate,
    /// http proxies: flip `percent` % of body bytes.
    HttpCorrupt,
}

impl ToxicKind {
    pub const ALL: [ToxicKind; 14] = [
        ToxicKind::Latency,
        ToxicKind::Bandwidth,
        ToxicKind::SlowClose,
        ToxicKind::Timeout,
        ToxicKind::ResetPeer,
        ToxicKind::Slicer,
        ToxicKind::LimitData,
        ToxicKind::Noop,
        ToxicKind::Loss,
        ToxicKind::HttpStatus,
        ToxicKind::HttpAbort,
        ToxicKind::HttpDelay,
        ToxicKind::HttpTruncate,
        ToxicKind::HttpCorrupt,
    ];

    /// The `type` string.
    pub fn name(self) -> &'static str {
        match self {
            ToxicKind::Latency => "latency",
            ToxicKind::Bandwidth => "bandwidth",
            ToxicKind::SlowClose => "slow_close",
            ToxicKind::Timeout => "timeout",
            ToxicKind::ResetPeer => "reset_peer",
            ToxicKind::Slicer => "slicer",
            ToxicKind::LimitData => "limit_data",
            ToxicKind::Noop => "noop",
            ToxicKind::Loss => "loss",
            ToxicKind::HttpStatus => "http_status",
            ToxicKind::HttpAbort => "http_abort",
            ToxicKind::HttpDelay => "http_delay",
            ToxicKind::HttpTruncate => "http_truncate",
            ToxicKind::HttpCorrupt => "http_corrupt",
        }
    }

    /// Whether it acts on HTTP requests (http proxies) rather than TCP bytes.
    pub fn is_http(self) -> bool {
        matches!(
            self,
            ToxicKind::HttpStatus
                | ToxicKind::HttpAbort
                | ToxicKind::HttpDelay
                | ToxicKind::HttpTruncate
                | ToxicKind::HttpCorrupt
        )
    }

    /// Parses a `type`.
    pub fn parse(s: &str) -> Option<ToxicKind> {
        ToxicKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Attribute names in output order.
    pub fn attributes(self) -> &'static [&'static str] {
        match self {
            ToxicKind::Latency => &["latency", "jitter"],
            ToxicKind::Bandwidth => &["rate"],
            ToxicKind::SlowClose => &["delay"],
            ToxicKind::Timeout | ToxicKind::ResetPeer => &["timeout"],
            ToxicKind::Slicer => &["average_size", "size_variation", "delay"],
            ToxicKind::LimitData => &["bytes"],
            ToxicKind::Noop => &[],
            ToxicKind::Loss => &["percent"],
            // HTTP toxics keep their (richer) attributes in `Toxic::http`.
            ToxicKind::HttpStatus
            | ToxicKind::HttpAbort
            | ToxicKind::HttpDelay
            | ToxicKind::HttpTruncate
            | ToxicKind::HttpCorrupt => &[],
        }
    }
}

/// One toxic on a proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct Toxic {
    /// Unique per proxy (across both streams).
    pub name: String,
    pub kind: ToxicKind,
    pub stream: Stream,
    /// Share of connections (per direction) it acts on, kept as the number that was sent.
    pub toxicity: Number,
    /// Attribute values in the kind's order.
    pub attributes: Vec<i64>,
    /// monkeywrench: when set, the proxy removes the toxic itself at this time.
    pub expires_at: Option<std::time::SystemTime>,
    /// Bumped whenever toxicity changes, so links redraw only then.
    pub generation: u64,
    /// HTTP toxics: the parsed attributes.
    pub http: Option<std::sync::Arc<super::http::toxics::HttpSpec>>,
}

impl Toxic {
    /// The value of attribute `name` (0 when absent).
    pub fn attr(&self, name: &str) -> i64 {
        self.kind
            .attributes()
            .iter()
            .position(|a| *a == name)
            .and_then(|i| self.attributes.get(i).copied())
            .unwrap_or(0)
    }

    pub fn toxicity_f64(&self) -> f64 {
        self.toxicity.as_f64().unwrap_or(1.0)
    }

    /// Toxiproxy's JSON: `{"attributes", "name", "type", "stream", "toxicity"}`.
    pub fn to_json(&self) -> Value {
        let mut attrs = Map::new();
        for (name, value) in self.kind.attributes().iter().zip(&self.attributes) {
            attrs.insert((*name).to_string(), Value::from(*value));
        }
        if let Some(spec) = &self.http {
            attrs = spec.raw.clone();
        }
        let mut m = Map::new();
        m.insert("attributes".into(), Value::Object(attrs));
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert("type".into(), Value::String(self.kind.name().into()));
        m.insert("stream".into(), Value::String(self.stream.name().into()));
        m.insert("toxicity".into(), Value::Number(self.toxicity.clone()));
        if let Some(at) = self.expires_at {
            let secs = at
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            m.insert("expires_at_unix".into(), Value::from(secs));
        }
        Value::Object(m)
    }
}

/// A request error with Toxiproxy's status and message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: u16,
    /// Verbatim message.
    pub message: String,
}

impl ApiError {
    /// An error with a status and message.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// `400 bad request body: <detail>`.
    pub fn bad_body(detail: impl std::fmt::Display) -> Self {
        ApiError::new(400, format!("bad request body: {detail}"))
    }
}

/// Case-insensitive key lookup (Go's JSON decoding); `null` means absent.
pub fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// A toxicity number normalised for echo: whole values print as integers.
fn normalise(n: &Number) -> Number {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Number::from(f as i64),
        _ => n.clone(),
    }
}

/// Parses a create body in Toxiproxy's check order: stream → default name → type → (clash by
/// caller) → attributes.
pub fn parse_new(body: &Value) -> Result<Toxic, ApiError> {
    let obj = body.as_object().ok_or_else(|| {
        ApiError::bad_body("json: cannot unmarshal into Go value of type toxics.ToxicWrapper")
    })?;
    let stream_text = field(obj, "stream")
        .or_else(|| field(obj, "direction"))
        .map(|v| v.as_str().map(str::to_string).ok_or_else(|| ApiError::bad_body("json: cannot unmarshal number into Go struct field ToxicWrapper.stream of type string")))
        .transpose()?;
    let stream = match stream_text
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") | Some("downstream") => Stream::Downstream,
        Some("upstream") => Stream::Upstream,
        Some(_) => {
            return Err(ApiError::new(
                400,
                "stream was invalid, can be either upstream or downstream",
            ));
        }
    };
    let type_text = match field(obj, "type") {
        None => String::new(),
        Some(v) => v
            .as_str()
            .ok_or_else(|| {
                ApiError::bad_body(
                    "json: cannot unmarshal into Go struct field ToxicWrapper.type of type string",
                )
            })?
            .to_string(),
    };
    let name = match field(obj, "name") {
        Some(v) => v
            .as_str()
            .ok_or_else(|| {
                ApiError::bad_body(
                    "json: cannot unmarshal into Go struct field ToxicWrapper.name of type string",
                )
            })?
            .to_string(),
        None => String::new(),
    };
    let name = if name.is_empty() {
        format!("{}_{}", type_text, stream.name())
    } else {
        name
    };
    let kind =
        ToxicKind::parse(&type_text).ok_or_else(|| ApiError::new(400, "invalid toxic type"))?;
    let toxicity = match field(obj, "toxicity") {
        None => Number::from(1),
        Some(Value::Number(n)) => n.clone(),
        Some(_) => {
            return Err(ApiError::bad_body(
                "json: cannot unmarshal into Go struct field ToxicWrapper.toxicity of type float32",
            ));
        }
    };
    check_toxicity(&toxicity)?;
    let mut toxic = Toxic {
        name,
        kind,
        stream,
        toxicity: normalise(&toxicity),
        attributes: vec![0; kind.attributes().len()],
        expires_at: None,
        generation: 0,
        http: None,
    };
    if kind.is_http() {
        toxic.http = Some(std::sync::Arc::new(super::http::toxics::parse(
            kind,
            field(obj, "attributes"),
        )?));
    } else if let Some(attrs) = field(obj, "attributes") {
        apply_attributes(&mut toxic, attrs)?;
    }
    if let Some(ttl) = field(obj, "ttl") {
        let secs = ttl
            .as_f64()
            .filter(|s| *s > 0.0 && s.is_finite())
            .ok_or_else(|| ApiError::bad_body("ttl must be a positive number of seconds"))?;
        toxic.expires_at =
            Some(std::time::SystemTime::now() + std::time::Duration::from_secs_f64(secs));
    }
    Ok(toxic)
}

fn check_toxicity(n: &Number) -> Result<(), ApiError> {
    match n.as_f64() {
        Some(f) if (0.0..=1.0).contains(&f) => Ok(()),
        _ => Err(ApiError::bad_body("toxicity must be between 0 and 1")),
    }
}

/// Merges `attrs` into the toxic (missing keys keep their values, unknown keys are ignored).
pub fn apply_attributes(toxic: &mut Toxic, attrs: &Value) -> Result<(), ApiError> {
    let obj = attrs.as_object().ok_or_else(|| {
        ApiError::bad_body("json: cannot unmarshal into Go struct field ToxicWrapper.attributes")
    })?;
    for (i, name) in toxic.kind.attributes().iter().enumerate() {
        let Some(v) = field(obj, name) else { continue };
        let n = match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) => i,
                None => {
                    return Err(ApiError::bad_body(format!(
                        "json: cannot unmarshal number {n} into Go struct field .{name} of type int64"
                    )));
                }
            },
            other => {
                return Err(ApiError::bad_body(format!(
                    "json: cannot unmarshal {} into Go struct field .{name} of type int64",
                    json_kind(other)
                )));
            }
        };
        if n < 0 {
            return Err(ApiError::bad_body(format!("{name} must not be negative")));
        }
        if toxic.kind == ToxicKind::Loss && n > 100 {
            return Err(ApiError::bad_body("percent must be between 0 and 100"));
        }
        toxic.attributes[i] = n;
    }
    Ok(())
}

/// Applies an update body: only `attributes` (merged) and `toxicity`.
pub fn apply_update(toxic: &mut Toxic, body: &Value) -> Result<(), ApiError> {
    let obj = body.as_object().ok_or_else(|| {
        ApiError::bad_body("json: cannot unmarshal into Go value of type toxics.ToxicWrapper")
    })?;
    let mut updated = toxic.clone();
    if let Some(attrs) = field(obj, "attributes") {
        match &toxic.http {
            Some(spec) => {
                let patch = attrs.as_object().ok_or_else(|| {
                    ApiError::bad_body(
                        "json: cannot unmarshal into Go struct field ToxicWrapper.attributes",
                    )
                })?;
                let mut merged = spec.raw.clone();
                merged.extend(patch.iter().map(|(k, v)| (k.clone(), v.clone())));
                updated.http = Some(std::sync::Arc::new(super::http::toxics::parse(
                    toxic.kind,
                    Some(&Value::Object(merged)),
                )?));
            }
            None => apply_attributes(&mut updated, attrs)?,
        }
    }
    if let Some(t) = field(obj, "toxicity") {
        let Value::Number(n) = t else {
            return Err(ApiError::bad_body(
                "json: cannot unmarshal into Go struct field ToxicWrapper.toxicity of type float32",
            ));
        };
        check_toxicity(n)?;
        if normalise(n) != updated.toxicity {
            updated.generation += 1;
        }
        updated.toxicity = normalise(n);
    }
    *toxic = updated;
    Ok(())
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_echo() {
        let t = parse_new(&json!({"type": "latency", "attributes": {"latency": 100}})).unwrap();
        assert_eq!(
            t.to_json().to_string(),
            r#"{"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}"#
        );
        let t = parse_new(
            &json!({"type": "bandwidth", "stream": "UpStream", "toxicity": 0.7, "name": null}),
        )
        .unwrap();
        assert_eq!(t.to_json()["toxicity"].to_string(), "0.7");
        assert_eq!(t.name, "bandwidth_upstream");
        assert_eq!(t.stream, Stream::Upstream);
        let t = parse_new(&json!({"type": "noop", "direction": "upstream"})).unwrap();
        assert_eq!(t.to_json()["attributes"], json!({}));
        assert_eq!(t.stream, Stream::Upstream);
    }

    #[test]
    fn errors_are_toxiproxys() {
        assert_eq!(
            parse_new(&json!({"type": "latency", "stream": "sideways"}))
                .unwrap_err()
                .message,
            "stream was invalid, can be either upstream or downstream"
        );
        assert_eq!(
            parse_new(&json!({"type": "nope"})).unwrap_err().message,
            "invalid toxic type"
        );
        let e = parse_new(&json!({"type": "latency", "attributes": {"latency": 1.5}})).unwrap_err();
        assert!(e.message.starts_with("bad request body: "), "{}", e.message);
        assert_eq!(
            parse_new(&json!({"type": "latency", "toxicity": 2}))
                .unwrap_err()
                .message,
            "bad request body: toxicity must be between 0 and 1"
        );
        assert_eq!(
            parse_new(&json!({"type": "bandwidth", "attributes": {"rate": -1}}))
                .unwrap_err()
                .message,
            "bad request body: rate must not be negative"
        );
    }

    #[test]
    fn updates_merge_attributes_and_keep_the_rest() {
        let mut t =
            parse_new(&json!({"type": "latency", "attributes": {"latency": 100, "jitter": 5}}))
                .unwrap();
        apply_update(
            &mut t,
            &json!({"attributes": {"jitter": 9}, "name": "ignored", "type": "noop"}),
        )
        .unwrap();
        assert_eq!(
            (t.attr("latency"), t.attr("jitter"), t.name.as_str()),
            (100, 9, "latency_downstream")
        );
        apply_update(&mut t, &json!({"toxicity": 0.25})).unwrap();
        assert_eq!(t.generation, 1);
        assert!(apply_update(&mut t, &json!({"toxicity": -1})).is_err());
        assert_eq!(t.toxicity_f64(), 0.25, "a failed update changes nothing");
    }
}
