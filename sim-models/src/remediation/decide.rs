//! Who decides what to do about an incident. At each decision point the orchestrator asks
//! its decider (simctl's planner, a plans file, a learned policy, an external agent) and
//! runs the plan it answers under the same safety limits, whoever wrote it.

use serde::{Deserialize, Serialize};

use super::class::{Classification, Signals};
use super::plan::Plan;

/// Why the decider is asked now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// An incident opened (a page alert fired).
    Opened,
    /// A step of the incident's plan failed its verification, or was undone.
    VerificationFailed,
    /// Every N windows while an incident is open.
    Periodic,
    /// The incident's alerts resolved.
    Resolved,
}

/// What the decider sees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionPoint {
    /// Counts decision points in the run from 0.
    pub step: u64,
    pub reason: Reason,
    pub signals: Signals,
    pub incident: Option<IncidentView>,
}

/// An open incident as the decider sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentView {
    pub id: u32,
    pub opened_s: f64,
    /// simctl's classifier's reading (a decider may ignore it).
    pub classification: Option<Classification>,
    /// A short text, as a page would read.
    pub text: String,
    pub actions_taken: u32,
    pub failed_verifications: u32,
    /// Its latest started steps (at most 10), oldest first, as the run's report shows them:
    /// the action, its outcome so far, when, and the signal it is judged on.
    pub recent_actions: Vec<crate::remediation::report::StepReport>,
}

/// The decider's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Do nothing now.
    Wait,
    /// Run this plan for the incident (it replaces the steps not yet started).
    Plan(Plan),
    /// Page the human now.
    Escalate,
}

/// A decider. An error stops the run, keeping its partial results, with the message.
pub trait Decider: Send {
    fn decide(&mut self, point: &DecisionPoint) -> Result<Answer, String>;

    /// Its name in the remediation report (`planner`, `plans FILE`, `agent CMD`).
    fn label(&self) -> String {
        "decider".into()
    }
}

/// A decider under another name in the report.
pub struct Labeled {
    pub decider: Box<dyn Decider>,
    pub label: String,
}

impl Decider for Labeled {
    fn decide(&mut self, point: &DecisionPoint) -> Result<Answer, String> {
        self.decider.decide(point)
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}
