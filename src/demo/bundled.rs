//! The experiments `monkeywrench demo` runs, compiled into the binary.

/// The bundled experiments: (file name, YAML text, the exit code the story expects). Both read
/// the proxy API from `proxy_api` and the demo's pid (its replicas' parent) from `demo_pid`.
pub const EXPERIMENTS: &[(&str, &str, i32)] = &[
    (
        "replica-loss.yaml",
        include_str!("experiments/replica-loss.yaml"),
        crate::exit_code::OK,
    ),
    (
        "breaks.yaml",
        include_str!("experiments/breaks.yaml"),
        crate::exit_code::DEVIATED,
    ),
];
