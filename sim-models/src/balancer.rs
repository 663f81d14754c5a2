//! Load balancing, outlier ejection and health checks: see `balancer/`. (This step only
//! moves the file so its history follows the largest part; the next commit splits it by
//! concern.)

mod outlier_ejection;

pub use outlier_ejection::*;
