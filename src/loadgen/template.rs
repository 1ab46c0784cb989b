//! What the load sends: a request template (method, headers, body) applied to one URL or to
//! several weighted URLs from a file, pre-serialized to HTTP/1.1 bytes once so sending a request
//! costs one write.
//!
//! A URLs file holds one `URL [WEIGHT]` per line (weight a positive integer, default 1); blank
//! lines and lines starting with `#` are skipped. All URLs go to one `host:port`.

use std::path::Path;

use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("{at}: {problem}")]
    Line { at: String, problem: String },
    #[error("read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{0}")]
    Bad(String),
}

/// Method, headers and body of every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Default for Template {
    fn default() -> Template {
        Template {
            method: "GET".into(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }
}

/// An http:// URL split into what the wire needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, String> {
        let rest = text
            .strip_prefix("http://")
            .ok_or_else(|| format!("{text:?} is not an http:// URL (https is not supported)"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("{text:?} has no host (or holds credentials)"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{text:?}: unclosed [ in the host"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("{text:?}: the port {p:?} is not 1..65535"))?,
            None => 80,
        };
        if host.is_empty() || path.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) {
            return Err(format!("{text:?} is not a valid URL"));
        }
        Ok(Url { host, port, path })
    }

    /// `host:port` as the Host header and connect address name it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The requests of a load: pre-serialized bytes per URL and their weights.
#[derive(Debug, Clone)]
pub struct Requests {
    /// Where every request goes.
    pub host: String,
    pub port: u16,
    pub method: String,
    requests: Vec<Bytes>,
    /// Cumulative weights, for a weighted pick.
    cumulative: Vec<u64>,
}

impl Requests {
    /// One URL.
    pub fn single(url: &Url, template: &Template) -> Result<Requests, TemplateError> {
        Requests::weighted(&[(url.clone(), 1)], template)
    }

    /// Several weighted URLs, all to one `host:port`.
    pub fn weighted(urls: &[(Url, u64)], template: &Template) -> Result<Requests, TemplateError> {
        let Some((first, _)) = urls.first() else {
            return Err(TemplateError::Bad("no URL to send requests to".into()));
        };
        check_template(template)?;
        let mut requests = Vec::new();
        let mut cumulative = Vec::new();
        let mut sum = 0;
        for (url, weight) in urls {
            if url.authority() != first.authority() {
                return Err(TemplateError::Bad(format!(
                    "all URLs must go to one host:port ({}), found {}",
                    first.authority(),
                    url.authority()
                )));
            }
            requests.push(serialize(url, template));
            sum += weight;
            cumulative.push(sum);
        }
        Ok(Requests {
            host: first.host.clone(),
            port: first.port,
            method: template.method.clone(),
            requests,
            cumulative,
        })
    }

    /// The URLs of a file (`URL [WEIGHT]` per line).
    pub fn from_file(path: &Path, template: &Template) -> Result<Requests, TemplateError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| TemplateError::Read {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let urls = parse_urls(&shown, &text)?;
        if urls.is_empty() {
            return Err(TemplateError::Bad(format!(
                "{shown}: no URLs (expected one `URL [WEIGHT]` per line)"
            )));
        }
        Requests::weighted(&urls, template)
    }

    /// Whether responses to these requests carry no body (HEAD).
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    /// The request for a random draw `r` (uniform over u64).
    pub fn pick(&self, r: u64) -> &Bytes {
        if self.requests.len() == 1 {
            return &self.requests[0];
        }
        let total = *self.cumulative.last().unwrap_or(&1);
        let x = r % total;
        let i = self.cumulative.partition_point(|c| *c <= x);
        &self.requests[i.min(self.requests.len() - 1)]
    }
}

fn check_template(t: &Template) -> Result<(), TemplateError> {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !token(&t.method) {
        return Err(TemplateError::Bad(format!(
            "the method {:?} is not an HTTP method token",
            t.method
        )));
    }
    for (name, value) in &t.headers {
        if !token(name) {
            return Err(TemplateError::Bad(format!(
                "the header name {name:?} is not a valid token"
            )));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(TemplateError::Bad(format!(
                "the value of header {name:?} holds a line break"
            )));
        }
    }
    Ok(())
}

/// `Name: value` as given on a command line.
pub fn parse_header(text: &str) -> Result<(String, String), TemplateError> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| TemplateError::Bad(format!("header {text:?}: expected \"Name: value\"")))?;
    Ok((name.trim().to_string(), value.trim().to_string()))
}

