//! Loading experiments from URLs (Content-Type rules, bearer token, non-200) and from files with
//! syntax errors, through the real binary.

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};

use crate::harness::{TempDir, binary, run_in, stderr, write};

/// Serves one fixed response to every request and remembers the Authorization headers it saw.
fn serve(
    status: u16,
    content_type: &'static str,
    body: &'static str,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/exp", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if line.to_ascii_lowercase().starts_with("authorization:") {
                    seen2.lock().unwrap().push(line.trim().to_string());
                }
            }
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, seen)
}

const YAML: &str = "title: t\ndescription: d\nmethod: []\n";
const JSON: &str = "{\"title\": \"t\", \"description\": \"d\", \"method\": []}";

fn validate(url: &str, env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(binary())
        .args(["validate", url])
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn urls_are_parsed_by_content_type() {
    for (ct, body) in [
        ("application/json", JSON),
        ("application/x-yaml", YAML),
        ("text/yaml; charset=utf-8", YAML),
        ("text/plain", YAML),
        ("text/plain", JSON),
    ] {
        let (url, _) = serve(200, ct, body);
        let out = validate(&url, &[]);
        assert_eq!(out.status.code(), Some(0), "{ct}: {}", stderr(&out));
    }
    let (url, _) = serve(200, "text/html", JSON);
    let out = validate(&url, &[]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("unsupported Content-Type"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_non_200_answer_is_quoted_and_the_bearer_token_is_sent() {
    let (url, seen) = serve(403, "text/plain", "go away");
    let out = validate(&url, &[("CHAOSTOOLKIT_LOADER_AUTH_BEARER_TOKEN", "tok-42")]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("403") && stderr(&out).contains("go away"),
        "{}",
        stderr(&out)
    );
    assert!(seen.lock().unwrap()[0].ends_with("Bearer tok-42"));
}

#[test]
fn syntax_errors_and_unsafe_tags_are_positioned_and_nothing_runs() {
    let dir = TempDir::new("source-errors");
    let marker = dir.path().join("ran");
    let file = write(
        dir.path(),
        "e.yaml",
        &format!(
            "title: !!python/object/apply:os.system [\"touch {}\"]\ndescription: d\nmethod: []\n",
            marker.display()
        ),
    );
    let out = run_in(dir.path(), &["run", &file]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("e.yaml:1:8: error: unsupported YAML tag"),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists());
    assert!(
        !dir.path().join("journal.json").exists(),
        "nothing ran, no journal"
    );

    let bad = write(
        dir.path(),
        "bad.json",
        "{\n  \"title\": \"t\",\n  \"description\" \"d\"\n}\n",
    );
    let out = run_in(dir.path(), &["validate", &bad]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("bad.json:3:17: error: invalid JSON"),
        "{}",
        stderr(&out)
    );

    let txt = write(dir.path(), "e.txt", YAML);
    let out = run_in(dir.path(), &["validate", &txt]);
    assert!(
        stderr(&out).contains("unknown file extension"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn validate_lists_every_problem_as_json_and_strict_fails_on_warnings() {
    let dir = TempDir::new("validate-json");
    let file = write(
        dir.path(),
        "e.yaml",
        "description: d\nsteady-state-hypotesis: {}\nmethod:\n  - type: action\n    name: a\n    provider: {type: pyhton}\n",
    );
    let out = run_in(dir.path(), &["validate", "--output", "json", &file]);
    assert_eq!(out.status.code(), Some(64));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(
        list.iter()
            .any(|d| d["severity"] == "warning" && d["suggestion"] == "steady-state-hypothesis")
    );
    assert!(list.iter().all(
        |d| d["file"].as_str().unwrap().ends_with("e.yaml") && d["line"].as_u64().unwrap() >= 1
    ));

    let warn_only = write(
        dir.path(),
        "w.yaml",
        "title: t\ndescription: d\nmethod: []\nmethd: []\n",
    );
    assert_eq!(
        run_in(dir.path(), &["validate", &warn_only]).status.code(),
        Some(0)
    );
    assert_eq!(
        run_in(dir.path(), &["validate", "--strict", &warn_only])
            .status
            .code(),
        Some(64)
    );
}
