//! HTTP load: arrival-rate profiles, request templates, our own HTTP/1.1 keep-alive client, an
//! open-model (coordinated-omission corrected) and closed-model engine, HdrHistogram figures,
//! and their reports. Used by `monkeywrench load`, `traffic.surge` and `http.measure`.

mod engine;
mod measure;
mod profile;
mod report;
mod stats;
mod template;
mod wire;

pub use engine::{Config, EngineError, Model, Summary, run};
pub use measure::{LoadPlan, LoadReport};
pub use profile::{Profile, ProfileError, ProfileSpec, parse_duration};
pub use report::{to_json, to_table};
pub use stats::{Counts, ErrorKind, Second};
pub use template::{Requests, Template, TemplateError, Url, parse_header, parse_urls};
pub use wire::{Conn, WireError};

/// `http.measure`'s load.
pub async fn measure(plan: &LoadPlan) -> Result<LoadReport, EngineError> {
    measure::run(plan).await
}
