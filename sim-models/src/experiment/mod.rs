//! Chaos experiments: a steady-state hypothesis, a method that injects faults, stop
//! conditions, and seeds; run as control and experiment on the same seeds, judged per probe.
//!
//! ```ron
//! Experiment(
//!     name: "db-slowdown",
//!     scenario: "../scenarios/v1.0.ron",     // relative to the experiment file
//!     scenario_faults: Remove,               // or Keep (the default)
//!     seeds: 5,                              // replicates; `seed:` sets the base seed
//!     hypothesis: [
//!         Probe(name: "availability after", metric: Availability, window: After,
//!               skip: "30s", tolerance: AtLeast(0.99)),
//!         Probe(name: "goodput after", metric: Goodput, window: After, skip: "30s",
//!               tolerance: WithinControl(0.05)),
//!     ],
//!     method: [
//!         Inject(start: "200s", end: "230s", kind: Slowdown(service: "db", factor: 100.0)),
//!     ],
//!     abort: [Stop(name: "page", when: AlertFiring(alert: "page-fast"))],
//! )
//! ```
//!
//! # Conventions, and where simctl differs
//!
//! - **Steady-state hypothesis, probes, tolerances, method, "deviated"** are Chaos Toolkit's.
//!   Chaos Toolkit checks the hypothesis before and after the method on one live system;
//!   here each probe reads a window of a run (`Before`, `During`, `After` the method, or
//!   `Whole`), and the hypothesis is checked on the control run too: a steady state that
//!   does not hold without the injection makes the verdict undetermined, not deviated.
//! - **Control vs experiment** is Netflix ChAP's: two runs on the same seed, the same
//!   arrivals and service times (common random numbers: every component draws from its own
//!   stream), the experiment with the method added. ChAP splits live traffic into two small
//!   cohorts; here both runs see all of it, and the difference is exact per seed.
//! - **Stop conditions** are AWS FIS's: a condition (a rule condition of the scenario:
//!   a metric above or below a threshold for a while, or a burn-rate alert firing) that,
//!   when it holds during the run, ends every fault of the method at once (a rule whose
//!   action is `EndFaults`). FIS stops on a CloudWatch alarm; here the condition is
//!   evaluated at each series window end inside virtual time.
//! - **Rollbacks**: there is nothing to roll back in a simulation; faults end on schedule.
//!
//! # Verdict
//!
//! Per seed, a probe *deviates* when the experiment run's value breaks its tolerance. Over
//! the seeds, in this order: a run stopped by a guard, or a control run that breaks an
//! absolute tolerance, makes the experiment `undetermined` (with why); a stop condition that
//! fired on any seed makes it `aborted` (which seeds, when); a probe that deviated on any
//! seed makes it `deviated` (which probes, on how many seeds, with a Wilson 95% interval on
//! the deviation rate); a probe that could not be evaluated on some seed (no traffic in its
//! window) makes it `undetermined`; otherwise it `held`. Each probe also reports the paired
//! difference experiment - control over the seeds with a 95% t interval.
//!
//! The module holds the schema and its parsing ([`parse`]), the checks against the scenario
//! and the two scenarios to run ([`plan`]), the probes ([`probe`]), and the statistics and
//! the verdict ([`verdict`]). Running the seeds is simctl's job.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

use crate::diagnostic::Diagnostics;
use crate::rules::Condition;
use crate::scenario::FaultKind;

pub mod plan;
pub mod probe;
pub mod verdict;

pub use plan::{Plan, prepare};
pub use verdict::{Outcome, Verdict, evaluate};

/// An experiment file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The scenario file, relative to the experiment file.
    pub scenario: String,
    /// Whether the scenario's own faults and incident processes stay in both runs (`Keep`)
    /// or are taken out of both (`Remove`), leaving the method the only faults.
    #[serde(default)]
    pub scenario_faults: ScenarioFaults,
    /// Replicates: seed `seed`, then seeds derived from it (as `simctl sweep --seeds`).
    #[serde(default = "default_seeds")]
    pub seeds: u32,
    /// Base seed; the scenario's own `seed` if omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The steady-state hypothesis: every probe within its tolerance.
    pub hypothesis: Vec<Probe>,
    /// The faults injected into the experiment run (not into the control).
    pub method: Vec<Inject>,
    /// Stop conditions: when one holds during the experiment run, the method's faults end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abort: Vec<Stop>,
}

