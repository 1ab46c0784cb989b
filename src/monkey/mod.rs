//! The Chaos Monkey (specs/chaos-monkey.md): on work days, inside working hours, it randomly
//! terminates opted-in instances, at most once per group and day, never while the outage gate
//! fails, never more often than the min time allows, and keeps a history in the store.
//!
//! `config` (the file) → `inventory` (opted-in instances, grouped) → `planner` (the daily draw)
//! → `scheduler` (daemon and tick, through the injected `clock`) → `kill` (one attempt, in the
//! spec's order) → `history` (store), `notify` (webhooks), `metrics`.

pub mod calendar;
pub mod clock;
pub mod config;
mod gate;
pub mod history;
pub mod inventory;
mod kill;
pub mod metrics;
pub mod notify;
pub mod planner;
pub mod pods;
pub mod scheduler;
pub mod server;
mod setup;
pub mod status;
#[cfg(test)]
pub(crate) mod tests;

pub use kill::AttemptReport;
pub use setup::Monkey;
