//! monkeywrench — a chaos engineering toolkit in one binary.
//!
//! The module tree is the architecture (see `DESIGN.md` in the shared folder):
//!
//! | module | what it holds |
//! |---|---|
//! | [`cli`] | clap types, one file per subcommand; wiring only; the only place `anyhow` is used |
//! | [`exit_code`] | the documented process exit codes, as named constants |
//! | [`experiment`] | experiment files: `source` (YAML/JSON with spans) → `validate` → `model`; `engine` runs it, `dispatcher` fans out timed `RunEvent`s, `run_state` folds them into the verdict, `journal` builds the CTK-shaped journal from them |
//! | [`probe`] | providers that measure or act: `process`, `http`, `prometheus` (PromQL over the HTTP API); `tolerance` judges outputs |
//! | [`builtin`] | the `builtin` provider catalogue: `Func` = a native probe, a fault (by family) or an action; the probes' schemas and code |
//! | [`schema`] | declarative argument schemas of the native functions and the `Reader` that applies their defaults (the one place a default lives) |
//! | [`loadgen`] | HTTP load: profiles, request templates, our own HTTP/1.1 client, open (coordinated-omission corrected) and closed models, HdrHistogram figures (used by `load`, `traffic.surge`, `http.measure`) |
//! | [`exposition`] | the Prometheus text format for every `/metrics` we serve: escaping, and the standard `process_*` series |
//! | [`http_serve`] | the one HTTP-serving helper: bound listener + cancellation token, bearer token, loopback rule, graceful shutdown |
//! | [`proxy`] | the Toxiproxy-compatible fault proxy (TCP links with toxics, http proxies with per-request figures and balanced upstreams, HTTP toxics, and control/experiment cohorts compared by sequential tests) and its HTTP API |
//! | [`fault`] | one folder per fault family (`process`, `container`, `swarm`, `k8s`, `proxy`, `stress` with its own stressors, `surge`): verbs and schemas, typed arguments parsed once, victims through `target`, the plan recorded before the change, the apply, the undo checked against the world; the one apply path; owner-bound work (`owned`) |
//! | [`store`] | the durable store: SQLite by default, PostgreSQL by URL; migrations |
//! | [`ledger`] | leases written before a fault is applied; applies that run to completion and that a revert waits for; verified reverts retried within a patience; leftovers, the guard, halt |
//! | [`target`] | platforms behind one `Driver` trait (processes with pidfd signals, Docker containers and Swarm tasks through bollard, Kubernetes pods and workloads through kube-rs with kubectl's kubeconfig discovery), their selectors, the one selection path with the blast radius, the one protected-target policy; a process's cgroups (v1 and v2: join, usage, limits) |
//! | [`seed`] | reproducible randomness behind `--seed`: a fixed RNG (ChaCha8), fixed draws and a fixed hash (FNV-1a), the same on every version and platform |
//! | [`monkey`] | the Chaos Monkey: config, calendar, inventory, daily plan, scheduler (injected clock), kills, history, webhooks, `status` (shared by `monkey status` and the server's `/api/monkey`) |
//! | [`history`] | every run in the store (trigger, verdict, journal, its full event stream): the recorder is one more `RunEvent` consumer; dead runs marked interrupted; listing, retention; JUnit XML from a journal |
//! | [`server`] | `monkeywrench server`: its config (`server.yaml`), schedules (cron and intervals, windows, jitter, overlap and target rules, injected clock), durable firings claimed once per store; the process (each firing a child `run`), the JSON API with SSE and its OpenAPI document, `/metrics`, webhooks, retention, a `monkey:` run beside the schedules; the dashboard (server-rendered pages at `/`, mounted through `api::Mount`) and the proxies' live traffic |
//! | [`report`] | `monkeywrench report`: a run (its journal, or its stored event stream) as one self-contained HTML file with SVG timelines of the steady-state figures, fault windows, checks and trips, or as Markdown; chart geometry apart |
//! | [`demo`] | the small HTTP service, its replica processes, the stage (a balanced http proxy and the load through it) and the bundled experiments behind `monkeywrench demo` |
//!
//! Direction of dependencies: `cli -> everything`; `experiment -> probe, builtin, fault, ledger,
//! target`; `builtin -> fault, schema, loadgen, target`; `fault -> ledger, target, proxy, loadgen, schema`;
//! `history -> experiment, store`; `report -> experiment, history`; `ledger -> store, target` (it reverts through the `Undoer` that `fault` gives it, so it knows no
//! family); nothing depends on `cli`; `seed` and `schema` depend on nothing of ours. `source`,
//! `validate` and `model` do no I/O beyond resolving executables.
//!
//! **Adding a fault family**: add a folder under `src/fault/` (its `Verb` enum with names,
//! schemas and `parse`; the parsed call implementing `fault::Family`; its act implementing
//! `fault::Act`; its undo recipe with a check against the world), a variant in `FaultFunc`,
//! `Fault` and `Undo`, its tests, and its README rows. Every `match` over those enums then fails
//! to compile until the family is handled; the engine's one loop, validation, `--dry-run`, the
//! ledger, the guard and halt need nothing else. A new target platform implements
//! `target::Driver`.

pub mod builtin;
pub mod cli;
pub mod demo;
pub mod exit_code;
pub mod experiment;
pub mod exposition;
pub mod fault;
pub mod history;
pub mod http_serve;
pub mod ledger;
pub mod loadgen;
pub mod monkey;
pub mod probe;
pub mod proxy;
pub mod report;
pub mod schema;
pub mod seed;
pub mod server;
pub mod store;
pub mod target;

#[cfg(test)]
mod architecture_tests;
