//! Recovery plans as data: a plan is a DAG of steps, each an action with its parameters,
//! the steps it waits for, and a verification (did the target signal reach its level
//! within `within`?). simctl's planner writes one per incident into the output; a plans
//! file (`--plans FILE`) holds plans written elsewhere (a runbook, an LLM planner), one or
//! more per incident class, whose targets may name the incident's own (`$target`,
//! `$service`). Every plan is validated before it runs (see `docs/remediation/plan.schema.json`).
//!
//! ```json
//! { "name": "restart-hung-instance", "class": "instance_failure",
//!   "steps": [
//!     { "id": "restart", "action": { "kind": "restart", "target": "$target", "restart_time": "20s" },
//!       "verify": { "signal": "error_rate", "of": "$service", "below": 0.01, "within": "60s" } } ] }
//! ```

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

use super::class::IncidentClass;
use crate::rules::Metric;

/// A plans file: plans written elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub plans: Vec<Plan>,
}

/// A recovery plan: a DAG of steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub name: String,
    /// The incident class it answers (a plans file picks by it; none: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<IncidentClass>,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique in its plan; `after` names steps by it.
    pub id: String,
    pub action: PlanAction,
    /// Steps that must have finished and passed their verification first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
}

/// Did `signal` of `of` (a service or a client) go below (or above) the level within
/// `within` of the step's start?
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    pub signal: Metric,
    pub of: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    pub within: SimDuration,
}

/// The actions a plan can take. Each is an effect in the world with its real cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PlanAction {
    /// Restart an instance (`NAME#i`) or every instance of a service (`NAME`): down for
    /// `restart_time` (plus Kubernetes' crash-loop back-off when restarted again soon),
    /// back cold.
    Restart {
        target: String,
        restart_time: SimDuration,
    },
    /// Run `replicas` instances (at most the service's `max_replicas`), new ones up after
    /// `provisioning`.
    Scale {
        service: String,
        replicas: u32,
        #[serde(default)]
        provisioning: SimDuration,
    },
    /// Promote a database's most advanced replica now (a planned switchover).
    Failover { database: String },
    /// Roll a config back to the version before its latest push.
    Rollback { config: String },
    /// Admit at most `rps` new attempts per second at each instance of `service`
    /// (tighten a rate limit: shed load).
    ShedLoad { service: String, rps: f64 },
    /// Admit at most `max_concurrency` attempts at once at each instance of `service`.
    Limit {
        service: String,
        max_concurrency: u32,
    },
    /// Stop sending new attempts to an instance or service (eject, drain).
    Drain { target: String },
    /// Calls from `caller` to `callee` answer with their fallback (open the breaker,
    /// disable the feature: degrade).
    Degrade { caller: String, callee: String },
    /// Move traffic away from a zone: drain every instance in it.
    EvacuateZone { zone: String },
}
