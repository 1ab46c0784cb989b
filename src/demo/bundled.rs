//! The experiments `monkeywrench demo` runs, compiled into the binary.

/// The bundled experiments: (file name, YAML text). Both read the service URL from `demo_url`.
pub const EXPERIMENTS: &[(&str, &str)] = &[
    ("steady.yaml", include_str!("experiments/steady.yaml")),
    ("breaks.yaml", include_str!("experiments/breaks.yaml")),
];
