//! The proxy family, through the Toxiproxy API: `proxy.toxic` (undone by removing the toxic),
//! `proxy.down` (undone by enabling the proxy) and `http.fault` (an HTTP toxic on an http proxy).
//! Every toxic also carries a `ttl` a little past the lease deadline, so the proxy removes it by
//! itself even if nothing is left to revert it.

mod act;
mod args;
mod undo;

pub use act::{Action, Victim};
pub use args::{API_ARG, DEFAULT_API, PROXY_ARG, ProxyFault, Verb};
pub use undo::Undo;
