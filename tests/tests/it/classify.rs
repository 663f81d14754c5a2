//! The incident classifier against the injected truth of generated incidents
//! (`scenarios/remediation/incidents.ron`, the seeds `simctl classify --seeds 4` runs):
//! what must hold of its confusion matrix, and that the records are deterministic.

use sim_models::remediation::class::IncidentClass;
use sim_models::remediation::confusion::Confusion;

use crate::support::{load, scenario_path};

fn scenario() -> sim_models::Scenario {
    let text = std::fs::read_to_string(scenario_path("remediation/incidents.ron")).unwrap();
    load("remediation/incidents.ron", &text)
}

fn seeds(n: u32) -> Vec<u64> {
    let s = scenario();
    (0..n)
        .map(|r| sim_models::sweep::replicate_seed(s.seed, r))
        .collect()
}

#[test]
fn the_matrix_accounts_for_every_incident_and_each_class_is_mostly_recognised() {
    let s = scenario();
    let mut records = Vec::new();
    let mut generated = 0;
    for seed in seeds(4) {
        let r = sim_models::run(&s, seed, "remediation/incidents.ron");
        let truth = sim_models::incidents::generated(&s, seed);
        generated += truth.len();
        assert_eq!(
            r.incident_log.iter().map(|x| &x.truth).collect::<Vec<_>>(),
            truth.iter().collect::<Vec<_>>(),
            "seed {seed}: one record per generated incident, its truth as drawn"
        );
        records.extend(r.incident_log);
    }
    let c = Confusion::of(&records);
    assert_eq!(c.incidents as usize, generated);
    for row in &c.rows {
        let sum: u32 = row.guessed.iter().sum::<u32>() + row.not_detected + row.unclassified;
        assert_eq!(sum, row.incidents, "{:?}", row.truth);
        assert!(
            row.incidents > 0,
            "{:?}: the mix draws every class",
            row.truth
        );
    }
    // Floors below what the 20-seed run in README measures, for 4 seeds' few incidents
    // per class: every class but the retry storm is recognised at least 3 times in 5 with
    // its target; nearly every incident pages.
    for row in &c.rows {
        let recall = f64::from(row.correct_target) / f64::from(row.incidents);
        if row.truth != IncidentClass::RetryStorm {
            assert!(
                recall >= 0.6,
                "{:?}: {recall:.2} of {}",
                row.truth,
                row.incidents
            );
        }
    }
    assert!(
        f64::from(c.detected) >= 0.9 * f64::from(c.incidents),
        "{} of {} detected",
        c.detected,
        c.incidents
    );
    // A classification comes after detection, within the incident.
    for r in &records {
        if let (Some(d), Some(k)) = (r.detected_s, r.classified_s) {
            assert!(r.truth.start_s < d && d <= k && k <= r.truth.end_s, "{r:?}");
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_records_and_a_scenario_without_a_mix_none() {
    let s = scenario();
    let seed = seeds(2)[1];
    let a = sim_models::run(&s, seed, "x").incident_log;
    assert!(!a.is_empty());
    assert_eq!(a, sim_models::run(&s, seed, "x").incident_log);
    let text = std::fs::read_to_string(scenario_path("v1.0.ron")).unwrap();
    let ladder = load("v1.0.ron", &text);
    assert!(
        sim_models::run(&ladder, 42, "v1.0.ron")
            .incident_log
            .is_empty()
    );
}
