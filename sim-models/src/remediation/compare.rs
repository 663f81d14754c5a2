//! Automation against the human alone, seed by seed: each seed's run with automation is
//! paired with its run with `automation: Off` (same faults, same load: common random
//! numbers), and each metric gets its mean with a 95% t interval on either side and on the
//! paired difference (automation - human). Running the pairs is simctl's job
//! (`simctl remediate`).

use serde::{Deserialize, Serialize};
use sim_core::stats::mean_ci;

use crate::remediation::report::RemediationTotals;

/// One seed's two runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub seed: u64,
    pub automated: RemediationTotals,
    pub human: RemediationTotals,
}

/// The comparison over every seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub scenario: String,
    /// Who acted before the human in the automated runs.
    pub automation: String,
    pub seeds: u32,
    pub rows: Vec<Row>,
    pub pairs: Vec<Pair>,
}

/// A metric on both sides and their paired difference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub metric: String,
    pub automated: Interval,
    pub human: Interval,
    /// automated - human, seed by seed (seeds where both are defined).
    pub difference: Interval,
}

/// A mean with its 95% t interval over `n` seeds (`low`/`high` null when n < 2).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub mean: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub n: u32,
}

impl Interval {
    pub fn of(xs: &[f64]) -> Interval {
        if xs.is_empty() {
            return Interval {
                mean: None,
                low: None,
                high: None,
                n: 0,
            };
        }
        let ci = mean_ci(xs, 0.95);
        let finite = ci.half_width.is_finite();
        Interval {
            mean: Some(ci.mean),
            low: finite.then(|| ci.low()),
            high: finite.then(|| ci.high()),
            n: xs.len() as u32,
        }
    }

    /// Whether the interval lies wholly below 0 (or above it).
    pub fn excludes_zero(&self) -> bool {
        match (self.low, self.high) {
            (Some(l), Some(h)) => l > 0.0 || h < 0.0,
            _ => false,
        }
    }
}

/// The metrics compared, and how each is read from a run's totals.
type Read = fn(&RemediationTotals) -> Option<f64>;
pub const METRICS: [(&str, Read); 8] = [
    ("mttd_s", |t| t.mttd_s),
    ("mttr_s", |t| t.mttr_s),
    ("availability", |t| Some(t.availability)),
    ("incidents", |t| Some(f64::from(t.incidents))),
    ("actions", |t| Some(f64::from(t.actions))),
    ("undone", |t| Some(f64::from(t.undone))),
    ("harmful", |t| Some(f64::from(t.harmful))),
    ("escalations", |t| Some(f64::from(t.escalations))),
];

/// Compares the pairs, in the order given.
pub fn compare(scenario: &str, automation: &str, pairs: Vec<Pair>) -> Comparison {
    let rows = METRICS
        .iter()
        .map(|(name, read)| {
            let a: Vec<f64> = pairs.iter().filter_map(|p| read(&p.automated)).collect();
            let h: Vec<f64> = pairs.iter().filter_map(|p| read(&p.human)).collect();
            let d: Vec<f64> = pairs
                .iter()
                .filter_map(|p| Some(read(&p.automated)? - read(&p.human)?))
                .collect();
            Row {
                metric: name.to_string(),
                automated: Interval::of(&a),
                human: Interval::of(&h),
                difference: Interval::of(&d),
            }
        })
        .collect();
    Comparison {
        scenario: scenario.to_string(),
        automation: automation.to_string(),
        seeds: pairs.len() as u32,
        rows,
        pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(mttr: Option<f64>, actions: u32) -> RemediationTotals {
        RemediationTotals {
            mttr_s: mttr,
            actions,
            ..Default::default()
        }
    }

    #[test]
    fn differences_are_paired_and_skip_seeds_without_a_value() {
        let pairs = vec![
            Pair {
                seed: 1,
                automated: totals(Some(100.0), 2),
                human: totals(Some(400.0), 0),
            },
            Pair {
                seed: 2,
                automated: totals(Some(200.0), 1),
                human: totals(Some(600.0), 0),
            },
            Pair {
                seed: 3,
                automated: totals(None, 0),
                human: totals(Some(500.0), 0),
            },
        ];
        let c = compare("s", "planner", pairs);
        let mttr = c.rows.iter().find(|r| r.metric == "mttr_s").unwrap();
        assert_eq!(mttr.automated.n, 2);
        assert_eq!(mttr.human.n, 3);
        assert_eq!(mttr.difference.n, 2);
        assert_eq!(mttr.difference.mean, Some(-350.0));
        // -300 and -400: mean -350, s = 70.7, t(0.975, 1) = 12.71: half width 635.3.
        let half = mttr.difference.high.unwrap() - (-350.0);
        assert!((half - 635.3).abs() < 0.5, "{half}");
        assert!(!mttr.difference.excludes_zero());
        let actions = c.rows.iter().find(|r| r.metric == "actions").unwrap();
        assert_eq!(actions.difference.mean, Some(1.0));
    }
}
