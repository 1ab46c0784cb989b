//! The validated experiment: what the engine runs. Built by `validate` from the source tree; does no I/O.
//!
//! Values that Chaos Toolkit substitutes at run time (`${name}`) are kept unsubstituted here as JSON
//! values; the engine substitutes them once configuration and secrets are resolved.

use std::path::PathBuf;

use serde_json::Value;

use crate::builtin::Func;

/// A validated experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// Title, unsubstituted (substituted once at run start).
    pub title: String,
    /// Description, never substituted.
    pub description: String,
    pub tags: Vec<String>,
    pub hypothesis: Option<Hypothesis>,
    /// Method activities in order, `ref`s resolved.
    pub method: Vec<Activity>,
    /// Rollback activities in order, `ref`s resolved.
    pub rollbacks: Vec<Activity>,
    /// Configuration entries in file order.
    pub configuration: Vec<(String, ConfigValue)>,
    /// Secret groups in file order: group name → (secret name → value).
    pub secrets: Vec<(String, Vec<(String, SecretValue)>)>,
    /// `runtime` strategies named in the file (each falls back to default independently).
    pub runtime: Runtime,
    /// Safeguards (EXTENSION §11.3).
    pub safeguards: Vec<Safeguard>,
    /// Top-level blast radius (EXTENSION §11.4).
    pub blast_radius: Option<crate::target::BlastRadius>,
    /// `max-surge-rate`: the most req/s the run's traffic surges may send together.
    pub max_surge_rate: Option<f64>,
    /// Top-level `controls` (Chaos Toolkit hooks, run through the Python worker).
    pub controls: Vec<Control>,
    /// The file as loaded, key order kept, for the journal's `experiment` copy.
    pub document: Value,
}

impl Experiment {
    /// True when the file declares configuration or secrets (process/http `arguments` are only
    /// substituted then, as in Chaos Toolkit).
    pub fn has_configuration_or_secrets(&self) -> bool {
        !self.configuration.is_empty() || !self.secrets.is_empty()
    }
}

/// The steady-state hypothesis.
#[derive(Debug, Clone)]
pub struct Hypothesis {
    pub title: String,
    /// Probes, each with a tolerance; empty = exploring only.
    pub probes: Vec<Activity>,
    /// Hypothesis-level `controls`.
    pub controls: Vec<Control>,
    /// The hypothesis as written (the `context` its controls receive).
    pub document: Value,
}

/// One entry of a `controls` list (Chaos Toolkit's control hooks).
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    /// Its name (`ref` entries name the top-level control they bring in).
    pub name: String,
    /// `ref: name` entries only bring in a top-level control.
    pub is_ref: bool,
    /// The Python module implementing the hooks (`None` for non-python providers, which CTK skips).
    pub module: Option<String>,
    /// `provider.arguments`, unsubstituted.
    pub arguments: Value,
    /// `scope`: only before or only after hooks.
    pub scope: Option<ControlScope>,
    /// `automatic` (default true): top-level controls apply to every level below.
    pub automatic: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlScope {
    Before,
    After,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityKind {
    /// Measures; may carry a tolerance.
    Probe,
    /// Changes the world.
    Action,
}

/// One activity (probe or action) with its provider.
#[derive(Debug, Clone)]
pub struct Activity {
    pub kind: ActivityKind,
    /// Name (not substituted).
    pub name: String,
    pub provider: Provider,
    /// Pause before the provider runs.
    pub pause_before: Option<Seconds>,
    /// Pause after the provider runs.
    pub pause_after: Option<Seconds>,
    /// Runs concurrently; awaited at the end of the method.
    pub background: bool,
    /// Activity-level timeout in seconds (the smaller of this and the provider's wins).
    pub timeout: Option<f64>,
    /// Tolerance (judged for hypothesis probes and safeguards; recorded for method probes).
    pub tolerance: Option<Tolerance>,
    /// Per-activity dry mode from the file.
    pub dry: Option<DryMode>,
    /// How long a reversible builtin fault lasts (EXTENSION §11.2).
    pub duration: Option<Seconds>,
    /// Activity-level `controls`.
    pub controls: Vec<Control>,
    /// The activity as written (after `ref` resolution), unsubstituted, for the journal.
    pub document: Value,
    /// Where it came from, for messages: `method[2]`, `steady-state-hypothesis.probes[0]`.
    pub location: String,
}

/// A number of seconds, or exactly `"${var}"` resolved at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum Seconds {
    Literal(f64),
    /// A `${var}` placeholder (the variable name).
    Var(String),
}