fn default_seeds() -> u32 {
    5
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScenarioFaults {
    #[default]
    Keep,
    Remove,
}

/// One probe of the hypothesis: a metric over a window, and what it may be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub name: String,
    pub metric: Metric,
    /// A client (route) or a service, for metrics that have one; the whole system if
    /// omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
    pub window: Window,
    /// Leave out this much at the start of the window (time to settle).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skip: SimDuration,
    pub tolerance: Tolerance,
}

/// What a probe measures (see [`probe`] for the exact definitions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    /// Successes over finished requests in the window (of a client, or all).
    Availability,
    /// Successes per second in the window (of a client, or all).
    Goodput,
    /// The highest per-series-window p99 latency of successful requests in the window, ms
    /// (all clients).
    P99,
    /// The longest queue any instance (of a service, or of any) had in the window.
    QueueDepth,
    /// The highest per-series-window retry amplification in the window.
    RetryAmplification,
    /// Duplicate side effects over the whole run (window `Whole`).
    Duplicates,
    /// Seconds from the end of the last fault until goodput is back within 5% of its
    /// baseline (the run's recovery verdict; never recovering reads as infinite). Window
    /// `After`.
    RecoveryTime,
    /// Any metric of the registry ([`crate::metric`]) by its name, over the whole run
    /// (window `Whole`): `Registry("clients.shoppers.p99_ms")`,
    /// `Registry("services.db.utilization")`.
    Registry(String),
}

impl Metric {
    pub fn name(&self) -> &str {
        match self {
            Metric::Availability => "availability",
            Metric::Goodput => "goodput_rps",
            Metric::P99 => "p99_ms",
            Metric::QueueDepth => "queue_depth_max",
            Metric::RetryAmplification => "retry_amplification_peak",
            Metric::Duplicates => "duplicate_side_effects",
            Metric::RecoveryTime => "recovery_s",
            Metric::Registry(name) => name,
        }
    }

    /// Whether a larger value is better (availability, goodput) or worse (the rest);
    /// `None` for a registry metric, whose direction is not recorded.
    pub fn higher_is_better(&self) -> Option<bool> {
        match self {
            Metric::Availability | Metric::Goodput => Some(true),
            Metric::Registry(_) => None,
            _ => Some(false),
        }
    }
}

/// Which stretch of the run a probe reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Window {
    /// From the end of the warm-up to the start of the method.
    Before,
    /// From the start of the method (its first fault) to its end (its last fault's end).
    During,
    /// From the end of the method to the horizon.
    After,
    /// From the end of the warm-up to the horizon.
    Whole,
}

/// What a probe's value may be.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Tolerance {
    AtLeast(f64),
    AtMost(f64),
    /// Inclusive bounds.
    Between(f64, f64),
    /// No worse than the control run on the same seed by more than this fraction of the
    /// control's value (worse: lower availability or goodput, higher anything else; for a
    /// registry metric, whose direction is not recorded, no further either way).
    WithinControl(f64),
}

/// A fault of the method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inject {
    pub start: SimDuration,
    pub end: SimDuration,
    pub kind: FaultKind,
    /// Which part of the target it hits (all of it if omitted).
    #[serde(default, skip_serializing_if = "is_all")]
    pub blast_radius: BlastRadius,
}

fn is_zero(d: &SimDuration) -> bool {
    d.is_zero()
}

fn is_all(b: &BlastRadius) -> bool {
    *b == BlastRadius::All
}

/// How much of the target a fault hits. One instance: name it in the fault (`db#1`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum BlastRadius {
    /// Every instance of the service (or the fault as written).
    #[default]
    All,
    /// This percentage of the service's instances, rounded up: instances `#0` to `#k-1`
    /// (replicas are identical, so which ones does not matter).
    Instances { percent: f64 },
    /// This share of the traffic: each attempt (message) is hit with this probability.
    /// Honest only where the fault acts per attempt: `Errors` (p becomes p x share) and
    /// `Loss` (likewise). A slowdown, crash or pause acts on an instance, not on requests.
    Traffic { share: f64 },
    /// The service's instances in this zone (its `zones`, instance i in zone i mod n).
    Zone(String),
}

/// A stop condition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    /// Names the condition in the output (and the rule that ends the method).
    pub name: String,
    pub when: Condition,
}

/// Parses an experiment file, with positioned syntax and type errors (checks against the
/// scenario come with [`prepare`]).
pub fn parse(file: &str, text: &str) -> Result<Experiment, Diagnostics> {
    crate::scenario::parse_ron(file, text, "Experiment")
}
