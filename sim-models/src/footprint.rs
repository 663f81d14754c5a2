//! What a scenario may ask for: counts the model's types can hold, and the memory a run
//! needs at start-up, estimated before anything is allocated.
//!
//! Validation refuses a scenario (with file, line:column and field) when
//! - its node count (clients + component instances, each replica one) is above
//!   `limits.max_nodes`, or above [`NODE_CEILING`], what node ids can hold;
//! - a `Parallel` step, an endpoint's step list or a service's endpoint list is longer than
//!   [`MAX_PARALLEL`], [`MAX_STEPS`] or [`MAX_ENDPOINTS`] (attempts count them in 16 bits);
//! - a rate is above [`MAX_RATE_RPS`] (one per nanosecond, the clock's resolution);
//! - a hedge policy asks for more than [`MAX_HEDGES`] hedges;
//! - its start-up [`Footprint`] is above `limits.max_memory_mb`.
//!
//! Every count is a `u64` computed with saturating arithmetic, so no input overflows here
//! and a huge count is simply "too many". Names are looked up in sorted maps: the checks
//! take O(n log n) in the size of the scenario.

use std::collections::BTreeMap;

use sim_core::path::{FieldPath, Problem};

use crate::scenario::{Fault, FaultKind, Load, RateChange, Scenario, Step};

pub use crate::scenario::NODE_CEILING;
/// Calls in one `Parallel` step at most (an attempt counts its pending calls in a `u16`).
pub const MAX_PARALLEL: usize = 10_000;
/// Steps of one endpoint at most (an attempt keeps its step index in a `u16`).
pub const MAX_STEPS: usize = 10_000;
/// Named endpoints of one service at most (an attempt names its endpoint in a `u16`).
pub const MAX_ENDPOINTS: usize = 10_000;
/// Requests per second at most: one per nanosecond, the resolution of virtual time.
pub const MAX_RATE_RPS: f64 = 1e9;
/// Hedges per call at most (gRPC allows 4, Polly's default is 1).
pub const MAX_HEDGES: u32 = 1_000;

const _: () = assert!(MAX_PARALLEL <= u16::MAX as usize);
const _: () = assert!(MAX_STEPS < u16::MAX as usize);
const _: () = assert!(MAX_ENDPOINTS < u16::MAX as usize);

/// Bytes the start-up estimate counts for each unit (README, "Limits", has the formula).
/// Measured as peak RSS slopes of `simctl run` on generated scenarios, rounded up.
pub mod cost {
    /// A client or a service instance: its state, random streams and latency histograms.
    /// An idle instance takes ~23 KiB, but its HDR histograms grow once they record:
    /// `simctl run scenarios/mm1.ron --set services.server.replicas=N --set
    /// horizon='"60s"'` peaks at 764 MB for N = 5,000 and 1.91 GB for 15,000 (114 KB per
    /// instance), and a 20,000-deep call chain with 11 requests at 2.74 GB (137 KB per
    /// node). Rounded up.
    pub const NODE: u64 = 160 * 1024;
    /// The network state of one call-site target: the pair of nodes it joins (shared by
    /// call sites that join the same two), its index entry, and the call site's pair id.
    /// An upper bound: pairs used twice are stored once.
    pub const LINK_PAIR: u64 = 80;
    /// A call site of one instance (or a client's route): policy, breaker, random streams.
    pub const EDGE: u64 = 2560;
    /// One callee instance of a call site: balancer, ejection, health-check state and
    /// its zone for zone-aware routing (one byte).
    pub const TARGET: u64 = 40;
    /// A call site to a `zone_aware` service: its zone shares and counts, for up to
    /// `zones::MAX_ZONES` zones (12 bytes each), and their boxes.
    pub const ZONE_AWARE_EDGE: u64 = 256;
    /// Expected visits per request, kept per (client, service instance), and the dense
    /// vectors they are computed in.
    pub const VISIT: u64 = 40;
    /// One fault applied to one instance or one pair of nodes (its start and end events).
    pub const FAULT_TARGET: u64 = 96;
    /// A closed-loop user: its pending event.
    pub const USER: u64 = 64;
    /// One key of a cache with `Zipf` keys: its LRU links, expiry and generation.
    pub const CACHE_KEY: u64 = 24;
    /// One key of a database: the LSN of its latest acknowledged write.
    pub const DATABASE_KEY: u64 = 8;
    /// One user of a token auth: its token's expiry, refresh point and refresh in flight.
    pub const TOKEN_USER: u64 = 24;
    /// One time-series window: the system row (and what post-processing derives from it),
    /// and each client's and instance's row; doubled, as a growing `Vec` may hold twice
    /// what it uses.
    pub const WINDOW: u64 = 2 * 20 * 8;
    pub const WINDOW_PER_CLIENT: u64 = 2 * 4 * 8;
    pub const WINDOW_PER_INSTANCE: u64 = 2 * 6 * 8;
}

