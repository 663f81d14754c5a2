//! The table of action values: for each state met, each arm tried there with how often and
//! the mean return it was credited with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Arm, State};

/// An arm's record in one state.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cell {
    /// Times it was credited with a return.
    pub visits: u64,
    /// The mean of those returns.
    pub value: f64,
    /// The sum of their squared deviations from the mean (Welford's M2): with `visits`,
    /// their variance, which the safe choice (`learn::safe`) bounds the mean with.
    pub m2: f64,
}

impl Cell {
    /// The returns' sample variance (none below two visits).
    pub fn variance(&self) -> Option<f64> {
        (self.visits >= 2).then(|| self.m2 / (self.visits - 1) as f64)
    }
}

/// The action values, in a fixed order (states, then arms, as their `Ord`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QTable {
    cells: BTreeMap<State, BTreeMap<Arm, Cell>>,
}

impl QTable {
    pub fn new() -> QTable {
        QTable::default()
    }

    pub fn cell(&self, state: &State, arm: Arm) -> Option<Cell> {
        self.cells.get(state)?.get(&arm).copied()
    }

    /// The arm of `menu` with the highest value among those tried in `state` (ties: the
    /// first in `menu`), or none if none was tried.
    pub fn best(&self, state: &State, menu: &[Arm]) -> Option<Arm> {
        let row = self.cells.get(state)?;
        let mut best: Option<(Arm, f64)> = None;
        for &arm in menu {
            if let Some(c) = row.get(&arm)
                && best.is_none_or(|(_, v)| c.value > v)
            {
                best = Some((arm, c.value));
            }
        }
        best.map(|(arm, _)| arm)
    }

    /// The first arm of `menu` never tried in `state`, if any.
    pub fn untried(&self, state: &State, menu: &[Arm]) -> Option<Arm> {
        let row = self.cells.get(state);
        menu.iter()
            .copied()
            .find(|a| row.is_none_or(|r| !r.contains_key(a)))
    }

    /// Credits (state, arm) with one return: the cell's value moves to the mean of all its
    /// returns (step size 1 / visits), and its M2 as Welford's update.
    pub fn credit(&mut self, state: State, arm: Arm, ret: f64) {
        let cell = self
            .cells
            .entry(state)
            .or_default()
            .entry(arm)
            .or_insert(Cell {
                visits: 0,
                value: 0.0,
                m2: 0.0,
            });
        cell.visits += 1;
        let delta = ret - cell.value;
        cell.value += delta / cell.visits as f64;
        cell.m2 += delta * (ret - cell.value);
    }

    /// Every (state, arm, cell), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&State, Arm, &Cell)> {
        self.cells
            .iter()
            .flat_map(|(s, row)| row.iter().map(move |(a, c)| (s, *a, c)))
    }

    /// Rebuilds a table from its cells (the policy file's order need not be kept).
    pub fn from_cells(cells: impl IntoIterator<Item = (State, Arm, Cell)>) -> QTable {
        let mut t = QTable::new();
        for (s, a, c) in cells {
            t.cells.entry(s).or_default().insert(a, c);
        }
        t
    }

    pub fn states(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::Severity;

    fn s() -> State {
        State::new(None, Severity::Low, 0)
    }

    #[test]
    fn a_cell_is_the_mean_of_its_returns() {
        let mut t = QTable::new();
        for r in [-1.0, -2.0, -6.0] {
            t.credit(s(), Arm::Wait, r);
        }
        let c = t.cell(&s(), Arm::Wait).unwrap();
        assert_eq!(c.visits, 3);
        assert!((c.value - -3.0).abs() < 1e-12);
        // ((-1+3)^2 + (-2+3)^2 + (-6+3)^2) / 2 = 7.
        assert!((c.variance().unwrap() - 7.0).abs() < 1e-12);
        t.credit(State::new(None, Severity::High, 0), Arm::Wait, -1.0);
        let one = t.cell(&State::new(None, Severity::High, 0), Arm::Wait);
        assert_eq!(one.unwrap().variance(), None, "one return has no variance");
    }

    #[test]
    fn best_is_among_tried_arms_of_the_menu() {
        let mut t = QTable::new();
        assert_eq!(t.best(&s(), &Arm::ALL), None);
        t.credit(s(), Arm::Wait, -5.0);
        t.credit(s(), Arm::Escalate, -2.0);
        assert_eq!(t.best(&s(), &Arm::ALL), Some(Arm::Escalate));
        // An arm outside the menu is never the answer.
        assert_eq!(t.best(&s(), &[Arm::Wait, Arm::Planner]), Some(Arm::Wait));
        assert_eq!(
            t.untried(&s(), &[Arm::Wait, Arm::Escalate, Arm::Drain]),
            Some(Arm::Drain)
        );
        assert_eq!(t.untried(&s(), &[Arm::Wait, Arm::Escalate]), None);
    }

    #[test]
    fn ties_go_to_the_first_in_the_menu() {
        let mut t = QTable::new();
        t.credit(s(), Arm::Wait, -1.0);
        t.credit(s(), Arm::Drain, -1.0);
        assert_eq!(t.best(&s(), &[Arm::Wait, Arm::Drain]), Some(Arm::Wait));
        assert_eq!(t.best(&s(), &[Arm::Drain, Arm::Wait]), Some(Arm::Drain));
    }
}
