//! Automated remediation's orchestrator (issue 17): a plan runs under the safety limits, a
//! step that helps closes the incident sooner than the human would, a harmful one is caught
//! (refused by the plan check, or undone by do-no-harm) and the report says which, and an
//! incident no action can fix escalates with the human's response inside its MTTR.
//! The deciders here are local stand-ins: a fixed plan per incident.

use sim_models::RunResult;
use sim_models::remediation::decide::{Answer, Decider, DecisionPoint, Reason};
use sim_models::remediation::plan::Plan;
use sim_models::remediation::report::{IncidentReport, StepOutcome};

use crate::support::{load, scenario_path};

const FILE: &str = "remediation/orchestrated.ron";

fn text() -> String {
    std::fs::read_to_string(scenario_path(FILE)).expect("bundled scenario")
}

/// Answers incident N's opening with the N-th plan (none: waits).
struct Fixed(Vec<Option<&'static str>>);

impl Decider for Fixed {
    fn decide(&mut self, point: &DecisionPoint) -> Result<Answer, String> {
        let Some(inc) = &point.incident else {
            return Ok(Answer::Wait);
        };
        if point.reason != Reason::Opened {
            return Ok(Answer::Wait);
        }
        Ok(match self.0.get(inc.id as usize - 1).copied().flatten() {
            Some(json) => Answer::Plan(serde_json::from_str::<Plan>(json).expect("a plan")),
            None => Answer::Wait,
        })
    }
    fn label(&self) -> String {
        "fixed plans".into()
    }
}

const DRAIN_BAD: &str = r#"{ "name": "drain-bad-replica", "steps": [
    { "id": "drain", "action": { "kind": "drain", "target": "web#1" },
      "verify": { "signal": "error_rate", "of": "users", "below": 0.01, "within": "60s" } } ] }"#;
const RESTART_WEB: &str = r#"{ "name": "restart-a-web-replica", "steps": [
    { "id": "restart", "action": { "kind": "restart", "target": "web#2", "restart_time": "10s" },
      "verify": { "signal": "error_rate", "of": "users", "below": 0.01, "within": "60s" } } ] }"#;
const RESTART_ALL: &str = r#"{ "name": "restart-all-web", "steps": [
    { "id": "restart", "action": { "kind": "restart", "target": "web", "restart_time": "30s" },
      "verify": { "signal": "error_rate", "of": "users", "below": 0.01, "within": "120s" } } ] }"#;
const DRAIN_GOOD: &str = r#"{ "name": "drain-a-good-replica", "steps": [
    { "id": "drain", "action": { "kind": "drain", "target": "web#0" },
      "verify": { "signal": "error_rate", "of": "users", "below": 0.01, "within": "120s" } } ] }"#;

fn run(text: &str, seed: u64, plans: Vec<Option<&'static str>>) -> RunResult {
    let s = load(FILE, text);
    sim_models::run_with(&s, seed, FILE, Some(Box::new(Fixed(plans))))
}

fn off(text: &str, seed: u64) -> RunResult {
    let s = load(
        FILE,
        &text.replace("automation: Planner", "automation: Off"),
    );
    sim_models::run_with(&s, seed, FILE, None)
}

fn incidents(r: &RunResult) -> &[IncidentReport] {
    &r.remediation
        .as_ref()
        .expect("a remediation report")
        .incidents
}

