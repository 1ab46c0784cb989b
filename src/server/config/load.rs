//! Reading `server.yaml` and the experiment files it names, all checked in one pass: the
//! config's problems and every experiment's diagnostics are reported together.

use std::path::Path;

use jiff::Timestamp;
use serde_json::Map;

use super::check::{Check, Context, Top};
use super::model::{ScheduledExperiment, ServerConfig};
use crate::experiment::diagnostic::{Diagnostic, Span};
use crate::experiment::load::{LoadOptions, load as load_source};
use crate::experiment::overrides;
use crate::experiment::source::{self, Format, Reader};
use crate::experiment::validate::{ValidateOptions, validate};
use crate::monkey::config::{ConfigError as MonkeyConfigError, MonkeyConfig};

/// The config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("read the server config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Every problem found (errors and warnings; at least one error).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

/// What loading needs from outside.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Whether an auth token was given (`--auth-token` or `MONKEYWRENCH_AUTH_TOKEN`).
    pub token_given: bool,
    /// Now, for the "never fires" check.
    pub now: Timestamp,
}

/// Reads and validates `path` and every experiment file it names.
pub async fn load(path: &Path, options: &LoadConfig) -> Result<ServerConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let format = Format::of_path(path);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parse(&text, format, &path.display().to_string(), dir, options).await
}

/// Validates config text; `file` names it in diagnostics, `dir` anchors its relative paths.
pub async fn parse(
    text: &str,
    format: Format,
    file: &str,
    dir: &Path,
    options: &LoadConfig,
) -> Result<ServerConfig, ConfigError> {
    let parsed = source::parse(text, format, file).map_err(|d| ConfigError::Invalid(vec![d]))?;
    let mut c = Check {
        r: Reader::new(file),
        cx: Context {
            dir,
            token_given: options.token_given,
            now: options.now,
        },
    };
    let top = c.top(&parsed.root);
    let mut diagnostics = parsed.warnings;
    diagnostics.append(&mut c.r.errors);
    let (experiments, mut found) = experiments(&top, file, dir).await;
    diagnostics.append(&mut found);
    let monkey = top.monkey.as_ref().and_then(|(path, span)| {
        monkey(path, *span, file, dir)
            .map_err(|mut found| diagnostics.append(&mut found))
            .ok()
    });
    if diagnostics.iter().any(Diagnostic::is_error) {
        // The config's own problems first, then each experiment file's, each in file order.
        diagnostics.sort_by_key(|d| (d.file != file, d.file.clone(), d.line, d.column));
        return Err(ConfigError::Invalid(diagnostics));
    }
    Ok(ServerConfig {
        listen: top.listen,
        store: top.store,
        seed: top.seed,
        time_zone_name: top.time_zone_name,
        experiments,
        notifications: top.notifications,
        retention: top.retention,
        monkey,
        proxies: top.proxies.clone(),
        warnings: diagnostics,
    })
}

/// Reads and validates each experiment file; applies and checks the variables.
async fn experiments(
    top: &Top,
    file: &str,
    dir: &Path,
) -> (Vec<ScheduledExperiment>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut diagnostics = Vec::new();
    for draft in &top.drafts {
        // A URL is loaded as `run` loads it; a path is read against the config's directory.
        let resolved = if draft.file_text.contains("://") {
            std::path::PathBuf::from(&draft.file_text)
        } else {
            dir.join(&draft.file_text)
        };
        let shown = resolved.display().to_string();
        let loaded = match load_source(&shown, &LoadOptions { verify_tls: true }).await {
            Ok(l) => l,
            Err(e) => {
                let mut d = e.to_diagnostic();
                // A file that cannot be read is the config's problem: point at the entry.
                if matches!(e, crate::experiment::load::LoadError::Source { .. }) {
                    d = Diagnostic::error(
                        file,
                        draft.file_span,
                        format!("{}.file", draft.path),
                        format!("cannot read {shown}: {}", d.message),
                    );
                }
                diagnostics.push(d);
                continue;
            }
        };
        diagnostics.extend(loaded.warnings);
        // Runs start in the config's directory, so relative process paths resolve there.
        let cwd = dir.to_path_buf();
        let validated = validate(
            &loaded.root,
            &loaded.file,
            &ValidateOptions {
                cwd,
                dry: None,
                env: std::env::vars().collect(),
                // Python providers are checked in the interpreter when the run starts.
                python: None,
            },
        );
        diagnostics.extend(validated.diagnostics);
        let Some(mut experiment) = validated.experiment else {
            continue;
        };
        let declared: Vec<String> = experiment
            .configuration
            .iter()
            .map(|(k, _)| k.clone())
            .collect();
        let mut variables = Map::new();
        for (key, value) in &draft.variables {
            if !declared.contains(&key.name) {
                let mut r = Reader::new(file);
                r.unknown_key(
                    key,
                    &format!("{}.variables.{}", draft.path, key.name),
                    format!(
                        "{:?} is not declared in the configuration of {shown}",
                        key.name
                    ),
                    declared.iter().map(String::as_str),
                );
                diagnostics.append(&mut r.errors);
                continue;
            }
            variables.insert(key.name.clone(), value.clone());
        }
        overrides::apply(&mut experiment, &variables, &Map::new());
        let Some(schedule) = draft.schedule.clone() else {
            continue;
        };
        out.push(ScheduledExperiment {
            name: draft.name.clone(),
            file_text: draft.file_text.clone(),
            file: resolved,
            schedule,
            targets: draft.targets.clone(),
            variables,
            experiment,
        });
    }
    (out, diagnostics)
}

/// Reads the monkey's config (relative to the config's directory); its problems are reported
/// with the server config's, an unreadable file at the `monkey` key.
fn monkey(path: &str, span: Span, file: &str, dir: &Path) -> Result<MonkeyConfig, Vec<Diagnostic>> {
    let resolved = dir.join(path);
    crate::monkey::config::load(&resolved).map_err(|e| match e {
        MonkeyConfigError::Invalid(found) => found,
        MonkeyConfigError::Read { path, source } => vec![Diagnostic::error(
            file,
            span,
            "monkey",
            format!("cannot read the monkey config {path}: {source}"),
        )],
    })
}
