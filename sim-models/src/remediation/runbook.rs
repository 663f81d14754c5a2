//! A plans file as a decider (`--plans FILE`): a runbook written elsewhere (by hand, by
//! another tool, by an LLM planner). It answers the first plan for the incident's class
//! (a plan with no class fits any), instantiated for the incident's target; the
//! orchestrator validates it like any other plan. With nothing that fits, or once its
//! plan has failed, it pages the human.

use std::collections::BTreeSet;

use super::decide::{Answer, Decider, DecisionPoint, Reason};
use super::plan::PlanFile;
use crate::Scenario;

pub struct Runbook {
    plans: PlanFile,
    scenario: Scenario,
    /// Incidents answered already.
    answered: BTreeSet<u32>,
}

impl Runbook {
    pub fn new(plans: PlanFile, scenario: Scenario) -> Self {
        Runbook {
            plans,
            scenario,
            answered: BTreeSet::new(),
        }
    }
}

impl Decider for Runbook {
    fn decide(&mut self, point: &DecisionPoint) -> Result<Answer, String> {
        let Some(incident) = &point.incident else {
            return Ok(Answer::Wait);
        };
        let answer = match point.reason {
            Reason::Opened | Reason::Periodic if !self.answered.contains(&incident.id) => {
                let Some(class) = &incident.classification else {
                    return Ok(Answer::Wait);
                };
                let fits = |exact: bool| {
                    self.plans.plans.iter().find(|p| {
                        if exact {
                            p.class == Some(class.class)
                        } else {
                            p.class.is_none()
                        }
                    })
                };
                match fits(true).or_else(|| fits(false)) {
                    Some(plan) => Answer::Plan(plan.instantiate(class, &self.scenario)),
                    None => Answer::Escalate,
                }
            }
            Reason::VerificationFailed => Answer::Escalate,
            _ => return Ok(Answer::Wait),
        };
        self.answered.insert(incident.id);
        Ok(answer)
    }
}
