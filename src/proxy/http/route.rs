//! Routes of an http proxy: a name, an optional method and a path template (`/users/{id}`,
//! `/static/*`); requests that match none are counted under `other`.

use serde_json::{Value, json};

use crate::proxy::toxic::{ApiError, field};

/// The route name of unmatched requests.
pub const OTHER: &str = "other";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Name used in figures, metrics and toxic matches.
    pub name: String,
    /// Upper-case method, or any.
    pub method: Option<String>,
    /// The template as given.
    pub path: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
    Rest,
}

impl Route {
    /// Parses `{"name", "method"?, "path"}`.
    pub fn parse(v: &Value) -> Result<Route, ApiError> {
        let bad = |m: &str| ApiError::bad_body(format!("routes: {m}"));
        let obj = v
            .as_object()
            .ok_or_else(|| bad("each route is an object with name, method and path"))?;
        let text = |k: &str| field(obj, k).and_then(Value::as_str).map(str::to_string);
        let path = text("path").ok_or_else(|| bad("a route needs a path such as /users/{id}"))?;
        if !path.starts_with('/') {
            return Err(bad(&format!("path {path:?} must start with /")));
        }
        let method = text("method").map(|m| m.to_ascii_uppercase());
        let name = text("name")
            .unwrap_or_else(|| format!("{} {path}", method.clone().unwrap_or_else(|| "*".into())));
        if name == OTHER {
            return Err(bad(
                "the route name \"other\" is reserved for unmatched requests",
            ));
        }
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut segments = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            segments.push(if *part == "*" {
                if i + 1 != parts.len() {
                    return Err(bad(&format!("path {path:?}: * may only end a path")));
                }
                Segment::Rest
            } else if part.starts_with('{') && part.ends_with('}') && part.len() > 2 {
                Segment::Param
            } else {
                Segment::Literal((*part).to_string())
            });
        }
        Ok(Route {
            name,
            method,
            path,
            segments,
        })
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return false;
        }
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut i = 0;
        for seg in &self.segments {
            match seg {
                Segment::Rest => return true,
                Segment::Param => {
                    if parts.get(i).is_none_or(|p| p.is_empty()) {
                        return false;
                    }
                }
                Segment::Literal(l) => {
                    if parts.get(i) != Some(&l.as_str()) {
                        return false;
                    }
                }
            }
            i += 1;
        }
        i == parts.len()
    }

    /// The JSON echoed in the proxy.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"name": self.name, "path": self.path});
        if let Some(m) = &self.method {
            v["method"] = json!(m);
        }
        v
    }
}

/// The index of the first matching route, or `routes.len()` for `other`.
pub fn route_of(routes: &[Route], method: &str, path: &str) -> usize {
    routes
        .iter()
        .position(|r| r.matches(method, path))
        .unwrap_or(routes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_segments() {
        let users =
            Route::parse(&json!({"name": "user", "method": "get", "path": "/users/{id}"})).unwrap();
        assert!(users.matches("GET", "/users/42"));
        assert!(!users.matches("POST", "/users/42"));
        assert!(!users.matches("GET", "/users/42/orders"));
        assert!(!users.matches("GET", "/users/"));
        let assets = Route::parse(&json!({"path": "/static/*"})).unwrap();
        assert_eq!(assets.name, "* /static/*");
        assert!(assets.matches("HEAD", "/static/css/site.css"));
        assert_eq!(route_of(&[users, assets], "GET", "/nope"), 2);
        assert!(Route::parse(&json!({"path": "no-slash"})).is_err());
        assert!(Route::parse(&json!({"path": "/a/*/b"})).is_err());
        assert!(Route::parse(&json!({"name": "other", "path": "/"})).is_err());
    }
}
