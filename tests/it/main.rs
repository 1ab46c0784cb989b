//! The one integration-test binary: every module below runs the real `monkeywrench` binary or the
//! library against real processes, sockets and files.

mod cli_basics;
mod ctk_compat;
mod demo;
mod examples;
mod faults;
mod harness;
mod proxy;
mod proxy_faults;
mod run_experiments;
mod source;
