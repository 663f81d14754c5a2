//! sim-core: the engine of simctl. Knows nothing about services.
pub mod dist;
pub mod engine;
pub mod path;
pub mod queue;
pub mod rng;
pub mod stats;
pub mod time;

pub use time::{SimDuration, SimTime};
