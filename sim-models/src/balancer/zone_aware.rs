//! [`ZoneAware`]: which zone's replicas a caller chooses among, following Envoy's zone-aware
//! load balancing (`common_lb_config.zone_aware_lb_config`).
//!
//! Envoy compares two shares per zone: the caller's (`local`: the fraction of the calling
//! cluster's hosts in each zone) and the upstream's (the fraction of the callee's *healthy*
//! hosts in each zone). With `u` and `l` those shares for the caller's own zone:
//! - **direct**: if `u >= l`, the local zone can take its callers' share of the load: every
//!   pick goes to a local replica (no draw);
//! - **residual**: otherwise a pick stays local with probability `u / l` (one draw), and the
//!   rest spills over to the other zones in proportion to their residual capacity,
//!   `max(0, upstream share - caller share)` of each (a second draw);
//! - **off**: the callee has fewer than `min_cluster_size` replicas in all (Envoy's default
//!   6), or none in the caller's zone: every healthy replica is a candidate, as without it.
//!
//! The balancer then chooses among the chosen zone's healthy replicas. Where this differs
//! from Envoy:
//! - the caller shares are fixed at build (clients: the zoned clients that target the same
//!   service; a service: its own `replicas`, by zone), where Envoy reads the *healthy* hosts
//!   of the local cluster as they change; so a caller zone whose own hosts fail keeps its
//!   share here;
//! - Envoy recomputes the routing state when host health changes; here it is computed at
//!   each pick from the current health (the same answer, computed more often);
//! - no panic threshold (Envoy routes to all hosts when under 50% are healthy), as for
//!   every balancer here, and no `routing_enabled` percentage (always 100%);
//! - Envoy skips zone routing when caller and callee span different numbers of zones; here
//!   zones are matched by name, so the shares of zones either side lacks are 0.

use rand::RngExt;
use serde::{Deserialize, Serialize};
use sim_core::path::{FieldPath, Problem};
use sim_core::rng::SimRng;

/// Distinct zones a scenario may name: a cloud region has a handful (AWS 3 to 6), and
/// zone-aware call sites keep a few bytes per zone (`footprint::cost::ZONE_AWARE_EDGE`);
/// validated in `zones`.
pub const MAX_ZONES: usize = 16;

/// Zone-aware routing on a service's callers (Envoy's `zone_aware_lb_config`). A setting of
/// the callee, as in Envoy, where it belongs to the upstream cluster's `common_lb_config`
/// beside the load-balancing policy, outlier detection and health checks (all on the
/// service here); each call site applies it from its own zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneAwareSpec {
    /// Below this many replicas in all, callers do not route by zone (Envoy's default: 6).
    #[serde(default = "six")]
    pub min_cluster_size: u32,
}

fn six() -> u32 {
    6
}

impl ZoneAwareSpec {
    pub fn problems(&self) -> Vec<Problem> {
        if self.min_cluster_size == 0 {
            return vec![Problem::new(
                FieldPath::root().field("min_cluster_size"),
                "must be at least 1",
            )];
        }
        Vec::new()
    }
}

/// The zone choice of one call site. Zones are numbered `0..n`.
#[derive(Clone, Debug)]
pub struct ZoneAware {
    /// The caller's zone.
    local: usize,
    /// The zone of each replica (a byte each: a scenario has at most
    /// [`MAX_ZONES`] zones).
    zone_of: Box<[u8]>,
    /// The caller side's share in each zone (sums to 1 over the zones).
    caller_share: Box<[f64]>,
    /// Whether zone routing applies at all (enough replicas, some in the caller's zone).
    applies: bool,
    /// Healthy replicas per zone, reused at each pick.
    scratch: Box<[u32]>,
}

impl ZoneAware {
    /// For a caller in zone `local`, replicas in `zone_of`, and callers spread over the
    /// zones as `caller_share` (one entry per zone).
    pub fn new(
        spec: &ZoneAwareSpec,
        local: usize,
        zone_of: Vec<usize>,
        caller_share: Vec<f64>,
    ) -> Self {
        let applies = zone_of.len() >= spec.min_cluster_size as usize
            && zone_of.contains(&local)
            && caller_share[local] > 0.0;
        assert!(caller_share.len() <= MAX_ZONES, "validated zone count");
        ZoneAware {
            local,
            scratch: vec![0; caller_share.len()].into(),
            zone_of: zone_of.iter().map(|&z| z as u8).collect(),
            caller_share: caller_share.into(),
            applies,
        }
    }

