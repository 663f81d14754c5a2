//! Main effects of a design: for each factor and level, the mean of a metric over every
//! run at that level; the factor's effect range is its highest level mean minus its lowest,
//! and the factors ranked by range say which one drives the metric.
//!
//! In an orthogonal array every level of one factor meets every level of each other factor
//! equally often (or in proportion, with a dummy level), so under an additive model the
//! other factors' effects cancel out of each level mean: the level mean minus the grand mean
//! is that level's own effect. In a covering array they do not cancel exactly, and the
//! output says so.

use serde::{Deserialize, Serialize};

/// One level's mean, over the runs with a value (`runs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelMean {
    pub level: String,
    pub mean: Option<f64>,
    pub runs: usize,
}

/// A factor's level means and its effect range (max - min of the level means).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactorEffect {
    pub factor: String,
    pub levels: Vec<LevelMean>,
    pub range: Option<f64>,
}

/// The main effects of one metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricEffects {
    /// Registry name of the metric.
    pub metric: String,
    pub grand_mean: Option<f64>,
    /// Runs with a value (e.g. `metastable` has none for an undetermined run).
    pub runs: usize,
    /// Runs without one.
    pub missing: usize,
    pub factors: Vec<FactorEffect>,
    /// Factor indices by effect range, largest first (factors with no range last).
    pub ranking: Vec<usize>,
}

