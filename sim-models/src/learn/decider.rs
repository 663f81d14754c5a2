//! The policy as a decider: [`LearnedPolicy`] answers with the safe choice from a trained
//! table (`safe.rs`); [`Explorer`] answers epsilon-greedily during training and records
//! each decision.
//!
//! Both decide when an incident opens, after a failed or undone step, and at a periodic
//! point if their last answer for the incident was to wait; while a plan they gave runs,
//! or once they paged the human, a periodic point is answered `wait` (the plan's
//! verification will call them back). The planner's arm answers what simctl's planner
//! (`remediation::planner::Planner`) would at this point of the incident, so a table that
//! always picks it runs exactly as the planner does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::menu::Menu;
use super::table::QTable;
use super::train::{Chooser, Episode};
use super::{Arm, Severity, State};
use crate::remediation::class::Classification;
use crate::remediation::decide::{Answer, Decider, DecisionPoint, Reason};
use crate::remediation::plan::Plan;

/// The rule-based planner's plan for an incident at a stage (how many times the planner's
/// arm answered for it before): none when it has no step to offer, and the arm pages the
/// human instead, as the planner does.
pub type PlannerFn = Arc<dyn Fn(&Classification, u32) -> Option<Plan> + Send + Sync>;

/// simctl's planner as the `planner` arm, stage by stage as `Planner` decides: its first
/// stage, then its follow-up after a failed verification, then nothing (page the human).
pub fn simctl_planner(scenario: &crate::Scenario) -> PlannerFn {
    use crate::remediation::planner::{follow_up, plan};
    let s = Arc::new(scenario.clone());
    Arc::new(move |c, stage| {
        let p = match stage {
            0 => Some(plan(c, &s)),
            1 => follow_up(c, &s),
            _ => None,
        };
        p.filter(|p| !p.steps.is_empty())
    })
}

/// What the deciders know of one incident.
#[derive(Clone, Copy, Debug, Default)]
struct Incident {
    /// The last answer was a plan or a page: periodic points are not decisions.
    settled: bool,
    /// How many times the planner's arm answered.
    planner_stage: u32,
}

/// What both deciders share: the menu, the planner, and what they answered per incident.
struct Shell {
    menu: Arc<Menu>,
    planner: PlannerFn,
    incidents: BTreeMap<u32, Incident>,
}

impl Shell {
    fn new(menu: Arc<Menu>, planner: PlannerFn) -> Shell {
        Shell {
            menu,
            planner,
            incidents: BTreeMap::new(),
        }
    }

