//! The Toxiproxy-compatible fault proxy: a registry of TCP (and http) proxies with toxics, the HTTP API that
//! existing Toxiproxy clients drive, and live traffic figures.
//!
//! Layout: [`toxic`] (model, JSON, validation) · [`registry`] (proxies and their lifecycle) ·
//! `listener` (bind, accept) · `link` (one connection: fast path or per-direction toxic chain) ·
//! [`http`] (http proxies) · `cohorts` (their control and experiment cohorts) · [`api`] (HTTP) · `metrics` · [`client`] (the one client of a
//! Toxiproxy-compatible API, ours or Toxiproxy's).

pub mod api;
pub mod client;
mod cohorts;
pub mod http;
mod link;
mod listener;
pub mod metrics;
mod pass;
mod prometheus;
pub mod registry;
pub mod toxic;

pub use api::{ApiOptions, serve};
pub use client::{ApiError, ProxyApi};
pub use registry::Registry;
