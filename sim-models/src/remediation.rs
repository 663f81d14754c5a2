//! Automated remediation as values: what a scenario asks of it (`spec`), the incident
//! classes and the signals an incident is classified from (`class`), generated incidents
//! with their injected truth (`mix`), what became of each in a run (`record`) and the
//! classifier scored against the truth (`confusion`), recovery plans as JSON DAGs with their checks
//! (`plan`), simctl's own rule-based planner (`planner`), and who decides at a decision
//! point (`decide`: the planner, a runbook file, a learned policy or an external agent).
//!
//! The world runs them (`world/orchestrator.rs`): detection from the SLO's page alerts,
//! classification, a plan per incident, its actions as effects under the orchestrator's
//! safety limits, a verification after each action, do-no-harm undo, and escalation to a
//! human pager.

pub mod class;
pub mod compare;
pub mod confusion;
pub mod decide;
pub mod mix;
pub mod plan;
pub mod planner;
pub mod record;
pub mod report;
pub mod runbook;
pub mod spec;
