//! simctl's own rule-based planner: an incident's class and target in, a plan out, each
//! written as an SRE runbook would have it, with a verification after every step.
//!
//! | class | plan | the practice it follows |
//! |---|---|---|
//! | instance_failure | drain the instance, then restart it; verify the service's error rate | Kubernetes: a failing readiness probe takes the pod out of the Service's endpoints, a failing liveness probe restarts it; Google SRE Workbook, "drain before you act" |
//! | overload | scale out to `max_replicas`; verify utilization; if that fails, shed load (second stage) | the Kubernetes HPA (target utilization 80%); Google SRE book ch. 21 "Handling Overload": shed what cannot be served |
//! | dependency_down, dependency_slow | degrade every caller's calls to it (fallback, open breaker); verify the client's error rate | Hystrix / resilience4j fallbacks; Google SRE book ch. 22 "Addressing Cascading Failures": graceful degradation |
//! | bad_config | roll the config back; verify the error rate of a service reading it | Google SRE Workbook ch. 16 "Canarying Releases": roll back first, debug later |
//! | retry_storm | shed load at the saturated service until it drains, then lift the limit to twice its capacity | metastable failures (Bronson et al., HotOS 2021): load must drop below the trigger before the system recovers; AWS Builders' Library "Using load shedding to avoid overload" |
//! | zone_loss | evacuate the zone; verify the client's error rate | AWS Route 53 ARC zonal shift; Google "drain the cluster" |
//!
//! Levels: an error rate is verified at the SLO's error budget (1 - availability; burn rate
//! 1: the budget no longer burns faster than it accrues), or 1% without an SLO; utilization
//! at 0.8 (the HPA's usual target). A step the orchestrator's capacity limit forbids (a
//! restart of one of only two instances) is left out; a plan left with no step escalates.

use std::collections::BTreeMap;

use sim_core::SimDuration;

use super::class::{Classification, IncidentClass};
use super::decide::{Answer, Decider, DecisionPoint, Reason};
use super::plan::{Plan, PlanAction, Step, Verify};
use super::spec::Limits;
use crate::Scenario;
use crate::rules::Metric;

/// A restart's down time: a container restart and its readiness probe.
const RESTART_TIME: SimDuration = SimDuration::from_secs(20);
/// New instances' start: scheduling, image pull, readiness.
const PROVISIONING: SimDuration = SimDuration::from_secs(30);
/// Utilization a service is brought back under (the HPA's usual target).
const UTILIZATION: f64 = 0.8;
/// A shed limit admits this fraction of what a service can serve; lifted, twice it.
const SHED_FRACTION: f64 = 0.8;
const LIFT_FACTOR: f64 = 2.0;

/// simctl's plan for an incident (its first stage; see [`follow_up`]).
pub fn plan(class: &Classification, scenario: &Scenario) -> Plan {
    let p = Planning::new(scenario);
    let t = class.target.as_str();
    let (description, steps) = match class.class {
        IncidentClass::InstanceFailure => p.instance_failure(t),
        IncidentClass::Overload => p.overload(t),
        IncidentClass::DependencyDown | IncidentClass::DependencySlow => p.degrade(t),
        IncidentClass::BadConfig => p.rollback(t),
        IncidentClass::RetryStorm => p.retry_storm(t),
        IncidentClass::ZoneLoss => p.evacuate(t),
    };
    Plan {
        name: format!("{}-{}", class.class.name(), t),
        class: Some(class.class),
        description: Some(description.to_string()),
        steps,
    }
}

/// The plan to run when the first stage failed its verification, if the class has one:
/// an overload that scaling did not absorb sheds load.
pub fn follow_up(class: &Classification, scenario: &Scenario) -> Option<Plan> {
    let p = Planning::new(scenario);
    let t = class.target.as_str();
    match class.class {
        IncidentClass::Overload => {
            let steps = p.shed(t, "shed", SHED_FRACTION, &[]);
            (!steps.is_empty()).then(|| Plan {
                name: format!("overload-{t}-shed"),
                class: Some(class.class),
                description: Some(
                    "Scaling out did not bring utilization down: shed load at the service, admitting 80% of what it can serve (Google SRE book ch. 21).".into(),
                ),
                steps,
            })
        }
        _ => None,
    }
}

struct Planning<'a> {
    s: &'a Scenario,
    limits: Limits,
    within: SimDuration,
    /// The error rate a verification waits for.
    budget: f64,
}

