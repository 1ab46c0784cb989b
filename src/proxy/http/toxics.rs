//! HTTP toxics' attributes: what the fault does (a status, an abort, a delay, a truncated or
//! corrupted body), which requests it may hit (route, method, header equals/regex), and how the
//! share of requests is drawn (per request, or by a hash of a header or cookie so the same users
//! are hit every time).

use regex::Regex;
use serde_json::{Map, Value};

use super::cohort::Cohort;
use crate::proxy::toxic::{ApiError, ToxicKind, field};
use crate::seed::{Fnv, unit_from_hash};

/// Which requests a toxic may hit.
#[derive(Debug, Clone, Default)]
pub struct RequestMatch {
    /// Route name (as configured on the proxy, or `other`).
    pub route: Option<String>,
    /// Upper-case method.
    pub method: Option<String>,
    /// A header (lower-case name) and what its value must be.
    pub header: Option<(String, ValueMatch)>,
}

/// How a header value is compared.
#[derive(Debug, Clone)]
pub enum ValueMatch {
    /// Exactly this value.
    Equals(String),
    /// The regex finds a match.
    Regex(Regex),
}

/// How the share of requests is drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sampling {
    /// Independently for each request.
    PerRequest,
    /// By a hash of this header's value (requests without it are never hit).
    Header(String),
    /// By a hash of this cookie's value.
    Cookie(String),
}

/// A parsed HTTP toxic.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// The attributes as accepted (echoed back).
    pub raw: Map<String, Value>,
    /// Which requests.
    pub matcher: RequestMatch,
    /// How the share is drawn.
    pub sampling: Sampling,
    /// `http_status`: the status.
    pub status: u16,
    /// `http_status`: the body.
    pub body: String,
    /// `http_status`: extra headers.
    pub headers: Vec<(String, String)>,
    /// `http_abort`: reset (RST) instead of a plain close.
    pub reset: bool,
    /// `http_abort`: cut before the response head is sent (else after `bytes` of body).
    pub before_headers: bool,
    /// `http_abort`: body bytes let through before the cut; `http_truncate`: bytes kept.
    pub bytes: u64,
    /// `http_delay`: milliseconds.
    pub delay_ms: u64,
    /// `http_delay`: between body chunks instead of before the head.
    pub between_chunks: bool,
    /// `http_corrupt`: percent of body bytes flipped.
    pub percent: f64,
    /// Only requests of this cohort (`"cohort": "experiment"`).
    pub cohort: Option<Cohort>,
}

impl PartialEq for HttpSpec {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl HttpSpec {
    /// Whether this toxic may hit a request (before the share is drawn).
    pub fn applies(&self, route: &str, method: &str, headers: &hyper::HeaderMap) -> bool {
        let m = &self.matcher;
        m.route.as_deref().is_none_or(|r| r == route)
            && m.method.as_deref().is_none_or(|x| x == method)
            && m.header.as_ref().is_none_or(|(name, want)| {
                headers
                    .get_all(name.as_str())
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .any(|v| match want {
                        ValueMatch::Equals(s) => v == s,
                        ValueMatch::Regex(r) => r.is_match(v),
                    })
            })
    }

    /// The sampling key of a request: None when it lacks the header or cookie (never hit).
    pub fn sample_key(&self, headers: &hyper::HeaderMap) -> Option<Option<u64>> {
        match &self.sampling {
            Sampling::PerRequest => Some(None),
            Sampling::Header(name) => headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(|v| Some(user_key(v))),
            Sampling::Cookie(name) => cookie(headers, name).map(|v| Some(user_key(v))),
        }
    }
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub(super) fn cookie<'h>(headers: &'h hyper::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Parses the attributes of an HTTP toxic.
pub fn parse(kind: ToxicKind, attrs: Option<&Value>) -> Result<HttpSpec, ApiError> {
    let empty = Map::new();
    let raw = match attrs {
        None => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => return Err(ApiError::bad_body("attributes must be an object")),
    };
    let bad = |m: String| ApiError::bad_body(m);
    let int = |key: &str, default: u64| -> Result<u64, ApiError> {
        match field(raw, key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| bad(format!("{key} must be a whole number ≥ 0"))),
        }
    };
    let text = |key: &str| -> Result<Option<String>, ApiError> {
        match field(raw, key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("{key} must be a string"))),
        }
    };
    let mut spec =
        HttpSpec {
            raw: raw.clone(),
            matcher: parse_match(field(raw, "match"))?,
            sampling: parse_sample(field(raw, "sample"))?,
            status: 0,
            body: text("body")?.unwrap_or_default(),
            headers: Vec::new(),
            reset: false,
            before_headers: false,
            bytes: int("bytes", 0)?,
            delay_ms: int("delay_ms", 0)?,
            between_chunks: false,
            percent: 0.0,
            cohort: match text("cohort")?.as_deref() {
                None => None,
                Some(name) => Some(Cohort::parse(name).ok_or_else(|| {
                    bad(format!("cohort {name:?}: expected control or experiment"))
                })?),
            },
        };
    match kind {
        ToxicKind::HttpStatus => {
            let status = int("status", 0)?;
            if !(100..=599).contains(&status) {
                return Err(bad(format!(
                    "status must be between 100 and 599 (got {status})"
                )));
            }
            spec.status = status as u16;
            if let Some(h) = field(raw, "headers") {
                let obj = h
                    .as_object()
                    .ok_or_else(|| bad("headers must be an object of name: value".into()))?;
                for (k, v) in obj {
                    let v = v
                        .as_str()
                        .ok_or_else(|| bad(format!("header {k} must be a string")))?;
                    hyper::header::HeaderName::from_bytes(k.as_bytes())
                        .map_err(|_| bad(format!("{k:?} is not a header name")))?;
                    hyper::header::HeaderValue::from_str(v)
                        .map_err(|_| bad(format!("header {k} has an invalid value")))?;
                    spec.headers.push((k.clone(), v.to_string()));
                }
            }
        }
        ToxicKind::HttpAbort => {
            spec.reset = match text("mode")?.as_deref() {
                None | Some("reset") => true,
                Some("close") => false,
                Some(other) => {
                    return Err(bad(format!("mode {other:?}: expected reset or close")));
                }
            };
            spec.before_headers = match text("when")?.as_deref() {
                None | Some("body") => false,
                Some("headers") => true,
                Some(other) => {
                    return Err(bad(format!("when {other:?}: expected headers or body")));
                }
            };
        }
        ToxicKind::HttpDelay => {
            spec.between_chunks = match text("where")?.as_deref() {
                None | Some("headers") => false,
                Some("body") => true,
                Some(other) => {
                    return Err(bad(format!("where {other:?}: expected headers or body")));
                }
            };
        }
        ToxicKind::HttpTruncate => {}
        ToxicKind::HttpCorrupt => {
            spec.percent = match field(raw, "percent") {
                None => 1.0,
                Some(v) => v
                    .as_f64()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| bad("percent must be between 0 and 100".into()))?,
            };
        }
        _ => return Err(bad(format!("{} is not an http toxic", kind.name()))),
    }
    Ok(spec)
}

