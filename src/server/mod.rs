//! `monkeywrench server`: experiments that run by themselves. `config` reads `server.yaml`;
//! `schedule` and `scheduler` decide what fires when (on an injected clock); `firings` are the
//! durable record claimed once per store; `daemon` is the process (store, reaping, housekeeping,
//! graceful stop); `runner` starts each firing as a child `monkeywrench run` and keeps the
//! table of children; `api` is the HTTP API (with `/metrics` from `metrics`); `notify` sends the
//! webhooks; `retention` prunes the history. A `monkey:` in the config runs the Chaos Monkey
//! (crate::monkey) beside the schedules, on the same clock, store and halt switch.
//!
//! **Mounting more routes (the dashboard's seam):** the router's table is
//! [`api::routes::ROUTES`]; a path none of its routes matches is offered, in order, to the
//! [`api::Mount`]s handed to [`daemon::Server::run`] before it is answered 404. A dashboard
//! implements `Mount` (serving `/` and its assets) and is added where `cli/server.rs` builds
//! the list; it reads the same JSON API and SSE stream as any client. API routes always win,
//! so a mount cannot shadow them.

pub mod api;
pub mod config;
pub mod daemon;
pub mod firings;
pub mod metrics;
pub mod notify;
pub mod retention;
pub mod runner;
pub mod schedule;
pub mod scheduler;

#[cfg(test)]
mod monkey_tests;
#[cfg(test)]
mod tests;
