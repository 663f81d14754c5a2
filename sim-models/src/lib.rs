//! sim-models: the world simctl simulates.
pub mod locate;
