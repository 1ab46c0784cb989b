//! Command-line interface: clap types, one file per subcommand, wiring only.
//!
//! This is the only module that uses `anyhow`; everything below it has typed errors.

mod app;
mod demo;
mod demo_serve;
mod failure;
mod guard;
mod halt;
mod history;
mod ledger;
mod load;
mod monkey;
mod monkey_status;
mod plan;
mod prepare;
mod proxy;
mod proxy_client;
mod report;
mod run;
mod server;
mod state;
mod stressor;
mod targets;
mod validate;
mod work;

pub use app::{Cli, main};
