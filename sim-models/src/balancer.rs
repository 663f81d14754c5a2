//! Load balancing over a service's replicas, and outlier detection that ejects failing ones.
//!
//! Both are plain state machines: the caller passes in the replicas' outstanding requests,
//! the current virtual time and, where a choice is random, the [`SimRng`] to draw from, so a
//! run replays exactly. Per-replica state is kept in `Vec`s indexed by replica.
//!
//! One file per concern: `balance` ([`Balancer`]: which healthy replica gets the next
//! request), `outlier_ejection` ([`OutlierDetector`]: Envoy's consecutive-failure
//! ejection), `health_check` ([`HealthChecker`]: active health checks) and `zone_aware`
//! ([`ZoneAware`]: Envoy's zone-aware routing, which zone's replicas to choose among); each file's
//! docs give its semantics and where they differ from the system they follow.
//!
//! [`SimRng`]: sim_core::rng::SimRng

mod balance;
mod health_check;
mod outlier_ejection;
mod zone_aware;

pub use balance::{Balance, Balancer};
pub use health_check::{HealthCheckSpec, HealthChecker};
pub use outlier_ejection::{Ejection, EjectionSpec, MAX_STORED_EJECTIONS, OutlierDetector};
pub use zone_aware::{ZoneAware, ZoneAwareSpec};

#[cfg(test)]
mod test_support {
    //! The random stream the tests of the parts share.

    use sim_core::rng::{SimRng, stream};

    pub(super) fn rng() -> SimRng {
        stream(7, "balancer/test")
    }
}
