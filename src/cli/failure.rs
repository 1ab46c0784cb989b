//! The one place a failed subcommand becomes an exit code.
//!
//! A subcommand's `anyhow` error is a bug (70) unless the code that raised it said otherwise: it
//! attaches a [`Blame`] as a typed context ([`Blameworthy::or_usage`],
//! [`Blameworthy::or_unavailable`]) and [`exit_code_of`] finds it by type, wherever it sits in the
//! chain of contexts. No message is ever parsed.

use std::fmt;

use crate::exit_code;

/// Who a failure is down to, which decides its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blame {
    /// The user's input: a file given on the command line that cannot be read or written.
    Usage,
    /// A service monkeywrench needs (the store, the Docker engine) cannot be reached.
    Unavailable,
}

impl Blame {
    fn exit_code(self) -> i32 {
        match self {
            Blame::Usage => exit_code::USAGE,
            Blame::Unavailable => exit_code::UNAVAILABLE,
        }
    }
}

/// The context an error is wrapped in once blamed: what was being done, and who is to blame.
#[derive(Debug)]
struct Blamed {
    blame: Blame,
    what: String,
}

impl fmt::Display for Blamed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

/// Attaching a [`Blame`] (and what was being done, a fragment that reads after "failed to").
pub(crate) trait Blameworthy<T> {
    /// The user's input is at fault: exit 64.
    fn or_usage(self, what: impl FnOnce() -> String) -> anyhow::Result<T>;
    /// A service monkeywrench needs is unreachable: exit 69.
    fn or_unavailable(self, what: impl FnOnce() -> String) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> Blameworthy<T> for Result<T, E> {
    fn or_usage(self, what: impl FnOnce() -> String) -> anyhow::Result<T> {
        blame(self, Blame::Usage, what)
    }

    fn or_unavailable(self, what: impl FnOnce() -> String) -> anyhow::Result<T> {
        blame(self, Blame::Unavailable, what)
    }
}

fn blame<T, E: Into<anyhow::Error>>(
    result: Result<T, E>,
    blame: Blame,
    what: impl FnOnce() -> String,
) -> anyhow::Result<T> {
    result.map_err(|e| {
        e.into().context(Blamed {
            blame,
            what: what(),
        })
    })
}

/// The exit code of a failed subcommand: its blame (the outermost, if several were attached),
/// else 70 (a failure nobody classified is a monkeywrench bug).
pub(crate) fn exit_code_of(err: &anyhow::Error) -> i32 {
    err.downcast_ref::<Blamed>()
        .map_or(exit_code::INTERNAL, |b| b.blame.exit_code())
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    fn unreadable() -> Result<String, std::io::Error> {
        std::fs::read_to_string("/nonexistent/monkeywrench/config.json")
    }

    #[test]
    fn blame_decides_the_code_through_further_context() {
        let usage = unreadable()
            .or_usage(|| "read the config".into())
            .context("start the proxy")
            .unwrap_err();
        assert_eq!(exit_code_of(&usage), exit_code::USAGE);
        assert!(format!("{usage:#}").starts_with("start the proxy: read the config: "));
        let unavailable = unreadable()
            .or_unavailable(|| "open the store".into())
            .unwrap_err();
        assert_eq!(exit_code_of(&unavailable), exit_code::UNAVAILABLE);
        let unclassified = unreadable().context("read something").unwrap_err();
        assert_eq!(exit_code_of(&unclassified), exit_code::INTERNAL);
    }
}
