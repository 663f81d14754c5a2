//! What a run reports about a config and its rollouts (`world/config.rs`), over the whole
//! run (warm-up included: a rollout is an event in time, not a steady state).

use serde::{Deserialize, Serialize};

/// A config: its pushes, their blast radius and the time to roll each bad one back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigResult {
    pub name: String,
    /// Instances that read it (every instance of its services).
    pub instances: u32,
    pub pushes: Vec<PushResult>,
    /// Blast radius in instances: the largest share of them holding a bad version at once
    /// (0 without a bad push).
    pub blast_radius: f64,
    /// Attempts its bad versions failed (an error answer to the caller).
    pub failed_by_config: u64,
    /// Attempts its services received in the windows where some instance held a bad
    /// version, and the share of them a bad version failed: the blast radius in requests.
    pub attempts_exposed: u64,
    pub affected_share: f64,
    pub series: ConfigSeries,
}

/// One push of a new version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PushResult {
    pub version: u32,
    pub at_s: f64,
    pub bad: bool,
    /// When each step of its rollout began (one for all at once; steps after a rollback,
    /// or after a later push took over, never begin).
    pub steps_s: Vec<f64>,
    /// Most instances holding it at once, and as a share of the config's instances.
    pub max_instances: u32,
    pub max_share: f64,
    /// When a rule decided to roll it back, and when the rollback began (the rule's
    /// `after` later); null if never rolled back.
    pub rollback_decided_s: Option<f64>,
    pub rollback_s: Option<f64>,
    /// When the last instance holding it let it go (null if some still held it at the end).
    pub last_off_s: Option<f64>,
    /// From the push to the rollback, and to the last instance off it.
    pub time_to_rollback_s: Option<f64>,
    pub time_to_clean_s: Option<f64>,
}

/// Per window (the run's `series.t_s`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigSeries {
    /// `instances_on[v][w]`: instances holding version `v` at the end of window `w`.
    pub instances_on: Vec<Vec<u32>>,
    /// Attempts a bad version failed in the window.
    pub failed_by_config: Vec<u64>,
}
