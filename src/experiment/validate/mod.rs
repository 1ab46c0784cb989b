//! Validation: the positioned source tree → the [`Experiment`](crate::experiment::model::Experiment) model, reporting **every** problem
//! in one pass (spec §9): `file:line:column: severity: path: message`, with "did you mean"
//! suggestions for keys and values within edit distance 2.

mod activity;
mod checker;
mod config;
mod controls;
mod entry;
mod extension;
mod provider;
mod python;
mod tolerance;
mod top;

pub use entry::{ValidateOptions, Validated, validate};

#[cfg(test)]
mod tests;
