//! What can fail alone, and how: every component (service group, cache, broker), every
//! instance of a replicated service, every link (a call edge: caller and callee, both
//! ways) and every zone, each with the failures the scenario's faults can express for it.
//!
//! | target    | crash                 | blackhole                 | slow              |
//! |-----------|-----------------------|---------------------------|-------------------|
//! | service   | `Crash(Refuse)`       | `Crash(BlackHole)`        | `Slowdown(factor)`|
//! | instance  | `Crash(Refuse)`       | `Crash(BlackHole)`        | `Slowdown(factor)`|
//! | cache     | `Crash(Refuse)`       | `Crash(BlackHole)`        | none              |
//! | broker    | `Crash(Refuse)`       | `Crash(BlackHole)`        | none              |
//! | link      | none                  | `Partition(a, b)`         | none              |
//! | zone      | `ZoneOutage(Refuse)`  | `ZoneOutage(BlackHole)`   | none              |
//!
//! (No fault slows a cache, a broker or a link, and a link cannot refuse: those pairs are
//! not run, and the report says so.)

use serde::{Deserialize, Serialize};

use crate::scenario::{CrashMode, FaultKind, Scenario, Step};

/// How a target fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Failure {
    /// Down, and callers are refused at once (connection refused).
    Crash,
    /// Down, and messages vanish: callers wait for their timeouts.
    Blackhole,
    /// Up, but its work takes `factor` times as long.
    Slow,
}

impl Failure {
    pub const ALL: [Failure; 3] = [Failure::Crash, Failure::Blackhole, Failure::Slow];

    pub fn name(self) -> &'static str {
        match self {
            Failure::Crash => "crash",
            Failure::Blackhole => "blackhole",
            Failure::Slow => "slow",
        }
    }

    /// `crash`, `blackhole` or `slow`.
    pub fn parse(text: &str) -> Option<Failure> {
        Failure::ALL.into_iter().find(|f| f.name() == text)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Service,
    Instance,
    Cache,
    Broker,
    Link,
    Zone,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Service => "service",
            TargetKind::Instance => "instance",
            TargetKind::Cache => "cache",
            TargetKind::Broker => "broker",
            TargetKind::Link => "link",
            TargetKind::Zone => "zone",
        }
    }
}

/// One thing that can fail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// As the output names it: `db`, `db#1`, `gateway -> orders`, `zone a`.
    pub name: String,
    pub kind: TargetKind,
    /// The instances (or instance pairs, for a link) that fail together when it fails: 1 is
    /// one physical thing; more is a common-mode failure of several (every replica of a
    /// service at once), which replicas cannot help.
    pub instances: u32,
    /// A link's two ends (caller, callee); empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ends: Vec<String>,
}

impl Target {
    /// The fault that makes it fail as `failure` (`slow_factor` for `Slow`), or `None`
    /// when no fault expresses that (see the module doc).
    pub fn fault(&self, failure: Failure, slow_factor: f64) -> Option<FaultKind> {
        let mode = match failure {
            Failure::Crash => CrashMode::Refuse,
            Failure::Blackhole | Failure::Slow => CrashMode::BlackHole,
        };
        let name = self.name.clone();
        match (self.kind, failure) {
            (TargetKind::Service | TargetKind::Instance, Failure::Slow) => {
                Some(FaultKind::Slowdown {
                    service: name,
                    factor: slow_factor,
                })
            }
            (_, Failure::Slow) => None,
            (TargetKind::Link, Failure::Blackhole) => Some(FaultKind::Partition {
                a: self.ends[0].clone(),
                b: self.ends[1].clone(),
            }),
            (TargetKind::Link, _) => None,
            (TargetKind::Zone, _) => Some(FaultKind::ZoneOutage {
                zone: self.ends_zone().to_string(),
                mode,
            }),
            _ => Some(FaultKind::Crash {
                service: name,
                mode,
            }),
        }
    }

    fn ends_zone(&self) -> &str {
        self.name.strip_prefix("zone ").unwrap_or(&self.name)
    }
}

/// How many instances a named node has: a client or a cache or broker 1, a service its
/// instances in service.
fn instances_of(s: &Scenario, name: &str) -> u32 {
    s.services
        .iter()
        .find(|x| x.name == name)
        .map_or(1, |x| x.replicas.max(1))
}

