//! Semantic checks a scenario must pass before it runs: what serde types cannot express.
//!
//! Every problem is collected (not just the first), with the field path and its
//! line:column in the source, so a user fixes a file in one round.

use std::collections::{BTreeMap, BTreeSet};

use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};

use crate::diagnostic::{Diagnostic, Diagnostics, nearest};
use crate::locate::Locator;
use crate::scenario::{Backoff, CallPolicy, FaultKind, Load, QueueSpec, Scenario, Step};

mod broker;
mod config;
mod database;
mod remediation;
mod token_auth;

/// A scenario that passed validation, with the warnings found on the way.
#[derive(Clone, Debug)]
pub struct Validated {
    pub scenario: Scenario,
    pub warnings: Vec<Diagnostic>,
}

/// Parses and validates `text` (from `file`, used in messages).
pub fn load(file: &str, text: &str) -> Result<Validated, Diagnostics> {
    let scenario = crate::scenario::parse(file, text)?;
    validate(file, text, scenario)
}

/// Checks a parsed scenario. `text` is its source, used to point at fields.
pub fn validate(file: &str, text: &str, scenario: Scenario) -> Result<Validated, Diagnostics> {
    let (errors, warnings) = problems(&scenario);
    if errors.is_empty() && warnings.is_empty() {
        // Nothing to point at: skip tokenizing the source (a short run's fixed cost).
        return Ok(Validated {
            scenario,
            warnings: Vec::new(),
        });
    }
    let locator = Locator::new(text);
    let at = |p: Problem, error: bool| {
        let pos = locator.locate(&p.path);
        let field = p.path.to_string();
        if error {
            Diagnostic::error(pos, field, p.message)
        } else {
            Diagnostic::warning(pos, field, p.message)
        }
    };
    let warnings: Vec<Diagnostic> = warnings.into_iter().map(|p| at(p, false)).collect();
    if errors.is_empty() {
        return Ok(Validated { scenario, warnings });
    }
    let mut all: Vec<Diagnostic> = errors.into_iter().map(|p| at(p, true)).collect();
    all.extend(warnings);
    Err(Diagnostics::new(file, all))
}

