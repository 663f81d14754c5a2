//! An incident's return: minus its MTTR in minutes, minus a large penalty per harmful
//! action, minus its unavailability (the share of requests it cost). The penalty is large
//! so that no saving in MTTR can buy a harmful action: the must-show is "never more
//! harmful than the planner".

use serde::{Deserialize, Serialize};

use crate::result::RunResult;

/// Per minute of MTTR.
pub const PER_MTTR_MINUTE: f64 = 1.0;
/// Per harmful action (one undone, or a restart that made things worse).
pub const PER_HARMFUL: f64 = 60.0;
/// Per unit of unavailability (1.0 = every request of the run failed).
pub const PER_UNAVAILABILITY: f64 = 100.0;

/// How one incident ended, as the learner scores it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Time to restore in seconds (to the end of the run when never restored).
    pub mttr_s: f64,
    pub harmful: u32,
    /// Failed requests during the incident over the run's requests.
    pub unavailability: f64,
}

/// The return of an incident with this outcome.
pub fn reward(o: &Outcome) -> f64 {
    -(o.mttr_s / 60.0) * PER_MTTR_MINUTE
        - o.harmful as f64 * PER_HARMFUL
        - o.unavailability * PER_UNAVAILABILITY
}

/// Each incident of a run with its outcome, by incident id (none without remediation).
/// An incident still open at the end counts its MTTR up to the end of the run.
pub fn outcomes(r: &RunResult) -> Vec<(u32, Outcome)> {
    let Some(rem) = &r.remediation else {
        return Vec::new();
    };
    let end_s = r.series.t_s.last().copied().unwrap_or(0.0);
    let offered = r.totals.offered.max(1) as f64;
    rem.incidents
        .iter()
        .map(|inc| {
            let until = inc.restored_s.unwrap_or(end_s);
            let s = &r.series;
            let lost: u64 = (0..s.t_s.len())
                .filter(|&k| s.t_s[k] > inc.start_s && s.t_s[k] - s.window_s < until)
                .map(|k| s.offered[k].saturating_sub(s.succeeded[k]))
                .sum();
            let o = Outcome {
                mttr_s: inc.mttr_s.unwrap_or(end_s - inc.start_s).max(0.0),
                harmful: inc.harmful,
                unavailability: lost as f64 / offered,
            };
            (inc.id, o)
        })
        .collect()
}

/// The weights, as recorded in the policy file.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    pub per_mttr_minute: f64,
    pub per_harmful: f64,
    pub per_unavailability: f64,
}

impl Weights {
    pub const CURRENT: Weights = Weights {
        per_mttr_minute: PER_MTTR_MINUTE,
        per_harmful: PER_HARMFUL,
        per_unavailability: PER_UNAVAILABILITY,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_harmful_action_costs_more_than_an_hour_of_mttr() {
        let fast_but_harmful = Outcome {
            mttr_s: 60.0,
            harmful: 1,
            unavailability: 0.0,
        };
        let slow = Outcome {
            mttr_s: 3000.0,
            harmful: 0,
            unavailability: 0.0,
        };
        assert!(reward(&slow) > reward(&fast_but_harmful));
        assert!(
            reward(&Outcome {
                unavailability: 0.1,
                ..slow
            }) < reward(&slow)
        );
    }
}
