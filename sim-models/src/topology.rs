//! The call graph of a scenario: which (service, endpoint) calls which, and what that implies.
//!
//! Nodes are (service, endpoint) pairs, numbered within a service by [`endpoint_index`]:
//! 0 is the default endpoint (the service's own `service_time` and `calls`), 1 + e is
//! `endpoints[e]`; then one node per cache, then one per database (a leaf: it calls
//! nothing; its endpoints `read` and `write` are one node), then one per token auth.
//! Edges are the calls of each endpoint's steps, in file order: a `Call`, each element
//! of a `Parallel` and an `Async` are one edge each; a cache has one edge, to its
//! backend; a token auth one to its upstream and one or two to its auth service
//! (refresh, introspection); a `Publish` is an edge to each consumer group of its
//! broker (a broker is not a node: its groups' consumers are).
//!
//! [`problems`] checks what a request would run into: names that do not resolve, endpoints
//! defined twice, names shared by a client and a service, cycles (a request would recurse
//! forever) and services no request ever reaches. Each problem carries the field path of
//! the token to blame, so the locator can turn it into a line:column in the file.
//!
//! [`expected_visits`] is the fan-out of the graph: how many attempts each service receives
//! per logical request of a client when nothing fails and nobody retries. Dividing observed
//! attempts by it separates retry amplification from the call graph's own multiplication.
//!
//! Everything iterates in file order over `Vec`s, so results and messages are deterministic;
//! names are looked up in sorted maps, so the checks take O(n log n) in the scenario's size.

use std::collections::{BTreeMap, BTreeSet};

use sim_core::path::{FieldPath, Problem};

use crate::diagnostic::nearest;
use crate::scenario::{CacheKeys, CallSpec, Scenario, Service, Step, Validation};

/// How deep [`expected_visits`] follows calls in a graph with a cycle. Such a scenario
/// never passes [`problems`]; the bound only keeps a misuse from looping forever.
const MAX_DEPTH: usize = 64;

/// The node number of an endpoint within `service`: 0 for the default endpoint (`name` is
/// `None`), 1 + e for `service.endpoints[e]`; `None` if the service has no such endpoint.
/// With duplicate endpoint names (a [`problems`] error) the first one wins.
pub fn endpoint_index(service: &Service, name: Option<&str>) -> Option<usize> {
    match name {
        None => Some(0),
        Some(name) => service
            .endpoints
            .iter()
            .position(|e| e.name == name)
            .map(|e| e + 1),
    }
}

/// Each service's index by name; with duplicate names (a validation error) the first wins.
pub(crate) fn service_map(s: &Scenario) -> BTreeMap<&str, usize> {
    let mut map = BTreeMap::new();
    for (i, svc) in s.services.iter().enumerate() {
        map.entry(svc.name.as_str()).or_insert(i);
    }
    map
}

/// Each endpoint's node number within `service` by name ([`endpoint_index`], first wins).
fn endpoint_map(service: &Service) -> BTreeMap<&str, usize> {
    let mut map = BTreeMap::new();
    for (e, ep) in service.endpoints.iter().enumerate() {
        map.entry(ep.name.as_str()).or_insert(e + 1);
    }
    map
}

/// Each cache's index by name (first wins).
pub(crate) fn cache_map(s: &Scenario) -> BTreeMap<&str, usize> {
    let mut map = BTreeMap::new();
    for (i, c) in s.caches.iter().enumerate() {
        map.entry(c.name.as_str()).or_insert(i);
    }
    map
}

/// Every call-graph problem of `s`, in file order within each kind of check.
pub fn problems(s: &Scenario) -> Vec<Problem> {
    let graph = Graph::build(s);
    let mut out = name_problems(s, &graph.index);
    out.extend(graph.problems.iter().cloned());
    out.extend(cycles(s, &graph));
    // A reference that does not resolve already explains what looks unreachable behind it:
    // report reachability only once every name resolves, so one typo gives one error.
    if graph.problems.is_empty() {
        out.extend(unreachable(s, &graph));
    }
    out
}

/// `[client][service]`: attempts each service receives per logical request of the client,
/// with no failures and no retries (the product of fan-outs along every call path, summed
/// over paths). A client whose target does not resolve gets a row of zeros. Meant for
/// scenarios that passed [`problems`]; on a cyclic graph it stops after 64 levels of calls.
pub fn expected_visits(s: &Scenario) -> Vec<Vec<f64>> {
    let graph = Graph::build(s);
    let order = graph.topological_order();
    graph
        .entries
        .iter()
        .map(|entry| graph.visits(s, entry, order.as_deref(), true))
        .collect()
}

/// [`expected_visits`] split by when the attempts happen, for a per-window amplification
/// that a backlog drained later does not inflate: `[client][service]` within each request
/// (publishes not followed; a client publishing to a broker has none), and
/// `[broker][group][service]` per delivery to the group (its consumer and what that calls,
/// publishes not followed). A request's total is its share of the first, plus the second
/// for each message it publishes, once delivered.
pub fn visits_by_timing(s: &Scenario) -> (Vec<Vec<f64>>, Vec<Vec<Vec<f64>>>) {
    let graph = Graph::build(s);
    let order = graph.topological_order();
    let order = order.as_deref();
    let request = (graph.entries.iter().zip(&graph.publishes))
        .map(|(entry, &publishes)| match publishes {
            true => vec![0.0; s.services.len()],
            false => graph.visits(s, entry, order, false),
        })
        .collect();
    let delivery = (graph.consumers.iter())
        .map(|groups| {
            let one = |&node: &usize| graph.visits(s, &[node], order, false);
            groups.iter().map(one).collect()
        })
        .collect();
    (request, delivery)
}

