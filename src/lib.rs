//! monkeywrench — a chaos engineering toolkit in one binary.
//!
//! The module tree is the architecture (see `DESIGN.md` in the shared folder):
//!
//! | module | what it holds |
//! |---|---|
//! | [`cli`] | clap types, one file per subcommand; wiring only; the only place `anyhow` is used |
//! | [`exit_code`] | the documented process exit codes, as named constants |
//! | [`experiment`] | experiment files: `source` (YAML/JSON with spans) → `validate` → `model`; `engine` runs it, `dispatcher` fans out timed `RunEvent`s, `run_state` folds them into the verdict, `journal` builds the CTK-shaped journal from them |
//! | [`probe`] | providers that measure or act: `process`, `http`; `tolerance` judges outputs |
//! | [`builtin`] | the `builtin` provider registry: closed set of native probes/actions with argument schemas |
//! | [`loadgen`] | HTTP load with HdrHistogram latencies (used by `http.measure`) |
//! | [`http_serve`] | the one HTTP-serving helper: bound listener + cancellation token, bearer token, loopback rule, graceful shutdown |
//! | [`proxy`] | the Toxiproxy-compatible fault proxy (TCP links with toxics, http proxies with per-request figures and HTTP toxics) and its HTTP API |
//! | [`fault`] | faults that go through the ledger: process signals, containers, Swarm tasks and scale, proxy toxics |
//! | [`store`] | the durable store: SQLite by default, PostgreSQL by URL; migrations |
//! | [`ledger`] | leases written before a fault is applied; revert, leftovers, halt |
//! | [`target`] | things faults act on and their selectors: processes (pidfd signals), Docker containers and Swarm services (bollard); the one protected-target policy |
//! | [`seed`] | reproducible randomness behind `--seed`: a fixed RNG (ChaCha8), fixed draws and a fixed hash (FNV-1a), the same on every version and platform |
//! | [`monkey`] | the Chaos Monkey: config, calendar, inventory, daily plan, scheduler (injected clock), kills, history, webhooks |
//! | [`demo`] | the small HTTP service and bundled experiments behind `monkeywrench demo` |
//!
//! Direction of dependencies: `cli -> everything`; `experiment -> probe, builtin, fault, ledger,
//! target`; `fault -> ledger, target`; `ledger -> store, target`; `builtin -> loadgen, target`; nothing
//! depends on `cli`; `seed` depends on nothing (`target`, `monkey` and `proxy` draw from it).
//! `source`, `validate` and `model` do no I/O beyond resolving executables.

pub mod builtin;
pub mod cli;
pub mod demo;
pub mod exit_code;
pub mod experiment;
pub mod fault;
pub mod http_serve;
pub mod ledger;
pub mod loadgen;
pub mod monkey;
pub mod probe;
pub mod proxy;
pub mod schema;
pub mod seed;
pub mod store;
pub mod target;

#[cfg(test)]
mod architecture_tests;
