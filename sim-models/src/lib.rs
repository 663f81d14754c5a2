//! sim-models: the world simctl simulates.
pub mod bench;
pub mod diagnostic;
pub mod locate;
pub mod result;
pub mod run;
pub mod scenario;
pub mod validate;
pub mod world;

pub use result::RunResult;
pub use run::run;
pub use scenario::Scenario;
pub use validate::{Validated, load};