    /// Narrows `healthy` (one entry per replica) to the replicas of the zone this pick goes
    /// to, and returns that zone; leaves it alone and returns `None` when zone routing does
    /// not apply or no replica is healthy. Draws only in the residual state.
    pub fn narrow(&mut self, healthy: &mut [bool], rng: &mut SimRng) -> Option<usize> {
        assert_eq!(healthy.len(), self.zone_of.len(), "one entry per replica");
        if !self.applies {
            return None;
        }
        self.scratch.iter_mut().for_each(|n| *n = 0);
        for (&z, &ok) in self.zone_of.iter().zip(healthy.iter()) {
            self.scratch[usize::from(z)] += u32::from(ok);
        }
        let total: u32 = self.scratch.iter().sum();
        if total == 0 {
            return None;
        }
        let upstream = |z: usize| f64::from(self.scratch[z]) / f64::from(total);
        let (u, l) = (upstream(self.local), self.caller_share[self.local]);
        let zone = if u >= l || rng.random::<f64>() < u / l {
            self.local
        } else {
            // Spill over in proportion to each other zone's residual capacity.
            let residual = |z: usize| {
                if z == self.local {
                    0.0
                } else {
                    (upstream(z) - self.caller_share[z]).max(0.0)
                }
            };
            let sum: f64 = (0..self.scratch.len()).map(residual).sum();
            if sum <= 0.0 {
                return None;
            }
            let mut x = rng.random::<f64>() * sum;
            let mut chosen = None;
            for z in 0..self.scratch.len() {
                let r = residual(z);
                if r > 0.0 {
                    chosen = Some(z);
                    if x < r {
                        break;
                    }
                    x -= r;
                }
            }
            chosen?
        };
        for (h, &z) in healthy.iter_mut().zip(&self.zone_of) {
            *h &= usize::from(z) == zone;
        }
        Some(zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::test_support::rng;

    fn spec(min: u32) -> ZoneAwareSpec {
        ZoneAwareSpec {
            min_cluster_size: min,
        }
    }

    /// Six replicas in zones a, b, c, a, b, c; callers evenly over the three.
    fn six_over_three() -> ZoneAware {
        ZoneAware::new(&spec(6), 0, vec![0, 1, 2, 0, 1, 2], vec![1.0 / 3.0; 3])
    }

    #[test]
    fn direct_when_the_local_zone_holds_its_share_and_without_a_draw() {
        let mut z = six_over_three();
        let mut r = rng();
        let mut h = vec![true; 6];
        assert_eq!(z.narrow(&mut h, &mut r), Some(0));
        assert_eq!(h, [true, false, false, true, false, false]);
        // One replica down elsewhere: the local share rises, still direct.
        let mut h = vec![true, false, true, true, true, true];
        assert_eq!(z.narrow(&mut h, &mut r), Some(0));
        assert_eq!(h, [true, false, false, true, false, false]);
        use rand::Rng;
        assert_eq!(
            r.next_u64(),
            rng().next_u64(),
            "direct routing draws nothing"
        );
    }

    #[test]
    fn off_below_min_cluster_size_or_without_a_local_replica() {
        let mut r = rng();
        let mut small = ZoneAware::new(&spec(7), 0, vec![0, 1, 2, 0, 1, 2], vec![1.0 / 3.0; 3]);
        let mut h = vec![true; 6];
        assert_eq!(small.narrow(&mut h, &mut r), None);
        assert_eq!(h, vec![true; 6]);
        let mut elsewhere = ZoneAware::new(&spec(1), 2, vec![0, 1, 0, 1], vec![0.5, 0.0, 0.5]);
        assert_eq!(elsewhere.narrow(&mut h[..4], &mut r), None);
    }

    #[test]
    fn residual_keeps_u_over_l_local_and_spills_by_residual_capacity() {
        // Local zone a lost one of its two replicas: upstream shares a 1/5, b 2/5, c 2/5;
        // callers 1/3 each. Local with probability (1/5)/(1/3) = 0.6; the rest goes to b
        // and c, each with residual 2/5 - 1/3, so 0.2 each.
        let mut z = six_over_three();
        let mut r = rng();
        let mut counts = [0u32; 3];
        let n = 30_000;
        for _ in 0..n {
            let mut h = vec![false, true, true, true, true, true];
            let zone = z.narrow(&mut h, &mut r).unwrap();
            counts[zone] += 1;
            assert!(h.iter().enumerate().all(|(i, &ok)| !ok || i % 3 == zone));
        }
        let share = |k: usize| f64::from(counts[k]) / f64::from(n);
        // Binomial(30k, 0.6): sd ~ 0.0028; 4 sigma.
        assert!((share(0) - 0.6).abs() < 0.012, "{counts:?}");
        assert!((share(1) - 0.2).abs() < 0.01, "{counts:?}");
        assert!((share(2) - 0.2).abs() < 0.01, "{counts:?}");
    }

    #[test]
    fn a_local_zone_with_no_healthy_replica_spills_everything_over() {
        let mut z = six_over_three();
        let mut r = rng();
        for _ in 0..1000 {
            let mut h = vec![false, true, true, false, true, true];
            let zone = z.narrow(&mut h, &mut r).unwrap();
            assert_ne!(zone, 0);
        }
        let mut none = vec![false; 6];
        assert_eq!(z.narrow(&mut none, &mut r), None);
    }

    #[test]
    fn uneven_callers_follow_envoys_worked_example() {
        // Envoy's comment: local 40/40/20, upstream 25/50/25: from zone a, 25/40 = 62.5%
        // stay local; residual capacity b 10, c 5, so b gets 2/3 of the rest.
        let zone_of = vec![0, 1, 1, 2];
        let mut z = ZoneAware::new(&spec(1), 0, zone_of, vec![0.4, 0.4, 0.2]);
        let mut r = rng();
        let mut counts = [0u32; 3];
        let n = 40_000;
        for _ in 0..n {
            counts[z.narrow(&mut [true; 4], &mut r).unwrap()] += 1;
        }
        let share = |k: usize| f64::from(counts[k]) / f64::from(n);
        assert!((share(0) - 0.625).abs() < 0.01, "{counts:?}");
        assert!((share(1) - 0.375 * 2.0 / 3.0).abs() < 0.01, "{counts:?}");
        assert!((share(2) - 0.375 / 3.0).abs() < 0.01, "{counts:?}");
    }
}