/// (errors, warnings) of a scenario, by field path.
pub fn problems(s: &Scenario) -> (Vec<Problem>, Vec<Problem>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let root = FieldPath::root();
    let mut err = |path: FieldPath, msg: String| errors.push(Problem::new(path, msg));

    if s.horizon.is_zero() {
        err(
            root.field("horizon"),
            "must be longer than 0s: nothing would be simulated".into(),
        );
    }
    // Arrivals are generated up to half of virtual time (so a timeout set at the last one
    // still fits); a longer horizon would silently lose its load.
    if s.horizon.as_nanos() > u64::MAX / 2 {
        err(
            root.field("horizon"),
            format!(
                "{} is longer than the {} a run may simulate",
                s.horizon,
                SimDuration::from_nanos(u64::MAX / 2)
            ),
        );
    }
    if s.warmup >= s.horizon && !s.horizon.is_zero() {
        err(
            root.field("warmup"),
            format!(
                "must end before the horizon ({}), got {}: nothing would be counted",
                s.horizon, s.warmup
            ),
        );
    }
    for p in window_problems(s) {
        err(p.path, p.message);
    }
    if s.limits.max_events == 0 {
        err(
            root.field("limits").field("max_events"),
            "must be at least 1".into(),
        );
    }
    if s.limits.max_in_flight == 0 {
        err(
            root.field("limits").field("max_in_flight"),
            "must be at least 1".into(),
        );
    }
    if s.limits.max_events_without_progress == 0 {
        err(
            root.field("limits").field("max_events_without_progress"),
            "must be at least 1".into(),
        );
    }

    let service_names: Vec<&str> = s.services.iter().map(|x| x.name.as_str()).collect();
    check_names(&root.field("services"), &service_names, "service", &mut err);
    let client_names: Vec<&str> = s.clients.iter().map(|x| x.name.as_str()).collect();
    check_names(&root.field("clients"), &client_names, "client", &mut err);
    if s.clients.is_empty() {
        err(
            root.field("clients"),
            "no clients: nothing would send a request".into(),
        );
    }

    for (i, c) in s.clients.iter().enumerate() {
        let at = root.field("clients").index(i);
        for p in crate::policy::load_problems(&c.load) {
            err(at.field("load").join(&p.path), p.message);
        }
        for p in policy_problems(&c.policy) {
            err(at.field("policy").join(&p.path), p.message);
        }
        if let Some(slo) = &c.slo {
            for p in slo.problems() {
                err(at.field("slo").join(&p.path), p.message);
            }
        }
        if c.deadline == Some(SimDuration::ZERO) {
            err(
                at.field("deadline"),
                "must be longer than 0s (leave it out for no deadline)".into(),
            );
        }
    }

    for (i, svc) in s.services.iter().enumerate() {
        let at = root.field("services").index(i);
        if svc.workers == 0 {
            err(
                at.field("workers"),
                "must be at least 1: a service with no workers serves nothing and its utilization is undefined".into(),
            );
        }
        for p in svc.service_time.problems() {
            err(at.field("service_time").join(&p.path), p.message);
        }
        steps_problems(&at.field("calls"), &svc.calls, &mut err);
        error_rate_problems(&at, svc.error_rate, &mut err);
        for (e, ep) in svc.endpoints.iter().enumerate() {
            let at = at.field("endpoints").index(e);
            for p in ep.service_time.problems() {
                err(at.field("service_time").join(&p.path), p.message);
            }
            steps_problems(&at.field("calls"), &ep.calls, &mut err);
            error_rate_problems(&at, ep.error_rate, &mut err);
        }
        if let Some(limit) = &svc.admission.rate_limit {
            let at = at.field("admission").field("rate_limit");
            if !(limit.rate_rps.is_finite() && limit.rate_rps > 0.0) {
                err(
                    at.field("rate_rps"),
                    format!("must be a number above 0, got {}", limit.rate_rps),
                );
            }
            if limit.burst == 0 {
                err(
                    at.field("burst"),
                    "must be at least 1: a bucket that holds no token admits nothing".into(),
                );
            }
        }
        if svc.replicas == 0 {
            err(at.field("replicas"), "must be at least 1".into());
        }
        if let Some(max) = svc.max_replicas
            && max < svc.replicas
        {
            err(
                at.field("max_replicas"),
                format!("must be at least `replicas` ({}), got {max}", svc.replicas),
            );
        }
        if let Some(h) = &svc.health_check {
            for p in h.problems() {
                err(at.field("health_check").join(&p.path), p.message);
            }
        }
        if let Some(e) = &svc.ejection {
            for p in e.problems() {
                err(at.field("ejection").join(&p.path), p.message);
            }
        }
        if svc.bulkhead == Some(0) {
            err(
                at.field("bulkhead"),
                "must be at least 1: a bulkhead of 0 admits nothing".into(),
            );
        }
        for (e, ep) in svc.endpoints.iter().enumerate() {
            if ep.bulkhead == Some(0) {
                err(
                    at.field("endpoints").index(e).field("bulkhead"),
                    "must be at least 1: a bulkhead of 0 admits nothing".into(),
                );
            }
        }
        if svc.idempotency.is_some_and(|i| i.ttl.is_zero()) {
            err(
                at.field("idempotency").field("ttl"),
                "must be longer than 0s: records must outlive a retry".into(),
            );
        }
        if let Some(a) = &svc.admission.adaptive {
            for p in a.problems() {
                err(
                    at.field("admission").field("adaptive").join(&p.path),
                    p.message,
                );
            }
        }
        if svc.admission.max_concurrency == Some(0) {
            err(
                at.field("admission").field("max_concurrency"),
                "must be at least 1".into(),
            );
        }
    }

    let cache_names: Vec<&str> = s.caches.iter().map(|x| x.name.as_str()).collect();
    check_names(&root.field("caches"), &cache_names, "cache", &mut err);
    for (i, cache) in s.caches.iter().enumerate() {
        cache_problems(
            &root.field("caches").index(i),
            cache,
            &mut err,
            &mut warnings,
        );
    }

    // Caches and databases come last, so `names[clients.len()..]` still begins with the
    // services.
    let database_names: Vec<&str> = s.databases.iter().map(|x| x.name.as_str()).collect();
    let node_names: Vec<&str> = client_names
        .iter()
        .chain(&service_names)
        .chain(&cache_names)
        .chain(&database_names)
        .copied()
        .collect();
    let nodes = Nodes::new(s, &node_names);
    link_problems(
        &root.field("default_link"),
        &s.default_link.latency,
        s.default_link.loss,
        &mut err,
    );
    links_problems(s, &root, &nodes, &mut err);
    if let Some(l) = &s.cross_zone {
        link_problems(&root.field("cross_zone"), &l.latency, l.loss, &mut err);
    }

    for (i, f) in s.faults.iter().enumerate() {
        fault_problems(s, &root.field("faults").index(i), f, &nodes, &mut err);
    }
    // An incident process's fault is checked as a scenario fault at its start would be.
    for (i, p) in s.incidents.iter().enumerate() {
        let f = crate::scenario::Fault {
            start: p.start,
            end: p.start + SimDuration::from_nanos(1),
            kind: p.kind.clone(),
        };
        fault_problems(s, &root.field("incidents").index(i), &f, &nodes, &mut err);
    }
    let rule_names: Vec<&str> = s.rules.iter().map(|r| r.name.as_str()).collect();
    for (i, name) in rule_names.iter().enumerate() {
        if let Some(first) = rule_names[..i].iter().position(|n| n == name) {
            err(
                root.field("rules").index(i).field("name"),
                format!("rule name `{name}` is already used by rules[{first}]"),
            );
        }
    }
    for (i, r) in s.rules.iter().enumerate() {
        rule_problems(s, &root.field("rules").index(i), r, &mut err);
    }
    if let Some(slo) = &s.slo {
        errors.extend(
            slo.problems()
                .into_iter()
                .map(|p| Problem::new(root.field("slo").join(&p.path), p.message)),
        );
    }
    errors.extend(crate::topology::problems(s));
    let (zone_errors, zone_warnings) = crate::zones::problems(s);
    errors.extend(zone_errors);
    warnings.extend(zone_warnings);
    errors.extend(broker::problems(s));
    let (database_errors, database_warnings) = database::problems(s);
    errors.extend(database_errors);
    warnings.extend(database_warnings);
    let (config_errors, config_warnings) = config::problems(s);
    errors.extend(config_errors);
    warnings.extend(config_warnings);
    let (auth_errors, auth_warnings) = token_auth::problems(s);
    errors.extend(auth_errors);
    warnings.extend(auth_warnings);
    errors.extend(remediation::problems(s));
    let (incident_errors, incident_warnings) = crate::incidents::problems(s);
    errors.extend(incident_errors);
    warnings.extend(incident_warnings);
    let (mix_errors, mix_warnings) = crate::remediation::mix::problems(s);
    errors.extend(mix_errors);
    warnings.extend(mix_warnings);
    errors.extend(name_character_problems(s));
    // The memory estimate is the last resort: a field already refused for a clearer
    // reason (too many windows, say) is not blamed again for the memory it would take.
    let footprint: Vec<Problem> = crate::footprint::problems(s)
        .into_iter()
        .filter(|p| !errors.iter().any(|e| e.path == p.path))
        .collect();
    errors.extend(footprint);
    overload_warnings(s, &root, &mut warnings);
    warnings.extend(mixture_warnings(s));
    for (i, svc) in s.services.iter().enumerate() {
        if !svc.cancel_cost.is_zero() && !svc.honor_cancellation {
            warnings.push(Problem::new(
                root.field("services").index(i).field("cancel_cost"),
                "has no effect without `honor_cancellation: true` (the service never stops work)",
            ));
        }
    }
    (errors, warnings)
}