/// What a scenario expands to at start-up, and the bytes that takes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    pub clients: u64,
    /// Component instances: one per service replica, one per cache.
    pub instances: u64,
    /// Call sites after replica expansion: each client's route, each instance's calls.
    pub edges: u64,
    /// Of those, the call sites to a `zone_aware` service.
    pub zone_aware_edges: u64,
    /// Callee instances summed over call sites.
    pub targets: u64,
    pub users: u64,
    pub windows: u64,
    /// Faults expanded to instances and node pairs.
    pub fault_targets: u64,
    /// (what, bytes), largest first.
    pub parts: Vec<(&'static str, u64)>,
}

impl Footprint {
    pub fn nodes(&self) -> u64 {
        self.clients.saturating_add(self.instances)
    }

    /// The whole estimate, in bytes.
    pub fn bytes(&self) -> u64 {
        self.parts
            .iter()
            .fold(0u64, |sum, (_, b)| sum.saturating_add(*b))
    }
}

/// Instances built for service `j`: its replicas, or its `max_replicas` when more.
fn replicas(s: &Scenario, j: usize) -> u64 {
    u64::from(s.services[j].instances())
}

/// The start-up footprint of `s`. Meant for any parsed scenario, valid or not.
pub fn footprint(s: &Scenario) -> Footprint {
    let services = crate::topology::service_map(s);
    let callee = |name: &str| services.get(name).map_or(1, |&j| replicas(s, j));
    let zone_aware = |name: &str| {
        u64::from(
            services
                .get(name)
                .is_some_and(|&j| s.services[j].zone_aware.is_some()),
        )
    };
    let mut f = Footprint {
        clients: s.clients.len() as u64,
        ..Default::default()
    };
    for c in &s.clients {
        f.edges = f.edges.saturating_add(1);
        f.zone_aware_edges = f.zone_aware_edges.saturating_add(zone_aware(&c.target));
        f.targets = f.targets.saturating_add(callee(&c.target));
        if let Load::Closed { users, .. } = c.load {
            f.users = f.users.saturating_add(u64::from(users));
        }
    }
    for (j, svc) in s.services.iter().enumerate() {
        let n = replicas(s, j);
        f.instances = f.instances.saturating_add(n);
        let steps = std::iter::once(&svc.calls).chain(svc.endpoints.iter().map(|e| &e.calls));
        let (mut sites, mut targets, mut aware) = (0u64, 0u64, 0u64);
        for step in steps.flatten() {
            let calls: &[crate::scenario::CallSpec] = match step {
                Step::Call(c) | Step::Async(c) => std::slice::from_ref(c),
                Step::Parallel(cs) => cs,
                Step::Publish(_) => {
                    // One call site to one broker instance.
                    sites = sites.saturating_add(1);
                    targets = targets.saturating_add(1);
                    &[]
                }
            };
            for c in calls {
                sites = sites.saturating_add(1);
                aware = aware.saturating_add(zone_aware(&c.to));
                targets = targets.saturating_add(callee(&c.to));
            }
        }
        f.edges = f.edges.saturating_add(n.saturating_mul(sites));
        f.zone_aware_edges = f.zone_aware_edges.saturating_add(n.saturating_mul(aware));
        f.targets = f.targets.saturating_add(n.saturating_mul(targets));
    }
    // A cache is one instance with one call site (its backend) and a row per key.
    let mut cache_keys = 0u64;
    for cache in &s.caches {
        f.instances = f.instances.saturating_add(1);
        f.edges = f.edges.saturating_add(1);
        f.targets = f.targets.saturating_add(callee(&cache.backend));
        if let crate::scenario::CacheKeys::Zipf { keys, .. } = cache.keys {
            cache_keys = cache_keys.saturating_add(keys);
        }
    }
    // A broker is one instance with one call site per consumer group.
    for b in &s.brokers {
        f.instances = f.instances.saturating_add(1);
        for g in &b.groups {
            f.edges = f.edges.saturating_add(1);
            f.targets = f.targets.saturating_add(callee(&g.service));
        }
    }
    // A database is one instance (its nodes inside) with a row per key.
    let mut database_keys = 0u64;
    for d in &s.databases {
        f.instances = f.instances.saturating_add(1);
        let crate::scenario::DatabaseKeys::Zipf { keys, .. } = d.keys;
        database_keys = database_keys.saturating_add(keys);
    }
    // A token auth is one instance with two or three call sites and a row per user.
    let mut token_users = 0u64;
    for t in &s.token_auths {
        f.instances = f.instances.saturating_add(1);
        let introspect = matches!(t.validation, crate::scenario::Validation::Introspect { .. });
        f.edges = f.edges.saturating_add(2 + u64::from(introspect));
        f.targets = f
            .targets
            .saturating_add(callee(&t.upstream))
            .saturating_add(callee(&t.auth).saturating_mul(1 + u64::from(introspect)));
        token_users = token_users.saturating_add(t.users);
    }
    for fault in &s.faults {
        f.fault_targets = f
            .fault_targets
            .saturating_add(fault_targets(s, &services, fault));
    }
    // An incident process generates at most its cap of faults.
    for p in &s.incidents {
        let fault = Fault {
            start: p.start,
            end: p.start,
            kind: p.kind.clone(),
        };
        f.fault_targets = f.fault_targets.saturating_add(
            fault_targets(s, &services, &fault).saturating_mul(crate::incidents::MAX_PER_PROCESS),
        );
    }
    f.windows = if s.window.is_zero() {
        0
    } else {
        s.horizon.as_nanos() / s.window.as_nanos() + 1
    };
    let nodes = f.nodes();
    let row = cost::WINDOW
        .saturating_add(f.clients.saturating_mul(cost::WINDOW_PER_CLIENT))
        .saturating_add(f.instances.saturating_mul(cost::WINDOW_PER_INSTANCE));
    let mut parts = vec![
        ("nodes", nodes.saturating_mul(cost::NODE)),
        ("network pairs", f.targets.saturating_mul(cost::LINK_PAIR)),
        ("call sites", f.edges.saturating_mul(cost::EDGE)),
        ("call-site targets", f.targets.saturating_mul(cost::TARGET)),
        (
            "zone-aware call sites",
            f.zone_aware_edges.saturating_mul(cost::ZONE_AWARE_EDGE),
        ),
        (
            "expected visits",
            f.clients
                .saturating_mul(f.instances)
                .saturating_mul(cost::VISIT),
        ),
        (
            "fault targets",
            f.fault_targets.saturating_mul(cost::FAULT_TARGET),
        ),
        ("closed-loop users", f.users.saturating_mul(cost::USER)),
        ("cache keys", cache_keys.saturating_mul(cost::CACHE_KEY)),
        (
            "database keys",
            database_keys.saturating_mul(cost::DATABASE_KEY),
        ),
        ("token users", token_users.saturating_mul(cost::TOKEN_USER)),
        ("time series", f.windows.saturating_mul(row)),
    ];
    parts.sort_by_key(|p| std::cmp::Reverse(p.1));
    f.parts = parts;
    f
}

