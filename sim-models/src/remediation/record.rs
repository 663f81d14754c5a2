//! What became of each generated incident in a run: when a page alert first fired while
//! it was on (detected), and the classifier's first answer from then on (classified).
//! The truth beside the reading, so a classifier can be scored (`confusion`).

use serde::{Deserialize, Serialize};

use super::class::Classification;
use super::mix::GeneratedIncident;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// The injected truth.
    #[serde(flatten)]
    pub truth: GeneratedIncident,
    /// The first window end after its start, up to its end, with a page alert (`page-fast`
    /// or `page-slow`) of the scenario's SLO or a client's firing.
    pub detected_s: Option<f64>,
    /// The classifier's first answer at or after detection, up to the incident's end, and
    /// when.
    pub classification: Option<Classification>,
    pub classified_s: Option<f64>,
}

impl IncidentRecord {
    pub fn new(truth: GeneratedIncident) -> Self {
        IncidentRecord {
            truth,
            detected_s: None,
            classification: None,
            classified_s: None,
        }
    }

    /// At window end `now_s`: `paging` says whether a page alert is firing; `classify`
    /// reads the window's signals (called only when an answer is wanted).
    pub fn observe(
        &mut self,
        now_s: f64,
        paging: bool,
        classify: &mut dyn FnMut() -> Option<Classification>,
    ) {
        if now_s <= self.truth.start_s || now_s > self.truth.end_s {
            return;
        }
        if self.detected_s.is_none() && paging {
            self.detected_s = Some(now_s);
        }
        if self.detected_s.is_some() && self.classification.is_none() {
            self.classification = classify();
            self.classified_s = self.classification.as_ref().map(|_| now_s);
        }
    }

    /// Seconds from its start to detection, and to classification.
    pub fn time_to_detect_s(&self) -> Option<f64> {
        self.detected_s.map(|t| t - self.truth.start_s)
    }

    pub fn time_to_classify_s(&self) -> Option<f64> {
        self.classified_s.map(|t| t - self.truth.start_s)
    }
}