/// Names end up in tables, charts and terminals: a control character there (an escape
/// sequence, a newline) would garble or forge output, so it is refused at the door.
fn name_character_problems(s: &Scenario) -> Vec<Problem> {
    let root = FieldPath::root();
    let mut named: Vec<(FieldPath, &str)> = vec![(root.field("name"), &s.name)];
    for (i, c) in s.clients.iter().enumerate() {
        named.push((root.field("clients").index(i).field("name"), &c.name));
    }
    for (i, cache) in s.caches.iter().enumerate() {
        named.push((root.field("caches").index(i).field("name"), &cache.name));
    }
    for (i, svc) in s.services.iter().enumerate() {
        let at = root.field("services").index(i);
        named.push((at.field("name"), &svc.name));
        for (e, ep) in svc.endpoints.iter().enumerate() {
            named.push((at.field("endpoints").index(e).field("name"), &ep.name));
        }
    }
    for (i, b) in s.brokers.iter().enumerate() {
        named.push((root.field("brokers").index(i).field("name"), &b.name));
    }
    for (i, d) in s.databases.iter().enumerate() {
        named.push((root.field("databases").index(i).field("name"), &d.name));
    }
    for (i, t) in s.token_auths.iter().enumerate() {
        named.push((root.field("token_auths").index(i).field("name"), &t.name));
    }
    named
        .into_iter()
        .filter_map(|(at, name)| {
            let c = name.chars().find(|c| c.is_control())?;
            Some(Problem::new(
                at,
                format!(
                    "contains the control character U+{:04X}: names are printed in tables and terminals, use visible characters",
                    c as u32
                ),
            ))
        })
        .collect()
}

/// Mixture weights are relative (documented: `(3, 1)` is 75% / 25%), so any positive
/// weights are valid. But weights that look like probabilities and do not add up to 1 are
/// usually a typo (`0.99` and `0.1`; every weight below 1): say what the mixture will really draw, and run it.
/// A warning rather than an error, so files that use relative weights keep working.
fn mixture_warnings(s: &Scenario) -> Vec<Problem> {
    let root = FieldPath::root();
    let mut dists: Vec<(FieldPath, &sim_core::dist::Dist<SimDuration>)> = Vec::new();
    for (i, c) in s.clients.iter().enumerate() {
        if let Load::Closed { think_time, .. } = &c.load {
            let at = root.field("clients").index(i).field("load");
            dists.push((at.field("think_time"), think_time));
        }
    }
    for (i, svc) in s.services.iter().enumerate() {
        let at = root.field("services").index(i);
        dists.push((at.field("service_time"), &svc.service_time));
        for (e, ep) in svc.endpoints.iter().enumerate() {
            let at = at.field("endpoints").index(e);
            dists.push((at.field("service_time"), &ep.service_time));
        }
    }
    dists.push((
        root.field("default_link").field("latency"),
        &s.default_link.latency,
    ));
    for (i, l) in s.links.iter().enumerate() {
        dists.push((root.field("links").index(i).field("latency"), &l.latency));
    }
    let mut out = Vec::new();
    while let Some((at, dist)) = dists.pop() {
        let sim_core::dist::Dist::Mixture(parts) = dist else {
            continue;
        };
        for (i, (_, inner)) in parts.iter().enumerate() {
            dists.push((at.index(i).index(1), inner));
        }
        let total: f64 = parts.iter().map(|(w, _)| *w).sum();
        let probabilities = parts.iter().all(|(w, _)| (0.0..1.0).contains(w));
        if probabilities && total.is_finite() && total > 0.0 && (total - 1.0).abs() > 1e-9 {
            let shares: Vec<String> = parts
                .iter()
                .map(|(w, _)| format!("{:.4}", w / total))
                .collect();
            out.push(Problem::new(
                at,
                format!(
                    "mixture weights add up to {total}, not 1: they are taken as relative weights, so the components are drawn with probabilities {}",
                    shares.join(", ")
                ),
            ));
        }
    }
    out
}

