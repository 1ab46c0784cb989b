use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::*;
use crate::experiment::source::Format;
use crate::server::schedule::{Overlap, Trigger};
use crate::store::StoreLocation;

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

fn dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mw-srvcfg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("check.yaml"), EXPERIMENT).unwrap();
    std::fs::write(
        dir.join("broken.yaml"),
        "title: t\nmethod:\n  - type: action\n    name: a\n    provider: {type: pyhton}\n",
    )
    .unwrap();
    dir
}

fn options(token: bool) -> LoadConfig {
    LoadConfig {
        token_given: token,
        now: "2026-12-02T12:00:00Z".parse::<Timestamp>().unwrap(),
    }
}

async fn yaml(text: &str, dir: &Path, token: bool) -> Result<ServerConfig, Vec<String>> {
    parse(text, Format::Yaml, "server.yaml", dir, &options(token))
        .await
        .map_err(|e| match e {
            ConfigError::Invalid(ds) => ds.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        })
}

#[tokio::test]
async fn a_full_config_reads_every_key() {
    let d = dir();
    let c = yaml(
        "listen: 127.0.0.1:7800\nstore: state/server.db\nseed: 9\ntime_zone: Europe/Berlin\n\
         experiments:\n\
         \x20 - name: nightly\n    file: check.yaml\n    schedule: \"30 2 * * *\"\n    targets: [shop-db]\n    variables: {marker: /}\n\
         \x20 - name: often\n    file: check.yaml\n    schedule:\n      every: 30m\n      time_zone: UTC\n      jitter: 2m\n      overlap: queue\n\
         \x20     window: {start_hour: 8, end_hour: 18, work_days: [mon, tue], holidays: [2026-12-24]}\n\
         \x20 - name: short\n    file: check.yaml\n    schedule: every 90s\n\
         notifications:\n  - url: http://127.0.0.1:9/hook\n    events: [deviated, halt]\n    format: slack\n    timeout_s: 2\n    retries: 0\n\
         \x20 - url: https://hooks.example/x\n\
         retention: {days: 30, runs: 500}\n",
        &d,
        false,
    )
    .await
    .unwrap();
    assert_eq!(c.listen, "127.0.0.1:7800");
    assert_eq!(
        c.store,
        Some(StoreLocation::Sqlite(d.join("state/server.db")))
    );
    assert_eq!((c.seed, c.time_zone_name.as_str()), (9, "Europe/Berlin"));
    let nightly = &c.experiments[0];
    assert_eq!(
        nightly.schedule.tz_name, "Europe/Berlin",
        "the config's zone by default"
    );
    assert!(nightly.targets.contains("shop-db"));
    assert_eq!(nightly.variables["marker"], "/");
    assert!(matches!(nightly.schedule.trigger, Trigger::Cron(_)));
    let often = &c.experiments[1];
    assert_eq!(often.schedule.tz_name, "UTC");
    assert_eq!(often.schedule.overlap, Overlap::Queue);
    assert_eq!(
        often.schedule.jitter,
        Some(jiff::SignedDuration::from_mins(2))
    );
    assert!(often.schedule.window.is_some());
    assert!(matches!(c.experiments[2].schedule.trigger, Trigger::Every(d) if d.as_secs() == 90));
    assert_eq!(c.notifications[0].format, HookFormat::Slack);
    assert_eq!(c.notifications[0].events.len(), 2);
    assert_eq!(
        c.notifications[1].events.len(),
        HookEvent::ALL.len(),
        "all by default"
    );
    assert_eq!(
        c.retention,
        Retention {
            days: Some(30),
            runs: Some(500)
        }
    );
    let pg = yaml(
        "store: postgres://u:p@127.0.0.1/db\nexperiments: []\n",
        &d,
        false,
    )
    .await
    .unwrap();
    assert!(matches!(pg.store, Some(StoreLocation::Postgres(_))));
    assert_eq!(pg.listen, DEFAULT_LISTEN);
    let _ = std::fs::remove_dir_all(d);
}

