//! `server.yaml`: the listen address, the store, the scheduled experiments (each file validated
//! as `monkeywrench validate` does), notification hooks, retention and the proxy APIs whose traffic the dashboard shows, checked in one pass with
//! every problem at its `file:line:column`.

mod check;
mod load;
mod model;
mod proxies;
mod schedule;

#[cfg(test)]
mod tests;

pub use load::{ConfigError, LoadConfig, load, parse};
pub use model::{
    DEFAULT_LISTEN, Hook, HookEvent, HookFormat, ProxySource, Retention, ScheduledExperiment,
    ServerConfig,
};
