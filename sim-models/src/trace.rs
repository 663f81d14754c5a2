//! Traced requests of a run (`simctl run --trace N`), as spans: value types only; the
//! world records them (`world::trace`), `reports` writes them as Chrome trace events.

use serde::{Deserialize, Serialize};

/// One span of a traced request: on `lane` (a request's own lane, or one per call and per
/// hedge), from `start_s` to `end_s` virtual seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceSpan {
    pub request: u64,
    pub lane: u32,
    pub name: String,
    pub start_s: f64,
    pub end_s: f64,
}

/// The traces of a run: spans, and each lane's request and name (by lane number).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub lanes: Vec<(u64, String)>,
    pub spans: Vec<TraceSpan>,
}
