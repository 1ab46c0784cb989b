//! The style sheet (the report's, then the dashboard's own) and the script, embedded in the
//! binary: the dashboard works offline and fetches nothing from elsewhere.

use bytes::Bytes;
use hyper::Response;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};

use crate::server::api::{Reply, full};

const CSS: &str = include_str!("assets/dashboard.css");
const JS: &str = include_str!("assets/dashboard.js");

/// `/assets/{name}`, or None for a name that is not one.
pub(super) fn serve(name: &str) -> Option<Reply> {
    let (body, kind) = match name {
        "dashboard.css" => (
            format!("{}\n{CSS}", crate::report::html::STYLE),
            "text/css; charset=utf-8",
        ),
        "dashboard.js" => (JS.to_string(), "text/javascript; charset=utf-8"),
        _ => return None,
    };
    let mut r = Response::new(full(Bytes::from(body)));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    // Versioned by the binary: a new build may change them, so a short cache only.
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("max-age=60"));
    Some(r)
}
