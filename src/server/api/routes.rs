//! The route table: every method and path the server answers, in one place. The router matches
//! requests against it; the OpenAPI document is checked against it by a test (both ways).

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Healthz,
    Metrics,
    OpenApi,
    Experiments,
    Experiment,
    RunNow,
    Runs,
    Run,
    RunEvents,
    RunAbort,
    Ledger,
    Halt,
    Resume,
    SchedulePause,
    ScheduleResume,
    Monkey,
    Traffic,
}

/// One route: `{name}` segments match any one segment and are handed to the endpoint in order.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub endpoint: Endpoint,
}

const fn r(method: &'static str, path: &'static str, endpoint: Endpoint) -> Route {
    Route {
        method,
        path,
        endpoint,
    }
}

pub const ROUTES: &[Route] = &[
    r("GET", "/healthz", Endpoint::Healthz),
    r("GET", "/metrics", Endpoint::Metrics),
    r("GET", "/api/openapi.json", Endpoint::OpenApi),
    r("GET", "/api/experiments", Endpoint::Experiments),
    r("GET", "/api/experiments/{name}", Endpoint::Experiment),
    r("POST", "/api/experiments/{name}/runs", Endpoint::RunNow),
    r("GET", "/api/runs", Endpoint::Runs),
    r("GET", "/api/runs/{id}", Endpoint::Run),
    r("GET", "/api/runs/{id}/events", Endpoint::RunEvents),
    r("POST", "/api/runs/{id}/abort", Endpoint::RunAbort),
    r("GET", "/api/ledger", Endpoint::Ledger),
    r("POST", "/api/halt", Endpoint::Halt),
    r("POST", "/api/resume", Endpoint::Resume),
    r("GET", "/api/traffic", Endpoint::Traffic),
    r(
        "POST",
        "/api/schedules/{name}/pause",
        Endpoint::SchedulePause,
    ),
    r(
        "POST",
        "/api/schedules/{name}/resume",
        Endpoint::ScheduleResume,
    ),
    r("GET", "/api/monkey", Endpoint::Monkey),
];

/// What the table says about a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    Route(Endpoint, Vec<String>),
    /// The path exists, with these methods only.
    WrongMethod(Vec<&'static str>),
    NotFound,
}

/// Matches `path` (percent-decoded per segment) against the table.
pub fn find(method: &str, path: &str) -> Found {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut allowed = Vec::new();
    for route in ROUTES {
        let pattern: Vec<&str> = route.path.split('/').skip(1).collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let matched = pattern.iter().zip(&segments).all(|(p, s)| {
            if p.starts_with('{') {
                params.push(percent_decode(s));
                !s.is_empty()
            } else {
                p == s
            }
        });
        if !matched {
            continue;
        }
        if route.method == method || (method == "HEAD" && route.method == "GET") {
            return Found::Route(route.endpoint, params);
        }
        allowed.push(route.method);
    }
    if allowed.is_empty() {
        Found::NotFound
    } else {
        Found::WrongMethod(allowed)
    }
}

/// `%XX` escapes decoded (invalid ones kept as written; invalid UTF-8 replaced).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_methods_and_parameters() {
        assert_eq!(
            find("GET", "/healthz"),
            Found::Route(Endpoint::Healthz, vec![])
        );
        assert_eq!(
            find("POST", "/api/experiments/night%20ly/runs"),
            Found::Route(Endpoint::RunNow, vec!["night ly".into()])
        );
        assert_eq!(
            find("DELETE", "/api/experiments/x/runs"),
            Found::WrongMethod(vec!["POST"])
        );
        assert_eq!(find("GET", "/api/experiments//runs"), Found::NotFound);
        assert_eq!(find("GET", "/api/nothing"), Found::NotFound);
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