/// One call: the node it reaches, where its callee is named (a `CallSpec`'s `to`, a cache's
/// `backend`), and the visits to the callee per visit to the caller with nothing failing:
/// 1 for a call; for a cache's backend, the miss probability (1 - p with `HitRatio(p)`;
/// with `Zipf` keys it is not known before the run, and every lookup is counted as a miss).
#[derive(Clone, Debug)]
struct Edge {
    to: usize,
    at: FieldPath,
    weight: f64,
    /// A publish: its visits happen when the broker delivers, not within the request.
    via_broker: bool,
}

/// The resolved call graph. References that do not resolve become problems, not edges.
struct Graph<'a> {
    /// Service index by name.
    index: BTreeMap<&'a str, usize>,
    /// Cache index by name; cache c is node `cache_base + c`.
    caches: BTreeMap<&'a str, usize>,
    cache_base: usize,
    /// Database index by name; database d is node `database_base + d`.
    databases: BTreeMap<&'a str, usize>,
    database_base: usize,
    /// Token auth index by name; token auth t is node `token_auth_base + t`.
    token_auths: BTreeMap<&'a str, usize>,
    token_auth_base: usize,
    /// Per service, endpoint node number (within the service) by name.
    endpoints: Vec<BTreeMap<&'a str, usize>>,
    /// Node number of each service's default endpoint; its endpoint e is `first[i] + 1 + e`.
    first: Vec<usize>,
    /// The service each service node belongs to.
    service_of: Vec<usize>,
    /// Outgoing calls of each node, in file order.
    calls: Vec<Vec<Edge>>,
    /// The nodes each client's requests enter at: its target's endpoint (or cache) if it
    /// resolves, or for a client publishing to a broker, the node of each of the broker's
    /// groups.
    entries: Vec<Vec<usize>>,
    /// Per broker, the node each of its consumer groups delivers to: a publish (a message
    /// per group) is an edge to each.
    consumers: Vec<Vec<usize>>,
    /// Whether each client publishes to a broker (its entries are then the groups').
    publishes: Vec<bool>,
    /// Unknown services and endpoints, found while resolving.
    problems: Vec<Problem>,
}

