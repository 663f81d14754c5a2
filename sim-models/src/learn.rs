//! A learned recovery policy (`simctl train`, `--policy FILE`): which of a small fixed menu
//! of answers to give in each state of an incident, learned from simulated incidents.
//!
//! - **State** ([`State`]): the incident's class as classified (or none), a severity bucket
//!   read from the worst client error rate of the window, and how many actions were taken
//!   for it so far (0, 1, 2, 3 or more). Only what a dashboard shows.
//! - **Arms** ([`Arm`]): the planner's plan for the class, one action on the classified
//!   target (restart, drain, scale out, shed load, degrade, roll back, evacuate the zone),
//!   wait, or page the human. Which arms a state offers depends on what the target is
//!   (`menu`): a config can only be rolled back, a zone evacuated.
//! - **Learning** ([`table`], [`train`]): a table of action values, one per (state, arm),
//!   learned by every-visit Monte Carlo control, on-policy with epsilon-greedy exploration:
//!   each decision of an incident is credited with the incident's outcome at its close
//!   ([`reward`]), and a cell's value is the mean of what it was credited. Tabular, because
//!   the state space is tiny (8 classes x 4 severities x 4 action counts) and every cell can
//!   be read in the policy file. Monte Carlo rather than one-step Q-learning: the state has
//!   no clock, so bootstrapping a `wait` on the value of the next state would hide what the
//!   wait cost; the incident's actual MTTR does not. Rather than a one-shot contextual
//!   bandit, because an incident can take several decisions (act, then again after a
//!   failed verification) and the state's action count tells them apart.
//! - **Determinism**: training runs batches of episodes (one simulated run each, on a seed
//!   drawn from the training seed and the episode index, never one `remediate` evaluates
//!   on: see [`evaluate`]); an episode sees only the table
//!   as it was before its batch and its own ChaCha stream keyed by (training seed, episode),
//!   and updates are applied in episode order after the batch, so any number of threads
//!   gives the same table bit for bit.

pub mod decider;
pub mod evaluate;
pub mod menu;
pub mod policy;
pub mod reward;
pub mod safe;
pub mod table;
pub mod train;

use serde::{Deserialize, Serialize};

use crate::remediation::class::{IncidentClass, Signals};

/// How bad the incident looks now: the worst client error rate over the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Below 5% failed.
    Low,
    /// 5% to 25%.
    Medium,
    /// 25% to 60%.
    High,
    /// 60% or more, or no request finished at all.
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The bucket of the worst client error rate in `signals`; a client with requests
    /// issued and none finished counts as failing all of them. No client: `Low`.
    pub fn of(signals: &Signals) -> Severity {
        let worst = signals
            .clients
            .iter()
            .map(|c| match c.error_rate {
                Some(e) => e,
                None if c.offered_rps > 0.0 => 1.0,
                None => 0.0,
            })
            .fold(0.0_f64, f64::max);
        if worst < 0.05 {
            Severity::Low
        } else if worst < 0.25 {
            Severity::Medium
        } else if worst < 0.6 {
            Severity::High
        } else {
            Severity::Critical
        }
    }
}

/// Actions taken so far for the incident, as a state: 3 stands for 3 or more.
pub const MAX_ACTIONS_BUCKET: u8 = 3;

/// The state a decision is taken in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// As classified; none when the classifier has no reading.
    pub class: Option<IncidentClass>,
    pub severity: Severity,
    /// 0 ..= [`MAX_ACTIONS_BUCKET`].
    pub actions: u8,
}

impl State {
    pub fn new(class: Option<IncidentClass>, severity: Severity, actions_taken: u32) -> State {
        State {
            class,
            severity,
            actions: actions_taken.min(MAX_ACTIONS_BUCKET as u32) as u8,
        }
    }
}

/// One answer of the menu.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// The rule-based planner's plan for the incident.
    Planner,
    /// Restart the target instance (or a single-instance service).
    Restart,
    /// Stop sending to the target instance.
    Drain,
    /// One more replica of the target service.
    ScaleOut,
    /// Admit fewer attempts per second at the target service.
    ShedLoad,
    /// Its callers answer with their fallback instead of calling the target.
    Degrade,
    /// Roll the target config back.
    Rollback,
    /// Move traffic away from the target zone.
    Evacuate,
    /// Do nothing now (asked again later).
    Wait,
    /// Page the human now.
    Escalate,
}

impl Arm {
    pub const ALL: [Arm; 10] = [
        Arm::Planner,
        Arm::Restart,
        Arm::Drain,
        Arm::ScaleOut,
        Arm::ShedLoad,
        Arm::Degrade,
        Arm::Rollback,
        Arm::Evacuate,
        Arm::Wait,
        Arm::Escalate,
    ];

    /// Its name in the policy file and in plan names (`scale_out`).
    pub fn name(self) -> &'static str {
        match self {
            Arm::Planner => "planner",
            Arm::Restart => "restart",
            Arm::Drain => "drain",
            Arm::ScaleOut => "scale_out",
            Arm::ShedLoad => "shed_load",
            Arm::Degrade => "degrade",
            Arm::Rollback => "rollback",
            Arm::Evacuate => "evacuate",
            Arm::Wait => "wait",
            Arm::Escalate => "escalate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::class::ClientSignals;

    fn with_clients(rates: &[Option<f64>]) -> Signals {
        Signals {
            clients: rates
                .iter()
                .map(|&error_rate| ClientSignals {
                    name: "c".into(),
                    offered_rps: 10.0,
                    error_rate,
                    ..ClientSignals::default()
                })
                .collect(),
            ..Signals::default()
        }
    }

    #[test]
    fn severity_reads_the_worst_client() {
        assert_eq!(Severity::of(&Signals::default()), Severity::Low);
        assert_eq!(Severity::of(&with_clients(&[Some(0.01)])), Severity::Low);
        assert_eq!(
            Severity::of(&with_clients(&[Some(0.01), Some(0.3)])),
            Severity::High
        );
        assert_eq!(Severity::of(&with_clients(&[Some(0.05)])), Severity::Medium);
        assert_eq!(
            Severity::of(&with_clients(&[Some(0.6)])),
            Severity::Critical
        );
        // Requests issued, none finished: as bad as it gets.
        assert_eq!(Severity::of(&with_clients(&[None])), Severity::Critical);
    }

    #[test]
    fn actions_taken_saturate_at_three() {
        assert_eq!(State::new(None, Severity::Low, 0).actions, 0);
        assert_eq!(State::new(None, Severity::Low, 7).actions, 3);
    }
}
