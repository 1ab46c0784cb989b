//! `monkeywrench server`: experiments that run by themselves. Today: the config (`server.yaml`),
//! the schedules and the durable firings in the store; the HTTP API and the runs come next.

pub mod config;
pub mod firings;
pub mod schedule;
pub mod scheduler;

#[cfg(test)]
mod tests;