#[test]
fn a_helpful_step_restores_sooner_than_the_human_and_an_unfixable_incident_escalates() {
    let text = text();
    for seed in [1, 2, 3] {
        let auto = run(&text, seed, vec![Some(DRAIN_BAD), Some(RESTART_WEB)]);
        let human = off(&text, seed);
        let (a, h) = (incidents(&auto), incidents(&human));
        assert_eq!(a.len(), 2, "seed {seed}: {a:#?}");
        assert_eq!(h.len(), 2, "seed {seed}: {h:#?}");
        // The bad replica: drained, verified, restored within a few minutes, no page.
        let bad = &a[0];
        assert_eq!(
            bad.plans[0].steps[0].outcome,
            StepOutcome::Passed,
            "{bad:#?}"
        );
        assert!(bad.escalation.is_none(), "{bad:#?}");
        let mttr = bad.mttr_s.expect("restored");
        assert!(mttr < 180.0, "seed {seed}: MTTR {mttr}");
        assert!(mttr < h[0].mttr_s.expect("restored by the human"));
        // The database: restarting a web replica cannot end its crash; the failed step,
        // then two minutes with nothing acting, page the human, whose response is inside
        // the MTTR.
        let db = &a[1];
        let e = db.escalation.as_ref().expect("escalated");
        let answered = e.answered_s.expect("answered");
        let mttr = db.mttr_s.expect("restored by the human");
        assert!(db.start_s + mttr >= answered, "{db:#?}");
        // Restored at the human's fix, or at the crash's own end (15 min) if that came
        // first, within two windows.
        let fixed = e.fixed_s.unwrap_or(f64::INFINITY);
        let restored = db.restored_s.unwrap();
        assert!(restored <= fixed.min(db.start_s + 900.0) + 2.0, "{db:#?}");
        assert!(db.failed_verifications >= 1, "{db:#?}");
        // Each step is listed in the run's actions, named by plan, step and incident.
        assert!(
            auto.actions
                .iter()
                .any(|x| x.rule == "plan drain-bad-replica step drain (incident 1)")
        );
    }
}

#[test]
fn restarting_every_replica_is_refused_by_the_capacity_limit() {
    let r = run(&text(), 1, vec![Some(RESTART_ALL), None]);
    let first = &incidents(&r)[0];
    let plan = &first.plans[0];
    let why = plan.rejected.as_deref().expect("rejected");
    assert!(why.contains("max_capacity_fraction"), "{why}");
    assert_eq!(plan.steps[0].outcome, StepOutcome::NotStarted);
    assert_eq!(first.actions, 0);
    // Nothing acts: the human is paged.
    assert!(
        first
            .escalation
            .as_ref()
            .unwrap()
            .reason
            .starts_with("plan rejected")
    );
}

#[test]
fn do_no_harm_catches_a_restart_of_every_replica_when_the_limit_allows_it() {
    let text = text().replace("max_capacity_fraction: 0.34", "max_capacity_fraction: 1.0");
    let r = run(&text, 1, vec![Some(RESTART_ALL), None]);
    let first = &incidents(&r)[0];
    let step = &first.plans[0].steps[0];
    // A restart cannot be undone: harmful, and its plan stops.
    assert_eq!(step.outcome, StepOutcome::Harmful, "{first:#?}");
    assert_eq!((first.harmful, first.undone), (1, 0));
    assert!(
        first.plans[0]
            .stopped
            .as_deref()
            .unwrap()
            .contains("cannot be undone")
    );
    assert!(step.after.unwrap() > step.before.unwrap());
}

#[test]
fn do_no_harm_undoes_a_drain_that_makes_failures_worse() {
    let r = run(&text(), 1, vec![Some(DRAIN_GOOD), None]);
    let first = &incidents(&r)[0];
    let step = &first.plans[0].steps[0];
    assert_eq!(step.outcome, StepOutcome::Undone, "{first:#?}");
    assert_eq!((first.harmful, first.undone), (1, 1));
    // Its effect ended when it was undone.
    let action = r
        .actions
        .iter()
        .find(|a| a.rule.starts_with("plan drain-a-good-replica"))
        .unwrap();
    assert_eq!(Some(action.end_s), step.end_s);
    let totals = &r.remediation.as_ref().unwrap().totals;
    assert_eq!((totals.undone, totals.harmful), (1, 1));
}

#[test]
fn runs_replay_byte_for_byte() {
    let text = text();
    let a = run(&text, 7, vec![Some(DRAIN_BAD), Some(RESTART_WEB)]);
    let b = run(&text, 7, vec![Some(DRAIN_BAD), Some(RESTART_WEB)]);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}
