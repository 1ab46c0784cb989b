//! The frame every page shares: the head (embedded style sheet and script, no inline script),
//! the navigation with the always-present **Halt** button, the halted banner, the halt and
//! resume dialogs; and the small helpers the pages format with.

use std::fmt::Write;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use crate::history::HistoryStatus;
use crate::report::html::esc;
use crate::server::api::{Reply, full};
use crate::server::daemon::Shared;

/// Which page the navigation marks current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    Runs,
    Experiments,
    Ledger,
    Traffic,
    Monkey,
}

const NAV: [(Nav, &str, &str); 5] = [
    (Nav::Runs, "/", "Runs"),
    (Nav::Experiments, "/experiments", "Experiments"),
    (Nav::Ledger, "/ledger", "Ledger"),
    (Nav::Traffic, "/traffic", "Traffic"),
    (Nav::Monkey, "/monkey", "Monkey"),
];

/// Scripts come from the server only; styles may be inline (the report's legend uses them).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'";

/// The head up to `<body>`: `title`, the style sheet and the script.
fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} — monkeywrench</title><link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"/assets/dashboard.css\">\
         <script src=\"/assets/dashboard.js\" defer></script></head><body>",
        esc(title)
    );
}

/// A whole page around `body`.
pub(super) fn layout(shared: &Shared, nav: Nav, title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 4096);
    head(&mut out, title);
    out.push_str(
        "<a class=\"skip\" href=\"#main\">Skip to content</a><header class=\"top\">\
         <a class=\"brand\" href=\"/\">monkeywrench</a><nav class=\"main\" aria-label=\"Main\">",
    );
    for (n, href, label) in NAV {
        // The monkey's page is listed only when the server runs one.
        if n == Nav::Monkey && shared.monkey.is_none() {
            continue;
        }
        let current = if n == nav {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(out, "<a href=\"{href}\"{current}>{label}</a>");
    }
    out.push_str(
        "</nav><span class=\"spacer\"></span>\
         <button type=\"button\" class=\"danger\" data-open=\"halt-dialog\">Halt</button></header>",
    );
    if shared.control.is_halted() {
        out.push_str(
            "<div class=\"banner\" role=\"status\"><b>Halted.</b> No firing or fault starts until \
             resumed. <a href=\"/ledger\">See the ledger</a> \
             <button type=\"button\" data-open=\"resume-dialog\">Resume</button></div>",
        );
    }
    out.push_str("<p id=\"flash\" role=\"status\" aria-live=\"polite\"></p><main id=\"main\">");
    out.push_str(body);
    out.push_str("</main>");
    out.push_str(DIALOGS);
    out.push_str("</body></html>\n");
    out
}

/// The halt and resume confirmations (native `<dialog>`: focus moves in, Escape cancels).
const DIALOGS: &str = "<dialog id=\"halt-dialog\" aria-labelledby=\"halt-title\">\
<form data-action=\"halt\"><h2 id=\"halt-title\">Halt everything?</h2>\
<p>Every running run is interrupted, every active fault is reverted, and no firing or fault \
starts until someone resumes.</p>\
<label for=\"halt-reason\">Reason (kept in the ledger and sent to the hooks)</label>\
<textarea id=\"halt-reason\" name=\"reason\" rows=\"3\" maxlength=\"500\" required></textarea>\
<p class=\"result\" role=\"status\" aria-live=\"polite\"></p>\
<div class=\"actions\"><button type=\"button\" data-close>Cancel</button>\
<button type=\"submit\" class=\"danger\" id=\"halt-confirm\">Halt now</button></div></form></dialog>\
<dialog id=\"resume-dialog\" aria-labelledby=\"resume-title\">\
<form data-action=\"resume\"><h2 id=\"resume-title\">Resume?</h2>\
<p>Faults and scheduled firings are allowed again.</p>\
<p class=\"result\" role=\"status\" aria-live=\"polite\"></p>\
<div class=\"actions\"><button type=\"button\" data-close>Cancel</button>\
<button type=\"submit\" class=\"primary\" id=\"resume-confirm\">Resume</button></div></form></dialog>";

/// An HTML answer (never cached: the pages are live).
pub(super) fn html(status: StatusCode, text: String) -> Reply {
    let mut r = Response::new(full(Bytes::from(text)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// A page, or only its live part when the script asks (`part=1`).
pub(super) fn page_or_part(
    shared: &Shared,
    params: &[(String, String)],
    nav: Nav,
    title: &str,
    body: impl FnOnce() -> String,
    part: impl FnOnce() -> String,
) -> Reply {
    if wants_part(params) {
        return html(StatusCode::OK, part());
    }
    html(StatusCode::OK, layout(shared, nav, title, &body()))
}

pub(super) fn wants_part(params: &[(String, String)]) -> bool {
    param(params, "part") == Some("1")
}

/// The last value of parameter `name`.
pub(super) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A page saying what went wrong, with `status`.
pub(super) fn problem(shared: &Shared, nav: Nav, status: StatusCode, message: &str) -> Reply {
    let body = format!(
        "<h1>{}</h1><p class=\"error\">{}</p><p><a href=\"/\">Back to the runs</a></p>",
        status.canonical_reason().unwrap_or("Error"),
        esc(message)
    );
    html(status, layout(shared, nav, "Problem", &body))
}

/// The page a browser gets without the token (the API's clients get the JSON 401).
pub fn login_page() -> Response<Full<Bytes>> {
    let mut out = String::new();
    head(&mut out, "Sign in");
    out.push_str(
        "<main id=\"main\" class=\"login\"><h1>monkeywrench</h1>\
         <p>This server requires its token (<code>--auth-token</code> or \
         <code>MONKEYWRENCH_AUTH_TOKEN</code>). It is kept in a cookie for this browser.</p>\
         <form method=\"get\" action=\"/\"><label for=\"token\">Token</label> \
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required> \
         <button type=\"submit\" class=\"primary\">Open the dashboard</button></form></main></body></html>\n",
    );
    let mut r = Response::new(Full::new(Bytes::from(out)));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut()
        .insert("content-security-policy", HeaderValue::from_static(CSP));
    r
}

/// A status as a coloured pill.
pub(super) fn status_pill(status: HistoryStatus, live: bool) -> String {
    let class = match status {
        HistoryStatus::Running => "run",
        HistoryStatus::Completed => "ok",
        HistoryStatus::Failed => "bad",
        HistoryStatus::Aborted | HistoryStatus::Interrupted => "warn",
    };
    let live = if live && status == HistoryStatus::Running {
        " <span class=\"note\">live</span>"
    } else {
        ""
    };
    format!(
        "<span class=\"pill {class}\">{}</span>{live}",
        status.name()
    )
}

/// `2026-12-03 08:15:02` (UTC).
pub(super) fn time(t: &jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// `42.0 s`, `3 min 5 s`, `2 h 1 min`.
pub(super) fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {} s", (s / 60.0).floor(), (s % 60.0).floor())
    } else {
        format!(
            "{} h {} min",
            (s / 3600.0).floor(),
            ((s % 3600.0) / 60.0).floor()
        )
    }
}

/// A query string of `pairs` (values percent-encoded), with a leading `?` unless empty.
pub(super) fn query(pairs: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if encoded.is_empty() {
        String::new()
    } else {
        format!("?{}", encoded.join("&"))
    }
}

/// Percent-encodes everything but unreserved characters.
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
