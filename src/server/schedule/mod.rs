//! What runs when: cron and interval triggers with windows and jitter, the rules that decide
//! whether a due firing starts, and the loop that drives them on an injected clock.

mod cron;
mod plan;
mod rules;

pub use cron::CronExpr;
pub use plan::{Overlap, Schedule, Trigger};
pub use rules::{Board, Decision, SkipReason};