fn parse_match(v: Option<&Value>) -> Result<RequestMatch, ApiError> {
    let Some(v) = v else {
        return Ok(RequestMatch::default());
    };
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad_body("match must be an object"))?;
    let text = |key: &str| -> Result<Option<String>, ApiError> {
        match field(obj, key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::bad_body(format!("match.{key} must be a string"))),
        }
    };
    let header = match text("header")? {
        None => None,
        Some(name) => {
            let want = match (text("equals")?, text("regex")?) {
                (Some(e), None) => ValueMatch::Equals(e),
                (None, Some(r)) => ValueMatch::Regex(Regex::new(&r).map_err(|e| {
                    ApiError::bad_body(format!("match.regex does not compile: {e}"))
                })?),
                _ => {
                    return Err(ApiError::bad_body(
                        "match.header needs exactly one of equals or regex",
                    ));
                }
            };
            Some((name.to_ascii_lowercase(), want))
        }
    };
    Ok(RequestMatch {
        route: text("route")?,
        method: text("method")?.map(|m| m.to_ascii_uppercase()),
        header,
    })
}

fn parse_sample(v: Option<&Value>) -> Result<Sampling, ApiError> {
    let Some(v) = v else {
        return Ok(Sampling::PerRequest);
    };
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad_body("sample must be an object"))?;
    match (
        field(obj, "header").and_then(Value::as_str),
        field(obj, "cookie").and_then(Value::as_str),
    ) {
        (Some(h), None) => Ok(Sampling::Header(h.to_ascii_lowercase())),
        (None, Some(c)) => Ok(Sampling::Cookie(c.to_string())),
        _ => Err(ApiError::bad_body(
            "sample needs exactly one of header or cookie",
        )),
    }
}

/// The sampling key of a header or cookie value: the same user gets the same key on every
/// proxy, version and platform (no seed: a user is in or out of a toxic's share everywhere).
pub fn user_key(value: &str) -> u64 {
    Fnv::new().str(value).finish()
}

/// Whether a request is hit: `u` is drawn in [0, 1) from the sampling key when there is one,
/// else `per_request` is used.
pub fn hit(toxicity: f64, key: Option<u64>, per_request: f64) -> bool {
    let u = match key {
        Some(k) => unit_from_hash(k),
        None => per_request,
    };
    u < toxicity
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // A user is in or out of a toxic's share on every proxy, version and platform.
    #[test]
    fn a_known_user_gets_the_same_decision_everywhere() {
        let spec = parse(
            ToxicKind::HttpStatus,
            Some(&json!({"status": 500, "sample": {"header": "x-user"}})),
        )
        .unwrap();
        let mut headers = hyper::HeaderMap::new();
        headers.insert("x-user", "alice".parse().unwrap());
        let key = spec.sample_key(&headers).unwrap();
        assert_eq!(key, Some(user_key("alice")));
        // alice draws 0.1503…: in a 20 % share, out of a 15 % one, whatever the per-request draw.
        assert_eq!(unit_from_hash(user_key("alice")), 0.1503187236068484);
        assert!(hit(0.20, key, 0.99));
        assert!(!hit(0.15, key, 0.0));
        let cookie = parse(
            ToxicKind::HttpStatus,
            Some(&json!({"status": 500, "sample": {"cookie": "session"}})),
        )
        .unwrap();
        let mut headers = hyper::HeaderMap::new();
        headers.insert(hyper::header::COOKIE, "a=1; session=alice".parse().unwrap());
        assert_eq!(
            cookie.sample_key(&headers),
            Some(key),
            "same user, same key"
        );
        assert_eq!(cookie.sample_key(&hyper::HeaderMap::new()), None);
    }
}