fn policy_problems(p: &CallPolicy) -> Vec<Problem> {
    let root = FieldPath::root();
    let mut out = Vec::new();
    if p.timeout == Some(SimDuration::ZERO) {
        out.push(Problem::new(
            root.field("timeout"),
            "must be longer than 0s (leave it out to wait forever)",
        ));
    }
    if p.max_attempts == 0 {
        out.push(Problem::new(
            root.field("max_attempts"),
            "must be at least 1 (1 = no retries)",
        ));
    }
    if p.max_outstanding == Some(0) {
        out.push(Problem::new(
            root.field("max_outstanding"),
            "must be at least 1",
        ));
    }
    if p.retry_on.is_empty() && p.max_attempts > 1 {
        out.push(Problem::new(
            root.field("retry_on"),
            "lists no failure to retry: with max_attempts > 1, name at least one of Timeout, Rejected, Error",
        ));
    }
    if let Some(b) = &p.budget {
        out.extend(
            b.problems()
                .into_iter()
                .map(|x| Problem::new(root.field("budget").join(&x.path), x.message)),
        );
    }
    if p.hedge.is_some_and(|h| h.max_hedges == 0) {
        out.push(Problem::new(
            root.field("hedge").field("max_hedges"),
            "must be at least 1",
        ));
    }
    if let Some(t) = &p.adaptive_timeout {
        out.extend(
            t.problems()
                .into_iter()
                .map(|x| Problem::new(root.field("adaptive_timeout").join(&x.path), x.message)),
        );
    }
    if let Some(b) = &p.breaker {
        out.extend(
            b.problems()
                .into_iter()
                .map(|x| Problem::new(root.field("breaker").join(&x.path), x.message)),
        );
    }
    if let Backoff::Exponential {
        initial,
        max,
        multiplier,
    } = &p.backoff
    {
        let at = root.field("backoff");
        if initial.is_zero() {
            out.push(Problem::new(at.field("initial"), "must be longer than 0s"));
        }
        if max < initial {
            out.push(Problem::new(
                at.field("max"),
                format!("must be at least `initial` ({initial}), got {max}"),
            ));
        }
        if !(multiplier.is_finite() && *multiplier >= 1.0) {
            out.push(Problem::new(
                at.field("multiplier"),
                format!("must be a number >= 1, got {multiplier}"),
            ));
        }
    }
    out
}

fn steps_problems(at: &FieldPath, steps: &[Step], err: &mut impl FnMut(FieldPath, String)) {
    for (j, step) in steps.iter().enumerate() {
        let at = at.index(j);
        let calls: Vec<(FieldPath, &crate::scenario::CallSpec)> = match step {
            Step::Call(c) | Step::Async(c) => vec![(at.clone(), c)],
            Step::Publish(p) => {
                for problem in policy_problems(&p.policy) {
                    err(at.field("policy").join(&problem.path), problem.message);
                }
                Vec::new()
            }
            Step::Parallel(cs) => {
                if cs.is_empty() {
                    err(at.clone(), "a parallel step needs at least one call".into());
                }
                cs.iter()
                    .enumerate()
                    .map(|(k, c)| (at.index(k), c))
                    .collect()
            }
        };
        for (at, c) in calls {
            for p in policy_problems(&c.policy) {
                err(at.field("policy").join(&p.path), p.message);
            }
        }
    }
}

/// A service's or an endpoint's `error_rate` (at `at`) is a probability.
fn error_rate_problems(at: &FieldPath, p: f64, err: &mut impl FnMut(FieldPath, String)) {
    if !(0.0..=1.0).contains(&p) {
        err(
            at.field("error_rate"),
            format!("is a probability and must be within [0, 1], got {p}"),
        );
    }
}

/// A cache's own fields (its backend's name is the call graph's business, in `topology`).
fn cache_problems(
    at: &FieldPath,
    c: &crate::scenario::Cache,
    err: &mut impl FnMut(FieldPath, String),
    warnings: &mut Vec<Problem>,
) {
    use crate::scenario::CacheKeys;
    match c.keys {
        CacheKeys::Zipf { keys, exponent } => {
            let zipf = at.field("keys");
            if keys == 0 {
                err(
                    zipf.field("keys"),
                    "must be at least 1: a cache with no keys has nothing to look up".into(),
                );
            } else if keys > crate::world::components::cache::MAX_KEYS {
                err(
                    zipf.field("keys"),
                    format!(
                        "must be at most {}, got {keys}",
                        crate::world::components::cache::MAX_KEYS
                    ),
                );
            }
            if !(exponent.is_finite() && exponent >= 0.0) {
                err(
                    zipf.field("exponent"),
                    format!("must be a number >= 0 (0: every key equally popular), got {exponent}"),
                );
            }
            if let Some(cap) = c.capacity
                && cap > keys
                && keys > 0
            {
                warnings.push(Problem::new(
                    at.field("capacity"),
                    format!("is more than the {keys} keys: the cache never evicts"),
                ));
            }
        }
        CacheKeys::HitRatio(p) => {
            if !(0.0..=1.0).contains(&p) {
                err(
                    at.field("keys"),
                    format!("HitRatio is a probability and must be within [0, 1], got {p}"),
                );
            }
            for (field, set) in [
                ("capacity", c.capacity.is_some()),
                ("ttl", c.ttl.is_some()),
                ("single_flight", c.single_flight),
            ] {
                if set {
                    warnings.push(Problem::new(
                        at.field(field),
                        "has no effect with `keys: HitRatio(..)`, which has no keys: use \
                         `Zipf(keys: .., exponent: ..)`"
                            .to_string(),
                    ));
                }
            }
        }
    }
    if c.capacity == Some(0) {
        err(
            at.field("capacity"),
            "must be at least 1: a cache that holds nothing always misses (leave it out for no bound)"
                .into(),
        );
    }
    if c.ttl.is_some_and(|t| t.is_zero()) {
        err(
            at.field("ttl"),
            "must be longer than 0s: a key that expires at once always misses (leave it out for no expiry)"
                .into(),
        );
    }
    for p in c.lookup_time.problems() {
        err(at.field("lookup_time").join(&p.path), p.message);
    }
    for p in policy_problems(&c.policy) {
        err(at.field("policy").join(&p.path), p.message);
    }
}

