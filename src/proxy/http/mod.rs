//! http proxies (`"protocol": "http"`): HTTP/1.1 on both sides, per-request figures by route, and
//! HTTP toxics aimed at a slice of the requests.
//!
//! [`balance`] (several upstreams, round-robin, passive health) · `upstream` (sending a request to
//! them) · [`route`] (templates) · [`stats`] (windows of HdrHistograms) · [`toxics`] (attributes, matches,
//! sampling) · [`cohort`] (control and experiment cohorts) · [`compare`] (their statistics) · `serve` (one client connection) · `client_io` (its socket, reset on demand) ·
//! `body` (bodies through the body toxics).

pub mod balance;
mod body;
mod client_io;
pub mod cohort;
pub mod compare;
pub mod route;
mod serve;
pub mod stats;
pub mod toxics;
mod upstream;

pub use serve::{HttpContext, serve};
