//! The dashboard: server-rendered HTML pages with a little vanilla JavaScript, every asset
//! embedded in the binary (no npm, no CDN; it works offline), mounted on the server's own
//! listener through [`crate::server::api::Mount`]. Pages read the store as the API does; the
//! script only calls the JSON API (run now, pause, halt, resume), follows a run's SSE stream,
//! and swaps in server-rendered parts (`?part=1`) as they change.
//!
//! | path | page |
//! |---|---|
//! | `/` | the runs: status, experiment, trigger, start, duration, outcome; filters, paging |
//! | `/runs/{id}` | one run: the report's charts and tables, growing live while it runs |
//! | `/runs/{id}/report.html` | the run's self-contained report, as a download |
//! | `/experiments` | experiments and schedules: next firing, last outcome, run now, pause |
//! | `/ledger` | active leases with their time left, recent ones, **Halt** and **Resume** |
//! | `/traffic` | live rps, error rate and p99 (sparklines) of the configured proxies |
//! | `/monkey` | the server's Chaos Monkey (`monkey:`): today's plan and next kill, its groups, today's kills |
//!
//! The token: the API's rules hold for every page. Beyond loopback a browser opens
//! `/?token=…` once; the server answers with a redirect that sets an `HttpOnly`,
//! `SameSite=Strict` cookie (see [`crate::http_serve::browser`]).

mod assets;
mod experiments;
mod ledger;
mod monkey;
mod page;
mod run;
mod runs;
mod traffic;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use hyper::{Method, Response};

use super::api::{Mount, MountFuture, MountRequest, Reply};
use super::daemon::Shared;

pub use page::login_page;

/// The dashboard's pages and assets.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dashboard;

impl Mount for Dashboard {
    fn serve<'a>(&'a self, shared: &'a Arc<Shared>, request: &'a MountRequest) -> MountFuture<'a> {
        Box::pin(async move {
            let reply = route(shared, request).await?;
            if request.method == Method::HEAD {
                let (parts, _) = reply.into_parts();
                return Some(Response::from_parts(
                    parts,
                    super::api::full(bytes::Bytes::new()),
                ));
            }
            Some(reply)
        })
    }
}

async fn route(shared: &Arc<Shared>, request: &MountRequest) -> Option<Reply> {
    if request.method != Method::GET && request.method != Method::HEAD {
        return None;
    }
    let segments: Vec<String> = request
        .path
        .split('/')
        .skip(1)
        .map(super::api::routes::percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let params = request.params();
    Some(match segments.as_slice() {
        [""] => runs::page(shared, &params).await,
        ["runs", id] => run::page(shared, id, &params).await,
        ["runs", id, "report.html"] => run::report(shared, id).await,
        ["experiments"] => experiments::page(shared, &params).await,
        ["ledger"] => ledger::page(shared, &params).await,
        ["traffic"] => traffic::page(shared, &params),
        ["monkey"] => monkey::page(shared, &params).await,
        ["assets", name] => assets::serve(name)?,
        _ => return None,
    })
}
