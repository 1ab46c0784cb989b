//! http proxies (`"protocol": "http"`): HTTP/1.1 on both sides, per-request figures by route, and
//! HTTP toxics aimed at a slice of the requests.
//!
//! [`route`] (templates) · [`stats`] (windows of HdrHistograms) · [`toxics`] (attributes, matches,
//! sampling) · [`cohort`] (control and experiment cohorts) · [`compare`] (their statistics) · `serve` (one client connection) · `client_io` (its socket, reset on demand) ·
//! `body` (bodies through the body toxics).

mod body;
mod client_io;
pub mod cohort;
pub mod compare;
pub mod route;
mod serve;
pub mod stats;
pub mod toxics;

pub use serve::{HttpContext, serve};