#[tokio::test]
async fn every_problem_is_reported_at_once_with_its_position() {
    let d = dir();
    let errors = yaml(
        "listen: 0.0.0.0:7700\nstroe: x.db\ntime_zone: Mars/Olympus\nexperiments:\n\
         \x20 - name: a\n    file: check.yaml\n    schedule: \"0 0 30 2 *\"\n\
         \x20 - name: a\n    file: missing.yaml\n    schedule: {every: soon}\n\
         \x20 - name: bad name!\n    file: check.yaml\n    schedule: {cron: '61 * * * *', overlap: maybe, jiter: 1m}\n\
         \x20 - name: c\n    file: broken.yaml\n    schedule: every 1h\n\
         \x20 - name: d\n    file: check.yaml\n    schedule: {cron: '0 10 * * sat', window: {work_days: [mon]}}\n    variables: {markr: /}\n\
         notifications:\n  - url: ftp://x\n    events: [deviatd]\n    retries: 99\n\
         retention: {days: 0}\n",
        &d,
        false,
    )
    .await
    .unwrap_err();
    let all = errors.join("\n");
    for needle in [
        "server.yaml:1:9: error: listen: 0.0.0.0:7700 is beyond loopback: an auth token is required",
        "server.yaml:2:1: error: stroe: unknown key; expected listen, store",
        "(did you mean \"store\"?)",
        "server.yaml:3:12: error: time_zone: unknown time zone \"Mars/Olympus\"",
        "server.yaml:7:15: error: experiments[0].schedule: cron \"0 0 30 2 *\" never fires",
        "server.yaml:8:11: error: experiments[1].name: duplicate experiment name \"a\" (first at line 5)",
        "server.yaml:9:11: error: experiments[1].file: ",
        "server.yaml:10:23: error: experiments[1].schedule.every: \"soon\" is not an interval",
        "server.yaml:11:11: error: experiments[2].name: \"bad name!\" is not a valid name",
        "server.yaml:13:22: error: experiments[2].schedule.cron: invalid cron expression \"61 * * * *\"",
        "experiments[2].schedule.overlap: expected skip or queue",
        "experiments[2].schedule.jiter: unknown key; expected cron, every, time_zone, jitter, window, overlap (did you mean \"jitter\"?)",
        "server.yaml:19:22: error: experiments[4].schedule: cron \"0 10 * * sat\" never fires inside its window",
        "server.yaml:20:17: error: experiments[4].variables.markr: \"markr\" is not declared in the configuration",
        "(did you mean \"marker\"?)",
        "server.yaml:22:10: error: notifications[0].url: \"ftp://x\" is not an http:// or https:// URL",
        "notifications[0].events[0]: unknown event \"deviatd\"",
        "(did you mean \"deviated\"?)",
        "notifications[0].retries: expected 0 to 10",
        "retention.days: expected a whole number ≥ 1",
        "broken.yaml:5:",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
    assert!(
        errors[0].starts_with("server.yaml:"),
        "the config's own problems come first:\n{all}"
    );
    // With a token the address is fine.
    let ok = yaml("listen: 0.0.0.0:7700\nexperiments: []\n", &d, true).await;
    assert!(ok.is_ok(), "{ok:?}");
    let missing = yaml("listen: 127.0.0.1:1\n", &d, false)
        .await
        .unwrap_err()
        .join("\n");
    assert!(
        missing.contains("missing required key \"experiments\""),
        "{missing}"
    );
    let _ = std::fs::remove_dir_all(d);
}

#[tokio::test]
async fn a_monkey_file_is_read_beside_the_config_and_its_problems_reported_with_the_configs() {
    let d = dir();
    std::fs::write(
        d.join("monkey.yaml"),
        "name: shop\nenabled: true\nstart_hour: 9\nend_hour: 15\ndocker: false\n",
    )
    .unwrap();
    std::fs::write(
        d.join("bad-monkey.yaml"),
        "enabled: yes please\nstart_hour: 25\n",
    )
    .unwrap();
    let c = yaml("experiments: []\nmonkey: monkey.yaml\n", &d, false)
        .await
        .unwrap();
    let monkey = c.monkey.expect("the monkey's config");
    assert_eq!((monkey.name.as_str(), monkey.enabled), ("shop", true));
    assert!(
        yaml("experiments: []\n", &d, false)
            .await
            .unwrap()
            .monkey
            .is_none()
    );

    let all = yaml(
        "stroe: x\nexperiments: []\nmonkey: bad-monkey.yaml\n",
        &d,
        false,
    )
    .await
    .unwrap_err()
    .join("\n");
    for needle in [
        "server.yaml:1:1: error: stroe: unknown key",
        "bad-monkey.yaml:1:10: error: enabled:",
        "bad-monkey.yaml:2:13: error: start_hour:",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
    let all = yaml("experiments: []\nmonkey: nowhere.yaml\n", &d, false)
        .await
        .unwrap_err()
        .join("\n");
    assert!(
        all.contains("server.yaml:2:9: error: monkey: cannot read the monkey config"),
        "{all}"
    );
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn the_readme_documents_every_key() {
    use super::model::{
        EXPERIMENT_KEYS, HOOK_KEYS, KEYS, PROXY_KEYS, RETENTION_KEYS, SCHEDULE_KEYS, WINDOW_KEYS,
    };
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("### monkeywrench server\n")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("README has the server section");
    let keys = KEYS
        .iter()
        .chain(&EXPERIMENT_KEYS)
        .chain(&SCHEDULE_KEYS)
        .chain(&WINDOW_KEYS)
        .chain(&HOOK_KEYS)
        .chain(&RETENTION_KEYS)
        .chain(&PROXY_KEYS);
    for key in keys {
        assert!(
            section.contains(&format!("`{key}`"))
                || section.contains(&format!("{{{key}"))
                || section.contains(&format!(" {key} ("))
                || section.contains(&format!("{key}: N")),
            "README: {key}"
        );
    }
    for event in HookEvent::ALL {
        assert!(
            section.contains(&format!("`{}`", event.as_str())),
            "README: {}",
            event.as_str()
        );
    }
}

#[tokio::test]
async fn proxies_are_urls_or_mappings_and_their_problems_have_positions() {
    let d = dir();
    let c = yaml(
        "experiments: []\nproxies:\n  - http://127.0.0.1:8474/\n  - {url: 'https://p.example:9', name: shop, token: t0}\n",
        &d,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        c.proxies,
        vec![
            ProxySource {
                name: "127.0.0.1:8474".into(),
                url: "http://127.0.0.1:8474".into(),
                token: None
            },
            ProxySource {
                name: "shop".into(),
                url: "https://p.example:9".into(),
                token: Some("t0".into())
            },
        ]
    );
    let errors = yaml(
        "experiments: []\nproxies:\n  - ftp://x\n  - {name: a}\n  - {url: 'http://a:1', token: x, token_env: Y}\n  - {url: 'http://a:1', token_env: MW_TEST_UNSET_PROXY_TOKEN}\n  - {url: 'http://b:1', tokn: x}\n  - http://b:1\n  - 5\n",
        &d,
        false,
    )
    .await
    .unwrap_err()
    .join("\n");
    for wanted in [
        "server.yaml:3:5: error: proxies[0]: \"ftp://x\" is not an http:// or https:// URL",
        "server.yaml:4:5: error: proxies[1]: missing required key \"url\"",
        "server.yaml:5:32: error: proxies[2].token: give token or token_env, not both",
        "server.yaml:6:36: error: proxies[3].token_env: the environment variable MW_TEST_UNSET_PROXY_TOKEN is not set",
        "server.yaml:7:25: error: proxies[4].tokn: unknown key; expected url, name, token, token_env (did you mean \"token\"?)",
        "proxies[5]: duplicate proxy name \"b:1\"",
        "server.yaml:9:5: error: proxies[6]: expected a proxy API URL",
    ] {
        assert!(errors.contains(wanted), "{wanted}\n---\n{errors}");
    }
    let _ = std::fs::remove_dir_all(d);
}
