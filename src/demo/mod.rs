//! The demo service and the bundled experiments behind `monkeywrench demo`.

mod bundled;
pub mod service;

pub use bundled::EXPERIMENTS;
