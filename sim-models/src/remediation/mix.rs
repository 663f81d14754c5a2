//! Generated incidents with their injected truth: a seeded process draws, for each
//! incident, a class, a target fit for that class in the scenario, and the fault(s) that
//! make it; the truth is kept so a classifier can be scored (a confusion matrix) and so the
//! human on call fixes the right thing.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::dist::Dist;

use super::class::IncidentClass;

/// The scenario's incident mix.
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
