//! The workspace's integration tests, in one binary (one link step, one process pool).
mod bad_input;
mod determinism;
mod support;
mod theory;