/// Names of clients and services, looked up in sorted maps (validation stays O(n log n)).
struct Nodes<'a> {
    /// In file order, clients then services: for messages.
    names: &'a [&'a str],
    known: BTreeSet<&'a str>,
    services: BTreeMap<&'a str, usize>,
    caches: BTreeMap<&'a str, usize>,
    clients: BTreeMap<&'a str, usize>,
}

impl<'a> Nodes<'a> {
    fn new(s: &'a Scenario, names: &'a [&'a str]) -> Self {
        let mut clients = BTreeMap::new();
        for (i, c) in s.clients.iter().enumerate() {
            clients.entry(c.name.as_str()).or_insert(i);
        }
        Nodes {
            names,
            known: names.iter().copied().collect(),
            services: crate::topology::service_map(s),
            caches: crate::topology::cache_map(s),
            clients,
        }
    }

    /// [`Scenario::replica_target`], by map.
    fn replica_target(&self, s: &Scenario, name: &str) -> Option<(usize, Option<u32>)> {
        if let Some(&j) = self.services.get(name) {
            return Some((j, None));
        }
        let (base, index) = name.rsplit_once('#')?;
        let j = *self.services.get(base)?;
        let i: u32 = index.parse().ok()?;
        let n = s.services[j].instances();
        (i < n && n > 1).then_some((j, Some(i)))
    }
}

/// Each link joins two known, different nodes, at most once per pair.
fn links_problems(
    s: &Scenario,
    root: &FieldPath,
    nodes: &Nodes,
    err: &mut impl FnMut(FieldPath, String),
) {
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, l) in s.links.iter().enumerate() {
        let at = root.field("links").index(i);
        for (field, name) in [("from", &l.from), ("to", &l.to)] {
            if !nodes.known.contains(name.as_str()) {
                err(at.field(field), unknown_node(name, nodes.names));
            }
        }
        if l.from == l.to {
            err(
                at.field("to"),
                format!("a link joins two different nodes, got `{}` twice", l.to),
            );
        }
        let pair = if l.from <= l.to {
            (l.from.as_str(), l.to.as_str())
        } else {
            (l.to.as_str(), l.from.as_str())
        };
        if let Some(first) = seen.get(&pair) {
            err(
                at.clone(),
                format!(
                    "link `{}` <-> `{}` is already defined by links[{first}]",
                    l.from, l.to
                ),
            );
        } else {
            seen.insert(pair, i);
        }
        link_problems(&at, &l.latency, l.loss, err);
    }
}

fn link_problems(
    at: &FieldPath,
    latency: &sim_core::dist::Dist<SimDuration>,
    loss: f64,
    err: &mut impl FnMut(FieldPath, String),
) {
    for p in latency.problems() {
        err(at.field("latency").join(&p.path), p.message);
    }
    if !(0.0..=1.0).contains(&loss) {
        err(
            at.field("loss"),
            format!("is a probability and must be within [0, 1], got {loss}"),
        );
    }
}

