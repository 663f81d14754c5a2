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
use crate::remediation::class::Classification;
use crate::remediation::decide::{Answer, Decider, DecisionPoint, Reason};
use crate::remediation::plan::Plan;

/// The rule-based planner's plan for an incident with so many actions taken (the
/// `planner` arm).
pub type PlannerFn = Arc<dyn Fn(&Classification, u32) -> Option<Plan> + Send + Sync>;

/// simctl's planner as the `planner` arm: its first stage when nothing was done yet, its
/// follow-up (or the first stage again) after; none when it has no step to offer.
pub fn simctl_planner(scenario: &crate::Scenario) -> PlannerFn {
    use crate::remediation::planner::{follow_up, plan};
    let s = Arc::new(scenario.clone());
    Arc::new(move |c, actions_taken| {
        let p = if actions_taken == 0 {
            plan(c, &s)
        } else {
            follow_up(c, &s).unwrap_or_else(|| plan(c, &s))
        };
        (!p.steps.is_empty()).then_some(p)
    })
}

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
        let inc = point.incident.as_ref();
        let c = inc.and_then(|i| i.classification.as_ref());
        let actions_taken = inc.map_or(0, |i| i.actions_taken);
        let planner = &self.planner;
        let answer = self
            .menu
            .answer(arm, c, &point.signals, |c| planner(c, actions_taken))
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
    /// Its name in the remediation report (`policy FILE`).
    #[allow(
        dead_code,
        reason = "read by Decider::label, which the orchestrator adds"
    )]
    label: String,
}

impl LearnedPolicy {
    pub fn new(table: QTable, menu: Arc<Menu>, planner: PlannerFn, label: String) -> LearnedPolicy {
        LearnedPolicy {
            table,
            label,
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

    fn label(&self) -> String {
        self.label.clone()
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

    fn label(&self) -> String {
        "policy (training)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::train::Episode;
    use crate::remediation::class::{ClientSignals, IncidentClass, Signals};
    use crate::remediation::decide::IncidentView;

    fn menu() -> Arc<Menu> {
        let s = crate::scenario::parse("s.ron", include_str!("../../../scenarios/zones.ron"))
            .expect("parses");
        Arc::new(Menu::new(&s))
    }

    fn no_planner() -> PlannerFn {
        Arc::new(|_, _| None)
    }

    fn point(reason: Reason, class: Option<IncidentClass>, actions_taken: u32) -> DecisionPoint {
        DecisionPoint {
            step: 0,
            reason,
            signals: Signals {
                window_s: 1.0,
                clients: vec![ClientSignals {
                    name: "users".into(),
                    offered_rps: 100.0,
                    error_rate: Some(0.4),
                    ..ClientSignals::default()
                }],
                ..Signals::default()
            },
            incident: Some(IncidentView {
                id: 1,
                opened_s: 100.0,
                classification: class.map(|class| Classification {
                    class,
                    target: "api#1".into(),
                    evidence: String::new(),
                }),
                text: String::new(),
                actions_taken,
                failed_verifications: 0,
                recent_actions: Vec::new(),
            }),
        }
    }

    fn state(class: Option<IncidentClass>, actions: u32) -> State {
        State::new(class, Severity::High, actions)
    }

    #[test]
    fn the_learned_policy_is_greedy_and_waits_for_its_plan() {
        let inst = Some(IncidentClass::InstanceFailure);
        let mut t = QTable::new();
        t.credit(state(inst, 0), Arm::Drain, -2.0);
        t.credit(state(inst, 0), Arm::Restart, -5.0);
        t.credit(state(inst, 1), Arm::Wait, -1.0);
        let mut p = LearnedPolicy::new(t, menu(), no_planner(), "policy p.json".into());
        let Answer::Plan(plan) = p.decide(&point(Reason::Opened, inst, 0)).unwrap() else {
            panic!("drain is the best arm")
        };
        assert_eq!(plan.name, "learned-drain");
        // Its plan is running: a periodic point waits for it.
        assert_eq!(
            p.decide(&point(Reason::Periodic, inst, 1)).unwrap(),
            Answer::Wait
        );
        // The plan failed: decide again, in the state with one action taken.
        assert_eq!(
            p.decide(&point(Reason::VerificationFailed, inst, 1))
                .unwrap(),
            Answer::Wait
        );
        assert_eq!(
            p.decide(&point(Reason::Resolved, inst, 1)).unwrap(),
            Answer::Wait
        );
    }

    #[test]
    fn an_unseen_state_falls_back_to_the_planner_or_the_human() {
        let mut p = LearnedPolicy::new(QTable::new(), menu(), no_planner(), String::new());
        let menu_inst = menu().arms(
            point(Reason::Opened, Some(IncidentClass::InstanceFailure), 0)
                .incident
                .unwrap()
                .classification
                .as_ref(),
            &Signals::default(),
        );
        assert_eq!(p.arm(&state(None, 0), &menu_inst), Arm::Planner);
        assert_eq!(
            p.arm(&state(None, 0), &[Arm::Wait, Arm::Escalate]),
            Arm::Escalate
        );
        assert_eq!(
            p.decide(&point(Reason::Opened, None, 0)).unwrap(),
            Answer::Escalate
        );
    }

    #[test]
    fn the_explorer_records_each_decision_by_incident() {
        let decisions: Decisions = Arc::new(Mutex::new(BTreeMap::new()));
        let e = Episode::new(5, 0, 10);
        let mut x = Explorer::new(
            Arc::new(QTable::new()),
            5,
            &e,
            menu(),
            no_planner(),
            decisions.clone(),
        );
        let inst = Some(IncidentClass::InstanceFailure);
        x.decide(&point(Reason::Opened, inst, 0)).unwrap();
        x.decide(&point(Reason::Resolved, inst, 0)).unwrap();
        let got = decisions.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        assert_eq!(got[&1].len(), 1, "a resolved point is no decision");
        assert_eq!(got[&1][0].0, state(inst, 0));
    }
}