fn fault_targets(s: &Scenario, services: &BTreeMap<&str, usize>, f: &Fault) -> u64 {
    // A service stands for all its instances; a client or `NAME#i` for one node.
    let one = |name: &str| services.get(name).map_or(1, |&j| replicas(s, j));
    match &f.kind {
        FaultKind::Crash { service, .. }
        | FaultKind::Errors { service, .. }
        | FaultKind::Slowdown { service, .. }
        | FaultKind::CapacityLoss { service, .. }
        | FaultKind::Pause { service } => one(service),
        FaultKind::Partition { a, b } | FaultKind::Loss { a, b, .. } => {
            one(a).saturating_mul(one(b))
        }
        FaultKind::Spike { .. } | FaultKind::Flush { .. } | FaultKind::RevokeTokens { .. } => 1,
        FaultKind::ZoneOutage { zone, .. } => crate::zones::nodes_in(s, zone),
    }
}

/// Human bytes: `512 B`, `3.2 MB`, `14.7 GB` (powers of 1024).
pub fn bytes_text(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut x = b as f64;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < UNITS.len() {
        x /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{x:.1} {}", UNITS[unit])
    }
}

/// Every count bound and the memory budget, as problems at the field to change.
pub fn problems(s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    let root = FieldPath::root();
    let limits = root.field("limits");
    let max_nodes_ok = (1..=NODE_CEILING).contains(&s.limits.max_nodes);
    if !max_nodes_ok {
        out.push(Problem::new(
            limits.field("max_nodes"),
            format!(
                "must be within 1..={NODE_CEILING} (node ids hold no more), got {}",
                s.limits.max_nodes
            ),
        ));
    }
    if s.limits.max_memory_mb == 0 {
        out.push(Problem::new(
            limits.field("max_memory_mb"),
            "must be at least 1",
        ));
    }
    shape_problems(s, &root, &mut out);
    rate_problems(s, &root, &mut out);

    let f = footprint(s);
    let nodes = f.nodes();
    let max_nodes = s.limits.max_nodes;
    if nodes > max_nodes {
        if max_nodes_ok {
            out.push(Problem::new(
                node_blame(s),
                format!(
                    "the scenario has {nodes} nodes (clients: {}, service instances, one per \
                     replica: {}), more than limits.max_nodes ({max_nodes})",
                    f.clients, f.instances
                ),
            ));
        }
        // The memory estimate would only repeat it.
        return out;
    }
    let budget = s.limits.max_memory_mb.max(1).saturating_mul(1 << 20);
    if f.bytes() > budget {
        // The parts that matter: each at least a hundredth of the whole.
        let parts: Vec<String> = f
            .parts
            .iter()
            .filter(|(_, b)| *b > 0 && *b >= f.bytes() / 100)
            .map(|(what, b)| format!("{what} {}", bytes_text(*b)))
            .collect();
        out.push(Problem::new(
            memory_blame(s, &f),
            format!(
                "a run would need about {} at start-up ({}), more than limits.max_memory_mb \
                 ({} MB): make the scenario smaller or raise the budget",
                bytes_text(f.bytes()),
                parts.join(", "),
                s.limits.max_memory_mb
            ),
        ));
    }
    out
}

