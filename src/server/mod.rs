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
//! [`api::Mount`]s before it is answered 404. [`daemon::Server::run`] always mounts the
//! [`dashboard`] first (so every server, the demo's in-process one too, serves it at `/`),
//! then the mounts it is handed. A mount reads the same store and state as the API; API routes
//! always win, so a mount cannot shadow them. `traffic` reads the configured proxy APIs'
//! live figures for `GET /api/traffic` and the dashboard.

pub mod api;
pub mod config;
pub mod daemon;
pub mod dashboard;
pub mod firings;
pub mod metrics;
pub mod notify;
pub mod retention;
pub mod runner;
pub mod schedule;
pub mod scheduler;
pub mod traffic;

#[cfg(test)]
mod monkey_tests;
#[cfg(test)]
mod tests;