fn fault_problems(
    s: &Scenario,
    at: &FieldPath,
    f: &crate::scenario::Fault,
    nodes: &Nodes,
    err: &mut impl FnMut(FieldPath, String),
) {
    if f.end <= f.start {
        err(
            at.field("end"),
            format!("must be after `start` ({}), got {}", f.start, f.end),
        );
    }
    if f.start >= s.horizon {
        err(
            at.field("start"),
            format!(
                "is at or after the horizon ({}): the fault would never happen",
                s.horizon
            ),
        );
    }
    let kind = at.field("kind");
    let service = |name: &str, err: &mut dyn FnMut(FieldPath, String)| {
        if s.database_index(name).is_some() {
            if !matches!(f.kind, FaultKind::Crash { .. } | FaultKind::Pause { .. }) {
                err(
                    kind.field("service"),
                    format!(
                        "`{name}` is a database: the faults that apply to a database are Crash and Pause (a hung primary)"
                    ),
                );
            }
            return;
        }
        if nodes.caches.contains_key(name) {
            if !matches!(f.kind, FaultKind::Crash { .. }) {
                err(
                    kind.field("service"),
                    format!(
                        "`{name}` is a cache: the faults that apply to a cache are Crash and Flush"
                    ),
                );
            }
            return;
        }
        if nodes.replica_target(s, name).is_none() {
            let services = &nodes.names[s.clients.len()..s.clients.len() + s.services.len()];
            let msg = if s.broker_index(name).is_some() {
                format!("`{name}` is a broker: only Crash and Pause faults apply to a broker")
            } else if s.token_auth_index(name).is_some() {
                format!(
                    "`{name}` is a token auth: the fault that applies to it is RevokeTokens (fault its auth service for the rest)"
                )
            } else {
                crate::topology::unknown_service("names", name, services)
            };
            err(kind.field("service"), msg);
        }
    };
    let probability = |p: f64, err: &mut dyn FnMut(FieldPath, String)| {
        if !(0.0..=1.0).contains(&p) {
            err(
                kind.field("p"),
                format!("is a probability and must be within [0, 1], got {p}"),
            );
        }
    };
    match &f.kind {
        FaultKind::Crash { service: x, .. } | FaultKind::Pause { service: x } => {
            if s.broker_index(x).is_none() {
                service(x, err)
            }
        }
        FaultKind::Errors { service: x, p } => {
            service(x, err);
            probability(*p, err);
        }
        FaultKind::Slowdown { service: x, factor } => {
            service(x, err);
            if !(factor.is_finite() && *factor > 0.0) {
                err(
                    kind.field("factor"),
                    format!("must be a number above 0, got {factor}"),
                );
            }
        }
        FaultKind::CapacityLoss {
            service: x,
            workers,
        } => {
            service(x, err);
            if let Some(svc) = nodes.replica_target(s, x).map(|(j, _)| &s.services[j])
                && *workers >= svc.workers
            {
                err(
                    kind.field("workers"),
                    format!(
                        "`{x}` has {} workers; a capacity loss must leave fewer, got {workers}",
                        svc.workers
                    ),
                );
            }
        }
        FaultKind::Partition { a, b } | FaultKind::Loss { a, b, .. } => {
            for (field, name) in [("a", a), ("b", b)] {
                if !nodes.known.contains(name.as_str()) && nodes.replica_target(s, name).is_none() {
                    err(kind.field(field), unknown_node(name, nodes.names));
                }
            }
            if let FaultKind::Loss { p, .. } = &f.kind {
                probability(*p, err);
            }
        }
        FaultKind::Flush { cache } => {
            if !nodes.caches.contains_key(cache.as_str()) {
                let start = s.clients.len() + s.services.len();
                let caches = &nodes.names[start..start + s.caches.len()];
                let mut msg = format!("cache `{cache}` does not exist");
                if let Some(close) = nearest(cache, caches) {
                    msg.push_str(&format!(" (did you mean `{close}`?)"));
                }
                if caches.is_empty() {
                    msg.push_str("; the scenario defines no caches");
                } else {
                    msg.push_str(&format!(
                        "; caches are: {}",
                        crate::topology::listing(caches)
                    ));
                }
                err(kind.field("cache"), msg);
            }
        }
        FaultKind::RevokeTokens { token_auth } => {
            if s.token_auth_index(token_auth).is_none() {
                let names: Vec<&str> = s.token_auths.iter().map(|t| t.name.as_str()).collect();
                let mut msg = format!("token auth `{token_auth}` does not exist");
                if let Some(close) = nearest(token_auth, &names) {
                    msg.push_str(&format!(" (did you mean `{close}`?)"));
                }
                if names.is_empty() {
                    msg.push_str("; the scenario defines no token auths");
                } else {
                    msg.push_str(&format!(
                        "; token auths are: {}",
                        crate::topology::listing(&names)
                    ));
                }
                err(kind.field("token_auth"), msg);
            }
        }
        FaultKind::Spike { client, factor } => {
            if !nodes.clients.contains_key(client.as_str()) {
                let clients = &nodes.names[..s.clients.len()];
                err(
                    kind.field("client"),
                    format!(
                        "client `{client}` does not exist; clients are: {}",
                        crate::topology::listing(clients)
                    ),
                );
            } else if !s
                .clients
                .iter()
                .filter(|c| c.name == *client)
                .any(|c| matches!(c.load, Load::Open { .. }))
            {
                err(
                    kind.field("client"),
                    format!("client `{client}` is closed-loop: a spike applies to open-loop rates"),
                );
            }
            if !(factor.is_finite() && *factor >= 0.0) {
                err(
                    kind.field("factor"),
                    format!("must be a number >= 0, got {factor}"),
                );
            }
        }
        // Its zone is checked with the other zone fields (`zones::problems`).
        FaultKind::ZoneOutage { .. } => {}
    }
}

