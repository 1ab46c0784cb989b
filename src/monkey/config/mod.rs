//! The monkey's config file (YAML or JSON): Netflix's Chaos Monkey keys in snake_case, validated in
//! one pass (`check`) with every problem reported at its `file:line:column`.

mod check;
mod load;
mod model;

pub use load::{ConfigError, load, parse};
pub use model::{Exception, Grouping, K8sScope, KillMode, MonkeyConfig, ProcessEntry, Webhook};
