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
    /// Each client and the component it calls.
    clients: Vec<(String, String)>,
    configs: Vec<String>,
    zones: Vec<String>,
    verify_within: SimDuration,
}

#[derive(Clone, Debug)]
struct ServiceFacts {
    name: String,
    replicas: u32,
    /// The instances it may have (its `max_replicas`, or its replicas).
    max_replicas: u32,
    /// Who a `degrade` cuts off from it: the first service (by name) that calls it, else
    /// the first client.
    caller: Option<String>,
}

/// What a classification's target names.
#[derive(Clone, Debug, PartialEq)]
enum Target<'a> {
    Instance {
        service: &'a str,
    },
    Service,
    /// A client whose target is a service: the service's arms act on that service.
    Client {
        service: &'a str,
    },
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
                    max_replicas: v.instances(),
                    caller: first_caller(s, &v.name),
                })
                .collect(),
            clients: s
                .clients
                .iter()
                .map(|c| (c.name.clone(), c.target.clone()))
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

    fn target<'a>(&'a self, target: &'a str) -> Target<'a> {
        if let Some((service, i)) = target.split_once('#')
            && i.parse::<u32>().is_ok()
            && self.service(service).is_some()
        {
            return Target::Instance { service };
        }
        if self.service(target).is_some() {
            Target::Service
        } else if let Some((_, service)) = self
            .clients
            .iter()
            .find(|(c, t)| c == target && self.service(t).is_some())
        {
            Target::Client { service }
        } else if self.configs.iter().any(|c| c == target) {
            Target::Config
        } else if self.zones.iter().any(|z| z == target) {
            Target::Zone
        } else {
            Target::Other
        }
    }

    /// The arms that apply to an incident so classified (in a fixed order, the planner's
    /// first: every menu offers it, as the baseline of [`super::safe`]).
    pub fn arms(&self, c: Option<&Classification>, signals: &Signals) -> Vec<Arm> {
        let Some(c) = c else {
            return vec![Arm::Planner, Arm::Wait, Arm::Escalate];
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
            Target::Client { service } => arms.extend(self.service_arms(service, signals)),
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
        if self.shed_rps(service, signals).is_some() {
            arms.push(Arm::ShedLoad);
        }
        if self.service(service).is_some_and(|v| v.caller.is_some()) {
            arms.push(Arm::Degrade);
        }
        arms
    }

    /// The arm as an answer for the incident. None when the arm does not apply (not in
    /// [`Menu::arms`]), and for the planner's arm, whose answer depends on what the planner
    /// already answered for the incident (the decider's, `decider.rs`).
    pub fn answer(
        &self,
        arm: Arm,
        c: Option<&Classification>,
        signals: &Signals,
    ) -> Option<Answer> {
        match arm {
            Arm::Wait => return Some(Answer::Wait),
            Arm::Escalate => return Some(Answer::Escalate),
            Arm::Planner => return None,
            _ => {}
        }
        let c = c?;
        if !self.arms(Some(c), signals).contains(&arm) {
            return None;
        }
        let target = c.target.clone();
        let service = match self.target(&target) {
            Target::Instance { service } | Target::Client { service } => service.to_string(),
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
                stabilization: crate::remediation::plan::HPA_STABILIZATION,
                cooldown: crate::remediation::plan::HPA_COOLDOWN,
            },
            Arm::ShedLoad => PlanAction::ShedLoad {
                rps: self.shed_rps(&service, signals)?,
                service,
            },
            Arm::Degrade => PlanAction::Degrade {
                caller: self.service(&service)?.caller.clone()?,
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
            description: None,
            steps: vec![Step {
                id: arm.name().to_string(),
                action,
                after: Vec::new(),
                verify,
            }],
        }))
    }
}

impl Menu {
    /// Shedding's admission rate per instance: [`SHED_TO`] of what each instance received
    /// over the window (none when it received nothing).
    fn shed_rps(&self, service: &str, signals: &Signals) -> Option<f64> {
        let v = signals.services.iter().find(|v| v.name == service)?;
        let instances = self.service(service)?.replicas.max(1) as f64;
        let per_instance = v.attempts as f64 / signals.window_s.max(1e-9) / instances;
        (v.attempts > 0).then(|| (per_instance * SHED_TO).max(1.0))
    }
}

