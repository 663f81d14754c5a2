//! Adaptive concurrency limits, admission rate limiters and an adaptive timeout: see
//! `limits/`. (This step only moves the file so its history follows the largest part; the
//! next commit splits it by concern.)

mod rate_limit;

pub use rate_limit::*;
