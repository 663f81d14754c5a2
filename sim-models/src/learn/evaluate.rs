//! A learned policy against simctl's planner and the human alone on held-out seeds: each
//! seed run three times (policy, planner, `automation: Off`: same faults and load, common
//! random numbers), each metric's mean with a 95% t interval per side, and the paired
//! difference policy - planner. Running the seeds is simctl's job (`remediate --policy`).
//!
//! The must-show: the policy is at least as good as the planner (its mean MTTR at most the
//! top of the planner's interval, its mean availability at least the bottom of it) and
//! never more harmful (no more harmful actions in total).

use serde::{Deserialize, Serialize};

use crate::remediation::compare::{Interval, METRICS};
use crate::remediation::report::RemediationTotals;

/// One seed's three runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Triple {
    pub seed: u64,
    pub policy: RemediationTotals,
    pub planner: RemediationTotals,
    pub human: RemediationTotals,
}

/// A metric on the three sides, and policy - planner seed by seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub metric: String,
    pub policy: Interval,
    pub planner: Interval,
    pub human: Interval,
    pub policy_minus_planner: Interval,
}

/// Each criterion of the must-show, with whether it held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Policy's mean MTTR <= the top of the planner's interval.
    pub mttr_as_good: Option<bool>,
    /// Policy's mean availability >= the bottom of the planner's interval.
    pub availability_as_good: Option<bool>,
    /// Harmful actions over every seed: policy, planner.
    pub harmful: (u64, u64),
    /// All three held (an undecided criterion does not hold).
    pub as_good_and_no_more_harmful: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub scenario: String,
    /// The policy file, and what it was trained on.
    pub policy: String,
    pub training_seed: u64,
    pub episodes: u64,
    pub seeds: u32,
    pub rows: Vec<Row>,
    pub verdict: Verdict,
    pub triples: Vec<Triple>,
}

/// Evaluates the triples, in the order given.
pub fn evaluate(
    scenario: &str,
    policy: &str,
    training_seed: u64,
    episodes: u64,
    triples: Vec<Triple>,
) -> Evaluation {
    let rows: Vec<Row> = METRICS
        .iter()
        .map(|(name, read)| {
            let side = |f: fn(&Triple) -> &RemediationTotals| {
                let xs: Vec<f64> = triples.iter().filter_map(|t| read(f(t))).collect();
                Interval::of(&xs)
            };
            let d: Vec<f64> = triples
                .iter()
                .filter_map(|t| Some(read(&t.policy)? - read(&t.planner)?))
                .collect();
            Row {
                metric: name.to_string(),
                policy: side(|t| &t.policy),
                planner: side(|t| &t.planner),
                human: side(|t| &t.human),
                policy_minus_planner: Interval::of(&d),
            }
        })
        .collect();
    let row = |m: &str| {
        rows.iter()
            .find(|r| r.metric == m)
            .expect("a compared metric")
    };
    let mttr = row("mttr_s");
    let avail = row("availability");
    let mttr_as_good = match (mttr.policy.mean, mttr.planner.high.or(mttr.planner.mean)) {
        (Some(p), Some(top)) => Some(p <= top),
        _ => None,
    };
    let availability_as_good = match (avail.policy.mean, avail.planner.low.or(avail.planner.mean)) {
        (Some(p), Some(bottom)) => Some(p >= bottom),
        _ => None,
    };
    let harmful = (
        triples.iter().map(|t| u64::from(t.policy.harmful)).sum(),
        triples.iter().map(|t| u64::from(t.planner.harmful)).sum(),
    );
    let verdict = Verdict {
        mttr_as_good,
        availability_as_good,
        harmful,
        as_good_and_no_more_harmful: mttr_as_good == Some(true)
            && availability_as_good == Some(true)
            && harmful.0 <= harmful.1,
    };
    Evaluation {
        scenario: scenario.to_string(),
        policy: policy.to_string(),
        training_seed,
        episodes,
        seeds: triples.len() as u32,
        rows,
        verdict,
        triples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(mttr: f64, availability: f64, harmful: u32) -> RemediationTotals {
        RemediationTotals {
            mttr_s: Some(mttr),
            availability,
            harmful,
            ..Default::default()
        }
    }

    fn triple(seed: u64, policy: RemediationTotals, planner: RemediationTotals) -> Triple {
        Triple {
            seed,
            policy,
            planner,
            human: totals(900.0, 0.9, 0),
        }
    }

    #[test]
    fn the_verdict_reads_the_planners_interval_and_the_harm_totals() {
        let good = vec![
            triple(1, totals(100.0, 0.99, 0), totals(120.0, 0.98, 0)),
            triple(2, totals(140.0, 0.98, 0), totals(150.0, 0.98, 1)),
            triple(3, totals(110.0, 0.99, 0), totals(100.0, 0.99, 0)),
        ];
        let e = evaluate("s", "p.json", 1, 10, good.clone());
        assert!(e.verdict.as_good_and_no_more_harmful, "{:?}", e.verdict);
        assert_eq!(e.verdict.harmful, (0, 1));
        let mttr = e.rows.iter().find(|r| r.metric == "mttr_s").unwrap();
        assert!((mttr.policy_minus_planner.mean.unwrap() - (-20.0 / 3.0)).abs() < 1e-9);

        // One harmful action more than the planner fails it, whatever the MTTR.
        let mut harmful = good.clone();
        harmful[0].policy.harmful = 2;
        assert!(
            !evaluate("s", "p", 1, 10, harmful)
                .verdict
                .as_good_and_no_more_harmful
        );

        // Far slower than the planner's whole interval fails it.
        let slow: Vec<Triple> = good
            .iter()
            .map(|t| Triple {
                policy: totals(t.policy.mttr_s.unwrap() * 3.0, 0.99, 0),
                ..t.clone()
            })
            .collect();
        let e = evaluate("s", "p", 1, 10, slow);
        assert_eq!(e.verdict.mttr_as_good, Some(false));
        assert!(!e.verdict.as_good_and_no_more_harmful);
    }
}
