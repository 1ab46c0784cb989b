//! Process exit codes, one table for every subcommand (spec §8, README "Exit codes").
//!
//! When several apply, the first of `3 > 5 > 4 > 1 > 2 > 0` wins ([`most_severe`]).

/// Steady state held (or no hypothesis); all actions, rollbacks and reverts succeeded; `validate`: valid.
pub const OK: i32 = 0;
/// The after-hypothesis or a during iteration was unmet or errored.
pub const DEVIATED: i32 = 1;
/// The before-hypothesis was unmet or errored (nothing injected), or a method action failed.
pub const NOT_INJECTED: i32 = 2;
/// A rollback or a fault revert failed; the system may be degraded.
pub const ROLLBACK_FAILED: i32 = 3;
/// Interrupted by a signal, `--max-duration`, halt, or the run was aborted.
pub const INTERRUPTED: i32 = 4;
/// A safeguard tripped; the run stopped and faults were reverted.
pub const SAFEGUARD: i32 = 5;
/// Invalid experiment or option, unsupported provider, unreadable source; nothing ran.
pub const USAGE: i32 = 64;
/// A service monkeywrench needs (the Docker engine, the store) cannot be reached; nothing was done.
pub const UNAVAILABLE: i32 = 69;
/// A monkeywrench bug; the journal was written if possible.
pub const INTERNAL: i32 = 70;

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
    }
}