impl<'a> Planning<'a> {
    fn new(s: &'a Scenario) -> Self {
        let remediation = s.remediation.as_ref();
        let within = remediation.map_or(SimDuration::from_secs(60), |r| r.verify_within);
        let budget = s
            .slo
            .as_ref()
            .or_else(|| s.clients.iter().find_map(|c| c.slo.as_ref()))
            .map_or(0.01, |slo| 1.0 - slo.availability);
        Planning {
            s,
            limits: remediation.map(|r| r.limits).unwrap_or_default(),
            within: within.min(s.horizon),
            budget,
        }
    }

    fn verify(&self, signal: Metric, of: &str, below: f64, extra: SimDuration) -> Option<Verify> {
        Some(Verify {
            signal,
            of: of.to_string(),
            below: Some(below),
            above: None,
            within: (self.within + extra).min(self.s.horizon),
        })
    }

    /// Whether restarting or draining one instance of service `j` stays within the limit.
    fn may_take_one(&self, j: usize) -> bool {
        let n = self.s.services[j].replicas.max(1);
        1.0 <= self.limits.max_capacity_fraction * f64::from(n)
    }

    fn instance_failure(&self, target: &str) -> (&'static str, Vec<Step>) {
        let d = "Drain the failing instance so callers stop sending to it, then restart it; verify the service's error rate (Kubernetes readiness and liveness probes).";
        let Some((j, Some(_))) = self.s.replica_target(target) else {
            return (d, Vec::new());
        };
        if !self.may_take_one(j) {
            return (d, Vec::new());
        }
        let service = self.s.services[j].name.clone();
        let steps = vec![
            Step {
                id: "drain".into(),
                action: PlanAction::Drain {
                    target: target.into(),
                },
                after: Vec::new(),
                verify: self.verify(Metric::ErrorRate, &service, self.budget, SimDuration::ZERO),
            },
            Step {
                id: "restart".into(),
                action: PlanAction::Restart {
                    target: target.into(),
                    restart_time: RESTART_TIME,
                },
                after: vec!["drain".into()],
                verify: self.verify(Metric::ErrorRate, &service, self.budget, RESTART_TIME),
            },
        ];
        (d, steps)
    }

    fn overload(&self, target: &str) -> (&'static str, Vec<Step>) {
        let d = "Scale the saturated service out to its max_replicas and verify its utilization (the Kubernetes HPA); if that fails, the follow-up sheds load.";
        let Some(j) = self.s.service_index(target) else {
            return (d, Vec::new());
        };
        let svc = &self.s.services[j];
        let max = svc.instances();
        if max <= svc.replicas {
            // Nowhere to scale: shed load now.
            return (
                "The saturated service cannot scale out (no max_replicas above its replicas): shed load at it and verify its utilization (Google SRE book ch. 21).",
                self.shed(target, "shed", SHED_FRACTION, &[]),
            );
        }
        let steps = vec![Step {
            id: "scale-out".into(),
            action: PlanAction::Scale {
                service: target.into(),
                replicas: max,
                provisioning: PROVISIONING,
            },
            after: Vec::new(),
            verify: self.verify(Metric::Utilization, target, UTILIZATION, PROVISIONING),
        }];
        (d, steps)
    }

    /// A shed-load step at `fraction` of what `service` can serve, verified on utilization.
    fn shed(&self, service: &str, id: &str, fraction: f64, after: &[&str]) -> Vec<Step> {
        let Some(rps) = self.capacity_rps(service) else {
            return Vec::new();
        };
        vec![Step {
            id: id.into(),
            action: PlanAction::ShedLoad {
                service: service.into(),
                rps: round(rps * fraction),
            },
            after: after.iter().map(|a| a.to_string()).collect(),
            verify: self.verify(Metric::Utilization, service, UTILIZATION, SimDuration::ZERO),
        }]
    }

    /// What one instance of `service` can serve per second at most: its workers over the
    /// mean local work of its default endpoint (calls hold workers too, so this is an
    /// upper bound).
    fn capacity_rps(&self, service: &str) -> Option<f64> {
        let svc = &self.s.services[self.s.service_index(service)?];
        let mean_ns = svc.service_time.compile().ok()?.mean();
        (mean_ns.is_finite() && mean_ns > 0.0).then(|| f64::from(svc.workers) * 1e9 / mean_ns)
    }

    fn retry_storm(&self, target: &str) -> (&'static str, Vec<Step>) {
        let d = "Shed load at the saturated service until its queue drains (utilization under 0.8), then lift the limit to twice what it serves so normal traffic passes; verify a client's error rate (metastable failures need load below the trigger to recover).";
        let mut steps = self.shed(target, "shed", SHED_FRACTION, &[]);
        if steps.is_empty() {
            return (d, steps);
        }
        let mut lift = self.shed(target, "lift", LIFT_FACTOR, &["shed"]);
        if let (Some(step), Some(client)) = (lift.first_mut(), self.client_reaching(target)) {
            step.verify = self.verify(Metric::ErrorRate, &client, self.budget, SimDuration::ZERO);
        }
        steps.extend(lift);
        (d, steps)
    }

