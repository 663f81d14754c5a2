//! Resilience and load policies as plain state machines on virtual time.
//!
//! | policy | what it does | semantics follow |
//! |---|---|---|
//! | [`backoff_delay`] | delay before retry n: none, constant, capped exponential | gRPC A6 `retryPolicy`, before jitter |
//! | [`RateSchedule`] | an open-loop client's arrival rate over time (steps, ramps, spikes) | the scenario's `Load::Open` |
//! | [`ThinnedPoisson`] | non-homogeneous Poisson arrivals on a [`RateSchedule`] | Lewis & Shedler (1979) thinning |
//! | [`load_problems`] | validation of a client's `Load` | |
//! | [`CrashLoop`] | the back-off before an instance's next restart | the kubelet's `CrashLoopBackOff` |
//! | [`ScaleGate`] | downscale stabilization window, cooldown between scale actions | the Kubernetes HPA's `behavior` |
//!
//! Everything here is a function of its inputs and `SimTime`: no wall clock, no hashing, and
//! the only randomness is the [`SimRng`] a caller passes in, so a run replays exactly.
//!
//! One file per concern: `backoff`, `rate_schedule`, `thinning`, `load_validation`,
//! `crash_loop` and `scale_gate`.
//!
//! [`SimRng`]: sim_core::rng::SimRng

mod backoff;
pub mod crash_loop;
mod load_validation;
mod rate_schedule;
pub mod scale_gate;
mod thinning;

pub use backoff::{Backoff, backoff_delay, capped_exponential};
pub use crash_loop::CrashLoop;
pub use load_validation::load_problems;
pub use rate_schedule::{Load, RateChange, RateSchedule};
pub use scale_gate::ScaleGate;
pub use thinning::ThinnedPoisson;

#[cfg(test)]
mod test_support {
    //! Durations, instants and rate changes the tests of the parts share.

    use sim_core::{SimDuration, SimTime};

    use super::RateChange;

    pub(super) fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }
    pub(super) fn secs(n: u64) -> SimDuration {
        SimDuration::from_secs(n)
    }
    pub(super) fn at_ms(n: u64) -> SimTime {
        SimTime(ms(n).as_nanos())
    }
    pub(super) fn at_s(n: u64) -> SimTime {
        SimTime(secs(n).as_nanos())
    }

    pub(super) fn step(at: SimDuration, rate_rps: f64) -> RateChange {
        RateChange::Step { at, rate_rps }
    }
    pub(super) fn ramp(start: SimDuration, end: SimDuration, rate_rps: f64) -> RateChange {
        RateChange::Ramp {
            start,
            end,
            rate_rps,
        }
    }
    pub(super) fn spike(start: SimDuration, end: SimDuration, factor: f64) -> RateChange {
        RateChange::Spike { start, end, factor }
    }
}
