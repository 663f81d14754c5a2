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
    /// or `page-slow`) of the scenario's SLO or a client's firing, not one already firing
    /// when it started (as `slo::time_to_detect` counts only a new firing).
    pub detected_s: Option<f64>,
    /// The classifier's first answer at or after detection, up to the incident's end, and
    /// when.
    pub classification: Option<Classification>,
    pub classified_s: Option<f64>,
    /// Whether a page alert that was firing before its start is still firing: such an
    /// alert is an earlier incident's and does not detect this one (a new firing does).
    #[serde(skip)]
    carried: Option<bool>,
}

impl IncidentRecord {
    /// A record of `truth`, nothing observed yet.
    pub fn new(truth: GeneratedIncident) -> Self {
        IncidentRecord {
            truth,
            detected_s: None,
            classification: None,
            classified_s: None,
            carried: None,
        }
    }

    /// At window end `now_s`: `paging` says whether a page alert is firing now, and
    /// `paged_before` whether one was at the window end before; `classify` reads the
    /// window's signals (called only when an answer is wanted).
    pub fn observe(
        &mut self,
        now_s: f64,
        paging: bool,
        paged_before: bool,
        classify: &mut dyn FnMut() -> Option<Classification>,
    ) {
        if now_s <= self.truth.start_s || now_s > self.truth.end_s {
            return;
        }
        let carried = self.carried.get_or_insert(paged_before);
        *carried &= paging;
        if self.detected_s.is_none() && paging && !*carried {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::class::IncidentClass;

    fn record() -> IncidentRecord {
        IncidentRecord::new(GeneratedIncident {
            class: IncidentClass::Overload,
            target: "web".into(),
            start_s: 100.0,
            end_s: 200.0,
            faults: vec![0],
            remedy: None,
        })
    }

    fn guess() -> Option<Classification> {
        Some(Classification {
            class: IncidentClass::Overload,
            target: "web".into(),
            evidence: "x".into(),
        })
    }

    #[test]
    fn detected_by_a_page_within_its_window_then_classified() {
        let mut r = record();
        let mut none = || None;
        r.observe(100.0, true, false, &mut none); // at its start: not after it
        r.observe(105.0, false, false, &mut none);
        r.observe(110.0, true, false, &mut none);
        assert_eq!((r.detected_s, r.classified_s), (Some(110.0), None));
        r.observe(115.0, true, true, &mut guess);
        assert_eq!(r.classified_s, Some(115.0));
        assert_eq!(r.time_to_classify_s(), Some(15.0));
        // The first classification stays.
        r.observe(120.0, true, true, &mut none);
        assert_eq!(r.classified_s, Some(115.0));
        // Nothing after its end counts.
        let mut late = record();
        late.observe(205.0, true, false, &mut guess);
        assert_eq!(late.detected_s, None);
    }

    #[test]
    fn an_alert_still_firing_from_before_does_not_detect_it_a_new_one_does() {
        let mut r = record();
        r.observe(105.0, true, true, &mut guess);
        r.observe(110.0, true, true, &mut guess);
        assert_eq!(r.detected_s, None);
        r.observe(115.0, false, true, &mut guess);
        r.observe(120.0, true, false, &mut guess);
        assert_eq!(r.detected_s, Some(120.0));
        assert_eq!(r.classified_s, Some(120.0));
    }
}
