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
//!
//! Parsing with every problem at its `file:line:col` is in `parse`, the checks against a
//! scenario and the orchestrator's limits in `check`, templates in `template`.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

use super::class::IncidentClass;
use crate::rules::Metric;

mod check;
mod parse;
mod template;

pub use check::{Templates, check_file, problems};
pub use parse::{check_plans, load_plans, parse};
pub(crate) use template::callers_of;
pub use template::{TEMPLATES, targets_of};

/// A plans file: plans written elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// What the file is for, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
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
    /// What it does and which practice it follows, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
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
    /// Named as in outputs (`error_rate`, `utilization`, `p99_ms`: `Metric::name`).
    #[serde(with = "metric_name")]
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

/// A `Metric` in a plan file is written by its output name (`error_rate`), as the
/// plan's JSON reads elsewhere, not by its RON variant name (`ErrorRate`).
mod metric_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::rules::Metric;

    /// Every metric; `listed` fails to compile when one is added and not listed here.
    pub const ALL: [Metric; 8] = [
        Metric::QueueDepth,
        Metric::Utilization,
        Metric::InFlight,
        Metric::ErrorRate,
        Metric::P99,
        Metric::Goodput,
        Metric::Backlog,
        Metric::ConsumerLag,
    ];

    #[allow(dead_code, reason = "a compile-time reminder to extend ALL")]
    fn listed(m: Metric) {
        match m {
            Metric::QueueDepth
            | Metric::Utilization
            | Metric::InFlight
            | Metric::ErrorRate
            | Metric::P99
            | Metric::Goodput
            | Metric::Backlog
            | Metric::ConsumerLag => {}
        }
    }

    pub fn serialize<S: Serializer>(m: &Metric, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Metric, D::Error> {
        let name = String::deserialize(d)?;
        ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|m| m.name()).collect();
            serde::de::Error::custom(format!(
                "unknown signal `{name}`, expected one of {}",
                names.join(", ")
            ))
        })
    }
}

/// The signal names a verification may watch, as plan files write them.
pub fn signal_names() -> Vec<&'static str> {
    metric_name::ALL.iter().map(|m| m.name()).collect()
}

#[cfg(test)]
mod tests;