    fn degrade(&self, dependency: &str) -> (&'static str, Vec<Step>) {
        let d = "Degrade every caller's calls to the failing dependency (answer with the fallback, open the breaker), all at once; verify the error rate of a client that reaches each caller (graceful degradation, Hystrix / resilience4j).";
        let callers = super::plan::callers_of(self.s, dependency);
        let steps = callers
            .iter()
            .map(|caller| Step {
                id: format!("degrade-{caller}"),
                action: PlanAction::Degrade {
                    caller: caller.clone(),
                    callee: dependency.into(),
                },
                after: Vec::new(),
                verify: self.client_reaching(caller).and_then(|client| {
                    self.verify(Metric::ErrorRate, &client, self.budget, SimDuration::ZERO)
                }),
            })
            .collect();
        (d, steps)
    }

    fn rollback(&self, config: &str) -> (&'static str, Vec<Step>) {
        let d = "Roll the config back to the version before its latest push; verify the error rate of the first service reading it (roll back first, debug later).";
        let Some(c) = self.s.configs.iter().find(|c| c.name == config) else {
            return (d, Vec::new());
        };
        let reader = c.services.first();
        let steps = vec![Step {
            id: "rollback".into(),
            action: PlanAction::Rollback {
                config: config.into(),
            },
            after: Vec::new(),
            verify: reader.and_then(|svc| {
                self.verify(Metric::ErrorRate, svc, self.budget, SimDuration::ZERO)
            }),
        }];
        (d, steps)
    }

    fn evacuate(&self, zone: &str) -> (&'static str, Vec<Step>) {
        let d = "Move traffic away from the lost zone (drain every instance in it); verify the first client's error rate (a zonal shift).";
        let client = self.s.clients.first().map(|c| c.name.clone());
        let steps = vec![Step {
            id: "evacuate".into(),
            action: PlanAction::EvacuateZone { zone: zone.into() },
            after: Vec::new(),
            verify: client
                .and_then(|c| self.verify(Metric::ErrorRate, &c, self.budget, SimDuration::ZERO)),
        }];
        (d, steps)
    }

    /// The first client (in file order) whose calls reach `node`, directly or through
    /// services; a client itself reaches itself.
    fn client_reaching(&self, node: &str) -> Option<String> {
        let s = self.s;
        s.clients
            .iter()
            .find(|c| {
                c.name == node || {
                    let mut seen = vec![c.target.clone()];
                    let mut k = 0;
                    while k < seen.len() {
                        let here = seen[k].clone();
                        for svc in &s.services {
                            if !seen.contains(&svc.name)
                                && crate::topology::calls(s, &here, &svc.name)
                            {
                                seen.push(svc.name.clone());
                            }
                        }
                        k += 1;
                    }
                    seen.iter().any(|n| n == node)
                }
            })
            .map(|c| c.name.clone())
    }
}

/// A rate with 3 significant digits, as a person would write it in a runbook.
fn round(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(2 - x.log10().floor() as i32);
    (x * scale).round() / scale
}

/// The planner as a decider: its plan when an incident is classified, the follow-up
/// when a stage fails and the class has one, the human when nothing is left.
pub struct Planner {
    scenario: Scenario,
    /// Per incident: stages answered so far.
    stages: BTreeMap<u32, u32>,
}

impl Planner {
    pub fn new(scenario: Scenario) -> Self {
        Planner {
            scenario,
            stages: BTreeMap::new(),
        }
    }
}

impl Decider for Planner {
    fn decide(&mut self, point: &DecisionPoint) -> Result<Answer, String> {
        let Some(incident) = &point.incident else {
            return Ok(Answer::Wait);
        };
        let Some(class) = &incident.classification else {
            return Ok(Answer::Wait);
        };
        let stage = self.stages.get(&incident.id).copied().unwrap_or(0);
        let answer = match (point.reason, stage) {
            (Reason::Opened | Reason::Periodic, 0) => {
                let plan = plan(class, &self.scenario);
                if plan.steps.is_empty() {
                    Answer::Escalate
                } else {
                    Answer::Plan(plan)
                }
            }
            (Reason::VerificationFailed, 1) => match follow_up(class, &self.scenario) {
                Some(plan) => Answer::Plan(plan),
                None => Answer::Escalate,
            },
            (Reason::VerificationFailed, _) => Answer::Escalate,
            _ => return Ok(Answer::Wait),
        };
        self.stages.insert(incident.id, stage + 1);
        Ok(answer)
    }
}
