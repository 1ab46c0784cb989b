//! The dependency direction in the crate map (`lib.rs`), checked on the source text: a module
//! below `experiment` that imports it, or anything outside `cli` that imports `cli`, fails here
//! naming the file.

use std::path::{Path, PathBuf};

/// Modules that `experiment` builds on; none of them may import it.
const BELOW_EXPERIMENT: [&str; 12] = [
    "src/probe",
    "src/builtin",
    "src/fault",
    "src/target",
    "src/ledger",
    "src/proxy",
    "src/loadgen",
    "src/store",
    "src/schema.rs",
    "src/seed.rs",
    "src/http_serve.rs",
    "src/exit_code.rs",
];

fn rust_files(path: &Path, found: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let entries = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", path.display()));
        for entry in entries {
            rust_files(&entry.expect("directory entry").path(), found);
        }
    } else if path.extension().is_some_and(|ext| ext == "rs") {
        found.push(path.to_path_buf());
    }
}

fn files_under(roots: &[&str]) -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for root in roots {
        let path = manifest.join(root);
        assert!(
            path.exists(),
            "{} is gone: update this list",
            path.display()
        );
        rust_files(&path, &mut found);
    }
    found.sort();
    found
}

/// Whether `source` names `crate::<module>`, directly or inside a grouped `crate::{…}` import.
/// Line comments are skipped, so docs may mention the module.
fn imports(source: &str, module: &str) -> bool {
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let starts_with_module = |path: &str| {
        path.strip_prefix(module)
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    };
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if starts_with_module(rest) {
            return true;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut segment_start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        if starts_with_module(group[segment_start..i].trim_start()) {
                            return true;
                        }
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if starts_with_module(group[segment_start..i].trim_start()) {
                            return true;
                        }
                        segment_start = i + 1;
                    }
                    _ => {}
                }
            }
        }
    }
    false
}

fn offenders(files: &[PathBuf], module: &str) -> Vec<String> {
    files
        .iter()
        .filter(|file| {
            let text = std::fs::read_to_string(file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            imports(&text, module)
        })
        .map(|file| file.display().to_string())
        .collect()
}

#[test]
fn the_import_scan_sees_plain_and_grouped_imports() {
    assert!(imports(
        "use crate::experiment::model::Tolerance;",
        "experiment"
    ));
    assert!(imports(
        "use crate::{\n    target::Pid,\n    experiment::{model, engine},\n};",
        "experiment"
    ));
    assert!(imports("let x = crate::experiment::run();", "experiment"));
    assert!(!imports("use crate::experiments::Other;", "experiment"));
    assert!(!imports(
        "use crate::{target::{experiment}, probe};",
        "experiment"
    ));
    assert!(!imports(
        "/// Used by [`crate::experiment`].\nfn f() {}",
        "experiment"
    ));
}

#[test]
fn nothing_below_experiment_imports_it() {
    let files = files_under(&BELOW_EXPERIMENT);
    assert!(files.len() > BELOW_EXPERIMENT.len(), "no sources found");
    let offenders = offenders(&files, "experiment");
    assert!(
        offenders.is_empty(),
        "these files sit below `experiment` but import it (move what they share down): {offenders:#?}"
    );
}

#[test]
fn nothing_outside_cli_imports_it() {
    let everything = files_under(&["src"]);
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    let main = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/main.rs");
    let outside: Vec<PathBuf> = everything
        .into_iter()
        .filter(|file| !file.starts_with(&cli) && *file != main)
        .collect();
    assert!(!outside.is_empty(), "no sources found");
    let offenders = offenders(&outside, "cli");
    assert!(
        offenders.is_empty(),
        "these files import `cli`, which nothing may depend on: {offenders:#?}"
    );
}
