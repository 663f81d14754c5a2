//! sim-models: the world simctl simulates, built from a scenario file.
//!
//! | module | what it holds |
//! |---|---|
//! | [`scenario`] | the RON schema (serde types) and `parse`, with positioned syntax/type errors |
//! | [`validate`] | semantic checks collecting every problem with its line:column; `load` = parse + validate |
//! | [`footprint`] | count bounds and the start-up memory estimate, checked by validation |
//! | [`locate`] | finds the line:column of a field path in RON source |
//! | [`diagnostic`] | errors and warnings as `file:line:col: error: field `path`: message` |
//! | [`incidents`] | seeded fault processes (MTBF/MTTR) expanded into faults per seed |
//! | [`world`] | the model: clients, services, requests; the event handler |
//! | [`rules`] | rules that act during a run: conditions, actions, their state machine |
//! | [`run`] | scenario + seed -> [`RunResult`] |
//! | [`metric`] | the metric registry: every named number of a run, its unit and how to read it |
//! | [`result`] | the result types, named as DESIGN.md's metrics |
//! | [`experiment`] | chaos experiments: hypothesis, method, stop conditions, verdict |
//! | [`coverage`] | orthogonal-array coverage: factors, strength-2 designs, main effects |
//! | [`postmortem`] | incidents of a run: timeline, impact, contributing factors, action items |
//! | [`score`] | the reliability score: a test suite per service, scored as Gremlin does |
//! | [`slo_status`] | SLO validation of a run: met or missed, error budget consumed, alerts |
//! | [`spof`] | single points of failure: each thing failed alone, judged per route, beside the static view |
//! | [`sweep`] | parameter paths, sweep grids, per-run rows and per-point aggregates |
//! | [`bench`] | built-in scenarios for `simctl bench` |
//! | [`zones`] | availability zones: where each node runs, and the checks on zone fields |
//!
//! Value in, value out: nothing here reads files, the clock or the environment.

pub mod balancer;
pub mod bench;
pub mod breaker;
pub mod coverage;
pub mod diagnostic;
pub mod experiment;
pub mod footprint;
pub mod incidents;
pub mod learn;
pub mod limits;
pub mod locate;
pub mod metric;
pub mod policy;
pub mod postmortem;
pub mod recovery;
pub mod remediation;
pub mod result;
pub mod retry;
pub mod retry_budget;
pub mod rules;
pub mod run;
pub mod scenario;
pub mod score;
pub mod slo;
pub mod slo_status;
pub mod spof;
pub mod sweep;
pub mod topology;
pub mod trace;
pub mod validate;
pub mod world;
pub mod zones;

pub use result::RunResult;
pub use run::{run, run_traced, run_with, run_with_decider_progress, run_with_progress};
pub use scenario::Scenario;
pub use validate::{Validated, load};
