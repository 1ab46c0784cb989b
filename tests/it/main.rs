//! The one integration-test binary: every module below runs the real `monkeywrench` binary or the
//! library against real processes, sockets and files.

mod api_under_stress;
mod browser;
mod cli_basics;
mod cohorts;
mod containers;
mod ctk_compat;
mod dashboard;
mod dashboard_halt;
mod demo;
mod docker_fixture;
mod event_stream;
mod examples;
mod faults;
mod harness;
mod history;
mod http_proxy;
mod load;
mod monkey;
mod owned;
mod prometheus;
mod proxy;
mod proxy_faults;
mod proxy_in_process;
mod python_providers;
mod report;
mod reverts;
mod run_experiments;
mod server;
mod server_config;
mod server_fuzz;
mod server_harness;
mod source;
mod stress;
mod swarm;
mod targets;
