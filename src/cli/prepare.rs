//! Shared front half of `run` and `validate`: load the source, validate it, print diagnostics,
//! apply `--var`/`--var-file` overrides.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{Map, Value};

use crate::experiment::diagnostic::{Diagnostic, Severity, Span};
use crate::experiment::load::{LoadOptions, load};
use crate::experiment::model::{DryMode, Experiment};
use crate::experiment::overrides;
use crate::experiment::python::Interpreter;
use crate::experiment::validate::{ValidateOptions, validate};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(super) enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON (diagnostics as a list; run events one per line).
    Json,
}

/// Options shared by `run` and `validate`.
#[derive(Debug, Args)]
pub(super) struct SourceArgs {
    /// Experiment file (.json, .yaml, .yml) or http(s) URL.
    pub source: String,
    /// Override a configuration key: KEY=VALUE or KEY:TYPE=VALUE (str, int, float, bytes, bool, json). Repeatable.
    #[arg(long = "var", value_name = "KEY[:TYPE]=VALUE")]
    pub vars: Vec<String>,
    /// JSON/YAML file with {configuration, secrets}, or a .env file whose KEY=VALUE lines enter the environment. Repeatable.
    #[arg(long = "var-file", value_name = "PATH")]
    pub var_files: Vec<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,
    /// Don't verify TLS certificates (URL sources and http providers).
    #[arg(long)]
    pub no_verify_tls: bool,
    /// Python interpreter for `python` providers and controls (default: MONKEYWRENCH_PYTHON, else the first python3 on PATH, e.g. an active virtualenv's).
    #[arg(long, value_name = "PATH")]
    pub python: Option<String>,
    /// Print diagnostics (and, for run, events) as text or JSON.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// A validated experiment ready to run, with the environment overlay from `.env` files.
pub(super) struct Prepared {
    /// The experiment with overrides applied.
    pub experiment: Experiment,
    /// Variables from `.env` var files (they win over the process environment).
    pub env_overlay: HashMap<String, String>,
    /// The interpreter chosen for python providers and controls.
    pub python: Interpreter,
    /// SHA-256 of the source's bytes (lowercase hex).
    pub source_sha256: String,
}

impl Prepared {
    /// Looks a variable up in the overlay, then the process environment.
    pub(super) fn env(&self, key: &str) -> Option<String> {
        lookup(&self.env_overlay, key)
    }
}

/// Looks `key` up in `overlay`, then in the process environment.
pub(super) fn lookup(overlay: &HashMap<String, String>, key: &str) -> Option<String> {
    overlay
        .get(key)
        .cloned()
        .or_else(|| std::env::var(key).ok())
}

/// Loads, validates and applies overrides; prints every diagnostic. `Err(())` means exit 64.
pub(super) async fn prepare(
    args: &SourceArgs,
    dry: Option<DryMode>,
    diagnostics_format: OutputFormat,
) -> Result<Prepared, ()> {
    let file = args.source.clone();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();

    let mut configuration = Map::new();
    let mut secrets = Map::new();
    let mut env_overlay = HashMap::new();
    for path in &args.var_files {
        match overrides::load_var_file(path) {
            Ok(vf) => {
                configuration.extend(vf.configuration);
                secrets.extend(vf.secrets);
                env_overlay.extend(vf.env);
            }
            Err(e) => diagnostics.push(option_error(
                &path.display().to_string(),
                &format!("--var-file: {e}"),
            )),
        }
    }
    for spec in &args.vars {
        match overrides::parse_var(spec) {
            Ok((k, v)) => {
                configuration.insert(k, v);
            }
            Err(e) => diagnostics.push(option_error(&file, &format!("--var {spec:?}: {e}"))),
        }
    }

    let loaded = match load(
        &file,
        &LoadOptions {
            verify_tls: !args.no_verify_tls,
        },
    )
    .await
    {
        Ok(l) => l,
        Err(e) => {
            diagnostics.push(e.to_diagnostic());
            print_diagnostics(&diagnostics, diagnostics_format);
            return Err(());
        }
    };
    diagnostics.extend(loaded.warnings);
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut env: HashMap<String, String> = std::env::vars().collect();
    env.extend(env_overlay.iter().map(|(k, v)| (k.clone(), v.clone())));
    let python = Interpreter::choose(
        args.python.as_deref(),
        &|k: &str| lookup(&env_overlay, k),
        &cwd,
    );
    let validated = validate(
        &loaded.root,
        &loaded.file,
        &ValidateOptions {
            cwd,
            dry,
            env,
            python: Some(python.clone()),
        },
    );
    diagnostics.extend(validated.diagnostics);

    let mut experiment = validated.experiment;
    if let Some(exp) = experiment.as_mut() {
        let undeclared = overrides::apply(exp, &configuration, &secrets);
        if !undeclared.is_empty() {
            diagnostics.push(Diagnostic::warning(
                &loaded.file,
                Span::new(1, 1),
                "",
                format!(
                    "overrides for undeclared keys are ignored: {}",
                    undeclared.join(", ")
                ),
            ));
        }
    }
    if args.strict {
        for d in diagnostics.iter_mut() {
            d.severity = Severity::Error;
        }
    }
    print_diagnostics(&diagnostics, diagnostics_format);
    match experiment {
        Some(experiment) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(Prepared {
            experiment,
            env_overlay,
            python,
            source_sha256: loaded.sha256,
        }),
        _ => Err(()),
    }
}

fn option_error(file: &str, message: &str) -> Diagnostic {
    Diagnostic::error(file, Span::new(1, 1), "", message.to_string())
}

/// Prints diagnostics to stderr as `file:line:column: severity: path: message`, or as a JSON list on stdout.
pub(super) fn print_diagnostics(diagnostics: &[Diagnostic], output: OutputFormat) {
    match output {
        OutputFormat::Text => {
            for d in diagnostics {
                eprintln!("{d}");
            }
        }
        OutputFormat::Json => {
            let list: Vec<Value> = diagnostics
                .iter()
                .filter_map(|d| serde_json::to_value(d).ok())
                .collect();
            println!("{}", Value::Array(list));
        }
    }
}