fn first_caller(s: &Scenario, callee: &str) -> Option<String> {
    let mut services: Vec<&str> = s
        .services
        .iter()
        .map(|v| v.name.as_str())
        .filter(|&v| crate::topology::calls(s, v, callee))
        .collect();
    services.sort();
    services
        .first()
        .copied()
        .or_else(|| {
            s.clients
                .iter()
                .map(|c| c.name.as_str())
                .find(|&c| crate::topology::calls(s, c, callee))
        })
        .map(str::to_string)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::class::{ClientSignals, IncidentClass, ServiceSignals};
    use crate::remediation::plan::{Templates, problems};
    use crate::remediation::spec::Limits;

    fn scenario(text: &str) -> Scenario {
        crate::scenario::parse("s.ron", text).expect("a bundled scenario parses")
    }

    fn zones() -> Scenario {
        scenario(include_str!("../../../scenarios/zones.ron"))
    }

    fn classified(class: IncidentClass, target: &str) -> Classification {
        Classification {
            class,
            target: target.into(),
            evidence: String::new(),
        }
    }

    /// A window in which `api` received 600 attempts a second and the users saw 30% fail.
    fn signals() -> Signals {
        Signals {
            now_s: 120.0,
            window_s: 1.0,
            clients: vec![ClientSignals {
                name: "users".into(),
                target: "web".into(),
                offered_rps: 600.0,
                baseline_rps: 600.0,
                error_rate: Some(0.3),
                ..ClientSignals::default()
            }],
            services: vec![ServiceSignals {
                name: "api".into(),
                attempts: 600,
                ..ServiceSignals::default()
            }],
            ..Signals::default()
        }
    }

    #[test]
    fn the_arms_follow_what_the_target_is() {
        let m = Menu::new(&zones());
        let sig = signals();
        assert_eq!(
            m.arms(None, &sig),
            vec![Arm::Planner, Arm::Wait, Arm::Escalate]
        );
        let inst = m.arms(
            Some(&classified(IncidentClass::InstanceFailure, "api#2")),
            &sig,
        );
        assert_eq!(
            inst,
            vec![
                Arm::Planner,
                Arm::Restart,
                Arm::Drain,
                Arm::ShedLoad,
                Arm::Degrade,
                Arm::Wait,
                Arm::Escalate
            ]
        );
        let zone = m.arms(Some(&classified(IncidentClass::ZoneLoss, "a")), &sig);
        assert_eq!(
            zone,
            vec![Arm::Planner, Arm::Evacuate, Arm::Wait, Arm::Escalate]
        );
        // A replicated service is never restarted whole; `web` received nothing, so there
        // is no rate to shed to.
        let web = m.arms(Some(&classified(IncidentClass::Overload, "web")), &sig);
        assert_eq!(
            web,
            vec![Arm::Planner, Arm::Degrade, Arm::Wait, Arm::Escalate]
        );
        let cfg = Menu::new(&scenario(include_str!("../../../scenarios/config.ron")));
        let flags = cfg.arms(Some(&classified(IncidentClass::BadConfig, "flags")), &sig);
        assert_eq!(
            flags,
            vec![Arm::Planner, Arm::Rollback, Arm::Wait, Arm::Escalate]
        );
    }

    #[test]
    fn every_arm_is_a_plan_that_passes_the_plan_checks() {
        let s = zones();
        let m = Menu::new(&s);
        let sig = signals();
        let limits = Limits::default();
        for (class, target) in [
            (IncidentClass::InstanceFailure, "api#2"),
            (IncidentClass::ZoneLoss, "b"),
            (IncidentClass::Overload, "api"),
        ] {
            let c = classified(class, target);
            for arm in m.arms(Some(&c), &sig) {
                let answer = m.answer(arm, Some(&c), &sig);
                match (arm, answer) {
                    (Arm::Wait, Some(Answer::Wait)) | (Arm::Escalate, Some(Answer::Escalate)) => {}
                    // The planner's arm is the decider's to answer.
                    (Arm::Planner, None) => {}
                    (_, Some(Answer::Plan(plan))) => {
                        let found = problems(&plan, &s, &limits, Templates::Resolved);
                        assert!(found.is_empty(), "{arm:?} on {target}: {found:?}");
                        assert!(plan.steps[0].verify.is_some(), "every step is verified");
                    }
                    (arm, other) => panic!("{arm:?} answered {other:?}"),
                }
            }
        }
        // Shedding keeps 70% of what each of api's 6 instances received.
        let c = classified(IncidentClass::Overload, "api");
        let Some(Answer::Plan(p)) = m.answer(Arm::ShedLoad, Some(&c), &sig) else {
            panic!("shed_load applies to api")
        };
        assert_eq!(
            p.steps[0].action,
            PlanAction::ShedLoad {
                service: "api".into(),
                rps: 70.0
            }
        );
        // An arm the target does not offer gives no answer.
        assert_eq!(m.answer(Arm::Rollback, Some(&c), &sig), None);
    }
}