/// What an activity runs.
#[derive(Debug, Clone)]
pub enum Provider {
    /// A child process.
    Process(ProcessProvider),
    /// An HTTP request.
    Http(HttpProvider),
    /// A native probe or action (including Python functions aliased to one).
    Builtin(BuiltinProvider),
    /// A Python function run in the user's interpreter by the worker.
    Python(PythonProvider),
}

/// `provider.type: python` not mapped to a builtin.
#[derive(Debug, Clone)]
pub struct PythonProvider {
    pub module: String,
    pub func: String,
    /// Keyword arguments, unsubstituted.
    pub arguments: Value,
    /// `provider.secrets`: the secret groups merged into the `secrets` argument.
    pub secrets: Option<Vec<String>>,
}

/// `provider.type: process`.
#[derive(Debug, Clone)]
pub struct ProcessProvider {
    /// The path as written (not substituted).
    pub path: String,
    /// The executable as resolved at validation (re-resolved at run time).
    pub resolved: Option<PathBuf>,
    /// Arguments, unsubstituted.
    pub arguments: ProcessArguments,
    /// Timeout in seconds (not substituted).
    pub timeout: Option<f64>,
}

/// The three shapes `process` arguments may take.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessArguments {
    None,
    /// A list: items stringified, `null` and `""` dropped, no shell.
    List(Vec<Value>),
    /// A string: run as `sh -c "<path> <arguments>"`.
    Shell(String),
}

/// `provider.type: http`.
#[derive(Debug, Clone)]
pub struct HttpProvider {
    /// URL, unsubstituted.
    pub url: String,
    /// Upper-cased method (`GET` by default).
    pub method: String,
    /// Headers mapping, unsubstituted.
    pub headers: Vec<(String, Value)>,
    /// Arguments (query for GET, else JSON or form body), unsubstituted.
    pub arguments: Option<Value>,
    /// Timeout: number, `[connect, read]` or `${var}`, unsubstituted.
    pub timeout: Option<Value>,
    /// Verify TLS certificates (default true).
    pub verify_tls: bool,
    /// Retries on connection errors (default 0).
    pub max_retries: u32,
}

/// `provider.type: builtin` (or a python function aliased to a builtin).
#[derive(Debug, Clone)]
pub struct BuiltinProvider {
    pub func: Func,
    /// Arguments, unsubstituted (schema already checked where literal).
    pub arguments: Value,
    /// Provider timeout in seconds.
    pub timeout: Option<f64>,
    /// The Python function it stands for (`os.path.exists`), when aliased from one.
    pub python: Option<String>,
}

/// How a probe's output is judged (spec §4); a `type: probe` tolerance holds a whole activity.
pub type Tolerance = crate::probe::tolerance::Tolerance<Box<Activity>>;

/// A configuration value (spec §5).
#[derive(Debug, Clone)]
pub enum ConfigValue {
    /// Used as is.
    Literal(Value),
    /// Read from the environment at run start.
    Env {
        key: String,
        /// Value when the variable is missing.
        default: Option<Value>,
        /// Conversion to apply.
        var_type: EnvVarType,
    },
    /// Computed by running a probe after secrets are resolved.
    Dynamic(Box<Activity>),
}

/// `env_var_type` of an env configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvVarType {
    /// `str`/`string` (default).
    Str,
    /// `int`/`integer`.
    Int,
    /// `float`/`number`.
    Float,
    /// `bytes` (kept as text).
    Bytes,
    /// `bool`: false for `false`/`0`/`no` (any case), else true.
    Bool,
    /// `json`: parsed.
    Json,
}

/// A secret value (spec §5).
#[derive(Debug, Clone)]
pub enum SecretValue {
    /// Written in the file (redacted in the journal).
    Inline(Value),
    /// Read from the environment (no default).
    Env { key: String },
    /// Read from HashiCorp Vault.
    Vault {
        path: String,
        /// Key inside the secret, if only one is wanted.
        key: Option<String>,
    },
}

