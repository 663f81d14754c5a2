//! The workspace's integration tests, in one binary (one link step, one process pool).

#![allow(
    clippy::disallowed_methods,
    reason = "tests read the bundled scenario files"
)]
mod accounting;
mod bad_input;
mod broker;
mod cache;
mod control;
mod determinism;
mod exports;
mod incidents;
mod ladder;
mod model;
mod progress;
mod readme;
mod scale;
mod spof;
mod support;
mod theory;
mod verdicts;
mod zones;
