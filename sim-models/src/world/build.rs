//! Compiles a validated scenario into the world's tables: nodes (clients, then component
//! instances), edges (call sites: each client's route, then each endpoint's calls in file
//! order), the network, random streams, effects; and schedules the first events.

use sim_core::queue::EventQueue;
use sim_core::rng;
use sim_core::{SimDuration, SimTime};
use slotmap::{SecondaryMap, SlotMap};

use super::components::broker::BrokerState;
use super::components::cache::CacheState;
use super::components::database::DatabaseState;
use super::components::service::{ServiceState, Step};
use super::components::token_auth::TokenAuthState;
use super::components::{Instance, Kind};
use super::config::ConfigState;
use super::effects::{EffectDef, EffectKind};
use super::metrics::{Metrics, empty_series};
use super::network::Network;
use super::{ClientState, Edge, Event, Group, LoadGen, World, control};
use crate::balancer::{Balancer, HealthChecker, OutlierDetector, ZoneAware};
use crate::breaker::Breaker;
use crate::limits::AdaptiveTimeout;
use crate::policy::{RateSchedule, ThinnedPoisson};
use crate::result::series_store::SeriesStore;
use crate::retry_budget::RetryBudget;
use crate::scenario::{self, CallSpec, FaultKind, Load, Scenario};
use crate::slo::BurnRateAlerts;
use crate::topology::{endpoint_index, expected_visits, visits_by_timing};
use crate::zones::Zones;

/// How the callers on `from`'s side of a call to `callee` spread over the zones (one
/// share per zone): the zoned clients that target `callee` if `from` is a client, else the
/// in-service instances (`replicas`) of `from`'s service. See [`ZoneAware`].
fn caller_share(
    s: &Scenario,
    zones: &Zones,
    node_zone: &[Option<usize>],
    first: &[u32],
    from: u32,
    callee: &str,
) -> Vec<f64> {
    let n_clients = s.clients.len();
    let mut count = vec![0u32; zones.len()];
    match (from as usize).checked_sub(n_clients) {
        None => {
            for (c, spec) in s.clients.iter().enumerate() {
                if let (true, Some(z)) = (spec.target == callee, node_zone[c]) {
                    count[z] += 1;
                }
            }
        }
        Some(k) => {
            let j = first.partition_point(|&f| f as usize <= k) - 1;
            let start = n_clients + first[j] as usize;
            for z in node_zone[start..start + s.services[j].replicas as usize]
                .iter()
                .flatten()
            {
                count[*z] += 1;
            }
        }
    }
    let total: u32 = count.iter().sum();
    count
        .iter()
        .map(|&n| f64::from(n) / f64::from(total.max(1)))
        .collect()
}

