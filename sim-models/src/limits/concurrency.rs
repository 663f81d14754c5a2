//! Either adaptive concurrency limit, as a scenario names it: [`AdaptiveSpec`] and its
//! state, [`Adaptive`].

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::path::Problem;

use super::{Aimd, AimdSpec, Gradient2, Gradient2Spec};

/// An adaptive concurrency limit, as written in a scenario file, e.g. `Aimd(())` or
/// `Gradient2((max: 500))`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AdaptiveSpec {
    Aimd(AimdSpec),
    Gradient2(Gradient2Spec),
}

impl AdaptiveSpec {
    /// Every problem with this spec, with paths relative to it (a newtype variant is
    /// transparent to field paths).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            AdaptiveSpec::Aimd(s) => s.problems(),
            AdaptiveSpec::Gradient2(s) => s.problems(),
        }
    }
}

/// The state of an [`AdaptiveSpec`].
#[derive(Clone, Debug, PartialEq)]
pub enum Adaptive {
    Aimd(Aimd),
    Gradient2(Gradient2),
}

impl Adaptive {
    pub fn new(spec: &AdaptiveSpec) -> Self {
        match spec {
            AdaptiveSpec::Aimd(s) => Adaptive::Aimd(Aimd::new(s)),
            AdaptiveSpec::Gradient2(s) => Adaptive::Gradient2(Gradient2::new(s)),
        }
    }

    /// The current concurrency limit (>= 1 for a valid spec).
    pub fn limit(&self) -> u32 {
        match self {
            Adaptive::Aimd(l) => l.limit(),
            Adaptive::Gradient2(l) => l.limit(),
        }
    }

    /// Feeds one completed request: its round-trip time, the requests in flight when it
    /// completed (itself included, as `concurrency-limits` counts them), and whether it was
    /// dropped (timed out, shed or failed by overload).
    pub fn on_sample(&mut self, rtt: SimDuration, inflight: u32, dropped: bool) {
        match self {
            Adaptive::Aimd(l) => l.on_sample(rtt, inflight, dropped),
            Adaptive::Gradient2(l) => l.on_sample(rtt, inflight, dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::test_support::ms;

    #[test]
    fn adaptive_dispatches_and_parses() {
        let spec: AdaptiveSpec = ron::from_str("Aimd((backoff_ratio: 0.5, initial: 8))").unwrap();
        assert_eq!(
            spec,
            AdaptiveSpec::Aimd(AimdSpec {
                backoff_ratio: 0.5,
                initial: 8,
                ..AimdSpec::default()
            })
        );
        let mut a = Adaptive::new(&spec);
        assert_eq!(a.limit(), 8);
        a.on_sample(ms(1), 8, true);
        assert_eq!(a.limit(), 4);

        let spec: AdaptiveSpec = ron::from_str("Gradient2(())").unwrap();
        assert_eq!(spec, AdaptiveSpec::Gradient2(Gradient2Spec::default()));
        let mut g = Adaptive::new(&spec);
        assert_eq!(g.limit(), 20);
        for _ in 0..6 {
            g.on_sample(ms(5), 20, false);
        }
        assert_eq!(g.limit(), 24);

        assert!(ron::from_str::<AdaptiveSpec>("Aimd((ratio: 0.5))").is_err());
        assert!(ron::from_str::<AdaptiveSpec>("Vegas(())").is_err());
    }

    #[test]
    fn default_specs_have_no_problems() {
        assert!(
            AdaptiveSpec::Aimd(AimdSpec::default())
                .problems()
                .is_empty()
        );
        assert!(
            AdaptiveSpec::Gradient2(Gradient2Spec::default())
                .problems()
                .is_empty()
        );
    }
}