    /// The state and menu if this point is a decision, else none (answer `wait`).
    fn decision(&self, point: &DecisionPoint) -> Option<(u32, State, Vec<Arm>)> {
        let inc = point.incident.as_ref()?;
        let decide = match point.reason {
            Reason::Opened | Reason::VerificationFailed => true,
            Reason::Periodic => !self.incidents.get(&inc.id).is_some_and(|i| i.settled),
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
        let inc = self.incidents.entry(id).or_default();
        let answer = match (arm, c) {
            // Unclassified, the planner waits.
            (Arm::Planner, None) => Answer::Wait,
            (Arm::Planner, Some(c)) => {
                let stage = inc.planner_stage;
                inc.planner_stage += 1;
                (self.planner)(c, stage).map_or(Answer::Escalate, Answer::Plan)
            }
            _ => self
                .menu
                .answer(arm, c, &point.signals)
                .unwrap_or(Answer::Wait),
        };
        inc.settled = !matches!(answer, Answer::Wait);
        answer
    }
}

/// A trained policy, answering with the planner's arm unless another beats it with
/// confidence in the state (`safe.rs`).
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
            shell: Shell::new(menu, planner),
        }
    }

    /// The arm it pulls in `state` given `menu`.
    pub fn arm(&self, state: &State, menu: &[Arm]) -> Arm {
        super::safe::safe_arm(&self.table, state, menu)
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
            shell: Shell::new(menu, planner),
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

    /// A planner with a plan at its first stage only.
    fn one_stage_planner() -> PlannerFn {
        Arc::new(|c, stage| {
            (stage == 0).then(|| Plan {
                name: format!("planned-{}", c.target),
                class: Some(c.class),
                description: None,
                steps: Vec::new(),
            })
        })
    }

    fn credit(t: &mut QTable, s: State, arm: Arm, returns: &[f64]) {
        for &r in returns {
            t.credit(s, arm, r);
        }
    }

    #[test]
    fn the_policy_departs_from_the_planner_only_with_confidence() {
        let inst = Some(IncidentClass::InstanceFailure);
        let mut t = QTable::new();
        credit(&mut t, state(inst, 0), Arm::Planner, &[-20.0, -22.0, -18.0]);
        credit(&mut t, state(inst, 0), Arm::Drain, &[-2.0, -3.0, -2.5]);
        // One lucky restart is no evidence.
        credit(&mut t, state(inst, 1), Arm::Planner, &[-9.0, -10.0, -11.0]);
        credit(&mut t, state(inst, 1), Arm::Restart, &[-1.0]);
        let mut p = LearnedPolicy::new(t, menu(), one_stage_planner(), "policy p.json".into());
        let Answer::Plan(plan) = p.decide(&point(Reason::Opened, inst, 0)).unwrap() else {
            panic!("drain beats the planner")
        };
        assert_eq!(plan.name, "learned-drain");
        // Its plan is running: a periodic point waits for it.
        assert_eq!(
            p.decide(&point(Reason::Periodic, inst, 1)).unwrap(),
            Answer::Wait
        );
        // The plan failed: decide again, in the state with one action taken, where the
        // planner's arm stays: the planner's first stage.
        let Answer::Plan(plan) = p
            .decide(&point(Reason::VerificationFailed, inst, 1))
            .unwrap()
        else {
            panic!("the planner's plan")
        };
        assert_eq!(plan.name, "planned-api#1");
        // It failed too: the planner has no second stage, so it pages the human, and
        // periodic points are then no decisions.
        assert_eq!(
            p.decide(&point(Reason::VerificationFailed, inst, 2))
                .unwrap(),
            Answer::Escalate
        );
        assert_eq!(
            p.decide(&point(Reason::Periodic, inst, 2)).unwrap(),
            Answer::Wait
        );
        assert_eq!(
            p.decide(&point(Reason::Resolved, inst, 2)).unwrap(),
            Answer::Wait
        );
    }

    #[test]
    fn an_unseen_state_is_the_planners() {
        let mut p = LearnedPolicy::new(QTable::new(), menu(), one_stage_planner(), String::new());
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
        // Unclassified, the planner waits, and is asked again at the next periodic point.
        for reason in [Reason::Opened, Reason::Periodic] {
            assert_eq!(p.decide(&point(reason, None, 0)).unwrap(), Answer::Wait);
        }
        let Answer::Plan(_) = p
            .decide(&point(
                Reason::Periodic,
                Some(IncidentClass::InstanceFailure),
                0,
            ))
            .unwrap()
        else {
            panic!("classified: the planner's plan")
        };
    }

    /// A table that never departs from the planner's arm runs exactly as simctl's planner:
    /// the planner's arm is the planner, stage by stage.
    #[test]
    fn the_planners_arm_is_the_planner() {
        let s = crate::scenario::parse(
            "remediate.ron",
            include_str!("../../../scenarios/remediation/remediate.ron"),
        )
        .expect("parses");
        for seed in [1, 2, 3] {
            let policy = LearnedPolicy::new(
                QTable::new(),
                Arc::new(Menu::new(&s)),
                simctl_planner(&s),
                "policy".into(),
            );
            let planner = crate::remediation::planner::Planner::new(s.clone());
            let a = crate::run::run_with(&s, seed, "s", Some(Box::new(policy)));
            let b = crate::run::run_with(&s, seed, "s", Some(Box::new(planner)));
            let (a, b) = (a.remediation.unwrap(), b.remediation.unwrap());
            assert!(
                a.incidents.len() >= 2,
                "seed {seed}: incidents to decide about"
            );
            assert_eq!(a.incidents, b.incidents, "seed {seed}");
            assert_eq!(a.totals, b.totals, "seed {seed}");
        }
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