/// Every call edge as (caller, callee) by name, once each, in file order: each client to
/// its target, each service step to its callee (a publish to its broker), each cache to its
/// backend, each broker to its consumer groups' services.
pub fn links(s: &Scenario) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |a: &str, b: &str| {
        if a != b && !out.iter().any(|(x, y)| x == a && y == b) {
            out.push((a.to_string(), b.to_string()));
        }
    };
    for c in &s.clients {
        add(&c.name, &c.target);
    }
    for svc in &s.services {
        let lists = std::iter::once(&svc.calls).chain(svc.endpoints.iter().map(|e| &e.calls));
        for steps in lists {
            for step in steps {
                match step {
                    Step::Call(c) | Step::Async(c) => add(&svc.name, &c.to),
                    Step::Parallel(cs) => cs.iter().for_each(|c| add(&svc.name, &c.to)),
                    Step::Publish(p) => add(&svc.name, &p.to),
                }
            }
        }
    }
    for c in &s.caches {
        add(&c.name, &c.backend);
    }
    for b in &s.brokers {
        for g in &b.groups {
            add(&b.name, &g.service);
        }
    }
    out
}

/// Everything that can fail alone, in this order: services, their instances (replicated
/// services only: a single instance is its service), caches, brokers, links, zones.
pub fn targets(s: &Scenario) -> Vec<Target> {
    let mut out = Vec::new();
    let simple = |name: &str, kind, instances| Target {
        name: name.to_string(),
        kind,
        instances,
        ends: Vec::new(),
    };
    for svc in &s.services {
        out.push(simple(&svc.name, TargetKind::Service, svc.replicas.max(1)));
    }
    for svc in s.services.iter().filter(|x| x.replicas > 1) {
        for i in 0..svc.replicas {
            let name = format!("{}#{i}", svc.name);
            out.push(simple(&name, TargetKind::Instance, 1));
        }
    }
    for c in &s.caches {
        out.push(simple(&c.name, TargetKind::Cache, 1));
    }
    for b in &s.brokers {
        out.push(simple(&b.name, TargetKind::Broker, 1));
    }
    for (a, b) in links(s) {
        out.push(Target {
            name: format!("{a} -> {b}"),
            kind: TargetKind::Link,
            instances: instances_of(s, &a) * instances_of(s, &b),
            ends: vec![a, b],
        });
    }
    let zones = crate::zones::Zones::of(s);
    for z in 0..zones.len() {
        out.push(simple(
            &format!("zone {}", zones.name(z)),
            TargetKind::Zone,
            1,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        crate::load("t.ron", text).expect("valid").scenario
    }

    const TWO_TIERS: &str = r#"Scenario(name: "t", seed: 1, horizon: "60s",
        clients: [Client(name: "c", target: "api", load: Open(rate_rps: 10.0))],
        services: [
            Service(name: "api", workers: 4, service_time: Constant("1ms"), replicas: 2,
                    zones: ["a", "b"], calls: [Call(to: "db"), Async(to: "audit")]),
            Service(name: "db", workers: 4, service_time: Constant("1ms"), zones: ["a"]),
            Service(name: "audit", workers: 1, service_time: Constant("1ms")),
        ])"#;

    #[test]
    fn every_component_instance_link_and_zone_is_a_target() {
        let s = scenario(TWO_TIERS);
        let names: Vec<(String, TargetKind, u32)> = targets(&s)
            .into_iter()
            .map(|t| (t.name, t.kind, t.instances))
            .collect();
        let want: Vec<(&str, TargetKind, u32)> = vec![
            ("api", TargetKind::Service, 2),
            ("db", TargetKind::Service, 1),
            ("audit", TargetKind::Service, 1),
            ("api#0", TargetKind::Instance, 1),
            ("api#1", TargetKind::Instance, 1),
            ("c -> api", TargetKind::Link, 2),
            ("api -> db", TargetKind::Link, 2),
            ("api -> audit", TargetKind::Link, 2),
            ("zone a", TargetKind::Zone, 1),
            ("zone b", TargetKind::Zone, 1),
        ];
        let got: Vec<(&str, TargetKind, u32)> =
            names.iter().map(|(n, k, i)| (n.as_str(), *k, *i)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn each_failure_maps_to_a_fault_the_scenario_accepts_or_to_none() {
        let s = scenario(TWO_TIERS);
        let mut run = 0;
        for t in targets(&s) {
            for f in Failure::ALL {
                let Some(kind) = t.fault(f, 10.0) else {
                    // Only these pairs have no fault.
                    assert!(
                        matches!(
                            (t.kind, f),
                            (TargetKind::Link, Failure::Crash | Failure::Slow)
                                | (TargetKind::Zone, Failure::Slow)
                        ),
                        "{} {f}",
                        t.name
                    );
                    continue;
                };
                let mut with = s.clone();
                with.faults = vec![crate::scenario::Fault {
                    start: sim_core::SimDuration::from_secs(10),
                    end: sim_core::SimDuration::from_secs(20),
                    kind,
                }];
                let (errors, _) = crate::validate::problems(&with);
                assert!(errors.is_empty(), "{} {f}: {errors:?}", t.name);
                run += 1;
            }
        }
        // 3 services and 2 instances x 3 failures, 3 links x 1, 2 zones x 2.
        assert_eq!(run, 15 + 3 + 4);
    }
}
