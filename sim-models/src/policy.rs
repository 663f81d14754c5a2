//! Backoff, the open-loop arrival schedule and its thinning: see `policy/`. (This step only
//! moves the file so its history follows the largest part; the next commit splits it by
//! concern.)

mod rate_schedule;

pub use rate_schedule::*;
