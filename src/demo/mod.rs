//! `monkeywrench demo`: the demo service, its replicas, the stage (proxy and load) and the
//! bundled experiments.

mod bundled;
pub mod replicas;
pub mod service;
pub mod stage;

pub use bundled::EXPERIMENTS;