/// What a rule names must exist and suit what the rule does with it.
fn rule_problems(
    s: &Scenario,
    at: &FieldPath,
    rule: &crate::rules::Rule,
    err: &mut impl FnMut(FieldPath, String),
) {
    use crate::rules::{Action, Condition};
    for p in rule.problems() {
        err(at.join(&p.path), p.message);
    }
    let services: Vec<&str> = s.services.iter().map(|x| x.name.as_str()).collect();
    let clients: Vec<&str> = s.clients.iter().map(|x| x.name.as_str()).collect();
    let nodes: Vec<&str> = clients.iter().chain(&services).copied().collect();
    let when = at.field("when");
    match &rule.when {
        Condition::Above { metric, of, .. } | Condition::Below { metric, of, .. } => {
            let field = when.field("of");
            if s.broker_index(of).is_some() {
                if !metric.of_broker() {
                    err(
                        when.field("metric"),
                        format!(
                            "{} is not a metric of a broker, and `{of}` is a broker; a broker has Backlog and ConsumerLag",
                            metric.name()
                        ),
                    );
                }
            } else if metric.of_broker() {
                err(
                    when.field("metric"),
                    format!(
                        "{} is a metric of a broker, and `{of}` is not a broker",
                        metric.name()
                    ),
                );
            } else if services.contains(&of.as_str()) {
                if !metric.of_service() {
                    err(
                        when.field("metric"),
                        format!(
                            "{} is a metric of a client (route), and `{of}` is a service; a service has QueueDepth, Utilization, InFlight and ErrorRate",
                            metric.name()
                        ),
                    );
                }
            } else if clients.contains(&of.as_str()) {
                if !metric.of_client() {
                    err(
                        when.field("metric"),
                        format!(
                            "{} is a metric of a service, and `{of}` is a client; a client has ErrorRate, P99 and Goodput",
                            metric.name()
                        ),
                    );
                }
            } else if s.replica_target(of).is_some() {
                err(
                    field,
                    format!(
                        "a condition watches a whole service: name `{}` rather than one instance",
                        of.rsplit_once('#').map_or(of.as_str(), |(b, _)| b)
                    ),
                );
            } else {
                err(field, unknown_node(of, &nodes));
            }
        }
        Condition::AlertFiring { slo, alert } | Condition::AlertResolved { slo, alert } => {
            match slo {
                None if s.slo.is_none() => err(
                    when.field("slo"),
                    "names no client, and the scenario has no `slo`: name a client with its own `slo`, or add one to the scenario".into(),
                ),
                Some(c) => match s.clients.iter().find(|x| &x.name == c) {
                    None => err(when.field("slo"), unknown_node(c, &clients)),
                    Some(x) if x.slo.is_none() => err(
                        when.field("slo"),
                        format!("client `{c}` has no `slo`, so it raises no alerts"),
                    ),
                    Some(_) => {}
                },
                None => {}
            }
            let alerts: Vec<&str> = crate::slo::STANDARD_RULES.iter().map(|r| r.name).collect();
            if !alerts.contains(&alert.as_str()) {
                err(
                    when.field("alert"),
                    format!(
                        "no alert `{alert}`: the burn-rate alerts are {}",
                        alerts.join(", ")
                    ),
                );
            }
        }
        Condition::At(t) => {
            if *t >= s.horizon {
                err(
                    when.clone(),
                    format!(
                        "is at or after the horizon ({}): the rule would never act",
                        s.horizon
                    ),
                );
            }
        }
    }
    let act = at.field("do");
    // A target that must be a service (or one of its instances when `instance` allows).
    let mut service = |field: &'static str, name: &str, instance: bool| -> Option<usize> {
        match s.replica_target(name) {
            Some((j, None)) => Some(j),
            Some((j, Some(_))) if instance => Some(j),
            Some((j, Some(_))) => {
                err(
                    act.field(field),
                    format!(
                        "acts on a whole service: name `{}` rather than one instance",
                        s.services[j].name
                    ),
                );
                None
            }
            None if clients.contains(&name) => {
                err(
                    act.field(field),
                    format!(
                        "`{name}` is a client; this action acts on a service, and a client has only the Spike action"
                    ),
                );
                None
            }
            None => {
                err(
                    act.field(field),
                    crate::topology::unknown_service("names", name, &services),
                );
                None
            }
        }
    };
    match &rule.action {
        Action::ScaleTo {
            service: x,
            replicas,
            ..
        } => {
            if let Some(j) = service("service", x, false) {
                let svc = &s.services[j];
                let max = svc.instances();
                if *replicas > max {
                    err(
                        act.field("replicas"),
                        format!(
                            "would scale `{x}` to {replicas}, past the {max} instances it is built for: set its `max_replicas` to at least {replicas}"
                        ),
                    );
                }
            }
        }
        // A cache restarts too (it comes back empty).
        Action::Restart { service: x, .. } if s.cache_index(x).is_some() => {}
        Action::Restart { service: x, .. }
        | Action::Drain { service: x }
        | Action::Limit { service: x, .. }
        | Action::ShedLoad { service: x, .. } => {
            service("service", x, true);
        }
        Action::Failover { database } => match s.database_index(database) {
            None => {
                let names: Vec<&str> = s.databases.iter().map(|d| d.name.as_str()).collect();
                let mut msg = format!("no database `{database}`");
                match nearest(database, &names) {
                    Some(close) => msg.push_str(&format!(" (did you mean `{close}`?)")),
                    None if names.is_empty() => msg.push_str(": the scenario has no `databases`"),
                    None => msg.push_str(&format!(": the databases are {}", names.join(", "))),
                }
                err(act.field("database"), msg)
            }
            Some(d) if s.databases[d].replicas == 0 => err(
                act.field("database"),
                format!("database `{database}` has no replica to promote: set its `replicas`"),
            ),
            Some(_) => {}
        },
        Action::EvacuateZone { zone } => {
            let zones = crate::zones::Zones::of(s);
            let names: Vec<&str> = (0..zones.len()).map(|z| zones.name(z)).collect();
            if zones.id(zone).is_none() {
                let mut msg = format!("no zone `{zone}`");
                match nearest(zone, &names) {
                    Some(close) => msg.push_str(&format!(" (did you mean `{close}`?)")),
                    None if names.is_empty() => {
                        msg.push_str(": no service names `zones`, so there is nothing to evacuate")
                    }
                    None => msg.push_str(&format!(": the zones are {}", names.join(", "))),
                }
                err(act.field("zone"), msg);
            } else if !s
                .services
                .iter()
                .any(|x| (0..x.instances()).any(|i| x.zone_of(i) == Some(zone.as_str())))
            {
                err(
                    act.field("zone"),
                    format!(
                        "no service instance is in zone `{zone}`: there is nothing to evacuate"
                    ),
                );
            }
        }
        Action::Fallback { caller, callee } => {
            let known_caller = nodes.contains(&caller.as_str());
            if !known_caller {
                err(act.field("caller"), unknown_node(caller, &nodes));
            }
            match s.service_index(callee) {
                None => err(
                    act.field("callee"),
                    crate::topology::unknown_service("names", callee, &services),
                ),
                Some(_) if known_caller && !crate::topology::calls(s, caller, callee) => err(
                    act.field("callee"),
                    format!("`{caller}` never calls `{callee}`: there is no call to fall back on"),
                ),
                Some(_) => {}
            }
        }
        Action::Spike { client, .. } => match s.clients.iter().find(|c| &c.name == client) {
            None if services.contains(&client.as_str()) => err(
                act.field("client"),
                format!("`{client}` is a service; a spike multiplies a client's arrival rate"),
            ),
            None => err(act.field("client"), unknown_node(client, &clients)),
            Some(c) if !matches!(c.load, Load::Open { .. }) => err(
                act.field("client"),
                format!(
                    "`{client}` is a closed loop: its rate follows its users, so a spike cannot multiply it"
                ),
            ),
            Some(_) => {}
        },
        Action::Rollback { config } => {
            if let Some(msg) = config::unknown_config(s, config) {
                err(act.field("config"), msg);
            }
        }
        Action::EndFaults { faults } => {
            for (k, &f) in faults.iter().enumerate() {
                if f as usize >= s.faults.len() {
                    err(
                        act.field("faults").index(k),
                        format!(
                            "no fault #{f}: the scenario has {} faults (numbered from 0)",
                            s.faults.len()
                        ),
                    );
                }
            }
        }
    }
}