impl World {
    /// Builds the world of a validated scenario and schedules its first events.
    pub fn new(s: &Scenario, seed: u64, q: &mut EventQueue<Event>) -> World {
        let start = SimTime::ZERO;
        let n_clients = s.clients.len() as u32;
        // Replicas expand into service instances: service j's are first[j] .. first[j] + replicas.
        let mut first = Vec::with_capacity(s.services.len());
        let mut n_instances = 0u32;
        for svc in &s.services {
            first.push(n_instances);
            n_instances += svc.instances();
        }
        let all_of = |j: usize| first[j]..first[j] + s.services[j].instances();
        // Caches come after every service instance, then brokers, one instance each.
        let cache_first = n_instances;
        let broker_first = cache_first + s.caches.len() as u32;
        // Then databases, one instance each (its nodes are inside it).
        let database_first = broker_first + s.brokers.len() as u32;
        // Then token auths, one instance each.
        let token_auth_first = database_first + s.databases.len() as u32;
        // The instances a name stands for: `NAME` every replica, `NAME#i` one.
        let instances_of = |name: &str| -> Vec<u32> {
            if let Some(c) = s.cache_index(name) {
                return vec![cache_first + c as u32];
            }
            if let Some(b) = s.broker_index(name) {
                return vec![broker_first + b as u32];
            }
            if let Some(d) = s.database_index(name) {
                return vec![database_first + d as u32];
            }
            if let Some(t) = s.token_auth_index(name) {
                return vec![token_auth_first + t as u32];
            }
            match s.replica_target(name).expect("validated scenario") {
                (j, None) => all_of(j).collect(),
                (j, Some(i)) => vec![first[j] + i],
            }
        };
        let nodes_of = |name: &str| -> Vec<u32> {
            match s.clients.iter().position(|c| c.name == name) {
                Some(i) => vec![i as u32],
                None => instances_of(name)
                    .into_iter()
                    .map(|k| n_clients + k)
                    .collect(),
            }
        };
        let to_time = |d: SimDuration| start.saturating_add(d);
        let zones = Zones::of(s);
        let mut node_zone = zones.of_nodes(s);
        // Instances of other kinds (caches, brokers) have no zone.
        let n_nodes = n_clients + token_auth_first + s.token_auths.len() as u32;
        node_zone.resize(n_nodes as usize, None);

        // A fault on a replicated service (or between two) applies to each instance (pair).
        let mut effects: Vec<EffectDef> = Vec::new();
        for (index, f) in s.faults.iter().enumerate() {
            let (start, end) = (to_time(f.start), to_time(f.end));
            let targets: Vec<EffectKind> = match &f.kind {
                FaultKind::Crash { service: x, mode } => instances_of(x)
                    .into_iter()
                    .map(|service| EffectKind::Crash {
                        instance: service,
                        mode: *mode,
                    })
                    .collect(),
                FaultKind::Errors { service: x, p } => instances_of(x)
                    .into_iter()
                    .map(|service| EffectKind::Errors {
                        instance: service,
                        p: *p,
                    })
                    .collect(),
                FaultKind::Slowdown { service: x, factor } => instances_of(x)
                    .into_iter()
                    .map(|service| EffectKind::Slowdown {
                        instance: service,
                        factor: *factor,
                    })
                    .collect(),
                FaultKind::CapacityLoss {
                    service: x,
                    workers,
                } => instances_of(x)
                    .into_iter()
                    .map(|service| EffectKind::CapacityLoss {
                        instance: service,
                        workers: *workers,
                    })
                    .collect(),
                FaultKind::Pause { service: x } => instances_of(x)
                    .into_iter()
                    .map(|instance| EffectKind::Pause { instance })
                    .collect(),
                FaultKind::Partition { a, b } => nodes_of(a)
                    .into_iter()
                    .flat_map(|a| {
                        nodes_of(b)
                            .into_iter()
                            .map(move |b| EffectKind::Partition { a, b })
                    })
                    .collect(),
                FaultKind::Loss { a, b, p } => nodes_of(a)
                    .into_iter()
                    .flat_map(|a| {
                        nodes_of(b)
                            .into_iter()
                            .map(move |b| EffectKind::Loss { a, b, p: *p })
                    })
                    .collect(),
                FaultKind::Spike { client, .. } => vec![EffectKind::Spike {
                    client: s
                        .clients
                        .iter()
                        .position(|c| &c.name == client)
                        .expect("validated fault target") as u32,
                }],
                // One crash per instance in the zone, and its clients stop issuing.
                FaultKind::ZoneOutage { zone, mode } => {
                    let z = zones.id(zone);
                    (0..node_zone.len() as u32)
                        .filter(|&n| node_zone[n as usize] == z)
                        .map(|n| match n.checked_sub(n_clients) {
                            Some(instance) => EffectKind::Crash {
                                instance,
                                mode: *mode,
                            },
                            None => EffectKind::ClientDown { client: n },
                        })
                        .collect()
                }
                FaultKind::Flush { cache } => instances_of(cache)
                    .into_iter()
                    .map(|instance| EffectKind::Flush { instance })
                    .collect(),
                FaultKind::RevokeTokens { token_auth } => instances_of(token_auth)
                    .into_iter()
                    .map(|instance| EffectKind::Revoke { instance })
                    .collect(),
            };
            effects.extend(targets.into_iter().map(|kind| EffectDef {
                start,
                end,
                kind,
                by_rule: false,
                fault: Some(index as u32),
            }));
        }

        let instance_names: Vec<String> = s
            .services
            .iter()
            .flat_map(|svc| {
                let n = svc.instances();
                (0..n).map(move |r| {
                    if n == 1 {
                        svc.name.clone()
                    } else {
                        format!("{}#{r}", svc.name)
                    }
                })
            })
            .collect();

        let mut edges: Vec<Edge> = Vec::new();
        let node_names: Vec<&str> = s
            .clients
            .iter()
            .map(|c| c.name.as_str())
            .chain(instance_names.iter().map(String::as_str))
            .chain(s.caches.iter().map(|c| c.name.as_str()))
            .chain(s.brokers.iter().map(|b| b.name.as_str()))
            .chain(s.databases.iter().map(|d| d.name.as_str()))
            .chain(s.token_auths.iter().map(|t| t.name.as_str()))
            .collect();
        let mut new_edge = |from: u32,
                            spec_to: &str,
                            endpoint: Option<&str>,
                            policy: &scenario::CallPolicy| {
            // A cache or a broker is one instance with one endpoint, no balancing
            // options (publishes go to the broker).
            let cache = s.cache_index(spec_to).map(|c| cache_first + c as u32);
            let broker = s.broker_index(spec_to).map(|b| broker_first + b as u32);
            let db = s.database_index(spec_to).map(|d| database_first + d as u32);
            let auth = s.token_auth_index(spec_to);
            let auth = auth.map(|t| token_auth_first + t as u32);
            let (callee, endpoint, targets) = match cache.or(broker).or(auth) {
                Some(one) => (None, 0, vec![one]),
                // A database's endpoint is its operation: read (0) or write (1).
                None if db.is_some() => {
                    let op = scenario::Database::endpoint_of(endpoint).expect("validated endpoint");
                    (None, usize::from(op), vec![db.expect("a database")])
                }
                None => {
                    let group = s.service_index(spec_to).expect("validated scenario");
                    let callee = &s.services[group];
                    let endpoint = endpoint_index(callee, endpoint).expect("validated endpoint");
                    (Some(callee), endpoint, all_of(group).collect())
                }
            };
            // Keyed by names, not by edge index, so other call sites leave its draws alone.
            let same = edges
                .iter()
                .filter(|e| e.from == from && e.targets == targets)
                .count();
            let key = format!("{}->{}/{same}", node_names[from as usize], spec_to);
            let zone_aware = callee.and_then(|c| c.zone_aware.as_ref()).and_then(|spec| {
                let local = node_zone[from as usize]?;
                let zone_of: Vec<usize> = targets
                    .iter()
                    .map(|&t| node_zone[(n_clients + t) as usize])
                    .collect::<Option<_>>()?;
                let share = caller_share(s, &zones, &node_zone, &first, from, spec_to);
                Some(Box::new(ZoneAware::new(spec, local, zone_of, share)))
            });
            edges.push(Edge {
                from,
                // Services' callers are set below, once the services exist.
                caller_honors_deadline: true,
                callee: spec_to.to_string(),
                balancer: Balancer::new(
                    callee.map_or(Default::default(), |c| c.balance),
                    targets.len(),
                ),
                detector: callee
                    .and_then(|c| c.ejection.as_ref())
                    .map(|e| OutlierDetector::new(e, targets.len())),
                health: callee
                    .and_then(|c| c.health_check.as_ref())
                    .map(|h| HealthChecker::new(h, targets.len())),
                lb_rng: rng::stream(seed, &format!("balance/{key}")),
                zone_aware,
                targets,
                pairs: Vec::new(),
                endpoint: endpoint as u16,
                timeout: policy.timeout,
                max_attempts: policy.max_attempts.max(1),
                backoff: policy.backoff.clone(),
                max_outstanding: policy.max_outstanding.unwrap_or(u32::MAX),
                outstanding: 0,
                jitter: policy.jitter,
                retry_on: policy.retry_on.clone(),
                budget: policy.budget.as_ref().map(RetryBudget::new),
                adaptive_timeout: policy.adaptive_timeout.as_ref().map(AdaptiveTimeout::new),
                hedge: policy.hedge,
                breaker: policy.breaker.as_ref().map(Breaker::new),
                fallback: policy.fallback,
                fallback_spec: policy.fallback,
                rng: rng::stream(seed, &format!("retry/{key}")),
            });
            (edges.len() - 1) as u32
        };

        let clients: Vec<ClientState> = s
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let edge = new_edge(i as u32, &c.target, c.endpoint.as_deref(), &c.policy);
                let load = match &c.load {
                    Load::Open { rate_rps, shape } => {
                        let spikes: Vec<(SimTime, SimTime, f64)> = s
                            .faults
                            .iter()
                            .filter_map(|f| match &f.kind {
                                FaultKind::Spike { client, factor } if *client == c.name => {
                                    Some((to_time(f.start), to_time(f.end), *factor))
                                }
                                _ => None,
                            })
                            .collect();
                        LoadGen::Open {
                            schedule: RateSchedule::new(*rate_rps, shape, &spikes),
                            next: None,
                            base_rps: *rate_rps,
                            shape: shape.clone(),
                            spikes,
                        }
                    }
                    Load::Closed { think_time, .. } => LoadGen::Closed {
                        think: think_time.compile().expect("validated think time"),
                    },
                };
                ClientState {
                    name: c.name.clone(),
                    slo_latency: c.slo.as_ref().and_then(|slo| slo.latency),
                    edge,
                    deadline: c.deadline,
                    load,
                    rng: rng::stream(seed, &format!("client/{}/arrivals", c.name)),
                    outcome: Default::default(),
                    down: false,
                    parked: Vec::new(),
                    not_issued: 0,
                }
            })
            .collect();

        let services: Vec<ServiceState> = s
            .services
            .iter()
            .enumerate()
            .flat_map(|(j, svc)| all_of(j).map(move |k| (svc, k)))
            .map(|(svc, k)| {
                let me = n_clients + k;
                ServiceState::new(svc, &instance_names[k as usize], seed, start, |steps| {
                    let mut edge_of =
                        |c: &CallSpec| new_edge(me, &c.to, c.endpoint.as_deref(), &c.policy);
                    steps
                        .iter()
                        .map(|step| match step {
                            scenario::Step::Call(c) => Step::Call(edge_of(c)),
                            scenario::Step::Async(c) => Step::Async(edge_of(c)),
                            // A publish waits for the broker's confirm: a call to it.
                            scenario::Step::Publish(p) => Step::Call(edge_of(&CallSpec {
                                to: p.to.clone(),
                                endpoint: None,
                                policy: p.policy.clone(),
                            })),
                            scenario::Step::Parallel(cs) => {
                                let ids: Vec<u32> = cs.iter().map(&mut edge_of).collect();
                                Step::Parallel {
                                    first: ids.first().copied().unwrap_or(0),
                                    count: ids.len() as u32,
                                }
                            }
                        })
                        .collect()
                })
            })
            .collect();
        let caches: Vec<CacheState> = s
            .caches
            .iter()
            .enumerate()
            .map(|(c, spec)| {
                let me = n_clients + cache_first + c as u32;
                let edge = new_edge(
                    me,
                    &spec.backend,
                    spec.backend_endpoint.as_deref(),
                    &spec.policy,
                );
                CacheState::new(spec, seed, edge)
            })
            .collect();
        // Each broker delivers to each of its groups through a call site of its own.
        let brokers: Vec<BrokerState> = s
            .brokers
            .iter()
            .enumerate()
            .map(|(b, spec)| {
                let me = n_clients + broker_first + b as u32;
                let policy = BrokerState::delivery_policy(spec);
                let edges: Vec<u32> = spec
                    .groups
                    .iter()
                    .map(|g| new_edge(me, &g.service, g.endpoint.as_deref(), &policy))
                    .collect();
                let services: Vec<u32> = (spec.groups.iter())
                    .map(|g| s.service_index(&g.service).expect("validated group") as u32)
                    .collect();
                BrokerState::new(spec, &edges, &services)
            })
            .collect();
        let databases: Vec<DatabaseState> = (s.databases.iter())
            .map(|spec| DatabaseState::new(spec, seed))
            .collect();
        // Each token auth calls its upstream, its auth service's refresh endpoint and, with
        // introspection, its introspection endpoint, through call sites of its own.
        let token_auths: Vec<TokenAuthState> = s
            .token_auths
            .iter()
            .enumerate()
            .map(|(t, spec)| {
                let me = n_clients + token_auth_first + t as u32;
                let upstream = new_edge(
                    me,
                    &spec.upstream,
                    spec.upstream_endpoint.as_deref(),
                    &spec.upstream_policy,
                );
                let refresh = new_edge(
                    me,
                    &spec.auth,
                    spec.refresh_endpoint.as_deref(),
                    &spec.auth_policy,
                );
                let introspect = match &spec.validation {
                    scenario::Validation::Local => None,
                    scenario::Validation::Introspect { endpoint } => Some(new_edge(
                        me,
                        &spec.auth,
                        endpoint.as_deref(),
                        &spec.auth_policy,
                    )),
                };
                TokenAuthState::new(spec, seed, upstream, refresh, introspect)
            })
            .collect();
        let instances: Vec<Instance> = (0..s.services.len())
            .flat_map(|j| all_of(j).map(move |index| (j, index)))
            .map(|(j, index)| Instance {
                kind: Kind::Service,
                index,
                group: j as u32,
            })
            .chain((0..s.caches.len() as u32).map(|index| Instance {
                kind: Kind::Cache,
                index,
                group: u32::MAX,
            }))
            .chain((0..s.brokers.len() as u32).map(|index| Instance {
                kind: Kind::Broker,
                index,
                // Not a service group: scaling and rules on services never reach it.
                group: u32::MAX,
            }))
            .chain((0..s.databases.len() as u32).map(|index| Instance {
                kind: Kind::Database,
                index,
                group: u32::MAX,
            }))
            .chain((0..s.token_auths.len() as u32).map(|index| Instance {
                kind: Kind::TokenAuth,
                index,
                group: u32::MAX,
            }))
            .collect();

        for e in &mut edges {
            if let Some(i) = e.from.checked_sub(n_clients) {
                let inst = instances[i as usize];
                e.caller_honors_deadline = match inst.kind {
                    Kind::Service => services[inst.index as usize].honor_deadline,
                    // Its fetches carry no deadline: one may serve many lookups.
                    Kind::Cache => false,
                    Kind::Broker => true,   // its deliveries carry no deadline
                    Kind::Database => true, // it makes no calls
                    // A forwarded request carries its caller's deadline; refreshes none.
                    Kind::TokenAuth => true,
                };
            }
        }

        let used: Vec<(u32, u32)> = edges
            .iter()
            .flat_map(|e| e.targets.iter().map(move |&t| (e.from, n_clients + t)))
            .collect();
        let net = Network::new(s, seed, &node_names, used, nodes_of, &node_zone);
        for e in &mut edges {
            e.pairs = e
                .targets
                .iter()
                .map(|&t| {
                    net.pair(e.from, n_clients + t)
                        .expect("every call site's pair")
                })
                .collect();
        }
        // Expected attempts per request, per instance: its service's share, split evenly.
        let visits: Vec<Vec<f64>> = expected_visits(s)
            .into_iter()
            .map(|row| {
                (0..s.services.len())
                    .flat_map(|j| {
                        let n = s.services[j].instances();
                        std::iter::repeat_n(row[j] / f64::from(n), n as usize)
                    })
                    .collect()
            })
            .collect();

        let groups: Vec<Group> = s
            .services
            .iter()
            .enumerate()
            .map(|(j, svc)| Group {
                name: svc.name.clone(),
                instances: all_of(j),
                replicas: svc.replicas,
                wanted: svc.replicas,
            })
            .collect();
        // Instances beyond a service's `replicas` (up to `max_replicas`) start out of service.
        let in_service: Vec<bool> = groups
            .iter()
            .flat_map(|g| {
                g.instances
                    .clone()
                    .map(move |i| i - g.instances.start < g.replicas)
            })
            .chain(s.caches.iter().map(|_| true))
            .chain(s.brokers.iter().map(|_| true))
            .chain(s.databases.iter().map(|_| true))
            .chain(s.token_auths.iter().map(|_| true))
            .collect();
        let not_accepting = in_service.iter().filter(|&&on| !on).count() as u32;
        let rules = control::compile(s);
        let (window_s, horizon_s) = (s.window.as_secs_f64(), s.horizon.as_secs_f64());
        let mut p99_watched = control::p99_watched(&rules, s.clients.len());
        if s.remediation.is_some() {
            // Remediation's signals read every client's p99.
            p99_watched.fill(true);
        }

        let mut world = World {
            clients,
            instances,
            groups,
            accepting: in_service.clone(),
            in_service,
            not_accepting,
            rules,
            actions: Vec::new(),
            orchestrator: None,
            acting: Default::default(),
            zones,
            node_zone,
            horizon: start.saturating_add(s.horizon),
            services,
            caches,
            brokers,
            databases,
            configs: (s.configs.iter())
                .map(|spec| ConfigState::new(s, spec, all_of))
                .collect(),
            token_auths,
            token_auth_first,
            edges,
            net,
            requests: 0,
            next_request_id: 0,
            trace: None,
            ledger: Default::default(),
            calls: SlotMap::with_key(),
            attempts: SlotMap::with_key(),
            abandoned: 0,
            cancellation: s.services.iter().any(|svc| svc.honor_cancellation),
            children: SecondaryMap::new(),
            scratch_cancels: Vec::new(),
            hops: Vec::new(),
            effect_active: vec![false; effects.len()],
            paused: 0,
            scratch_outstanding: Vec::new(),
            scratch_healthy: Vec::new(),
            effects,
            max_in_flight: s.limits.max_in_flight,
            past_limit: false,
            warmup: start.saturating_add(s.warmup),
            slo_latency: s.slo.as_ref().and_then(|slo| slo.latency),
            window: s.window,
            watch: None,
            metrics: Metrics::new(
                empty_series(
                    s.window,
                    &s.clients.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
                    &instance_names,
                ),
                s.window,
                visits,
                p99_watched,
                s.slo
                    .as_ref()
                    .map(|slo| BurnRateAlerts::new(slo, window_s, horizon_s)),
                s.clients
                    .iter()
                    .map(|c| {
                        c.slo
                            .as_ref()
                            .map(|slo| BurnRateAlerts::new(slo, window_s, horizon_s))
                    })
                    .collect(),
            ),
        };
        world.metrics.series.caches = s
            .caches
            .iter()
            .map(|c| crate::result::CacheSeries {
                name: c.name.clone(),
                ..Default::default()
            })
            .collect();
        if !s.brokers.is_empty() {
            let (request, delivery) = visits_by_timing(s);
            let sum = |v: &Vec<f64>| v.iter().sum::<f64>();
            let services = world.metrics.series.services.len();
            world.metrics.rows =
                SeriesStore::new(s.window, request.iter().map(sum).collect(), services, true);
            world.metrics.delivery_visits = (delivery.iter())
                .map(|groups| groups.iter().map(sum).collect())
                .collect();
        }
        world.schedule_first_events(s, q);
        for (c, config) in world.configs.iter().enumerate() {
            config.schedule_first(c as u16, seed, q);
        }
        world
    }

    fn schedule_first_events(&mut self, s: &Scenario, q: &mut EventQueue<Event>) {
        let start = SimTime::ZERO;
        for (c, spec) in s.clients.iter().enumerate() {
            let client = &mut self.clients[c];
            match (&mut client.load, &spec.load) {
                (LoadGen::Open { schedule, next, .. }, _) => {
                    if let Some(first) =
                        ThinnedPoisson.next_arrival(schedule, start, &mut client.rng)
                    {
                        *next = Some(q.schedule(first, Event::Arrival { client: c as u32 }));
                    }
                }
                (LoadGen::Closed { think }, Load::Closed { users, .. }) => {
                    // Users start staggered, each after one think time.
                    for user in 0..*users {
                        let at = start + think.sample_duration(&mut client.rng);
                        q.schedule(
                            at,
                            Event::UserReady {
                                client: c as u32,
                                user,
                            },
                        );
                    }
                }
                (LoadGen::Closed { .. }, Load::Open { .. }) => {
                    unreachable!("built from the same spec")
                }
            }
        }
        q.schedule(start + s.window, Event::WindowEnd);
        for (e, edge) in self.edges.iter().enumerate() {
            if let Some(h) = &edge.health {
                q.schedule(start + h.interval(), Event::HealthCheck { edge: e as u32 });
            }
        }
        if !s.warmup.is_zero() {
            q.schedule(self.warmup, Event::WarmupEnd);
        }
        for (f, def) in self.effects.iter().enumerate() {
            q.schedule(def.start, Event::EffectStart(f as u32));
            if def.end < SimTime::MAX {
                q.schedule(def.end, Event::EffectEnd(f as u32));
            }
        }
    }
}
