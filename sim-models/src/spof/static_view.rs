//! The static view: which targets the call graph alone says a route cannot do without.
//!
//! A request of a route needs every component its calls reach synchronously: a `Call` and
//! each element of a `Parallel` (any failure fails the attempt), a `Publish` (it waits for
//! the broker's confirm), a cache's fetch from its backend (a miss needs it). It does not
//! need what it reaches only through a call with a `fallback` (the caller answers degraded
//! instead), an `Async` call, or a broker's consumers (they work after the confirm). A
//! target is a *static* single point of failure of a route when the route needs it and it
//! is one thing: a component with one instance, a link between two such (or a client and
//! one), or a zone holding every instance of a needed service (or the route's client).
//! Nothing here runs: it is what a design review of the graph would say.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::targets::{Target, TargetKind};
use crate::scenario::{Client, Scenario, Step};
use crate::topology::endpoint_index;

/// What one route reaches in the call graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteDeps {
    pub route: String,
    /// Components (services, caches, brokers, by name) every request needs.
    pub required: BTreeSet<String>,
    /// Every component some request reaches (also through fallbacks and async calls).
    pub reached: BTreeSet<String>,
    /// Links (caller, callee) every request needs, and every link reached.
    pub required_links: BTreeSet<(String, String)>,
    pub reached_links: BTreeSet<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Node {
    /// Service, endpoint (0 the default).
    Service(usize, usize),
    Cache(usize),
    Broker(usize),
}

fn resolve(s: &Scenario, name: &str, endpoint: Option<&str>) -> Option<Node> {
    if let Some(j) = s.services.iter().position(|x| x.name == name) {
        return endpoint_index(&s.services[j], endpoint).map(|e| Node::Service(j, e));
    }
    if let Some(c) = s.caches.iter().position(|x| x.name == name) {
        return Some(Node::Cache(c));
    }
    s.broker_index(name).map(Node::Broker)
}

fn name_of(s: &Scenario, node: Node) -> &str {
    match node {
        Node::Service(j, _) => &s.services[j].name,
        Node::Cache(c) => &s.caches[c].name,
        Node::Broker(b) => &s.brokers[b].name,
    }
}

/// The calls out of `node`: (callee, its endpoint, whether the caller needs it).
fn edges(s: &Scenario, node: Node) -> Vec<(&str, Option<&str>, bool)> {
    match node {
        Node::Service(j, e) => {
            let svc = &s.services[j];
            let steps = match e.checked_sub(1) {
                None => &svc.calls,
                Some(k) => &svc.endpoints[k].calls,
            };
            let mut out = Vec::new();
            for step in steps {
                match step {
                    Step::Call(c) => {
                        out.push((c.to.as_str(), c.endpoint.as_deref(), !c.policy.fallback))
                    }
                    Step::Parallel(cs) => out.extend(
                        cs.iter()
                            .map(|c| (c.to.as_str(), c.endpoint.as_deref(), !c.policy.fallback)),
                    ),
                    Step::Async(c) => out.push((c.to.as_str(), c.endpoint.as_deref(), false)),
                    Step::Publish(p) => out.push((p.to.as_str(), None, true)),
                }
            }
            out
        }
        Node::Cache(c) => {
            let cache = &s.caches[c];
            vec![(
                cache.backend.as_str(),
                cache.backend_endpoint.as_deref(),
                !cache.policy.fallback,
            )]
        }
        Node::Broker(b) => s.brokers[b]
            .groups
            .iter()
            .map(|g| (g.service.as_str(), g.endpoint.as_deref(), false))
            .collect(),
    }
}

/// What `client`'s requests reach (a validated scenario: every name resolves).
pub fn route_deps(s: &Scenario, client: &Client) -> RouteDeps {
    let mut d = RouteDeps {
        route: client.name.clone(),
        ..RouteDeps::default()
    };
    let link = (client.name.clone(), client.target.clone());
    d.required_links.insert(link.clone());
    d.reached_links.insert(link);
    let mut seen: BTreeSet<(Node, bool)> = BTreeSet::new();
    let mut stack: Vec<(Node, bool)> = resolve(s, &client.target, client.endpoint.as_deref())
        .map(|n| (n, true))
        .into_iter()
        .collect();
    while let Some((node, needed)) = stack.pop() {
        if !seen.insert((node, needed)) {
            continue;
        }
        let name = name_of(s, node).to_string();
        d.reached.insert(name.clone());
        if needed {
            d.required.insert(name.clone());
        }
        for (to, endpoint, edge_needed) in edges(s, node) {
            let link = (name.clone(), to.to_string());
            if needed && edge_needed {
                d.required_links.insert(link.clone());
            }
            d.reached_links.insert(link);
            if let Some(n) = resolve(s, to, endpoint) {
                stack.push((n, needed && edge_needed));
            }
        }
    }
    d
}