/// The field that makes a scenario have this many nodes: the service with the most
/// replicas if they outnumber the entries of the lists, else the longer list.
fn node_blame(s: &Scenario) -> FieldPath {
    let root = FieldPath::root();
    let most = s
        .services
        .iter()
        .enumerate()
        .max_by_key(|(i, svc)| (svc.instances(), std::cmp::Reverse(*i)));
    match most {
        Some((j, svc))
            if u64::from(svc.instances()) > s.services.len() as u64
                && u64::from(svc.instances()) > s.clients.len() as u64 =>
        {
            let field = if svc.instances() > svc.replicas {
                "max_replicas"
            } else {
                "replicas"
            };
            root.field("services").index(j).field(field)
        }
        _ if s.clients.len() > s.services.len() => root.field("clients"),
        _ => root.field("services"),
    }
}

/// The field behind the largest part of the estimate.
fn memory_blame(s: &Scenario, f: &Footprint) -> FieldPath {
    let root = FieldPath::root();
    match f.parts.first().map(|p| p.0) {
        Some("closed-loop users") => s
            .clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c.load {
                Load::Closed { users, .. } => Some((users, i)),
                Load::Open { .. } => None,
            })
            .max_by_key(|&(users, i)| (users, std::cmp::Reverse(i)))
            .map_or(root.field("clients"), |(_, i)| {
                root.field("clients").index(i).field("load").field("users")
            }),
        Some("time series") => root.field("window"),
        Some("fault targets") => root.field("faults"),
        Some("cache keys") => s
            .caches
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c.keys {
                crate::scenario::CacheKeys::Zipf { keys, .. } => Some((keys, i)),
                crate::scenario::CacheKeys::HitRatio(_) => None,
            })
            .max_by_key(|&(keys, i)| (keys, std::cmp::Reverse(i)))
            .map_or(root.field("caches"), |(_, i)| {
                root.field("caches").index(i).field("keys").field("keys")
            }),
        Some("database keys") => (s.databases.iter().enumerate())
            .map(|(i, d)| {
                let crate::scenario::DatabaseKeys::Zipf { keys, .. } = d.keys;
                (keys, i)
            })
            .max_by_key(|&(keys, i)| (keys, std::cmp::Reverse(i)))
            .map_or(root.field("databases"), |(_, i)| {
                root.field("databases").index(i).field("keys").field("keys")
            }),
        Some("token users") => s
            .token_auths
            .iter()
            .enumerate()
            .max_by_key(|&(i, t)| (t.users, std::cmp::Reverse(i)))
            .map_or(root.field("token_auths"), |(i, _)| {
                root.field("token_auths").index(i).field("users")
            }),
        _ => node_blame(s),
    }
}