fn unknown_node(name: &str, known: &[&str]) -> String {
    let mut msg = format!("`{name}` is neither a client nor a service");
    if let Some(close) = nearest(name, known) {
        msg.push_str(&format!(" (did you mean `{close}`?)"));
    }
    msg
}

/// A time series holds at most this many windows, and at most [`MAX_SERIES_VALUES`] values
/// in all: memory stays bounded whatever the input. 1,000,000 windows is 11.5 days at 1 s.
pub const MAX_WINDOWS: u64 = 1_000_000;
/// At most this many values in a run's time series (8 bytes each in memory: 400 MB).
pub const MAX_SERIES_VALUES: u64 = 50_000_000;

/// Values a run's time series holds per window for the whole system (see `result::Series`:
/// counts, rates, latencies, failures by reason).
const SYSTEM_VALUES: u64 = 17;

/// Values a run's time series holds per window: [`SYSTEM_VALUES`], 4 per client, 6 per
/// service replica (see `result::Series`), and per config one per version and one more.
pub fn series_values_per_window(s: &Scenario) -> u64 {
    let instances: u64 = s.services.iter().map(|x| u64::from(x.instances())).sum();
    let configs: u64 = s.configs.iter().map(|c| c.pushes.len() as u64 + 2).sum();
    SYSTEM_VALUES + 4 * s.clients.len() as u64 + 6 * instances + configs
}

/// The window must be positive, and the series it makes (horizon / window rows) must fit
/// the bounds above. Checked before the run: a 1 us window once needed 4.4 GB.
fn window_problems(s: &Scenario) -> Vec<Problem> {
    let at = FieldPath::root().field("window");
    if s.window.is_zero() {
        return vec![Problem::new(at, "must be longer than 0s")];
    }
    let windows = s.horizon.as_nanos().div_ceil(s.window.as_nanos());
    let per_window = series_values_per_window(s);
    // More nodes than a run may have is refused on its own field (`footprint`): the window
    // is then judged by the window count alone, not blamed for the nodes' series.
    let nodes =
        s.clients.len() as u64 + (per_window - SYSTEM_VALUES - 4 * s.clients.len() as u64) / 6;
    let most = if nodes > s.limits.max_nodes {
        MAX_WINDOWS
    } else {
        MAX_WINDOWS.min((MAX_SERIES_VALUES / per_window).max(1))
    };
    if windows <= most {
        return Vec::new();
    }
    let widest = SimDuration::from_nanos(s.horizon.as_nanos().div_ceil(most));
    vec![Problem::new(
        at,
        format!(
            "{windows} windows of {} over a {} horizon: a run may keep at most {most} windows here \
             ({per_window} values each, for {} clients and {} services; at most {MAX_WINDOWS} windows \
             and {MAX_SERIES_VALUES} values in all): use a window of at least {widest}",
            s.window,
            s.horizon,
            s.clients.len(),
            s.services.len(),
        ),
    )]
}

fn check_names(
    at: &FieldPath,
    names: &[&str],
    kind: &str,
    err: &mut impl FnMut(FieldPath, String),
) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() {
            err(at.index(i).field("name"), format!("a {kind} needs a name"));
        } else if let Some(first) = seen.get(name) {
            err(
                at.index(i).field("name"),
                format!("{kind} name `{name}` is already used by {kind} #{first}"),
            );
        } else {
            seen.insert(name, i);
        }
    }
}

/// Offered load at or above capacity with an unbounded queue and nobody giving up: legal
/// (it is how naive systems fail) but the queue grows for the whole run.
fn overload_warnings(s: &Scenario, root: &FieldPath, warnings: &mut Vec<Problem>) {
    let mut by_target: BTreeMap<&str, Vec<&crate::scenario::Client>> = BTreeMap::new();
    for c in &s.clients {
        by_target.entry(c.target.as_str()).or_default().push(c);
    }
    for (i, svc) in s.services.iter().enumerate() {
        let Ok(sampler) = svc.service_time.compile() else {
            continue;
        };
        let clients = by_target
            .get(svc.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        let rate: f64 = clients
            .iter()
            .map(|c| match c.load {
                Load::Open { rate_rps, .. } => rate_rps,
                Load::Closed { .. } => 0.0,
            })
            .sum();
        let rho = rate * sampler.mean() / 1e9 / f64::from(svc.workers.max(1));
        let nobody_gives_up = clients
            .iter()
            .all(|c| c.policy.timeout.is_none() && c.deadline.is_none());
        if rho >= 1.0
            && svc.queue == QueueSpec::Unbounded
            && svc.calls.is_empty()
            && nobody_gives_up
        {
            warnings.push(Problem::new(
                root.field("services").index(i),
                format!(
                    "offered utilization is {rho:.2} (>= 1) with an unbounded queue and no timeouts: \
                     the queue will grow without bound until the run's in-flight limit stops it"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_names_catch_typos_only() {
        let known = ["gateway", "orders", "payment"];
        assert_eq!(nearest("paymnet", &known), Some("payment"));
        assert_eq!(nearest("order", &known), Some("orders"));
        assert_eq!(nearest("database", &known), None);
    }
}
