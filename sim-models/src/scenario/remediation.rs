//! The scenario's `remediation` section (the schema; the `remediation` module reads it): whether automation acts, the orchestrator's safety
//! limits, the verification after each action, and the human on call.
//!
//! ```ron
//! remediation: (
//!     automation: Planner,                 // Off: only the human acts
//!     limits: (max_concurrent: 2, max_per_minute: 6, max_capacity_fraction: 0.34, budget: 10),
//!     verify_within: "60s",
//!     max_failed_verifications: 2,
//!     pager: (response: LogNormal(median: "5m", p99: "20m"), fix: Constant("2m")),
//!     restored_for: "30s",
//! )
//! ```

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::dist::Dist;

/// What kind of incident it is: the classifier's answer, and a generated incident's truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentClass {
    /// More offered load than the capacity (a spike).
    Overload,
    /// A dependency fails fast (crashed, refusing).
    DependencyDown,
    /// A dependency answers slowly (timeouts at its callers).
    DependencySlow,
    /// A bad config version or deploy: errors on the instances that took it.
    BadConfig,
    /// One instance of a replicated service failing or hung while its peers are fine.
    InstanceFailure,
    /// Retries keeping a service saturated after its trigger has passed.
    RetryStorm,
    /// Every instance in one zone failing.
    ZoneLoss,
}

impl IncidentClass {
    pub const ALL: [IncidentClass; 7] = [
        IncidentClass::Overload,
        IncidentClass::DependencyDown,
        IncidentClass::DependencySlow,
        IncidentClass::BadConfig,
        IncidentClass::InstanceFailure,
        IncidentClass::RetryStorm,
        IncidentClass::ZoneLoss,
    ];

    /// Its name in output and in plan files (`dependency_down`).
    pub fn name(self) -> &'static str {
        match self {
            IncidentClass::Overload => "overload",
            IncidentClass::DependencyDown => "dependency_down",
            IncidentClass::DependencySlow => "dependency_slow",
            IncidentClass::BadConfig => "bad_config",
            IncidentClass::InstanceFailure => "instance_failure",
            IncidentClass::RetryStorm => "retry_storm",
            IncidentClass::ZoneLoss => "zone_loss",
        }
    }
}

/// The scenario's remediation section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    /// Who acts before the human: nobody (`Off`), or simctl's rule-based planner
    /// (`Planner`; `--plans FILE`, `--policy FILE` and `--agent CMD` replace it).
    #[serde(default)]
    pub automation: Automation,
    #[serde(default)]
    pub limits: Limits,
    /// After an action starts, its verification must hold within this long, or it failed.
    #[serde(default = "default_verify_within")]
    pub verify_within: SimDuration,
    /// Failed verifications on one incident before it escalates to the human.
    #[serde(default = "default_max_failed")]
    pub max_failed_verifications: u32,
    pub pager: Pager,
    /// An incident is over when every client's failure ratio has stayed within the SLO's
    /// error budget this long (its recovery time ends where that stretch starts).
    #[serde(default = "default_restored_for")]
    pub restored_for: SimDuration,
    /// Generated incidents with their injected truth (see `mix`), appended to `faults`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix: Option<IncidentMix>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Automation {
    /// Only the human acts: paged at detection.
    Off,
    /// simctl's rule-based planner classifies each incident and plans.
    #[default]
    Planner,
}

/// The orchestrator's safety limits; every decider's actions go through them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Actions in progress at once, all plans together.
    #[serde(default = "default_concurrent")]
    pub max_concurrent: u32,
    /// Actions started in any 60 s.
    #[serde(default = "default_per_minute")]
    pub max_per_minute: u32,
    /// Never act on more than this fraction of a service's instances at once (restart,
    /// drain); a plan step beyond it is refused by the validator.
    #[serde(default = "default_capacity_fraction")]
    pub max_capacity_fraction: f64,
    /// Actions per incident; spent, the incident escalates.
    #[serde(default = "default_budget")]
    pub budget: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent: default_concurrent(),
            max_per_minute: default_per_minute(),
            max_capacity_fraction: default_capacity_fraction(),
            budget: default_budget(),
        }
    }
}

/// The human on call: paged on escalation (or at detection without automation), answers
/// after a draw of `response`, then fixes the incident's cause in a draw of `fix`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pager {
    pub response: Dist<SimDuration>,
    pub fix: Dist<SimDuration>,
}

fn default_verify_within() -> SimDuration {
    SimDuration::from_secs(60)
}
fn default_max_failed() -> u32 {
    2
}
fn default_restored_for() -> SimDuration {
    SimDuration::from_secs(30)
}
fn default_concurrent() -> u32 {
    2
}
fn default_per_minute() -> u32 {
    6
}
fn default_capacity_fraction() -> f64 {
    0.34
}
fn default_budget() -> u32 {
    10
}

/// The scenario's incident mix (drawn per seed by `remediation::mix`; the schema lives
/// here so the scenario's schema depends on no code that reads a scenario).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentMix {
    /// Time from the end of one incident's fault (or `start`) to the next.
    pub every: Dist<SimDuration>,
    /// Which classes, with weights.
    pub classes: Vec<(IncidentClass, f64)>,
    /// How long a fault lasts if nobody fixes it.
    pub unfixed: SimDuration,
    #[serde(default)]
    pub start: SimDuration,
}
