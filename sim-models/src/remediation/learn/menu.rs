//! The arms a learned policy can pull for an incident, and each arm as an answer: which
//! arms apply depends on what the classified target is (an instance can be restarted or
//! drained, a config rolled back, a zone evacuated), and each action is a one-step plan
//! with a verification, so the orchestrator's limits and do-no-harm check apply to it as to
//! any plan.

use sim_core::SimDuration;

use super::Arm;
use crate::remediation::class::{Classification, Signals};
use crate::remediation::decide::Answer;
use crate::remediation::plan::{Plan, PlanAction, Step, Verify};
use crate::rules::Metric;
use crate::scenario::Scenario;

/// How long a restart keeps an instance down.
pub const RESTART_TIME: SimDuration = SimDuration::from_secs(20);
/// Time for a new replica to come up.
pub const PROVISIONING: SimDuration = SimDuration::from_secs(30);
/// Shedding admits this share of the service's pre-incident load per instance.
pub const SHED_TO: f64 = 0.7;
/// A step passes when the worst client's error rate is below this.
pub const VERIFY_BELOW: f64 = 0.05;

/// What the menu needs to know of the scenario.
#[derive(Clone, Debug)]
pub struct Menu {
    services: Vec<ServiceFacts>,
    configs: Vec<String>,
    zones: Vec<String>,
    verify_within: SimDuration,
}

#[derive(Clone, Debug)]
struct ServiceFacts {
    name: String,
    replicas: u32,
    max_replicas: u32,
}

/// What a classification's target names.
#[derive(Clone, Debug, PartialEq)]
enum Target<'a> {
    Instance { service: &'a str },
    Service,
    Config,
    Zone,
    Other,
}

impl Menu {
    pub fn new(s: &Scenario) -> Menu {
        let z = crate::zones::Zones::of(s);
        let zones = (0..z.len()).map(|i| z.name(i).to_string()).collect();
        Menu {
            services: s
                .services
                .iter()
                .map(|v| ServiceFacts {
                    name: v.name.clone(),
                    replicas: v.replicas,
                    max_replicas: v.max_replicas.unwrap_or(v.replicas),
                })
                .collect(),
            configs: s.configs.iter().map(|c| c.name.clone()).collect(),
            zones,
            verify_within: s
                .remediation
                .as_ref()
                .map_or(SimDuration::from_secs(60), |r| r.verify_within),
        }
    }

    fn service(&self, name: &str) -> Option<&ServiceFacts> {
        self.services.iter().find(|v| v.name == name)
    }

    fn target<'a>(&self, target: &'a str) -> Target<'a> {
        if let Some((service, i)) = target.split_once('#')
            && i.parse::<u32>().is_ok()
            && self.service(service).is_some()
        {
            return Target::Instance { service };
        }
        if self.service(target).is_some() {
            Target::Service
        } else if self.configs.iter().any(|c| c == target) {
            Target::Config
        } else if self.zones.iter().any(|z| z == target) {
            Target::Zone
        } else {
            Target::Other
        }
    }

    /// The arms that apply to an incident so classified (in a fixed order; never empty).
    pub fn arms(&self, c: Option<&Classification>, signals: &Signals) -> Vec<Arm> {
        let Some(c) = c else {
            return vec![Arm::Wait, Arm::Escalate];
        };
        let mut arms = vec![Arm::Planner];
        match self.target(&c.target) {
            Target::Instance { service } => {
                arms.extend([Arm::Restart, Arm::Drain]);
                arms.extend(self.service_arms(service, signals));
            }
            Target::Service => {
                if self.service(&c.target).is_some_and(|v| v.max_replicas <= 1) {
                    arms.push(Arm::Restart);
                }
                arms.extend(self.service_arms(&c.target, signals));
            }
            Target::Config => arms.push(Arm::Rollback),
            Target::Zone => arms.push(Arm::Evacuate),
            Target::Other => {}
        }
        arms.extend([Arm::Wait, Arm::Escalate]);
        arms
    }

    fn service_arms(&self, service: &str, signals: &Signals) -> Vec<Arm> {
        let mut arms = Vec::new();
        if self
            .service(service)
            .is_some_and(|v| v.max_replicas > v.replicas)
        {
            arms.push(Arm::ScaleOut);
        }
        if baseline_rps(signals) > 0.0 {
            arms.push(Arm::ShedLoad);
        }
        if caller_of(service, signals).is_some() {
            arms.push(Arm::Degrade);
        }
        arms
    }

    /// The arm as an answer for the incident; `planner` gives the planner's plan. None when
    /// the arm does not apply (not in [`Menu::arms`]).
    pub fn answer(
        &self,
        arm: Arm,
        c: Option<&Classification>,
        signals: &Signals,
        planner: impl FnOnce(&Classification) -> Option<Plan>,
    ) -> Option<Answer> {
        match arm {
            Arm::Wait => return Some(Answer::Wait),
            Arm::Escalate => return Some(Answer::Escalate),
            _ => {}
        }
        let c = c?;
        if arm == Arm::Planner {
            return planner(c).map(Answer::Plan);
        }
        if !self.arms(Some(c), signals).contains(&arm) {
            return None;
        }
        let target = c.target.clone();
        let service = match self.target(&target) {
            Target::Instance { service } => service.to_string(),
            _ => target.clone(),
        };
        let action = match arm {
            Arm::Restart => PlanAction::Restart {
                target,
                restart_time: RESTART_TIME,
            },
            Arm::Drain => PlanAction::Drain { target },
            Arm::ScaleOut => PlanAction::Scale {
                replicas: self.service(&service)?.max_replicas,
                service,
                provisioning: PROVISIONING,
            },
            Arm::ShedLoad => {
                let instances = self.service(&service)?.replicas.max(1) as f64;
                PlanAction::ShedLoad {
                    rps: (baseline_rps(signals) * SHED_TO / instances).max(1.0),
                    service,
                }
            }
            Arm::Degrade => PlanAction::Degrade {
                caller: caller_of(&service, signals)?.to_string(),
                callee: service,
            },
            Arm::Rollback => PlanAction::Rollback { config: target },
            Arm::Evacuate => PlanAction::EvacuateZone { zone: target },
            Arm::Planner | Arm::Wait | Arm::Escalate => unreachable!("answered above"),
        };
        let verify = worst_client(signals).map(|of| Verify {
            signal: Metric::ErrorRate,
            of: of.to_string(),
            below: Some(VERIFY_BELOW),
            above: None,
            within: self.verify_within,
        });
        Some(Answer::Plan(Plan {
            name: format!("learned-{}", arm.name()),
            class: Some(c.class),
            steps: vec![Step {
                id: arm.name().to_string(),
                action,
                after: Vec::new(),
                verify,
            }],
        }))
    }
}

/// Requests per second all clients issued before the incident.
fn baseline_rps(signals: &Signals) -> f64 {
    signals.clients.iter().map(|c| c.baseline_rps).sum()
}

/// The first caller (by name) of `service` seen in the signals.
fn caller_of<'a>(service: &str, signals: &'a Signals) -> Option<&'a str> {
    signals
        .services
        .iter()
        .filter(|v| v.callees.iter().any(|c| c == service))
        .map(|v| v.name.as_str())
        .min()
}

/// The client with the highest error rate now (ties: the first).
fn worst_client(signals: &Signals) -> Option<&str> {
    let mut worst: Option<(&str, f64)> = None;
    for c in &signals.clients {
        let e = c.error_rate.unwrap_or(1.0);
        if worst.is_none_or(|(_, w)| e > w) {
            worst = Some((&c.name, e));
        }
    }
    worst.map(|(n, _)| n)
}
