//! The workspace's integration tests, in one binary (one link step, one process pool).

#![allow(
    clippy::disallowed_methods,
    reason = "tests read the bundled scenario files"
)]
mod accounting;
mod bad_input;
mod broker;
mod cache;
mod config;
mod control;
mod database;
mod determinism;
mod exports;
mod incidents;
mod ladder;
mod model;
mod platform;
mod progress;
mod readme;
mod remediation;
mod scale;
mod score;
mod spof;
mod support;
mod theory;
mod token_auth;
mod verdicts;
mod zones;
