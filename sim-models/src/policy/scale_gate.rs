//! What a controller adds on top of setting a service's replica count: the Kubernetes
//! HPA's downscale stabilization window and a cooldown between scale actions.
//!
//! Semantics follow the HPA (`behavior.scaleDown.stabilizationWindowSeconds`, default
//! `--horizontal-pod-autoscaler-downscale-stabilization` = 5 min): the replica count it sets
//! is the highest recommendation of the last window, so a scale-in takes effect only once
//! the window has passed with nothing higher asked, while a scale-out takes effect at once
//! (scale-up stabilization is 0 by default). The cooldown is the HPA's former
//! `--horizontal-pod-autoscaler-upscale-delay` (3 min, before Kubernetes 1.12) and AWS
//! Auto Scaling's default cooldown (300 s): a scale action within it of the last accepted
//! one on the service is refused.
//!
//! Where it differs: the HPA recomputes a recommendation every 15 s from its metric; here
//! each scale action is one recommendation, and nothing is asked between them, so a
//! scale-in waits for the window after the action that asked for it (not for the window
//! after the last higher recommendation). Scaling policies (at most N pods or P% per period)
//! are not modelled.

use sim_core::{SimDuration, SimTime};

/// What becomes of a scale action.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Takes effect now; the pending scale-ins listed (by the ids they were given) are
    /// dropped, as this asks for at least as many replicas.
    Now { cancel: Vec<u32> },
    /// A scale-in: takes effect after the stabilization window, unless dropped meanwhile.
    After(SimDuration),
    /// Within the cooldown of the last accepted scale action, until `until`.
    Refused { until: SimTime },
}

/// One service's scale actions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleGate {
    /// When the last scale action was accepted.
    last: Option<SimTime>,
    /// Scale-ins waiting for their window: (id, replicas, when they take effect).
    pending: Vec<(u32, u32, SimTime)>,
}

impl ScaleGate {
    /// A scale action at `now` asks for `replicas` while `current` are wanted.
    pub fn decide(
        &mut self,
        now: SimTime,
        current: u32,
        replicas: u32,
        stabilization: SimDuration,
        cooldown: SimDuration,
    ) -> Verdict {
        if let Some(last) = self.last {
            let until = last.saturating_add(cooldown);
            if now < until {
                return Verdict::Refused { until };
            }
        }
        self.last = Some(now);
        self.pending.retain(|&(_, _, at)| at > now);
        if replicas < current && !stabilization.is_zero() {
            return Verdict::After(stabilization);
        }
        let (cancel, keep): (Vec<_>, Vec<_>) =
            self.pending.iter().partition(|&&(_, r, _)| r < replicas);
        self.pending = keep;
        Verdict::Now {
            cancel: cancel.into_iter().map(|(id, _, _)| id).collect(),
        }
    }

    /// The scale-in just let through ([`Verdict::After`]) has id `id` and takes effect at
    /// `at`.
    pub fn pending(&mut self, id: u32, replicas: u32, at: SimTime) {
        self.pending.push((id, replicas, at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }
    const W: SimDuration = SimDuration::from_secs(300);
    const ZERO: SimDuration = SimDuration::ZERO;

    #[test]
    fn a_scale_out_is_at_once_a_scale_in_waits_for_the_window() {
        let mut g = ScaleGate::default();
        assert_eq!(
            g.decide(at(0), 2, 6, W, ZERO),
            Verdict::Now { cancel: vec![] }
        );
        assert_eq!(g.decide(at(60), 6, 3, W, ZERO), Verdict::After(W));
        g.pending(7, 3, at(360));
        // Equal to the wanted count: not a scale-in.
        assert_eq!(
            g.decide(at(61), 6, 6, W, ZERO),
            Verdict::Now { cancel: vec![7] }
        );
    }

    #[test]
    fn a_higher_ask_in_the_window_drops_only_lower_scale_ins() {
        let mut g = ScaleGate::default();
        assert_eq!(g.decide(at(0), 8, 4, W, ZERO), Verdict::After(W));
        g.pending(1, 4, at(300));
        assert_eq!(g.decide(at(10), 8, 2, W, ZERO), Verdict::After(W));
        g.pending(2, 2, at(310));
        // Asking for 3 at once (no window of its own) drops the ask for 2, keeps 4.
        assert_eq!(
            g.decide(at(20), 8, 3, ZERO, ZERO),
            Verdict::Now { cancel: vec![2] }
        );
        // Once a scale-in has taken effect it is no longer pending.
        assert_eq!(
            g.decide(at(300), 4, 9, W, ZERO),
            Verdict::Now { cancel: vec![] }
        );
    }

    #[test]
    fn cooldown_refuses_until_it_is_over() {
        let mut g = ScaleGate::default();
        let cool = SimDuration::from_secs(180);
        assert_eq!(
            g.decide(at(100), 2, 4, ZERO, cool),
            Verdict::Now { cancel: vec![] }
        );
        assert_eq!(
            g.decide(at(279), 4, 6, ZERO, cool),
            Verdict::Refused { until: at(280) }
        );
        // A refused action does not restart the cooldown.
        assert_eq!(
            g.decide(at(280), 4, 6, ZERO, cool),
            Verdict::Now { cancel: vec![] }
        );
        // No cooldown of its own: only the action's own cooldown counts.
        assert_eq!(
            g.decide(at(281), 6, 8, ZERO, ZERO),
            Verdict::Now { cancel: vec![] }
        );
    }
}