/// Lists an attempt counts in 16 bits, and hedges per call.
fn shape_problems(s: &Scenario, root: &FieldPath, out: &mut Vec<Problem>) {
    let mut policy = |at: FieldPath, p: &crate::scenario::CallPolicy| {
        if let Some(h) = &p.hedge
            && h.max_hedges > MAX_HEDGES
        {
            out.push(Problem::new(
                at.field("hedge").field("max_hedges"),
                format!("must be at most {MAX_HEDGES}, got {}", h.max_hedges),
            ));
        }
    };
    for (i, c) in s.clients.iter().enumerate() {
        policy(root.field("clients").index(i).field("policy"), &c.policy);
    }
    let mut lists = Vec::new();
    for (i, svc) in s.services.iter().enumerate() {
        let at = root.field("services").index(i);
        if svc.endpoints.len() > MAX_ENDPOINTS {
            lists.push(Problem::new(
                at.field("endpoints"),
                format!(
                    "a service has at most {MAX_ENDPOINTS} endpoints, got {}",
                    svc.endpoints.len()
                ),
            ));
        }
        let endpoints = svc.step_lists(&at);
        for (steps, at) in endpoints {
            if steps.len() > MAX_STEPS {
                lists.push(Problem::new(
                    at.clone(),
                    format!(
                        "an endpoint makes at most {MAX_STEPS} steps of calls, got {}",
                        steps.len()
                    ),
                ));
            }
            for (k, step) in steps.iter().enumerate() {
                match step {
                    Step::Call(c) | Step::Async(c) => {
                        policy(at.index(k).field("policy"), &c.policy)
                    }
                    Step::Publish(p) => policy(at.index(k).field("policy"), &p.policy),
                    Step::Parallel(cs) => {
                        if cs.len() > MAX_PARALLEL {
                            lists.push(Problem::new(
                                at.index(k),
                                format!(
                                    "a parallel step makes at most {MAX_PARALLEL} calls, got {}",
                                    cs.len()
                                ),
                            ));
                        }
                        for (m, c) in cs.iter().enumerate() {
                            policy(at.index(k).index(m).field("policy"), &c.policy);
                        }
                    }
                }
            }
        }
    }
    out.extend(lists);
}

