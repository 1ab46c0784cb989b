//! Process exit codes, one table for every subcommand (spec §8).
//!
//! [`TABLE`] is the single source: the constants, the `--help` section and (checked by a test) the
//! README's "Exit codes" table all come from the one list below. When several codes apply, the
//! first of `3 > 5 > 4 > 1 > 2 > 0` wins ([`most_severe`]).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Documented {
    pub code: i32,
    /// The constant's name, e.g. `USAGE`.
    pub name: &'static str,
    /// What it means, as the README and `--help` say it (Markdown code spans allowed).
    pub meaning: &'static str,
}

/// Declares each code as a constant (documented by its meaning) and lists them all in [`TABLE`],
/// so a code cannot exist without its row.
macro_rules! exit_codes {
    ($($name:ident = $code:literal: $meaning:literal;)*) => {
        $(
            #[doc = $meaning]
            pub const $name: i32 = $code;
        )*
        /// Every exit code, in ascending order.
        pub const TABLE: &[Documented] = &[$(Documented {
            code: $name,
            name: stringify!($name),
            meaning: $meaning,
        }),*];
    };
}

exit_codes! {
    OK = 0: "steady state held (or no hypothesis); all actions, rollbacks and reverts succeeded; `validate`: valid";
    DEVIATED = 1: "the after-hypothesis or a during iteration was unmet or errored";
    NOT_INJECTED = 2: "the before-hypothesis was unmet or errored (nothing injected), or a method action failed";
    ROLLBACK_FAILED = 3: "a rollback or a fault revert failed; the system may be degraded";
    INTERRUPTED = 4: "a signal, `--max-duration`, `halt`, or the run was aborted";
    SAFEGUARD = 5: "a safeguard tripped; the method stopped and faults were reverted";
    USAGE = 64: "invalid experiment, config or option, unsupported provider, or a file that cannot be read (source, `--config`, `--var-file`) or written (`--journal-path`, `--events-file`, `--junit`); checked before anything runs; `history show` with an unknown or ambiguous id";
    UNAVAILABLE = 69: "a service monkeywrench needs (the store, the Docker engine, the Kubernetes API: no kubeconfig, unreachable, credentials refused) cannot be reached; nothing was done; `run` exits 69 instead of 2 when a before-hypothesis probe or a method action failed on it";
    INTERNAL = 70: "a monkeywrench bug; the journal was written if possible";
}

/// Exit codes under `run --ctk-exit-codes`, as `chaos run` exits.
pub mod ctk {
    /// The run completed and its steady state held.
    pub const OK: i32 = 0;
    /// The run deviated, failed, was aborted or was interrupted.
    pub const FAILED: i32 = 1;
}

/// Exit codes of `proxy cli`, as `toxiproxy-cli` exits.
pub mod toxiproxy_cli {
    /// The command succeeded.
    pub const OK: i32 = 0;
    /// The command failed (the message is on stderr).
    pub const FAILED: i32 = 1;
}

/// Order of precedence when several codes apply: earlier wins.
const PRECEDENCE: [i32; 6] = [
    ROLLBACK_FAILED,
    SAFEGUARD,
    INTERRUPTED,
    DEVIATED,
    NOT_INJECTED,
    OK,
];

/// Picks the code that wins among several that apply (`3 > 5 > 4 > 1 > 2 > 0`).
pub fn most_severe(codes: impl IntoIterator<Item = i32>) -> i32 {
    let codes: Vec<i32> = codes.into_iter().collect();
    if codes.contains(&INTERNAL) {
        return INTERNAL;
    }
    if codes.contains(&USAGE) {
        return USAGE;
    }
    if codes.contains(&UNAVAILABLE) {
        return UNAVAILABLE;
    }
    PRECEDENCE
        .iter()
        .copied()
        .find(|c| codes.contains(c))
        .unwrap_or(OK)
}

/// `3 > 5 > 4 > 1 > 2 > 0`: the order of precedence as the README and `--help` write it.
pub fn precedence_text() -> String {
    PRECEDENCE
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(" > ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_follows_the_spec() {
        assert_eq!(most_severe([DEVIATED, ROLLBACK_FAILED]), ROLLBACK_FAILED);
        assert_eq!(most_severe([NOT_INJECTED, DEVIATED]), DEVIATED);
        assert_eq!(most_severe([INTERRUPTED, SAFEGUARD]), SAFEGUARD);
        assert_eq!(most_severe([OK, NOT_INJECTED]), NOT_INJECTED);
        assert_eq!(most_severe([]), OK);
        assert_eq!(precedence_text(), "3 > 5 > 4 > 1 > 2 > 0");
    }

    #[test]
    fn the_table_is_ascending_and_names_its_constants() {
        assert!(TABLE.windows(2).all(|w| w[0].code < w[1].code));
        let usage = TABLE.iter().find(|d| d.name == "USAGE").unwrap();
        assert_eq!(usage.code, USAGE);
    }

    /// The rows of the README's "Exit codes" table: (code, name, meaning).
    fn readme_rows(readme: &str) -> Vec<(String, String, String)> {
        let section = readme
            .split("\n## Exit codes\n")
            .nth(1)
            .expect("README has an \"## Exit codes\" section");
        let section = section.split("\n## ").next().unwrap_or(section);
        section
            .lines()
            .filter(|l| l.starts_with('|'))
            .skip(2) // header and separator
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
                assert_eq!(cells.len(), 3, "a row of three cells: {l}");
                (
                    cells[0].to_string(),
                    cells[1].trim_matches('`').to_string(),
                    cells[2].to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn the_readme_table_matches_the_constants() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("read README.md");
        let want: Vec<(String, String, String)> = TABLE
            .iter()
            .map(|d| {
                (
                    d.code.to_string(),
                    d.name.to_string(),
                    d.meaning.to_string(),
                )
            })
            .collect();
        assert_eq!(readme_rows(&readme), want);
        let precedence = format!("the first of `{}` wins", precedence_text());
        assert!(readme.contains(&precedence), "README states {precedence:?}");
    }
}
