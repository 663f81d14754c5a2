//! The scenario's `remediation` section, whose schema lives with the scenario's
//! (`scenario/remediation.rs`) so that the scenario depends on nothing that reads it.

pub use crate::scenario::{Automation, IncidentMix, Limits, Pager, Remediation};
