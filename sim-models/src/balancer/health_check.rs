//! Active health checks: [`HealthChecker`], configured by a [`HealthCheckSpec`].

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};

/// Active health checking (Envoy's `HealthCheck`: interval, unhealthy and healthy
/// thresholds): callers probe each replica every `interval`; after `unhealthy_threshold`
/// failed probes in a row a replica is taken out of balancing, after `healthy_threshold`
/// good ones it is put back. Complements outlier ejection, which only sees real traffic.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSpec {
    pub interval: SimDuration,
    #[serde(default = "two")]
    pub unhealthy_threshold: u32,
    #[serde(default = "one")]
    pub healthy_threshold: u32,
}

fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}

impl HealthCheckSpec {
    pub fn problems(&self) -> Vec<Problem> {
        let root = FieldPath::root();
        let mut out = Vec::new();
        if self.interval.is_zero() {
            out.push(Problem::new(
                root.field("interval"),
                "must be longer than 0s",
            ));
        }
        for (name, v) in [
            ("unhealthy_threshold", self.unhealthy_threshold),
            ("healthy_threshold", self.healthy_threshold),
        ] {
            if v == 0 {
                out.push(Problem::new(root.field(name), "must be at least 1"));
            }
        }
        out
    }
}

/// The probe results of one caller for n replicas. Replicas start healthy.
#[derive(Clone, Debug)]
pub struct HealthChecker {
    spec: HealthCheckSpec,
    healthy: Vec<bool>,
    /// Consecutive probes disagreeing with the current state.
    streak: Vec<u32>,
}

impl HealthChecker {
    pub fn new(spec: &HealthCheckSpec, n: usize) -> Self {
        HealthChecker {
            spec: *spec,
            healthy: vec![true; n],
            streak: vec![0; n],
        }
    }

    pub fn interval(&self) -> SimDuration {
        self.spec.interval
    }

    /// Records one probe of `replica`.
    pub fn on_probe(&mut self, replica: usize, ok: bool) {
        if ok == self.healthy[replica] {
            self.streak[replica] = 0;
            return;
        }
        self.streak[replica] += 1;
        let needed = if ok {
            self.spec.healthy_threshold
        } else {
            self.spec.unhealthy_threshold
        };
        if self.streak[replica] >= needed {
            self.healthy[replica] = ok;
            self.streak[replica] = 0;
        }
    }

    pub fn healthy(&self) -> &[bool] {
        &self.healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_take_a_replica_out_and_put_it_back() {
        let spec = HealthCheckSpec {
            interval: SimDuration::from_secs(5),
            unhealthy_threshold: 2,
            healthy_threshold: 3,
        };
        let mut h = HealthChecker::new(&spec, 2);
        h.on_probe(1, false);
        assert_eq!(h.healthy(), [true, true], "one failure is not enough");
        h.on_probe(1, true);
        h.on_probe(1, false);
        assert_eq!(
            h.healthy(),
            [true, true],
            "a success in between resets the streak"
        );
        h.on_probe(1, false);
        assert_eq!(h.healthy(), [true, false]);
        h.on_probe(1, true);
        h.on_probe(1, true);
        assert_eq!(h.healthy(), [true, false], "needs 3 good probes");
        h.on_probe(1, true);
        assert_eq!(h.healthy(), [true, true]);
        assert!(spec.problems().is_empty());
        let bad = HealthCheckSpec {
            interval: SimDuration::ZERO,
            unhealthy_threshold: 0,
            healthy_threshold: 1,
        };
        assert_eq!(bad.problems().len(), 2);
    }
}
