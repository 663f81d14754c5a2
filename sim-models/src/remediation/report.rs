//! What automated remediation did in a run (`RunResult.remediation`, present only when the
//! scenario has a `remediation` section): each incident's timeline from its first fault to
//! its restoration, the plans its decider answered (as the JSON they were), each step's fate,
//! the escalations to the human on call, and the run's totals.

use serde::{Deserialize, Serialize};

use crate::remediation::class::{Classification, IncidentClass};
use crate::remediation::plan::Plan;

/// Remediation in one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemediationReport {
    /// Who decided before the human: `off`, `planner`, or what the caller named (`plans
    /// FILE`, `policy FILE`, `agent CMD`).
    pub automation: String,
    pub incidents: Vec<IncidentReport>,
    pub totals: RemediationTotals,
}

/// One incident: from the start of its earliest fault to the end of its restoration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentReport {
    /// Counts incidents in the run from 1.
    pub id: u32,
    /// The injected truth, for a generated incident (its class and target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<(IncidentClass, String)>,
    /// Start of its earliest fault (its truth's start for a generated incident), and when a
    /// page alert opened it.
    pub start_s: f64,
    pub opened_s: f64,
    /// The alerts firing when it opened.
    pub alerts: Vec<String>,
    /// simctl's classifier's first reading after it opened, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classified_s: Option<f64>,
    /// The plans its decider answered, in order (a later plan replaces the steps of an
    /// earlier one not yet started).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<PlanReport>,
    /// Why and when the human was paged, when they answered, when they had fixed the cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// When a step's action matched the incident's remedy and its faults ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedied_s: Option<f64>,
    /// Start of the stretch over which every client's share of bad answers (failed, degraded, too slow) stayed within the SLO's
    /// error budget for `restored_for`, and its end (the incident closed); none if the run
    /// ended first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_s: Option<f64>,
    /// Time to detect: opened - start.
    pub mttd_s: f64,
    /// Time to restore: restored - start (none while unresolved at the end of the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mttr_s: Option<f64>,
    /// Steps started, failed verifications, steps undone, steps counted harmful.
    pub actions: u32,
    pub failed_verifications: u32,
    pub undone: u32,
    pub harmful: u32,
}

/// A plan a decider answered, and what became of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanReport {
    pub decided_s: f64,
    /// The plan as answered (the JSON DAG).
    pub plan: Plan,
    /// The validator refused it (nothing of it ran), with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
    /// Why it stopped before every step ran (a step failed or was harmful, a newer plan
    /// replaced it, the incident closed or escalated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub steps: Vec<StepReport>,
}

/// A step of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub id: String,
    /// Its action as the run's `actions` list names it (`restart api#1`).
    pub action: String,
    /// `not_started`, `running`, `passed` (its verification held, or it has none),
    /// `failed` (its verification did not hold within `within`), `undone` (do-no-harm ended
    /// its effects), `harmful` (do-no-harm found it worse, but a restart cannot be undone).
    pub outcome: StepOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_s: Option<f64>,
    /// When its outcome was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_s: Option<f64>,
    /// The signal it was judged on: its value in the window before it started, and the
    /// last value read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    NotStarted,
    Running,
    Passed,
    Failed,
    Undone,
    Harmful,
}

impl StepOutcome {
    pub fn is_harmful(self) -> bool {
        matches!(self, StepOutcome::Undone | StepOutcome::Harmful)
    }
}

/// The page to the human on call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    pub paged_s: f64,
    /// `automation off`, `2 failed verifications`, `action budget spent`, `decider`,
    /// `no action for 120s`, `plan rejected: ...`.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_s: Option<f64>,
}

/// The run's totals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RemediationTotals {
    pub incidents: u32,
    /// Incidents still open at the end of the run.
    pub unresolved: u32,
    /// Mean MTTD over the incidents (none without incidents).
    pub mttd_s: Option<f64>,
    /// Mean MTTR over the incidents; an unresolved one counts up to the end of the run (a
    /// lower bound of its own), so leaving incidents open never looks faster.
    pub mttr_s: Option<f64>,
    pub actions: u32,
    pub undone: u32,
    pub harmful: u32,
    pub escalations: u32,
    /// The run's availability (succeeded / offered), as in its totals.
    pub availability: f64,
}
