//! The classifier scored against the injected truth, over the incident records of many
//! runs: a confusion matrix (truth rows, guessed columns, plus "not detected" and
//! "unclassified"), precision and recall per class, and the time to detect and to
//! classify. Value in, value out: running the seeds is simctl's job.

use serde::{Deserialize, Serialize};

use super::class::IncidentClass;
use super::record::IncidentRecord;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Incidents generated, all runs.
    pub incidents: u32,
    pub detected: u32,
    /// Classified with the right class, and of those, with the right target too.
    pub correct: u32,
    pub correct_target: u32,
    /// One row per class, in `IncidentClass::ALL` order (classes generated 0 times too).
    pub rows: Vec<Row>,
    /// From an incident's start to its detection, and to its classification.
    pub time_to_detect: Times,
    pub time_to_classify: Times,
}

/// The incidents of one true class, by what became of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub truth: IncidentClass,
    pub incidents: u32,
    /// Classified as each class, in `IncidentClass::ALL` order.
    pub guessed: Vec<u32>,
    pub not_detected: u32,
    /// Detected, but the classifier named no class before the incident ended.
    pub unclassified: u32,
    /// Right class and right target.
    pub correct_target: u32,
    /// Right / guessed as this class (none when never guessed).
    pub precision: Option<f64>,
    /// Right / generated of this class (none when none was generated).
    pub recall: Option<f64>,
    pub time_to_detect: Times,
    pub time_to_classify: Times,
}

/// Durations in seconds: how many, their mean and 90th percentile (nearest rank).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Times {
    pub n: u32,
    pub mean_s: Option<f64>,
    pub p90_s: Option<f64>,
}

impl Times {
    pub fn of(mut xs: Vec<f64>) -> Times {
        if xs.is_empty() {
            return Times::default();
        }
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
        Times {
            n: n as u32,
            mean_s: Some(xs.iter().sum::<f64>() / n as f64),
            p90_s: Some(xs[rank - 1]),
        }
    }
}

fn index(c: IncidentClass) -> usize {
    IncidentClass::ALL
        .iter()
        .position(|&x| x == c)
        .expect("every class is in ALL")
}

fn share(a: u32, b: u32) -> Option<f64> {
    (b > 0).then(|| f64::from(a) / f64::from(b))
}

impl Confusion {
    pub fn of(records: &[IncidentRecord]) -> Confusion {
        let k = IncidentClass::ALL.len();
        let mut rows: Vec<Row> = IncidentClass::ALL
            .iter()
            .map(|&truth| Row {
                truth,
                incidents: 0,
                guessed: vec![0; k],
                not_detected: 0,
                unclassified: 0,
                correct_target: 0,
                precision: None,
                recall: None,
                time_to_detect: Times::default(),
                time_to_classify: Times::default(),
            })
            .collect();
        let mut detect: Vec<Vec<f64>> = vec![Vec::new(); k];
        let mut classify: Vec<Vec<f64>> = vec![Vec::new(); k];
        for r in records {
            let t = index(r.truth.class);
            let row = &mut rows[t];
            row.incidents += 1;
            detect[t].extend(r.time_to_detect_s());
            classify[t].extend(r.time_to_classify_s());
            match (&r.detected_s, &r.classification) {
                (None, _) => row.not_detected += 1,
                (Some(_), None) => row.unclassified += 1,
                (Some(_), Some(c)) => {
                    row.guessed[index(c.class)] += 1;
                    row.correct_target +=
                        u32::from(c.class == r.truth.class && c.target == r.truth.target);
                }
            }
        }
        for t in 0..k {
            let right = rows[t].guessed[t];
            let guessed_as: u32 = rows.iter().map(|r| r.guessed[t]).sum();
            let row = &mut rows[t];
            row.precision = share(right, guessed_as);
            row.recall = share(right, row.incidents);
            row.time_to_detect = Times::of(std::mem::take(&mut detect[t]));
            row.time_to_classify = Times::of(std::mem::take(&mut classify[t]));
        }
        Confusion {
            incidents: records.len() as u32,
            detected: records.iter().filter(|r| r.detected_s.is_some()).count() as u32,
            correct: (0..k).map(|t| rows[t].guessed[t]).sum(),
            correct_target: rows.iter().map(|r| r.correct_target).sum(),
            time_to_detect: Times::of(records.iter().filter_map(|r| r.time_to_detect_s()).collect()),
            time_to_classify: Times::of(
                records.iter().filter_map(|r| r.time_to_classify_s()).collect(),
            ),
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::class::Classification;
    use crate::remediation::mix::GeneratedIncident;

    fn record(truth: IncidentClass, guess: Option<Option<IncidentClass>>) -> IncidentRecord {
        let mut r = IncidentRecord::new(GeneratedIncident {
            class: truth,
            target: "x".into(),
            start_s: 100.0,
            end_s: 280.0,
            faults: vec![0],
            remedy: None,
        });
        if let Some(g) = guess {
            r.detected_s = Some(110.0);
            r.classification = g.map(|class| Classification {
                class,
                target: "x".into(),
                evidence: String::new(),
            });
            r.classified_s = g.map(|_| 120.0);
        }
        r
    }

    #[test]
    fn rows_add_up_and_scores_follow_the_definitions() {
        use IncidentClass::*;
        let records = vec![
            record(Overload, Some(Some(Overload))),
            record(Overload, Some(Some(RetryStorm))),
            record(Overload, None),
            record(RetryStorm, Some(Some(RetryStorm))),
            record(RetryStorm, Some(None)),
        ];
        let c = Confusion::of(&records);
        assert_eq!((c.incidents, c.detected, c.correct), (5, 4, 2));
        for row in &c.rows {
            let sum: u32 = row.guessed.iter().sum::<u32>() + row.not_detected + row.unclassified;
            assert_eq!(sum, row.incidents);
        }
        let over = &c.rows[index(Overload)];
        assert_eq!(over.recall, Some(1.0 / 3.0));
        assert_eq!(over.precision, Some(1.0));
        let storm = &c.rows[index(RetryStorm)];
        assert_eq!(storm.recall, Some(0.5));
        assert_eq!(storm.precision, Some(0.5));
        assert_eq!(c.rows[index(ZoneLoss)].recall, None);
        assert_eq!(c.time_to_detect.mean_s, Some(10.0));
        assert_eq!(c.time_to_classify.n, 3);
    }

    #[test]
    fn p90_is_the_nearest_rank() {
        let t = Times::of((1..=20).map(f64::from).collect());
        assert_eq!(t.p90_s, Some(18.0));
        assert_eq!(t.mean_s, Some(10.5));
        assert_eq!(Times::of(vec![5.0]).p90_s, Some(5.0));
    }
}

/// `simctl classify`'s outcome: the confusion over the seeds' runs, and how to replay it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifyReport {
    pub scenario: String,
    pub scenario_hash: String,
    pub seeds: Vec<u64>,
    pub replay: String,
    #[serde(flatten)]
    pub confusion: Confusion,
}