fn serialize(url: &Url, t: &Template) -> Bytes {
    let mut out = format!("{} {} HTTP/1.1\r\n", t.method, url.path);
    let has = |name: &str| t.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !has("host") {
        out.push_str(&format!("Host: {}\r\n", url.authority()));
    }
    if !has("user-agent") {
        out.push_str(concat!(
            "User-Agent: monkeywrench/",
            env!("CARGO_PKG_VERSION"),
            "\r\n"
        ));
    }
    for (name, value) in &t.headers {
        if name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !t.body.is_empty() || matches!(t.method.as_str(), "POST" | "PUT" | "PATCH") {
        out.push_str(&format!("Content-Length: {}\r\n", t.body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&t.body);
    Bytes::from(bytes)
}

/// The `(URL, weight)` lines of a URLs file; problems name `file:line:column`.
pub fn parse_urls(file: &str, text: &str) -> Result<Vec<(Url, u64)>, TemplateError> {
    let mut urls = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = |col: usize| format!("{file}:{}:{}", i + 1, col + 1);
        let col_of = |word: &str| word.as_ptr() as usize - line.as_ptr() as usize;
        let mut words = line.split_whitespace();
        let url_word = words.next().unwrap_or_default();
        let url = Url::parse(url_word).map_err(|problem| TemplateError::Line {
            at: at(col_of(url_word)),
            problem,
        })?;
        let weight = match words.next() {
            None => 1,
            Some(w) => w
                .parse::<u64>()
                .ok()
                .filter(|w| (1..=1_000_000).contains(w))
                .ok_or_else(|| TemplateError::Line {
                    at: at(col_of(w)),
                    problem: format!("expected a weight 1..1000000, found {w:?}"),
                })?,
        };
        if let Some(extra) = words.next() {
            return Err(TemplateError::Line {
                at: at(col_of(extra)),
                problem: format!("unexpected {extra:?} (expected `URL [WEIGHT]`)"),
            });
        }
        urls.push((url, weight));
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_ports_paths_and_queries() {
        let u = Url::parse("http://127.0.0.1:8080/a/b?c=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/a/b?c=1")
        );
        let u = Url::parse("http://localhost?x").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/?x"));
        let u = Url::parse("http://[::1]:9/").unwrap();
        assert_eq!(u.authority(), "[::1]:9");
        assert!(Url::parse("https://x/").unwrap_err().contains("https"));
        assert!(Url::parse("http://x:0/").unwrap_err().contains("port"));
        assert!(Url::parse("http:///p").is_err());
    }

    #[test]
    fn requests_are_serialized_once_with_host_and_length() {
        let t = Template {
            method: "POST".into(),
            headers: vec![("X-A".into(), "1".into())],
            body: Bytes::from_static(b"hi"),
        };
        let r = Requests::single(&Url::parse("http://h:81/p").unwrap(), &t).unwrap();
        let text = String::from_utf8(r.pick(7).to_vec()).unwrap();
        assert!(
            text.starts_with("POST /p HTTP/1.1\r\nHost: h:81\r\n"),
            "{text}"
        );
        assert!(text.contains("X-A: 1\r\n"));
        assert!(text.ends_with("Content-Length: 2\r\n\r\nhi"));
    }

    #[test]
    fn weighted_picks_follow_the_weights() {
        let urls = parse_urls("f", "http://h/a 3\n# c\n\nhttp://h/b\n").unwrap();
        let r = Requests::weighted(&urls, &Template::default()).unwrap();
        let a = (0..400u64)
            .filter(|i| r.pick(*i).starts_with(b"GET /a "))
            .count();
        assert_eq!(a, 300);
    }

    #[test]
    fn url_file_problems_name_file_line_and_column() {
        let err = |text: &str| parse_urls("urls.txt", text).unwrap_err().to_string();
        assert_eq!(
            err("http://h/a\n  ftp://h/b 2\n"),
            "urls.txt:2:3: \"ftp://h/b\" is not an http:// URL (https is not supported)"
        );
        assert_eq!(
            err("http://h/a zero\n"),
            "urls.txt:1:12: expected a weight 1..1000000, found \"zero\""
        );
        assert!(err("http://h/a 1 more").starts_with("urls.txt:1:14: unexpected \"more\""));
        let two = parse_urls("f", "http://a:1/\nhttp://b:2/\n").unwrap();
        assert!(
            Requests::weighted(&two, &Template::default())
                .unwrap_err()
                .to_string()
                .contains("one host:port")
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        let url = Url::parse("http://h/").unwrap();
        let bad = |t: Template| Requests::single(&url, &t).unwrap_err().to_string();
        assert!(
            bad(Template {
                method: "G T".into(),
                ..Template::default()
            })
            .contains("method")
        );
        let t = Template {
            headers: vec![("X".into(), "a\r\nInjected: 1".into())],
            ..Template::default()
        };
        assert!(bad(t).contains("line break"));
        assert!(
            parse_header("NoColon")
                .unwrap_err()
                .to_string()
                .contains("Name: value")
        );
    }
}