/// The `runtime` block: strategies, the during-loop frequency and fail-fast.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Runtime {
    /// `runtime.hypothesis.strategy`.
    pub hypothesis: Option<HypothesisStrategy>,
    /// `runtime.hypothesis.frequency`: seconds between during iterations.
    pub hypothesis_frequency: Option<f64>,
    /// `runtime.hypothesis.fail_fast`: stop the method at the first deviating during iteration.
    pub fail_fast: bool,
    /// `runtime.rollbacks.strategy`.
    pub rollbacks: Option<RollbackStrategy>,
}

/// When the steady-state hypothesis is checked (spec §6.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HypothesisStrategy {
    /// Before and after the method.
    #[default]
    Default,
    /// Only before (as a gate).
    BeforeMethodOnly,
    /// Only after.
    AfterMethodOnly,
    /// Only in a loop during the method.
    DuringMethodOnly,
    /// Before, during and after.
    Continuously,
    /// Never.
    Skip,
}

impl HypothesisStrategy {
    /// All accepted spellings (`continously` is CTK's historical typo, accepted with a warning).
    pub const NAMES: [&'static str; 6] = [
        "default",
        "before-method-only",
        "after-method-only",
        "during-method-only",
        "continuously",
        "skip",
    ];

    /// Parses a strategy name (not the typo; callers handle `continously` with a warning).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "default" => Self::Default,
            "before-method-only" => Self::BeforeMethodOnly,
            "after-method-only" => Self::AfterMethodOnly,
            "during-method-only" => Self::DuringMethodOnly,
            "continuously" => Self::Continuously,
            "skip" => Self::Skip,
            _ => return None,
        })
    }

    /// Checks the hypothesis before the method.
    pub fn before(self) -> bool {
        matches!(
            self,
            Self::Default | Self::BeforeMethodOnly | Self::Continuously
        )
    }

    /// Checks the hypothesis in a loop during the method.
    pub fn during(self) -> bool {
        matches!(self, Self::DuringMethodOnly | Self::Continuously)
    }

    /// Checks the hypothesis after the method.
    pub fn after(self) -> bool {
        matches!(
            self,
            Self::Default | Self::AfterMethodOnly | Self::Continuously
        )
    }
}

/// When rollbacks are played (spec §6.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RollbackStrategy {
    /// Whenever a method action started; otherwise as CTK.
    #[default]
    Default,
    Always,
    Never,
    /// Only when the run deviated.
    Deviated,
}

impl RollbackStrategy {
    /// All accepted names.
    pub const NAMES: [&'static str; 4] = ["default", "always", "never", "deviated"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "default" => Self::Default,
            "always" => Self::Always,
            "never" => Self::Never,
            "deviated" => Self::Deviated,
            _ => return None,
        })
    }
}

/// `--dry` modes and per-activity `dry` (spec §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryMode {
    /// Probes don't execute.
    Probes,
    /// Actions don't execute.
    Actions,
    /// Nothing executes.
    Activities,
    /// Pauses are skipped.
    Pause,
}

impl DryMode {
    /// All accepted names.
    pub const NAMES: [&'static str; 4] = ["probes", "actions", "activities", "pause"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "probes" => Self::Probes,
            "actions" => Self::Actions,
            "activities" => Self::Activities,
            "pause" => Self::Pause,
            _ => return None,
        })
    }

    /// The name as written in files and the journal.
    pub fn name(self) -> &'static str {
        match self {
            Self::Probes => "probes",
            Self::Actions => "actions",
            Self::Activities => "activities",
            Self::Pause => "pause",
        }
    }

    /// Whether an activity of `kind` is skipped under this mode.
    pub fn skips(self, kind: ActivityKind) -> bool {
        match self {
            Self::Probes => kind == ActivityKind::Probe,
            Self::Actions => kind == ActivityKind::Action,
            Self::Activities => true,
            Self::Pause => false,
        }
    }
}

/// A safeguard: a probe with a tolerance checked continuously during the method (spec §11.3).
#[derive(Debug, Clone)]
pub struct Safeguard {
    /// The probe (with its tolerance).
    pub probe: Activity,
    /// Seconds between checks (default 1).
    pub frequency: f64,
    /// Consecutive breaches needed to trip (default 1).
    pub failures: u32,
}