/// Rates above one per nanosecond, at their field; and an open-loop client whose peak rate
/// (its highest base rate times every spike that can overlap) goes above it.
fn rate_problems(s: &Scenario, root: &FieldPath, out: &mut Vec<Problem>) {
    let too_fast = |rate: f64| rate.is_finite() && rate > MAX_RATE_RPS;
    let msg = |rate: f64| {
        format!(
            "at most {MAX_RATE_RPS:e} requests per second (one per nanosecond, the resolution of \
             virtual time), got {rate:e}"
        )
    };
    for (i, c) in s.clients.iter().enumerate() {
        let Load::Open { rate_rps, shape } = &c.load else {
            continue;
        };
        let at = root.field("clients").index(i).field("load");
        let mut peak = *rate_rps;
        let mut factor = 1.0f64;
        let mut single = too_fast(*rate_rps);
        if single {
            out.push(Problem::new(at.field("rate_rps"), msg(*rate_rps)));
        }
        for (k, change) in shape.iter().enumerate() {
            match *change {
                RateChange::Step { rate_rps, .. } | RateChange::Ramp { rate_rps, .. } => {
                    peak = peak.max(rate_rps);
                    if too_fast(rate_rps) {
                        single = true;
                        out.push(Problem::new(
                            at.field("shape").index(k).field("rate_rps"),
                            msg(rate_rps),
                        ));
                    }
                }
                RateChange::Spike { factor: x, .. } => factor *= x.max(1.0),
            }
        }
        // A process's incidents never overlap: each spikes once at a time.
        let kinds = s.faults.iter().map(|f| &f.kind);
        for kind in kinds.chain(s.incidents.iter().map(|p| &p.kind)) {
            if let FaultKind::Spike { client, factor: x } = kind
                && *client == c.name
            {
                factor *= x.max(1.0);
            }
        }
        let top = peak * factor;
        if !single && peak.is_finite() && factor.is_finite() && top > MAX_RATE_RPS {
            out.push(Problem::new(
                at.field("rate_rps"),
                format!(
                    "with its spikes the rate reaches {top:e} requests per second, above \
                     {MAX_RATE_RPS:e} (one per nanosecond, the resolution of virtual time)"
                ),
            ));
        }
    }
    for (i, svc) in s.services.iter().enumerate() {
        if let Some(limit) = &svc.admission.rate_limit
            && too_fast(limit.rate_rps)
        {
            out.push(Problem::new(
                root.field("services")
                    .index(i)
                    .field("admission")
                    .field("rate_limit")
                    .field("rate_rps"),
                msg(limit.rate_rps),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Scenario {
        crate::scenario::parse("t.ron", text).expect("parses")
    }

    fn scenario(clients: &str, services: &str) -> String {
        format!(
            r#"Scenario(name: "t", seed: 1, horizon: "10s", clients: [{clients}], services: [{services}])"#
        )
    }

    #[test]
    fn counts_expand_replicas_call_sites_and_faults() {
        let text = scenario(
            r#"Client(name: "c", target: "a", load: Closed(users: 7, think_time: Constant("1s")))"#,
            r#"Service(name: "a", workers: 1, service_time: Constant("1ms"), replicas: 3,
                       calls: [Call(to: "b"), Parallel([(to: "b"), (to: "a")])]),
               Service(name: "b", workers: 1, service_time: Constant("1ms"), replicas: 5,
                       endpoints: [(name: "e", service_time: Constant("1ms"), calls: [Async(to: "a")])])"#,
        )
        .replace(
            "services:",
            r#"faults: [Fault(start: "1s", end: "2s", kind: Partition(a: "a", b: "b")),
                        Fault(start: "1s", end: "2s", kind: Crash(service: "b#1", mode: Refuse))],
               services:"#,
        );
        let f = footprint(&parse(&text));
        // An incident process on a (3 instances) counts its cap of incidents.
        let with_process = footprint(&parse(&text.replace(
            "services:",
            r#"incidents: [Incidents(kind: Pause(service: "a"), mtbf: Constant("1s"), mttr: Constant("1s"))],
               services:"#,
        )));
        assert_eq!(
            with_process.fault_targets - f.fault_targets,
            3 * crate::incidents::MAX_PER_PROCESS
        );
        assert_eq!((f.clients, f.instances, f.nodes()), (1, 8, 9));
        // Client route 1; a: 3 instances x 3 sites; b: 5 instances x 1 site.
        assert_eq!(f.edges, 1 + 9 + 5);
        // Client -> a (3); a's sites reach b, b, a (5 + 5 + 3) each; b's reaches a (3).
        assert_eq!(f.targets, 3 + 3 * 13 + 5 * 3);
        assert_eq!(f.users, 7);
        assert_eq!(f.fault_targets, 15 + 1);
        assert_eq!(f.windows, 11);
        let total: u64 = f.parts.iter().map(|p| p.1).sum();
        assert_eq!(f.bytes(), total);
        assert!(
            f.parts.windows(2).all(|w| w[0].1 >= w[1].1),
            "largest first"
        );
    }

    #[test]
    fn huge_counts_saturate_instead_of_overflowing() {
        let text = scenario(
            r#"Client(name: "c", target: "a", load: Closed(users: 4294967295, think_time: Constant("1s")))"#,
            r#"Service(name: "a", workers: 1, service_time: Constant("1ms"), replicas: 4294967295,
                       calls: [Call(to: "a"), Call(to: "a")]),
               Service(name: "b", workers: 1, service_time: Constant("1ms"), replicas: 4294967295)"#,
        );
        let f = footprint(&parse(&text));
        assert_eq!(f.instances, 2 * 4_294_967_295);
        assert_eq!(f.bytes(), u64::MAX);
        let p = problems(&parse(&text));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path.to_string(), "services[0].replicas");
    }

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(bytes_text(512), "512 B");
        assert_eq!(bytes_text(3 << 20), "3.0 MB");
        assert_eq!(bytes_text(u64::MAX), "16384.0 PB");
    }
}
