//! Reading a config file and checking it in one pass.

use super::MonkeyConfig;
use super::check;
use crate::experiment::diagnostic::Diagnostic;
use crate::experiment::source::{self, Format, Reader};

/// The config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("read the monkey config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Syntax or meaning errors, all of them.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

/// Reads and validates a config file.
pub fn load(path: &std::path::Path) -> Result<MonkeyConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let format = Format::of_path(path);
    parse(&text, format, &path.display().to_string())
}

/// Validates config text; `file` names it in diagnostics.
pub fn parse(text: &str, format: Format, file: &str) -> Result<MonkeyConfig, ConfigError> {
    let parsed = source::parse(text, format, file).map_err(|d| ConfigError::Invalid(vec![d]))?;
    let mut c = check::Check(Reader::new(file));
    let config = c.config(&parsed.root);
    if c.errors.is_empty() {
        Ok(config)
    } else {
        c.errors.sort_by_key(|d| (d.line, d.column));
        Err(ConfigError::Invalid(c.0.errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monkey::config::{Grouping, KillMode};

    fn yaml(text: &str) -> Result<MonkeyConfig, Vec<String>> {
        parse(text, Format::Yaml, "monkey.yaml").map_err(|e| match e {
            ConfigError::Invalid(ds) => ds.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        })
    }

    #[test]
    fn defaults_are_netflixs() {
        let c = yaml("enabled: true\n").unwrap();
        assert!(c.enabled && c.leashed);
        assert_eq!((c.start_hour, c.end_hour), (9, 15));
        assert_eq!(c.grouping, Grouping::Cluster);
        assert_eq!(c.mean_time_between_kills, 2.0);
        assert_eq!(c.min_time_between_kills, 1);
        assert_eq!(c.work_days.len(), 5);
        assert_eq!(c.kill_mode, KillMode::One);
    }

    #[test]
    fn every_error_is_reported_with_its_line() {
        let errors = yaml(
            "enabled: yes please\ntime_zone: Mars/Olympus\nstart_hour: 17\nend_hour: 9\n\
             mean_time_between_kills_in_work_days: 0\nkill_mod: one\nholidays: [2026-13-01]\n\
             work_days: [monday, funday]\n",
        )
        .unwrap_err();
        let all = errors.join("\n");
        for needle in [
            "monkey.yaml:1:10: error: enabled: expected true or false",
            "monkey.yaml:2:12: error: time_zone: unknown time zone \"Mars/Olympus\"",
            "end_hour: end_hour (9) must be after start_hour (17)",
            "monkey.yaml:5:39: error: mean_time_between_kills_in_work_days: expected a number of work days > 0",
            "monkey.yaml:6:1: error: kill_mod: unknown key \"kill_mod\" (did you mean \"kill_mode\"?)",
            "monkey.yaml:7:12: error: holidays[0]: expected a date",
            "monkey.yaml:8:21: error: work_days[1]",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn kill_modes_processes_webhooks_and_gate() {
        let c = yaml(
            "kill_mode: {mode: fixed-percent, value: 50}\n\
             processes:\n  - {pattern: 'worker', app: billing, stack: prod}\n\
             webhooks: ['http://127.0.0.1:9/hook', {url: 'http://127.0.0.1:9/b', timeout_s: 1, retries: 0}]\n\
             outage_gate:\n  - type: probe\n    name: up\n    tolerance: true\n    provider: {type: builtin, func: file.exists, arguments: {path: /}}\n",
        )
        .unwrap();
        assert_eq!(c.kill_mode, KillMode::FixedPercent(50.0));
        assert_eq!(c.processes[0].app, "billing");
        assert_eq!(c.webhooks[1].retries, 0);
        assert!(c.outage_gate.is_some());
        let errors = yaml(
            "kill_mode: fixed\nprocesses: [{pattern: '(', app: x}, {name: y}]\n\
             outage_gate:\n  - type: probe\n    name: up\n    provider: {type: builtin, func: file.exist, arguments: {path: /}}\n",
        )
        .unwrap_err()
        .join("\n");
        assert!(errors.contains("kill mode fixed needs a value"), "{errors}");
        assert!(errors.contains("processes[0]"), "{errors}");
        assert!(
            errors.contains("processes[1]: a process entry needs an app"),
            "{errors}"
        );
        assert!(errors.contains("outage_gate[0]"), "{errors}");
        assert!(errors.contains("monkey.yaml:6:"), "{errors}");
        assert_eq!(KillMode::parse_label("fixed:2"), Ok(KillMode::Fixed(2)));
        let scoped = yaml("docker: {labels: {team: shop}}\n").unwrap();
        assert!(scoped.docker && scoped.docker_scope.is_some());
        let errors = yaml("docker: {lables: {team: shop}}\n")
            .unwrap_err()
            .join("\n");
        assert!(
            errors.contains("monkey.yaml:1:9: error: docker: target: unknown key \"lables\""),
            "{errors}"
        );
        assert!(KillMode::parse_label("most").is_err());
    }
}