/// The static view of one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaticView {
    /// Routes for which it is a static single point of failure.
    pub spof_for: Vec<String>,
    /// Routes whose requests reach it at all (also through fallbacks, async calls).
    pub reached_by: Vec<String>,
    /// Why, in words.
    pub why: String,
}

/// The instances in service of a named node (1 for a client, cache or broker).
fn instances(s: &Scenario, name: &str) -> u32 {
    s.services
        .iter()
        .find(|x| x.name == name)
        .map_or(1, |x| x.replicas.max(1))
}

/// Whether every instance in service of service `name` runs in `zone`.
fn wholly_in(s: &Scenario, name: &str, zone: &str) -> bool {
    s.services
        .iter()
        .find(|x| x.name == name)
        .is_some_and(|svc| {
            !svc.zones.is_empty() && (0..svc.replicas.max(1)).all(|i| svc.zone_of(i) == Some(zone))
        })
}

/// The static view of each target, with the routes' dependencies.
pub fn static_views(s: &Scenario, targets: &[Target]) -> Vec<StaticView> {
    let deps: Vec<RouteDeps> = s.clients.iter().map(|c| route_deps(s, c)).collect();
    targets.iter().map(|t| view(s, &deps, t)).collect()
}

fn view(s: &Scenario, deps: &[RouteDeps], t: &Target) -> StaticView {
    let routes = |f: &dyn Fn(&RouteDeps) -> bool| -> Vec<String> {
        deps.iter()
            .filter(|d| f(d))
            .map(|d| d.route.clone())
            .collect()
    };
    let (needed, reached, single, what) = match t.kind {
        TargetKind::Service | TargetKind::Instance | TargetKind::Cache | TargetKind::Broker => {
            let base = match t.kind {
                TargetKind::Instance => t.name.rsplit_once('#').map_or(&*t.name, |(b, _)| b),
                _ => &t.name,
            };
            let n = instances(s, base);
            let what = if t.kind == TargetKind::Instance {
                format!("one of {n} instances of {base}")
            } else if n == 1 {
                "one instance".to_string()
            } else {
                format!("{n} instances")
            };
            (
                routes(&|d| d.required.contains(base)),
                routes(&|d| d.reached.contains(base)),
                n == 1 && t.kind != TargetKind::Instance,
                what,
            )
        }
        TargetKind::Link => {
            let pair = (t.ends[0].clone(), t.ends[1].clone());
            let what = if t.instances == 1 {
                "one instance at each end".to_string()
            } else {
                format!("{} instance pairs", t.instances)
            };
            (
                routes(&|d| d.required_links.contains(&pair)),
                routes(&|d| d.reached_links.contains(&pair)),
                t.instances == 1,
                what,
            )
        }
        TargetKind::Zone => {
            let zone = t.name.strip_prefix("zone ").unwrap_or(&t.name);
            let client_in = |d: &RouteDeps| {
                s.clients
                    .iter()
                    .any(|c| c.name == d.route && c.zone.as_deref() == Some(zone))
            };
            let needed =
                routes(&|d| client_in(d) || d.required.iter().any(|x| wholly_in(s, x, zone)));
            let reached = routes(&|d| {
                client_in(d)
                    || d.reached.iter().any(|x| {
                        s.services
                            .iter()
                            .any(|svc| svc.name == *x && svc.zones.iter().any(|z| z == zone))
                    })
            });
            let what = if needed.is_empty() {
                "no needed service has every instance in it".to_string()
            } else {
                "every instance of a needed service (or the route's client) in it".to_string()
            };
            (needed, reached, true, what)
        }
    };
    let spof_for = if single { needed.clone() } else { Vec::new() };
    let optional: Vec<&String> = reached.iter().filter(|r| !needed.contains(r)).collect();
    let why = if !spof_for.is_empty() {
        format!("needed by {}: {what}, no fallback", spof_for.join(", "))
    } else if !needed.is_empty() {
        format!("needed by {}, but {what}", needed.join(", "))
    } else if !optional.is_empty() {
        let names: Vec<&str> = optional.iter().map(|r| r.as_str()).collect();
        format!(
            "reached by {} only through a fallback or asynchronously",
            names.join(", ")
        )
    } else {
        format!("on no route's path ({what})")
    };
    StaticView {
        spof_for,
        reached_by: reached,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spof::targets::targets;

    fn scenario(text: &str) -> Scenario {
        crate::load("t.ron", text).expect("valid").scenario
    }

    fn spof_for(s: &Scenario, name: &str) -> Vec<String> {
        let ts = targets(s);
        let i = ts.iter().position(|t| t.name == name).expect(name);
        static_views(s, &ts)[i].spof_for.clone()
    }

    #[test]
    fn needed_single_components_and_links_are_static_spofs() {
        let s = scenario(
            r#"Scenario(name: "t", seed: 1, horizon: "60s",
            clients: [Client(name: "buy", target: "api", load: Open(rate_rps: 10.0)),
                      Client(name: "look", target: "api", endpoint: "list", load: Open(rate_rps: 10.0))],
            services: [
                Service(name: "api", workers: 4, service_time: Constant("1ms"),
                        calls: [Parallel([(to: "db"), (to: "pay")]), Async(to: "audit")],
                        endpoints: [(name: "list", service_time: Constant("1ms"),
                                     calls: [Call(to: "db", policy: (fallback: true))])]),
                Service(name: "db", workers: 4, service_time: Constant("1ms")),
                Service(name: "pay", workers: 4, service_time: Constant("1ms"), replicas: 2),
                Service(name: "audit", workers: 1, service_time: Constant("1ms")),
            ])"#,
        );
        assert_eq!(spof_for(&s, "api"), ["buy", "look"]);
        // The fallback of `list` spares `look`.
        assert_eq!(spof_for(&s, "db"), ["buy"]);
        // Replicated, or only called asynchronously: no route's single point.
        assert!(spof_for(&s, "pay").is_empty());
        assert!(spof_for(&s, "pay#0").is_empty());
        assert!(spof_for(&s, "audit").is_empty());
        assert_eq!(spof_for(&s, "buy -> api"), ["buy"]);
        assert_eq!(spof_for(&s, "api -> db"), ["buy"]);
        assert!(spof_for(&s, "api -> pay").is_empty());
        let ts = targets(&s);
        let views = static_views(&s, &ts);
        let audit = ts.iter().position(|t| t.name == "audit").expect("audit");
        assert_eq!(views[audit].reached_by, ["buy"]);
        assert!(
            views[audit].why.contains("asynchronously"),
            "{}",
            views[audit].why
        );
    }

    #[test]
    fn a_zone_is_a_static_spof_when_a_needed_service_lives_only_there() {
        let s = scenario(
            r#"Scenario(name: "t", seed: 1, horizon: "60s",
            clients: [Client(name: "c", target: "api", load: Open(rate_rps: 10.0))],
            services: [
                Service(name: "api", workers: 4, service_time: Constant("1ms"), replicas: 2,
                        zones: ["a", "b"], calls: [Call(to: "db")]),
                Service(name: "db", workers: 4, service_time: Constant("1ms"), replicas: 2,
                        zones: ["a"]),
            ])"#,
        );
        assert_eq!(spof_for(&s, "zone a"), ["c"]);
        assert!(spof_for(&s, "zone b").is_empty());
    }

    #[test]
    fn a_cache_is_needed_and_so_is_its_backend() {
        let s = scenario(
            r#"Scenario(name: "t", seed: 1, horizon: "60s",
            clients: [Client(name: "c", target: "api", load: Open(rate_rps: 10.0))],
            services: [
                Service(name: "api", workers: 4, service_time: Constant("1ms"), calls: [Call(to: "kv")]),
                Service(name: "db", workers: 4, service_time: Constant("1ms")),
            ],
            caches: [Cache(name: "kv", backend: "db", keys: HitRatio(0.9))])"#,
        );
        assert_eq!(spof_for(&s, "kv"), ["c"]);
        assert_eq!(spof_for(&s, "db"), ["c"]);
        assert_eq!(spof_for(&s, "kv -> db"), ["c"]);
    }
}
