//! A browser cannot send `Authorization: Bearer` on a link, a form or an `EventSource`, so a
//! server that serves pages (the dashboard) also accepts the token once in the address —
//! `/?token=…` — and answers with a redirect to the same address without it, setting a cookie.
//! The cookie holds a digest of the token, not the token; it is `HttpOnly` (page scripts never
//! see it) and `SameSite=Strict` (another site's page cannot make the browser send it). A
//! request that changes something with only the cookie must also come from the same origin
//! (its `Origin` header, when present, names the `Host` it was sent to).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use sha2::Digest;

/// The cookie's name.
pub const COOKIE_NAME: &str = "monkeywrench_token";

/// How a server serving pages lets a browser in.
#[derive(Debug, Clone, Copy)]
pub struct BrowserLogin {
    /// The answer to a page request (GET, `Accept: text/html`) without the token: a page that
    /// asks for it (the API's own answer stays the `unauthorized` one).
    pub login_page: fn() -> Response<Full<Bytes>>,
}

/// What the gate decided about a request without a right bearer header.
pub(super) enum Gate {
    /// The cookie is right: serve it.
    Pass,
    /// `?token=` was right: redirect here, setting the cookie.
    Login(String),
    /// A page request without the token: the login page.
    LoginPage,
    /// Anything else: the server's unauthorized answer.
    Refuse,
}

/// The cookie value of `token`.
fn digest(token: &str) -> String {
    let hash = sha2::Sha256::digest(format!("monkeywrench-dashboard:{token}").as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn gate<B>(token: &str, req: &Request<B>) -> Gate {
    let wanted = digest(token);
    let cookie_ok = req
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(k, v)| k == COOKIE_NAME && super::same_secret(v.as_bytes(), wanted.as_bytes()));
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if cookie_ok && (safe || same_origin(req)) {
        return Gate::Pass;
    }
    let query = req.uri().query().unwrap_or("");
    let given = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| decode(v));
    if safe && let Some(given) = given {
        if super::same_secret(given.as_bytes(), token.as_bytes()) {
            let rest: Vec<&str> = query
                .split('&')
                .filter(|p| !p.is_empty() && !p.starts_with("token="))
                .collect();
            let path = req.uri().path();
            let location = if rest.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", rest.join("&"))
            };
            return Gate::Login(location);
        }
        return Gate::LoginPage;
    }
    let wants_page = safe
        && req
            .headers()
            .get(hyper::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if wants_page {
        Gate::LoginPage
    } else {
        Gate::Refuse
    }
}

/// The redirect that sets the cookie for `token`.
pub(super) fn login(token: &str, location: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SEE_OTHER;
    let cookie = format!(
        "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict",
        digest(token)
    );
    if let Ok(v) = cookie.parse() {
        r.headers_mut().insert(SET_COOKIE, v);
    }
    // A location that cannot be a header value (it came from the request line, so it can) falls
    // back to the root.
    let location = location.parse().unwrap_or_else(|_| "/".parse().unwrap());
    r.headers_mut().insert(LOCATION, location);
    r
}

/// Whether the request's `Origin` (if any) is the host it was sent to.
fn same_origin<B>(req: &Request<B>) -> bool {
    let Some(origin) = req.headers().get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = req
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, h)| !host.is_empty() && h.eq_ignore_ascii_case(host))
}

/// `%XX` and `+` decoded (invalid escapes kept as written).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn the_token_in_the_address_sets_a_cookie_that_then_lets_the_browser_in() {
        let Gate::Login(at) = gate(
            "s3 cret",
            &req("GET", "/runs?status=failed&token=s3+cret", &[]),
        ) else {
            panic!("a right token logs in")
        };
        assert_eq!(at, "/runs?status=failed");
        let answer = login("s3 cret", &at);
        assert_eq!(answer.status(), 303);
        let cookie = answer.headers()[SET_COOKIE].to_str().unwrap().to_string();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(
            !cookie.contains("s3"),
            "the cookie holds a digest: {cookie}"
        );
        let pair = cookie.split(';').next().unwrap();
        assert!(matches!(
            gate(
                "s3 cret",
                &req("GET", "/", &[("cookie", &format!("a=b; {pair}"))])
            ),
            Gate::Pass
        ));
        // A POST with the cookie from this origin passes; from another it does not.
        let post = |origin: &str| {
            gate(
                "s3 cret",
                &req(
                    "POST",
                    "/api/halt",
                    &[
                        ("cookie", pair),
                        ("host", "127.0.0.1:7700"),
                        ("origin", origin),
                    ],
                ),
            )
        };
        assert!(matches!(post("http://127.0.0.1:7700"), Gate::Pass));
        assert!(matches!(post("http://evil.example"), Gate::Refuse));
    }

    #[test]
    fn a_wrong_token_or_cookie_is_refused_and_a_page_asks_for_the_token() {
        assert!(matches!(
            gate("t", &req("GET", "/?token=x", &[])),
            Gate::LoginPage
        ));
        assert!(matches!(
            gate("t", &req("GET", "/", &[("cookie", "monkeywrench_token=t")])),
            Gate::Refuse
        ));
        assert!(matches!(
            gate("t", &req("GET", "/", &[("accept", "text/html,*/*")])),
            Gate::LoginPage
        ));
        // The token in the address never authorizes a change.
        assert!(matches!(
            gate("t", &req("POST", "/api/halt?token=t", &[])),
            Gate::Refuse
        ));
        assert_eq!(decode("a%2"), "a%2");
        assert_eq!(decode("%41+b"), "A b");
    }
}
