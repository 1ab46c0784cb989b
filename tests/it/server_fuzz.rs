//! schemathesis (PyPI; `scripts/schemathesis-venv` installs it, `scripts/test` sets
//! MONKEYWRENCH_TEST_SCHEMATHESIS) fuzzes a real server from its own `/api/openapi.json`:
//! valid and invalid requests to every operation; no answer may be a 5xx and none may hang
//! (each request has a timeout, the whole run a time budget and a bounded number of examples).

use std::process::Command;

use crate::harness::{TempDir, write};
use crate::server_harness::{NEVER, PASSING, Server, blocked_experiment};

#[test]
fn schemathesis_finds_no_server_error_in_the_api() {
    let st = match std::env::var("MONKEYWRENCH_TEST_SCHEMATHESIS") {
        Ok(st) => st,
        Err(_) => {
            assert!(
                std::env::var("MONKEYWRENCH_REQUIRE_SCHEMATHESIS").is_err(),
                "MONKEYWRENCH_TEST_SCHEMATHESIS is not set but the API fuzzing is required"
            );
            eprintln!("SKIPPED: set MONKEYWRENCH_TEST_SCHEMATHESIS (scripts/schemathesis-venv)");
            return;
        }
    };
    let dir = TempDir::new("srv-fuzz");
    write(dir.path(), "a.json", PASSING);
    write(
        dir.path(),
        "blocked.json",
        &blocked_experiment(&dir.path().join("release"), None),
    );
    write(
        dir.path(),
        "server.yaml",
        &format!(
            "experiments:\n  - {{name: alpha, file: a.json, schedule: {{every: 1s}}}}\n  - {{name: blocked, file: blocked.json, schedule: {NEVER}}}\n"
        ),
    );
    let mut server = Server::start(dir.path(), "server.yaml", &[]);
    let schema = format!("http://{}/api/openapi.json", server.addr);
    let out = Command::new(&st)
        .args(["run", &schema, "--checks", "not_a_server_error"])
        .args([
            "--max-examples",
            "10",
            "--request-timeout",
            "10",
            "--max-time",
            "60",
        ])
        .args(["--generation-deterministic", "--workers", "1"])
        .current_dir(dir.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("schemathesis starts");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis failed:\n{report}\n{}",
        server.log()
    );
    // It really exercised the API: every operation of the document was tested.
    let number_after = |label: &str| {
        report
            .split(label)
            .nth(1)
            .and_then(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .find(|s| !s.is_empty())
            })
            .and_then(|n| n.parse::<usize>().ok())
    };
    let selected = number_after("Selected: ");
    assert!(selected.is_some_and(|n| n >= 14), "{report}");
    assert_eq!(number_after("Tested: "), selected, "{report}");
    std::fs::write(dir.path().join("release"), "").unwrap();
    assert_eq!(server.stop(), Some(0), "{}", server.log());
}