/// Main effects of one metric. `design[row][factor]` is a level index; `values[row]` the
/// metric on each run (seed) of that row; `labels[factor][level]` names the levels.
pub fn main_effects(
    metric: &str,
    names: &[String],
    labels: &[Vec<String>],
    design: &[Vec<usize>],
    values: &[Vec<Option<f64>>],
) -> MetricEffects {
    let finite = |v: &Option<f64>| v.filter(|x| x.is_finite());
    let mut all = (0.0, 0usize, 0usize);
    for vs in values {
        for v in vs {
            match finite(v) {
                Some(x) => {
                    all.0 += x;
                    all.1 += 1;
                }
                None => all.2 += 1,
            }
        }
    }
    let factors: Vec<FactorEffect> = names
        .iter()
        .enumerate()
        .map(|(f, name)| {
            let mut sums = vec![(0.0, 0usize); labels[f].len()];
            for (row, vs) in design.iter().zip(values) {
                for x in vs.iter().filter_map(finite) {
                    sums[row[f]].0 += x;
                    sums[row[f]].1 += 1;
                }
            }
            let levels: Vec<LevelMean> = sums
                .iter()
                .zip(&labels[f])
                .map(|(&(sum, n), label)| LevelMean {
                    level: label.clone(),
                    mean: (n > 0).then(|| sum / n as f64),
                    runs: n,
                })
                .collect();
            let means: Vec<f64> = levels.iter().filter_map(|l| l.mean).collect();
            let range = (means.len() == levels.len() && !means.is_empty()).then(|| {
                let hi = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lo = means.iter().copied().fold(f64::INFINITY, f64::min);
                hi - lo
            });
            FactorEffect {
                factor: name.clone(),
                levels,
                range,
            }
        })
        .collect();
    let mut ranking: Vec<usize> = (0..factors.len()).collect();
    ranking.sort_by(|&a, &b| match (factors[a].range, factors[b].range) {
        (Some(x), Some(y)) => y.total_cmp(&x).then(a.cmp(&b)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(&b),
    });
    MetricEffects {
        metric: metric.to_string(),
        grand_mean: (all.1 > 0).then(|| all.0 / all.1 as f64),
        runs: all.1,
        missing: all.2,
        factors,
        ranking,
    }
}

#[cfg(test)]
mod tests {
    use super::super::orthogonal::{assign, candidates};
    use super::*;

    /// y = 10 + sum of each factor's effect at its level (+ per-seed noise that sums to 0).
    fn additive(design: &[Vec<usize>], truth: &[Vec<f64>]) -> Vec<Vec<Option<f64>>> {
        design
            .iter()
            .map(|row| {
                let y: f64 = 10.0 + row.iter().zip(truth).map(|(&l, t)| t[l]).sum::<f64>();
                vec![Some(y - 0.5), Some(y + 0.5)]
            })
            .collect()
    }

    fn labels(levels: &[usize]) -> (Vec<String>, Vec<Vec<String>>) {
        let names = (0..levels.len()).map(|f| format!("f{f}")).collect();
        let labels = levels
            .iter()
            .map(|&s| (0..s).map(|l| l.to_string()).collect())
            .collect();
        (names, labels)
    }

    /// Effects centred on their mean over the design's level frequencies.
    fn recovered(e: &MetricEffects, f: usize) -> Vec<f64> {
        let g = e.grand_mean.unwrap();
        e.factors[f]
            .levels
            .iter()
            .map(|l| l.mean.unwrap() - g)
            .collect()
    }

    #[test]
    fn an_orthogonal_array_recovers_additive_effects_exactly() {
        // L27: 13 three-level factors, effects of different sizes; the factor with the
        // largest true effect ranks first, and every level's effect comes back.
        let c = candidates()
            .into_iter()
            .find(|c| c.name == "L27(3^13)")
            .unwrap();
        let design = c.build();
        let truth: Vec<Vec<f64>> = (0..13)
            .map(|f| {
                let a = f as f64 * 0.1;
                vec![-a, 0.3 * a, 0.7 * a]
            })
            .collect();
        let values = additive(&design, &truth);
        let (names, labels) = labels(&c.columns);
        let e = main_effects("y", &names, &labels, &design, &values);
        assert_eq!(e.runs, 54);
        assert!((e.grand_mean.unwrap() - 10.0).abs() < 1e-9);
        for (f, t) in truth.iter().enumerate() {
            for (got, want) in recovered(&e, f).iter().zip(t) {
                assert!((got - want).abs() < 1e-9, "factor {f}: {got} vs {want}");
            }
            let range = e.factors[f].range.unwrap();
            assert!((range - 1.7 * f as f64 * 0.1).abs() < 1e-9);
        }
        assert_eq!(e.ranking[0], 12);
        assert_eq!(e.ranking[12], 0);
    }

    #[test]
    fn a_dummy_level_keeps_the_effects_unbiased() {
        // Three 3-level factors and a 2-level one in L9 (level 3 of its column runs as 1).
        let c = candidates()
            .into_iter()
            .find(|c| c.name == "L9(3^4)")
            .unwrap();
        let levels = [3, 3, 3, 2];
        let fits = assign(&levels, &c.columns).unwrap();
        let design: Vec<Vec<usize>> = c
            .build()
            .iter()
            .map(|r| {
                fits.iter()
                    .zip(&levels)
                    .map(|(&(col, _), &s)| r[col] % s)
                    .collect()
            })
            .collect();
        let truth = vec![
            vec![0.0, 1.0, 2.0],
            vec![-3.0, 0.0, 3.0],
            vec![0.5, 0.0, 0.0],
            vec![0.0, 4.0],
        ];
        let values = additive(&design, &truth);
        let (names, labels) = labels(&levels);
        let e = main_effects("y", &names, &labels, &design, &values);
        // Differences between level means are the true differences.
        for (f, t) in truth.iter().enumerate() {
            let m: Vec<f64> = e.factors[f]
                .levels
                .iter()
                .map(|l| l.mean.unwrap())
                .collect();
            for l in 1..t.len() {
                assert!(((m[l] - m[0]) - (t[l] - t[0])).abs() < 1e-9, "factor {f}");
            }
        }
        assert_eq!(e.ranking, vec![1, 3, 0, 2]);
        assert_eq!(e.factors[3].levels[0].runs, 12);
        assert_eq!(e.factors[3].levels[1].runs, 6);
    }

    #[test]
    fn runs_without_a_value_are_left_out_and_counted() {
        let design = vec![vec![0], vec![1]];
        let values = vec![vec![Some(1.0), None], vec![Some(3.0), Some(f64::NAN)]];
        let e = main_effects(
            "m",
            &["a".into()],
            &[vec!["x".into(), "y".into()]],
            &design,
            &values,
        );
        assert_eq!((e.runs, e.missing), (2, 2));
        assert_eq!(e.factors[0].range, Some(2.0));
        let none = main_effects(
            "m",
            &["a".into()],
            &[vec!["x".into(), "y".into()]],
            &design,
            &[vec![None], vec![Some(1.0)]],
        );
        assert_eq!(none.factors[0].range, None);
    }
}
