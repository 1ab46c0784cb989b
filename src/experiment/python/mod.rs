//! The Python bridge: Chaos Toolkit `python` providers and controls run in the user's interpreter
//! through an embedded worker script speaking JSON lines.

pub mod check;
pub mod controls;
pub mod interpreter;
pub mod packages;
pub mod worker;

pub use interpreter::Interpreter;
pub use worker::{Pool, Session};
