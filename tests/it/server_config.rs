//! `monkeywrench server --check` with the real binary: a good config prints each experiment's
//! next firings in its zone; a bad one prints every error with its position and exits 64.

use serde_json::Value;

use crate::harness::{TempDir, run_in, stderr, write};

const EXPERIMENT: &str = r#"title: t
description: d
configuration:
  marker: /tmp
steady-state-hypothesis:
  title: h
  probes:
    - type: probe
      name: p
      tolerance: true
      provider: {type: builtin, func: file.exists, arguments: {path: "${marker}"}}
method: []
"#;

#[test]
fn a_good_config_prints_the_next_firings_in_each_zone() {
    let dir = TempDir::new("srvcfg-good");
    write(dir.path(), "check.yaml", EXPERIMENT);
    write(
        dir.path(),
        "server.yaml",
        "time_zone: Europe/Berlin\nexperiments:\n\
         \x20 - {name: nightly, file: check.yaml, schedule: '30 2 * * *'}\n\
         \x20 - {name: tokyo, file: check.yaml, schedule: {cron: '0 9 * * mon', time_zone: Asia/Tokyo}}\n",
    );
    // The spring change in Berlin: Sunday 2026-03-29 has no 02:30; it fires at 03:00 CEST.
    let out = run_in(
        dir.path(),
        &[
            "server",
            "--check",
            "--config",
            "server.yaml",
            "--next",
            "3",
            "--from",
            "2026-03-27T12:00:00Z",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}\n{text}", stderr(&out));
    for needle in [
        "server.yaml: valid: 2 experiment(s)",
        "nightly (check.yaml): cron \"30 2 * * *\" (in Europe/Berlin, overlap skip)",
        "  2026-03-28 02:30:00 CET (+01:00)  (2026-03-28T01:30:00Z)",
        "  2026-03-29 03:00:00 CEST (+02:00)  (2026-03-29T01:00:00Z)",
        "  2026-03-30 02:30:00 CEST (+02:00)  (2026-03-30T00:30:00Z)",
        "tokyo (check.yaml): cron \"0 9 * * mon\" (in Asia/Tokyo",
        "  2026-03-30 09:00:00 JST (+09:00)  (2026-03-30T00:00:00Z)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let out = run_in(
        dir.path(),
        &[
            "server",
            "--check",
            "--config",
            "server.yaml",
            "--next",
            "2",
            "--from",
            "2026-10-24T12:00:00Z",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let next = &report["experiments"][0]["next"];
    // The fall-back day: 02:30 happens twice and fires once, at the first (CEST).
    assert_eq!(next[0]["local"], "2026-10-25T02:30:00+02:00[Europe/Berlin]");
    assert_eq!(next[1]["local"], "2026-10-26T02:30:00+01:00[Europe/Berlin]");
    assert_eq!(report["listen"], "127.0.0.1:7700");
}

#[test]
fn a_bad_config_prints_every_error_with_its_position_and_exits_64() {
    let dir = TempDir::new("srvcfg-bad");
    write(dir.path(), "check.yaml", EXPERIMENT);
    write(
        dir.path(),
        "broken.yaml",
        "title: t\ndescription: d\nmethod:\n  - type: action\n    name: a\n    provider: {type: pyhton}\n",
    );
    write(
        dir.path(),
        "server.yaml",
        "listen: 0.0.0.0:7700\nexperimnets: []\nexperiments:\n\
         \x20 - name: never\n    file: check.yaml\n    schedule: '0 0 30 2 *'\n\
         \x20 - name: broken\n    file: broken.yaml\n    schedule: every 1h\n\
         \x20 - name: gone\n    file: missing.yaml\n    schedule: {every: 30m, time_zone: Mars/Base}\n",
    );
    let out = run_in(
        dir.path(),
        &["server", "--check", "--config", "server.yaml"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(64), "{err}");
    for needle in [
        "server.yaml:1:9: error: listen: 0.0.0.0:7700 is beyond loopback: an auth token is required",
        "server.yaml:2:1: error: experimnets: unknown key; expected listen, store, seed, time_zone, experiments, notifications, retention, ",
        "(did you mean \"experiments\"?)",
        "server.yaml:6:15: error: experiments[0].schedule: cron \"0 0 30 2 *\" never fires",
        "server.yaml:11:11: error: experiments[2].file: cannot read ",
        "server.yaml:12:39: error: experiments[2].schedule.time_zone: unknown time zone \"Mars/Base\"",
        "broken.yaml:6:22: error: method[0].provider.type: unknown provider type \"pyhton\"",
        "(did you mean \"python\"?)",
        "monkeywrench server: 6 error(s) in server.yaml; nothing was scheduled",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    // A token makes the address acceptable; the rest stays wrong.
    let out = std::process::Command::new(crate::harness::binary())
        .args(["server", "--check", "--config", "server.yaml"])
        .env("MONKEYWRENCH_AUTH_TOKEN", "s3cret")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        !stderr(&out).contains("beyond loopback"),
        "{}",
        stderr(&out)
    );
    // The server itself refuses to start on the same errors.
    let out = run_in(dir.path(), &["server", "--config", "server.yaml"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("nothing was scheduled"),
        "{}",
        stderr(&out)
    );
    let out = run_in(dir.path(), &["server", "--check", "--config", "nope.yaml"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("read the server config nope.yaml"),
        "{}",
        stderr(&out)
    );
}
