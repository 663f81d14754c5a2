//! The safe choice of an arm: the rule-based planner's, unless another arm beats it with
//! confidence.
//!
//! Safe policy improvement over a baseline policy (Thomas, Theocharous and Ghavamzadeh,
//! "High-confidence policy improvement", 2015; Laroche et al., SPIBB, 2019): the learned
//! policy departs from the planner in a state only where an arm's advantage over the
//! planner's arm has a lower confidence bound above zero. The bound is Welch's t on the two
//! cells' returns (their means, variances and visits), one-sided at [`CONFIDENCE`] with a
//! Bonferroni share for each arm compared in the state. A greedy choice on means instead
//! trusts a mean over a few heavy-tailed returns: one incident that never recovers costs
//! as much as twenty ordinary ones, so an arm whose few returns missed that tail looks
//! better than the planner's until held-out seeds meet it.

use sim_core::stats::t_quantile;

use super::table::{Cell, QTable};
use super::{Arm, State};

/// The confidence that a departure from the planner is an improvement, in each state.
pub const CONFIDENCE: f64 = 0.95;

/// The baseline's arm: the rule-based planner. A menu always offers it.
pub const BASELINE: Arm = Arm::Planner;

/// A one-sided lower confidence bound at `level` on the mean return of `arm` minus that of
/// `baseline` (Welch's t); none when either has fewer than two returns.
pub fn advantage_lower_bound(arm: &Cell, baseline: &Cell, level: f64) -> Option<f64> {
    let (va, vb) = (arm.variance()?, baseline.variance()?);
    let (na, nb) = (arm.visits as f64, baseline.visits as f64);
    let diff = arm.value - baseline.value;
    let (sa, sb) = (va / na, vb / nb);
    let se2 = sa + sb;
    if se2 <= 0.0 {
        // Both always returned the same: the difference is known.
        return Some(diff);
    }
    let dof = se2 * se2 / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
    Some(diff - t_quantile(level, dof) * se2.sqrt())
}

/// The arm to pull in `state` given `menu`: the arm whose advantage over the planner's has
/// the highest lower bound, if that bound is above zero; else the planner's arm (also in a
/// state where the planner's arm was never tried: nothing is known to beat it). A menu
/// without the planner's arm (a `Menu` always offers it) falls back to the
/// best mean, else to paging the human.
pub fn safe_arm(table: &QTable, state: &State, menu: &[Arm]) -> Arm {
    if !menu.contains(&BASELINE) {
        return table.best(state, menu).unwrap_or(Arm::Escalate);
    }
    let Some(base) = table.cell(state, BASELINE) else {
        return BASELINE;
    };
    let rivals: Vec<Arm> = menu.iter().copied().filter(|&a| a != BASELINE).collect();
    let level = 1.0 - (1.0 - CONFIDENCE) / rivals.len().max(1) as f64;
    let mut best: Option<(Arm, f64)> = None;
    for arm in rivals {
        let Some(bound) = table
            .cell(state, arm)
            .and_then(|c| advantage_lower_bound(&c, &base, level))
        else {
            continue;
        };
        if bound > 0.0 && best.is_none_or(|(_, b)| bound > b) {
            best = Some((arm, bound));
        }
    }
    best.map_or(BASELINE, |(arm, _)| arm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::Severity;

    fn s() -> State {
        State::new(None, Severity::High, 0)
    }

    const MENU: [Arm; 4] = [Arm::Planner, Arm::Restart, Arm::Degrade, Arm::Escalate];

    fn table(cells: &[(Arm, &[f64])]) -> QTable {
        let mut t = QTable::new();
        for &(arm, returns) in cells {
            for &r in returns {
                t.credit(s(), arm, r);
            }
        }
        t
    }

    #[test]
    fn a_clearly_better_arm_replaces_the_planner() {
        let t = table(&[
            (Arm::Planner, &[-20.0, -22.0, -18.0, -21.0, -19.0]),
            (Arm::Restart, &[-5.0, -6.0, -4.0, -5.5, -4.5]),
        ]);
        assert_eq!(safe_arm(&t, &s(), &MENU), Arm::Restart);
        assert_eq!(t.best(&s(), &MENU), Some(Arm::Restart));
    }

    #[test]
    fn a_better_mean_with_a_heavy_tail_does_not() {
        // As in overload / critical / 0 actions on remediate.ron: the degrade arm's mean is
        // higher, but two of its returns were runs that never recovered. Greedy on means
        // takes it; the safe choice keeps the planner.
        let mut degrade = vec![-8.0; 19];
        degrade.extend([-110.0, -110.0]);
        let planner = [
            -5.0, -8.0, -12.0, -60.0, -10.0, -6.0, -30.0, -9.0, -45.0, -18.0,
        ];
        let t = table(&[(Arm::Planner, &planner), (Arm::Degrade, &degrade)]);
        assert_eq!(t.best(&s(), &MENU), Some(Arm::Degrade));
        let base = t.cell(&s(), Arm::Planner).unwrap();
        let d = t.cell(&s(), Arm::Degrade).unwrap();
        assert!(d.value > base.value);
        assert!(advantage_lower_bound(&d, &base, 0.95).unwrap() < 0.0);
        assert_eq!(safe_arm(&t, &s(), &MENU), Arm::Planner);
    }

    #[test]
    fn too_few_returns_or_no_planner_cell_keep_the_planner() {
        let t = table(&[(Arm::Planner, &[-50.0]), (Arm::Restart, &[-1.0, -1.5])]);
        assert_eq!(
            safe_arm(&t, &s(), &MENU),
            Arm::Planner,
            "one planner return"
        );
        let t = table(&[(Arm::Restart, &[-1.0, -1.5, -1.2])]);
        assert_eq!(
            safe_arm(&t, &s(), &MENU),
            Arm::Planner,
            "planner never tried"
        );
        assert_eq!(safe_arm(&QTable::new(), &s(), &MENU), Arm::Planner);
    }

    #[test]
    fn more_rivals_ask_for_more_confidence() {
        // Separated enough for one comparison at 95%, not for a 1/200 share (Bonferroni).
        let base = Cell {
            visits: 3,
            value: -10.0,
            m2: 8.0,
        };
        let arm = Cell {
            visits: 3,
            value: -5.0,
            m2: 8.0,
        };
        assert!(advantage_lower_bound(&arm, &base, 0.95).unwrap() > 0.0);
        assert!(advantage_lower_bound(&arm, &base, 1.0 - 0.05 / 200.0).unwrap() < 0.0);
    }
}
