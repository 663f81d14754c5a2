//! The policy as a decider: [`LearnedPolicy`] answers greedily from a trained table;
//! [`Explorer`] answers epsilon-greedily during training and records each decision.
//!
//! Both decide when an incident opens, after a failed or undone step, and at a periodic
//! point if their last answer for the incident was to wait; while a plan they gave runs,
//! a periodic point is answered `wait` (the plan's verification will call them back).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::menu::Menu;
use super::table::QTable;
use super::train::{Chooser, Episode};
use super::{Arm, Severity, State};
use crate::remediation::class::{Classification, Signals};
use crate::remediation::decide::{Answer, Decider, DecisionPoint, Reason};
use crate::remediation::plan::Plan;

/// The rule-based planner's plan for an incident (the `planner` arm).
pub type PlannerFn = Arc<dyn Fn(&Classification, &Signals) -> Option<Plan> + Send + Sync>;

/// What both deciders share: the menu, the planner, and per incident whether the last
/// answer was a plan.
struct Shell {
    menu: Arc<Menu>,
    planner: PlannerFn,
    planned: BTreeMap<u32, bool>,
}

impl Shell {
    /// The state and menu if this point is a decision, else none (answer `wait`).
    fn decision(&self, point: &DecisionPoint) -> Option<(u32, State, Vec<Arm>)> {
        let inc = point.incident.as_ref()?;
        let decide = match point.reason {
            Reason::Opened | Reason::VerificationFailed => true,
            Reason::Periodic => !self.planned.get(&inc.id).copied().unwrap_or(false),
            Reason::Resolved => false,
        };
        if !decide {
            return None;
        }
        let c = inc.classification.as_ref();
        let state = State::new(
            c.map(|c| c.class),
            Severity::of(&point.signals),
            inc.actions_taken,
        );
        Some((inc.id, state, self.menu.arms(c, &point.signals)))
    }

    fn answer(&mut self, point: &DecisionPoint, id: u32, arm: Arm) -> Answer {
        let c = point
            .incident
            .as_ref()
            .and_then(|i| i.classification.as_ref());
        let planner = &self.planner;
        let answer = self
            .menu
            .answer(arm, c, &point.signals, |c| planner(c, &point.signals))
            .unwrap_or(Answer::Wait);
        self.planned.insert(id, matches!(answer, Answer::Plan(_)));
        answer
    }
}

/// A trained policy, answering with the best arm tried in the state; in a state never met
/// in training, with the planner's plan (or, unclassified, by paging the human).
pub struct LearnedPolicy {
    table: QTable,
    shell: Shell,
}

impl LearnedPolicy {
    pub fn new(table: QTable, menu: Arc<Menu>, planner: PlannerFn) -> LearnedPolicy {
        LearnedPolicy {
            table,
            shell: Shell {
                menu,
                planner,
                planned: BTreeMap::new(),
            },
        }
    }

    /// The arm it pulls in `state` given `menu`.
    pub fn arm(&self, state: &State, menu: &[Arm]) -> Arm {
        self.table
            .best(state, menu)
            .unwrap_or(if menu.contains(&Arm::Planner) {
                Arm::Planner
            } else {
                Arm::Escalate
            })
    }
}

impl Decider for LearnedPolicy {
    fn decide(&mut self, point: &DecisionPoint) -> Result<Answer, String> {
        let Some((id, state, menu)) = self.shell.decision(point) else {
            return Ok(Answer::Wait);
        };
        let arm = self.arm(&state, &menu);
        Ok(self.shell.answer(point, id, arm))
    }
}

/// Each incident's decisions in one training run, by incident id.
pub type Decisions = Arc<Mutex<BTreeMap<u32, Vec<(State, Arm)>>>>;

/// The decider of one training episode.
pub struct Explorer {
    table: Arc<QTable>,
    chooser: Chooser,
    shell: Shell,
    decisions: Decisions,
}

impl Explorer {
    /// `decisions` receives every decision it takes.
    pub fn new(
        table: Arc<QTable>,
        training_seed: u64,
        episode: &Episode,
        menu: Arc<Menu>,
        planner: PlannerFn,
        decisions: Decisions,
    ) -> Explorer {
        Explorer {
            table,
            chooser: Chooser::new(training_seed, episode),
            shell: Shell {
                menu,
                planner,
                planned: BTreeMap::new(),
            },
            decisions,
        }
    }
}

impl Decider for Explorer {
    fn decide(&mut self, point: &DecisionPoint) -> Result<Answer, String> {
        let Some((id, state, menu)) = self.shell.decision(point) else {
            return Ok(Answer::Wait);
        };
        let arm = self.chooser.choose(&self.table, &state, &menu);
        self.decisions
            .lock()
            .map_err(|_| "the decision record was poisoned".to_string())?
            .entry(id)
            .or_default()
            .push((state, arm));
        Ok(self.shell.answer(point, id, arm))
    }
}