impl<'a> Graph<'a> {
    fn build(s: &'a Scenario) -> Graph<'a> {
        let mut first = Vec::with_capacity(s.services.len());
        let mut service_of = Vec::new();
        for (i, svc) in s.services.iter().enumerate() {
            first.push(service_of.len());
            service_of.extend(std::iter::repeat_n(i, 1 + svc.endpoints.len()));
        }
        let cache_base = service_of.len();
        let database_base = cache_base + s.caches.len();
        let mut databases = BTreeMap::new();
        for (i, d) in s.databases.iter().enumerate() {
            databases.entry(d.name.as_str()).or_insert(i);
        }
        let token_auth_base = database_base + s.databases.len();
        let mut token_auths = BTreeMap::new();
        for (i, t) in s.token_auths.iter().enumerate() {
            token_auths.entry(t.name.as_str()).or_insert(i);
        }
        let mut graph = Graph {
            index: service_map(s),
            caches: cache_map(s),
            cache_base,
            databases,
            database_base,
            token_auths,
            token_auth_base,
            endpoints: s.services.iter().map(endpoint_map).collect(),
            first,
            calls: vec![Vec::new(); token_auth_base + s.token_auths.len()],
            service_of,
            entries: Vec::with_capacity(s.clients.len()),
            consumers: Vec::new(),
            publishes: Vec::with_capacity(s.clients.len()),
            problems: Vec::new(),
        };
        let names: Vec<&str> = s.services.iter().map(|x| x.name.as_str()).collect();
        let names = Names {
            services: &names,
            caches: &s.caches.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        };

        let brokers = FieldPath::root().field("brokers");
        for (b, broker) in s.brokers.iter().enumerate() {
            let mut nodes = Vec::new();
            for (k, g) in broker.groups.iter().enumerate() {
                let at = brokers.index(b).field("groups").index(k);
                let endpoint = g.endpoint.as_deref();
                nodes.extend(graph.resolve(
                    s,
                    &names,
                    (&g.service, endpoint),
                    &at,
                    ("service", "endpoint"),
                ));
            }
            graph.consumers.push(nodes);
        }
        let clients = FieldPath::root().field("clients");
        for (i, c) in s.clients.iter().enumerate() {
            let at = clients.index(i);
            if let Some(b) = s.broker_index(&c.target) {
                graph.entries.push(graph.consumers[b].clone());
                graph.publishes.push(true);
                continue;
            }
            let entry = graph.resolve(
                s,
                &names,
                (&c.target, c.endpoint.as_deref()),
                &at,
                ("target", "endpoint"),
            );
            graph.entries.push(entry.into_iter().collect());
            graph.publishes.push(false);
        }

        let services = FieldPath::root().field("services");
        for (i, svc) in s.services.iter().enumerate() {
            let at = services.index(i);
            let endpoints = svc.step_lists(&at);
            for (e, (steps, steps_at)) in endpoints.enumerate() {
                let from = graph.first[i] + e;
                for (call, call_at) in calls_of(steps, &steps_at) {
                    let to = graph.resolve(
                        s,
                        &names,
                        (&call.to, call.endpoint.as_deref()),
                        &call_at,
                        ("to", "endpoint"),
                    );
                    if let Some(to) = to {
                        graph.calls[from].push(Edge {
                            to,
                            at: call_at.field("to"),
                            weight: 1.0,
                            via_broker: false,
                        });
                    }
                }
                for (j, step) in steps.iter().enumerate() {
                    let Step::Publish(p) = step else { continue };
                    for &to in s
                        .broker_index(&p.to)
                        .map_or(&[][..], |b| &graph.consumers[b])
                    {
                        let at = steps_at.index(j).field("to");
                        graph.calls[from].push(Edge {
                            to,
                            at,
                            weight: 1.0,
                            via_broker: true,
                        });
                    }
                }
            }
        }
        let caches = FieldPath::root().field("caches");
        for (i, cache) in s.caches.iter().enumerate() {
            let at = caches.index(i);
            let to = graph.resolve(
                s,
                &names,
                (&cache.backend, cache.backend_endpoint.as_deref()),
                &at,
                ("backend", "backend_endpoint"),
            );
            if let Some(to) = to {
                let weight = match cache.keys {
                    CacheKeys::HitRatio(p) => (1.0 - p).clamp(0.0, 1.0),
                    CacheKeys::Zipf { .. } => 1.0,
                };
                graph.calls[cache_base + i].push(Edge {
                    to,
                    at: at.field("backend"),
                    weight,
                    via_broker: false,
                });
            }
        }
        // A request visits the upstream once, and the auth service once more with
        // introspection; refreshes are not per request (one per token lifetime), so their
        // edge weighs nothing in the expected visits.
        let token_auths = FieldPath::root().field("token_auths");
        for (i, t) in s.token_auths.iter().enumerate() {
            let at = token_auths.index(i);
            let mut targets = vec![
                (
                    &t.upstream,
                    t.upstream_endpoint.as_deref(),
                    "upstream",
                    "upstream_endpoint",
                    1.0,
                ),
                (
                    &t.auth,
                    t.refresh_endpoint.as_deref(),
                    "auth",
                    "refresh_endpoint",
                    0.0,
                ),
            ];
            if let Validation::Introspect { endpoint } = &t.validation {
                targets.push((&t.auth, endpoint.as_deref(), "auth", "validation", 1.0));
            }
            for (name, endpoint, field, endpoint_field, weight) in targets {
                let to = graph.resolve(s, &names, (name, endpoint), &at, (field, endpoint_field));
                if let Some(to) = to {
                    graph.calls[token_auth_base + i].push(Edge {
                        to,
                        at: at.field(field),
                        weight,
                        via_broker: false,
                    });
                }
            }
        }
        graph
    }

    /// The node that `service` and `endpoint` name (a service's endpoint, or a cache),
    /// written in the value at `at` (a client, a `CallSpec` or a cache) whose fields
    /// `fields` name the service and the endpoint; else a problem at one of them.
    fn resolve(
        &mut self,
        s: &Scenario,
        names: &Names,
        (service, endpoint): (&str, Option<&str>),
        at: &FieldPath,
        fields: (&'static str, &'static str),
    ) -> Option<usize> {
        let (field, endpoint_field) = fields;
        let Some(&i) = self.index.get(service) else {
            if let Some(&c) = self.caches.get(service) {
                if endpoint.is_some() {
                    let msg = format!("`{service}` is a cache: it has no endpoints");
                    self.problems
                        .push(Problem::new(at.field(endpoint_field), msg));
                    return None;
                }
                return Some(self.cache_base + c);
            }
            if let Some(&d) = self.databases.get(service) {
                if crate::scenario::Database::endpoint_of(endpoint).is_none() {
                    let msg = format!(
                        "`{service}` is a database: its endpoints are `read` (the default) and `write`, got `{}`",
                        endpoint.unwrap_or_default()
                    );
                    self.problems
                        .push(Problem::new(at.field(endpoint_field), msg));
                    return None;
                }
                return Some(self.database_base + d);
            }
            if let Some(&t) = self.token_auths.get(service) {
                if endpoint.is_some() {
                    let msg = format!("`{service}` is a token auth: it has no endpoints");
                    self.problems
                        .push(Problem::new(at.field(endpoint_field), msg));
                    return None;
                }
                return Some(self.token_auth_base + t);
            }
            let verb = match field {
                "target" => "targets",
                "backend" => "fetches from",
                "upstream" => "forwards to",
                "auth" => "gets tokens from",
                "service" => "delivers to",
                _ => "calls",
            };
            let mut msg = unknown_service(verb, service, names.services);
            if !names.caches.is_empty() {
                if let Some(close) = nearest(service, names.caches) {
                    msg.push_str(&format!(" (or the cache `{close}`?)"));
                }
                msg.push_str(&format!("; caches are: {}", listing(names.caches)));
            }
            self.problems.push(Problem::new(at.field(field), msg));
            return None;
        };
        let svc = &s.services[i];
        let e = match endpoint {
            None => Some(0),
            Some(name) => self.endpoints[i].get(name).copied(),
        };
        match e {
            Some(e) => Some(self.first[i] + e),
            None => {
                let wanted = endpoint.unwrap_or_default();
                let msg = unknown_endpoint(svc, wanted);
                self.problems
                    .push(Problem::new(at.field(endpoint_field), msg));
                None
            }
        }
    }

    /// Attempts per service per request entering at the nodes `entry`.
    fn visits(
        &self,
        s: &Scenario,
        entry: &[usize],
        order: Option<&[usize]>,
        all: bool,
    ) -> Vec<f64> {
        let mut visits = vec![0.0; s.services.len()];
        for &entry in entry {
            let count = match order {
                Some(order) => self.counts_acyclic(entry, order, all),
                None => self.counts_bounded(entry, all),
            };
            for (node, k) in count.iter().enumerate().take(self.cache_base) {
                visits[self.service_of[node]] += k;
            }
        }
        visits
    }

    /// How often each node is entered per request entering at `entry`, propagated in
    /// topological order: a node's count is final before its calls pass it on.
    /// `through_brokers`: follow publishes too (the work a request causes, whenever it
    /// happens); otherwise only what happens within the request.
    fn counts_acyclic(&self, entry: usize, order: &[usize], through_brokers: bool) -> Vec<f64> {
        let mut count = vec![0.0; self.calls.len()];
        count[entry] = 1.0;
        for &node in order {
            let k = count[node];
            if k != 0.0 {
                for edge in &self.calls[node] {
                    if edge.via_broker && !through_brokers {
                        continue;
                    }
                    count[edge.to] += k * edge.weight;
                }
            }
        }
        count
    }

    /// Like [`Graph::counts_acyclic`] for a graph with a cycle: calls followed to depth
    /// [`MAX_DEPTH`] only.
    fn counts_bounded(&self, entry: usize, through_brokers: bool) -> Vec<f64> {
        let mut total = vec![0.0; self.calls.len()];
        let mut layer = vec![0.0; self.calls.len()];
        layer[entry] = 1.0;
        for _ in 0..=MAX_DEPTH {
            let mut next = vec![0.0; self.calls.len()];
            let mut any = false;
            for (node, &k) in layer.iter().enumerate() {
                if k != 0.0 {
                    total[node] += k;
                    for edge in &self.calls[node] {
                        if edge.via_broker && !through_brokers {
                            continue;
                        }
                        next[edge.to] += k * edge.weight;
                        any = true;
                    }
                }
            }
            if !any {
                break;
            }
            layer = next;
        }
        total
    }

    /// All nodes with every caller before its callees, or `None` if there is a cycle.
    fn topological_order(&self) -> Option<Vec<usize>> {
        let n = self.calls.len();
        let mut callers = vec![0usize; n];
        for edge in self.calls.iter().flatten() {
            callers[edge.to] += 1;
        }
        // Kahn's algorithm; a Vec as the work list keeps the order deterministic.
        let mut ready: Vec<usize> = (0..n).rev().filter(|&v| callers[v] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(node) = ready.pop() {
            order.push(node);
            for edge in &self.calls[node] {
                callers[edge.to] -= 1;
                if callers[edge.to] == 0 {
                    ready.push(edge.to);
                }
            }
        }
        (order.len() == n).then_some(order)
    }

    /// How messages name a node: `orders` for the default endpoint, `orders:list` otherwise.
    fn label(&self, s: &Scenario, node: usize) -> String {
        if let Some(t) = node.checked_sub(self.token_auth_base) {
            return s.token_auths[t].name.clone();
        }
        if let Some(d) = node.checked_sub(self.database_base) {
            return s.databases[d].name.clone();
        }
        if let Some(c) = node.checked_sub(self.cache_base) {
            return s.caches[c].name.clone();
        }
        let i = self.service_of[node];
        let svc = &s.services[i];
        match (node - self.first[i]).checked_sub(1) {
            None => svc.name.clone(),
            Some(e) => format!("{}:{}", svc.name, svc.endpoints[e].name),
        }
    }
}

/// Whether `caller` (a client or a service) calls service `callee` directly.
pub fn calls(s: &Scenario, caller: &str, callee: &str) -> bool {
    if let Some(c) = s.clients.iter().find(|c| c.name == caller) {
        return c.target == callee;
    }
    let root = FieldPath::root();
    s.services.iter().filter(|x| x.name == caller).any(|svc| {
        std::iter::once(&svc.calls)
            .chain(svc.endpoints.iter().map(|e| &e.calls))
            .any(|steps| calls_of(steps, &root).iter().any(|(c, _)| c.to == callee))
    })
}

/// The calls of `steps` (at `at`) in file order, each with the path of its `CallSpec`:
/// `at[j]` for a `Call` or `Async` step, `at[j][k]` for the k-th call of a `Parallel`.
fn calls_of<'a>(steps: &'a [Step], at: &FieldPath) -> Vec<(&'a CallSpec, FieldPath)> {
    let mut out = Vec::new();
    for (j, step) in steps.iter().enumerate() {
        let step_at = at.index(j);
        match step {
            Step::Call(call) | Step::Async(call) => out.push((call, step_at)),
            Step::Parallel(calls) => {
                out.extend(calls.iter().enumerate().map(|(k, c)| (c, step_at.index(k))));
            }
            // Not a call of a service: checked with the brokers (`validate`).
            Step::Publish(_) => {}
        }
    }
    out
}

/// "`verb` service `name`, which does not exist", with a did-you-mean and the known names.
pub(crate) fn unknown_service(verb: &str, name: &str, known: &[&str]) -> String {
    let mut msg = format!("{verb} service `{name}`, which does not exist");
    if let Some(close) = nearest(name, known) {
        msg.push_str(&format!(" (did you mean `{close}`?)"));
    }
    if known.is_empty() {
        msg.push_str("; the scenario defines no services");
    } else {
        msg.push_str(&format!("; services are: {}", listing(known)));
    }
    msg
}

/// Names listed in a message: all of a few, the first [`LISTED`] of many.
pub(crate) fn listing(names: &[&str]) -> String {
    if names.len() <= LISTED {
        return names.join(", ");
    }
    format!(
        "{}, ... ({} more)",
        names[..LISTED].join(", "),
        names.len() - LISTED
    )
}

/// Names a message lists at most: a list of 100,000 services helps nobody.
const LISTED: usize = 20;

fn unknown_endpoint(svc: &Service, name: &str) -> String {
    let mut msg = format!("service `{}` has no endpoint `{name}`", svc.name);
    let known: Vec<&str> = svc.endpoints.iter().map(|e| e.name.as_str()).collect();
    if let Some(close) = nearest(name, &known) {
        msg.push_str(&format!(" (did you mean `{close}`?)"));
    }
    if known.is_empty() {
        msg.push_str("; it has only the default endpoint, used when `endpoint` is left out");
    } else {
        let listed: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        msg.push_str(&format!(
            "; its endpoints are: the default endpoint (used when `endpoint` is left out), {}",
            listed.join(", ")
        ));
    }
    msg
}

/// Duplicate endpoint names within a service, and names shared by a client and a service.
fn name_problems(s: &Scenario, index: &BTreeMap<&str, usize>) -> Vec<Problem> {
    let mut out = Vec::new();
    let clients = FieldPath::root().field("clients");
    // Links and faults name a client or a service by the same string, so a name used by
    // both would be ambiguous there.
    for (i, c) in s.clients.iter().enumerate() {
        if let Some(&j) = index.get(c.name.as_str()) {
            out.push(Problem::new(
                clients.index(i).field("name"),
                format!(
                    "`{}` is also the name of service #{j}: links and faults refer to clients \
                     and services by name, so a name must be unique across both",
                    c.name
                ),
            ));
        }
    }
    // Calls, links and faults name a cache the way they name a service.
    for (i, cache) in s.caches.iter().enumerate() {
        let other = if let Some(&j) = index.get(cache.name.as_str()) {
            Some(format!("service #{j}"))
        } else {
            s.clients
                .iter()
                .position(|c| c.name == cache.name)
                .map(|j| format!("client #{j}"))
        };
        if let Some(other) = other {
            out.push(Problem::new(
                FieldPath::root().field("caches").index(i).field("name"),
                format!(
                    "`{}` is also the name of {other}: calls, links and faults refer to \
                     caches, services and clients by name, so a name must be unique across them",
                    cache.name
                ),
            ));
        }
    }
    let services = FieldPath::root().field("services");
    for (i, svc) in s.services.iter().enumerate() {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (e, ep) in svc.endpoints.iter().enumerate() {
            if let Some(&first) = seen.get(ep.name.as_str()) {
                out.push(Problem::new(
                    services.index(i).field("endpoints").index(e).field("name"),
                    format!(
                        "endpoint name `{}` is already used by endpoint #{first} of service `{}`",
                        ep.name, svc.name
                    ),
                ));
            } else {
                seen.insert(&ep.name, e);
            }
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    /// On the current DFS path: reaching it again closes a cycle.
    Open,
    Done,
}

/// One problem per back edge of a depth-first search, at the call that closes the cycle.
/// Every cycle contains a back edge, so a cyclic graph is always reported; each edge is
/// followed once, so no cycle is reported twice (cycles sharing their closing call are
/// reported as one). The search starts from the clients' entry points, so cycles read from
/// where requests come in, then from every node in file order.
fn cycles(s: &Scenario, graph: &Graph) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut mark = vec![Mark::New; graph.calls.len()];
    let roots = graph
        .entries
        .iter()
        .flatten()
        .copied()
        .chain(0..graph.calls.len());
    for root in roots {
        if mark[root] != Mark::New {
            continue;
        }
        mark[root] = Mark::Open;
        // (node, index of its next call to follow); iterative so that a long call chain
        // cannot overflow the thread's stack.
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(top) = path.last_mut() {
            let node = top.0;
            let Some(edge) = graph.calls[node].get(top.1) else {
                mark[node] = Mark::Done;
                path.pop();
                continue;
            };
            top.1 += 1;
            match mark[edge.to] {
                Mark::New => {
                    mark[edge.to] = Mark::Open;
                    path.push((edge.to, 0));
                }
                Mark::Open => {
                    let start = path.iter().position(|&(n, _)| n == edge.to).unwrap_or(0);
                    let spelled: Vec<String> = path[start..]
                        .iter()
                        .map(|&(n, _)| graph.label(s, n))
                        .chain(std::iter::once(graph.label(s, edge.to)))
                        .collect();
                    out.push(Problem::new(
                        edge.at.clone(),
                        format!(
                            "calling `{}` here closes a cycle: {}; a request would recurse forever",
                            graph.label(s, edge.to),
                            spelled.join(" -> ")
                        ),
                    ));
                }
                Mark::Done => {}
            }
        }
    }
    out
}

/// Services that no client's requests reach by following calls from the client's entry.
fn unreachable(s: &Scenario, graph: &Graph) -> Vec<Problem> {
    // With no clients at all every service is unreachable; validation says "no clients"
    // once instead of blaming each service.
    if s.clients.is_empty() {
        return Vec::new();
    }
    let mut seen = vec![false; graph.calls.len()];
    let mut work: Vec<usize> = graph.entries.iter().flatten().copied().collect();
    work.extend(graph.consumers.iter().flatten());
    let mut reached = BTreeSet::new();
    while let Some(node) = work.pop() {
        if std::mem::replace(&mut seen[node], true) {
            continue;
        }
        if let Some(&i) = graph.service_of.get(node) {
            reached.insert(i);
        }
        work.extend(graph.calls[node].iter().map(|e| e.to));
    }
    let caches = FieldPath::root().field("caches");
    let unreached_caches: Vec<Problem> = s
        .caches
        .iter()
        .enumerate()
        .filter(|&(i, c)| {
            !seen[graph.cache_base + i] && graph.caches.get(c.name.as_str()) == Some(&i)
        })
        .map(|(i, c)| {
            Problem::new(
                caches.index(i).field("name"),
                format!(
                    "no client's requests ever reach cache `{}`: add a call to it, or remove it",
                    c.name
                ),
            )
        })
        .collect();
    let services = FieldPath::root().field("services");
    let mut out: Vec<Problem> = s.services
        .iter()
        .enumerate()
        // A second service with an existing name is a duplicate (reported by validation);
        // names resolve to the first, so the duplicate is unreachable by construction.
        .filter(|&(i, svc)| !reached.contains(&i) && graph.index.get(svc.name.as_str()) == Some(&i))
        .map(|(i, svc)| {
            Problem::new(
                services.index(i).field("name"),
                format!(
                    "no client's requests ever reach `{}`: add a client or a call to it, or remove it",
                    svc.name
                ),
            )
        })
        .collect();
    out.extend(unreached_caches);
    let databases = FieldPath::root().field("databases");
    for (i, d) in s.databases.iter().enumerate() {
        if !seen[graph.database_base + i] && graph.databases.get(d.name.as_str()) == Some(&i) {
            out.push(Problem::new(
                databases.index(i).field("name"),
                format!(
                    "no client's requests ever reach database `{}`: add a call to it, or remove it",
                    d.name
                ),
            ));
        }
    }
    let token_auths = FieldPath::root().field("token_auths");
    out.extend(
        (s.token_auths.iter().enumerate())
            .filter(|&(i, t)| {
                !seen[graph.token_auth_base + i]
                    && graph.token_auths.get(t.name.as_str()) == Some(&i)
            })
            .map(|(i, t)| {
                Problem::new(
                    token_auths.index(i).field("name"),
                    format!(
                        "no client's requests ever reach token auth `{}`: add a call to it, or \
                         remove it",
                        t.name
                    ),
                )
            }),
    );
    out
}

/// The names a call may resolve to, for messages.
struct Names<'a> {
    services: &'a [&'a str],
    caches: &'a [&'a str],
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locate::{Position, locate};

    /// A whole scenario around `clients` and `services` (RON list contents).
    fn text(clients: &str, services: &str) -> String {
        // The attribute keeps `Call(to: ..)` readable whatever `parse` enables by default.
        format!(
            r#"#![enable(unwrap_variant_newtypes)]
Scenario(
    name: "t",
    seed: 1,
    horizon: "10s",
    clients: [
{clients}
    ],
    services: [
{services}
    ],
)
"#
        )
    }

    fn client(name: &str, target: &str) -> String {
        format!(
            r#"        Client(name: "{name}", target: "{target}", load: Open(rate_rps: 10.0)),"#
        )
    }

    /// A service with the given `calls: [...]` contents and extra fields.
    fn service(name: &str, calls: &str, extra: &str) -> String {
        format!(
            r#"        Service(name: "{name}", workers: 1, service_time: Constant("1ms"), calls: [{calls}]{extra}),"#
        )
    }

    fn parse(text: &str) -> Scenario {
        match crate::scenario::parse("t.ron", text) {
            Ok(s) => s,
            Err(e) => panic!("test scenario does not parse: {e:?}\n{text}"),
        }
    }

    /// (path, message) of each problem.
    fn found(text: &str) -> Vec<(String, String)> {
        problems(&parse(text))
            .into_iter()
            .map(|p| (p.path.to_string(), p.message))
            .collect()
    }

    fn paths(text: &str) -> Vec<String> {
        found(text).into_iter().map(|(p, _)| p).collect()
    }

    /// The source from where `path` is located to the end of that line.
    fn text_at<'a>(src: &'a str, path: &FieldPath) -> &'a str {
        let Position { line, col } = locate(src, path);
        let line = src.split('\n').nth(line - 1).expect("line exists");
        line.char_indices()
            .nth(col - 1)
            .map_or("", |(at, _)| &line[at..])
    }

    /// The order flow: gateway -> orders -> Parallel{inventory, payment}, each -> db.
    fn order_flow(extra_services: &str) -> String {
        let services = [
            service("gateway", r#"Call(to: "orders")"#, ""),
            service(
                "orders",
                r#"Parallel([(to: "inventory"), (to: "payment")])"#,
                "",
            ),
            service("inventory", r#"Call(to: "db")"#, ""),
            service("payment", r#"Call(to: "db", policy: (timeout: "1s"))"#, ""),
            service("db", "", ""),
            extra_services.to_string(),
        ];
        text(&client("web", "gateway"), &services.join("\n"))
    }

    /// A publish's visits happen at delivery: the per-window split leaves them out of the
    /// request and counts them per delivery to the group, and the total is the same.
    #[test]
    fn publishes_are_visited_per_delivery_not_per_request() {
        let services = [
            service("api", r#"Call(to: "db"), Publish(to: "jobs")"#, ""),
            service("worker", r#"Call(to: "db")"#, ""),
            service("db", "", ""),
        ];
        let clients = [client("web", "api"), client("producer", "jobs")].join("\n");
        let src = text(&clients, &services.join("\n")).replace(
            "    ],\n)",
            "    ],\n    brokers: [Broker(name: \"jobs\", visibility_timeout: \"30s\", max_deliveries: 3, groups: [Group(service: \"worker\", consumers: 1, prefetch: 1)])],\n)",
        );
        let s = parse(&src);
        assert_eq!(found(&src), vec![]);
        // Order: api, worker, db.
        assert_eq!(
            expected_visits(&s),
            vec![vec![1.0, 1.0, 2.0], vec![0.0, 1.0, 1.0]]
        );
        let (request, delivery) = visits_by_timing(&s);
        assert_eq!(request, vec![vec![1.0, 0.0, 1.0], vec![0.0, 0.0, 0.0]]);
        assert_eq!(delivery, vec![vec![vec![0.0, 1.0, 1.0]]]);
    }

    #[test]
    fn endpoint_numbering() {
        let s = parse(&text(
            &client("c", "a"),
            &service(
                "a",
                "",
                r#", endpoints: [(name: "list", service_time: Constant("1ms")), (name: "put", service_time: Constant("1ms"))]"#,
            ),
        ));
        let a = &s.services[0];
        assert_eq!(endpoint_index(a, None), Some(0));
        assert_eq!(endpoint_index(a, Some("list")), Some(1));
        assert_eq!(endpoint_index(a, Some("put")), Some(2));
        assert_eq!(endpoint_index(a, Some("get")), None);
    }

    #[test]
    fn order_flow_is_valid_and_db_is_visited_twice() {
        let src = order_flow("");
        assert_eq!(found(&src), vec![]);
        assert_eq!(
            expected_visits(&parse(&src)),
            vec![vec![1.0, 1.0, 1.0, 1.0, 2.0]]
        );
    }

    #[test]
    fn async_calls_and_nested_fan_out_multiply() {
        let services = [
            service("a", r#"Call(to: "b"), Async(to: "c")"#, ""),
            service(
                "b",
                r#"Parallel([(to: "c"), (to: "c")]), Call(to: "d")"#,
                "",
            ),
            service("c", r#"Call(to: "d")"#, ""),
            service("d", "", ""),
        ];
        let src = text(
            &[client("x", "a"), client("y", "c")].join("\n"),
            &services.join("\n"),
        );
        assert_eq!(found(&src), vec![]);
        assert_eq!(
            expected_visits(&parse(&src)),
            vec![vec![1.0, 1.0, 3.0, 4.0], vec![0.0, 0.0, 1.0, 1.0]]
        );
    }

    #[test]
    fn named_endpoints_route_their_own_calls() {
        let services = [
            service(
                "api",
                r#"Call(to: "store")"#,
                r#", endpoints: [(name: "search", service_time: Constant("1ms"), calls: [Call(to: "index"), Call(to: "store", endpoint: "bulk")])]"#,
            ),
            service(
                "store",
                "",
                r#", endpoints: [(name: "bulk", service_time: Constant("1ms"), calls: [Parallel([(to: "disk"), (to: "disk")])])]"#,
            ),
            service("index", "", ""),
            service("disk", "", ""),
        ];
        let clients = [
            client("reads", "api"),
            r#"        Client(name: "finds", target: "api", endpoint: "search", load: Open(rate_rps: 10.0)),"#.to_string(),
        ];
        let src = text(&clients.join("\n"), &services.join("\n"));
        assert_eq!(found(&src), vec![]);
        assert_eq!(
            expected_visits(&parse(&src)),
            vec![vec![1.0, 1.0, 0.0, 0.0], vec![1.0, 1.0, 1.0, 2.0]]
        );
    }

    #[test]
    fn unknown_services_are_reported_where_they_are_named() {
        let services = [
            service("gateway", r#"Call(to: "orders")"#, ""),
            service(
                "orders",
                r#"Parallel([(to: "inventory"), (to: "paymnet")]), Async(to: "audit")"#,
                r#", endpoints: [(name: "list", service_time: Constant("1ms"), calls: [Call(to: "dbb")])]"#,
            ),
            service("inventory", "", ""),
            service("payment", "", ""),
            service("db", "", ""),
        ];
        let src = text(&client("web", "gatewy"), &services.join("\n"));
        let got = found(&src);
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "clients[0].target",
                "services[1].calls[0][1].to",
                "services[1].calls[1].to",
                "services[1].endpoints[0].calls[0].to",
                // Nothing about reachability: the unknown names explain it.
            ]
        );
        assert_eq!(
            got[1].1,
            "calls service `paymnet`, which does not exist (did you mean `payment`?); \
             services are: gateway, orders, inventory, payment, db"
        );
        assert!(
            got[0].1.starts_with("targets service `gatewy`"),
            "{}",
            got[0].1
        );
        assert!(got[3].1.contains("(did you mean `db`?)"), "{}", got[3].1);
        assert!(!got[2].1.contains("did you mean"), "{}", got[2].1);

        let s = parse(&src);
        let ps = problems(&s);
        let at = |i: usize| &ps[i].path;
        assert!(text_at(&src, at(0)).starts_with(r#""gatewy""#));
        assert!(text_at(&src, at(1)).starts_with(r#""paymnet")"#));
        assert!(text_at(&src, at(3)).starts_with(r#""dbb")"#));
        // Unknown targets still get a row, of zeros.
        assert_eq!(expected_visits(&s), vec![vec![0.0; 5]]);
    }

    #[test]
    fn unknown_endpoints_list_what_the_service_has() {
        let services = [
            service(
                "api",
                r#"Call(to: "store", endpoint: "bulk"), Parallel([(to: "store"), (to: "db", endpoint: "x")])"#,
                "",
            ),
            service(
                "store",
                "",
                r#", endpoints: [(name: "get", service_time: Constant("1ms")), (name: "put", service_time: Constant("1ms"))]"#,
            ),
            service("db", "", ""),
        ];
        let clients = r#"        Client(name: "c", target: "store", endpoint: "gett", load: Open(rate_rps: 10.0)),"#;
        let src = text(clients, &services.join("\n"));
        let got = found(&src);
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "clients[0].endpoint",
                "services[0].calls[0].endpoint",
                "services[0].calls[1][1].endpoint",
                // Nothing about reachability: the unknown names explain it.
            ]
        );
        assert_eq!(
            got[0].1,
            "service `store` has no endpoint `gett` (did you mean `get`?); its endpoints are: \
             the default endpoint (used when `endpoint` is left out), `get`, `put`"
        );
        assert_eq!(
            got[2].1,
            "service `db` has no endpoint `x`; it has only the default endpoint, \
             used when `endpoint` is left out"
        );
        let s = parse(&src);
        let ps = problems(&s);
        assert!(text_at(&src, &ps[0].path).starts_with(r#""gett""#));
        assert!(text_at(&src, &ps[2].path).starts_with(r#""x")"#));
    }

    #[test]
    fn duplicate_endpoints_and_shared_names() {
        let services = [
            service(
                "api",
                "",
                r#", endpoints: [(name: "get", service_time: Constant("1ms")), (name: "put", service_time: Constant("1ms")), (name: "get", service_time: Constant("2ms"))]"#,
            ),
            service("web", "", ""),
        ];
        let clients = [client("web", "api"), client("mobile", "web")];
        let src = text(&clients.join("\n"), &services.join("\n"));
        let got = found(&src);
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["clients[0].name", "services[0].endpoints[2].name"]);
        assert!(got[0].1.starts_with("`web` is also the name of service #1"));
        assert_eq!(
            got[1].1,
            "endpoint name `get` is already used by endpoint #0 of service `api`"
        );
        let s = parse(&src);
        let ps = problems(&s);
        assert!(text_at(&src, &ps[0].path).starts_with(r#""web", target"#));
        assert!(text_at(&src, &ps[1].path).starts_with(r#""get", service_time: Constant("2ms")"#));
    }

    #[test]
    fn a_cycle_is_reported_once_at_the_call_that_closes_it() {
        let services = [
            service("gateway", r#"Call(to: "orders")"#, ""),
            service("orders", r#"Call(to: "billing"), Call(to: "db")"#, ""),
            service("billing", r#"Parallel([(to: "db"), (to: "gateway")])"#, ""),
            service("db", "", ""),
        ];
        let src = text(&client("web", "gateway"), &services.join("\n"));
        let got = found(&src);
        assert_eq!(
            got,
            vec![(
                "services[2].calls[0][1].to".to_string(),
                "calling `gateway` here closes a cycle: gateway -> orders -> billing -> gateway; \
                 a request would recurse forever"
                    .to_string()
            )]
        );
        let s = parse(&src);
        assert!(text_at(&src, &problems(&s)[0].path).starts_with(r#""gateway")])"#));
        // Bounded, not endless: 65 levels of gateway -> orders -> billing.
        let visits = expected_visits(&s);
        assert!(
            visits[0].iter().all(|v| v.is_finite() && *v >= 1.0),
            "{visits:?}"
        );
    }

    #[test]
    fn self_calls_and_cycles_through_endpoints() {
        let services = [
            service("a", r#"Call(to: "a")"#, ""),
            service(
                "b",
                r#"Call(to: "b", endpoint: "x")"#,
                r#", endpoints: [(name: "x", service_time: Constant("1ms"), calls: [Async(to: "c")])]"#,
            ),
            service("c", r#"Call(to: "b")"#, ""),
        ];
        let src = text(
            &[client("p", "a"), client("q", "b")].join("\n"),
            &services.join("\n"),
        );
        let got = found(&src);
        assert_eq!(
            got,
            vec![
                (
                    "services[0].calls[0].to".to_string(),
                    "calling `a` here closes a cycle: a -> a; a request would recurse forever"
                        .to_string()
                ),
                (
                    "services[2].calls[0].to".to_string(),
                    "calling `b` here closes a cycle: b -> b:x -> c -> b; \
                     a request would recurse forever"
                        .to_string()
                ),
            ]
        );
        // A service calling another endpoint of its own is no cycle: b and b:x are
        // different nodes.
        let acyclic = text(
            &client("q", "b"),
            &service(
                "b",
                r#"Call(to: "b", endpoint: "x")"#,
                r#", endpoints: [(name: "x", service_time: Constant("1ms"))]"#,
            ),
        );
        assert_eq!(found(&acyclic), vec![]);
        assert_eq!(expected_visits(&parse(&acyclic)), vec![vec![2.0]]);
    }

    #[test]
    fn unreachable_services_are_reported_by_name() {
        let src = order_flow(&service("audit", r#"Call(to: "db")"#, ""));
        let got = found(&src);
        assert_eq!(
            got,
            vec![(
                "services[5].name".to_string(),
                "no client's requests ever reach `audit`: add a client or a call to it, or remove it"
                    .to_string()
            )]
        );
        assert!(text_at(&src, &problems(&parse(&src))[0].path).starts_with(r#""audit""#));
        // Reaching a service through any one of its endpoints is enough.
        let services = [
            service(
                "a",
                "",
                r#", endpoints: [(name: "e", service_time: Constant("1ms"), calls: [Call(to: "b")])]"#,
            ),
            service("b", "", ""),
        ];
        let clients =
            r#"        Client(name: "c", target: "a", endpoint: "e", load: Open(rate_rps: 1.0)),"#;
        assert_eq!(
            paths(&text(clients, &services.join("\n"))),
            Vec::<String>::new()
        );
    }

    #[test]
    fn degenerate_scenarios_do_not_panic() {
        let none = text("", "");
        assert_eq!(found(&none), vec![]);
        assert_eq!(expected_visits(&parse(&none)), Vec::<Vec<f64>>::new());
        // No clients: "no clients" is validation's to say, not one problem per service.
        let no_clients = text("", &service("a", r#"Call(to: "a")"#, ""));
        assert_eq!(paths(&no_clients), ["services[0].calls[0].to"]);
        let no_services = text(&client("c", "a"), "");
        let got = found(&no_services);
        assert_eq!(got.len(), 1);
        assert!(
            got[0].1.ends_with("the scenario defines no services"),
            "{}",
            got[0].1
        );
        assert_eq!(
            expected_visits(&parse(&no_services)),
            vec![Vec::<f64>::new()]
        );
        // A duplicate service is validation's problem; it is not also "unreachable".
        let dup = text(
            &client("c", "a"),
            &[service("a", "", ""), service("a", "", "")].join("\n"),
        );
        assert_eq!(found(&dup), vec![]);
    }

    #[test]
    fn long_chains_and_wide_diamonds_stay_cheap() {
        // 2^40 call paths, 2000 services deep: counting must not enumerate paths nor
        // recurse on the thread's stack.
        let mut services = Vec::new();
        for i in 0..40 {
            let next = format!("d{}", i + 1);
            let calls = format!(r#"Parallel([(to: "{next}"), (to: "{next}")])"#);
            services.push(service(&format!("d{i}"), &calls, ""));
        }
        services.push(service("d40", r#"Call(to: "l0")"#, ""));
        for i in 0..2000 {
            let calls = if i < 1999 {
                format!(r#"Call(to: "l{}")"#, i + 1)
            } else {
                String::new()
            };
            services.push(service(&format!("l{i}"), &calls, ""));
        }
        let src = text(&client("c", "d0"), &services.join("\n"));
        assert_eq!(found(&src), vec![]);
        let visits = expected_visits(&parse(&src));
        assert_eq!(visits[0][40], 2f64.powi(40));
        assert_eq!(visits[0][41 + 1999], 2f64.powi(40));
    }
}
