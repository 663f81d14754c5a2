//! Semantic checks a scenario must pass before it runs: what serde types cannot express.
//!
//! Every problem is collected (not just the first), with the field path and its
//! line:column in the source, so a user fixes a file in one round.

use std::collections::{BTreeMap, BTreeSet};

use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::locate::Locator;
use crate::scenario::{Backoff, CallPolicy, FaultKind, Load, QueueSpec, Scenario, Step};

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
    if s.window.is_zero() {
        err(root.field("window"), "must be longer than 0s".into());
    } else if s.horizon.as_nanos() / s.window.as_nanos() > MAX_WINDOWS {
        err(
            root.field("window"),
            format!(
                "{} windows of {} over a {} horizon is more than the {MAX_WINDOWS} a time series may hold: use a wider window",
                s.horizon.as_nanos() / s.window.as_nanos(),
                s.window,
                s.horizon
            ),
        );
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
        for (e, ep) in svc.endpoints.iter().enumerate() {
            let at = at.field("endpoints").index(e);
            for p in ep.service_time.problems() {
                err(at.field("service_time").join(&p.path), p.message);
            }
            steps_problems(&at.field("calls"), &ep.calls, &mut err);
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

    let node_names: Vec<&str> = client_names.iter().chain(&service_names).copied().collect();
    let nodes = Nodes::new(s, &node_names);
    link_problems(
        &root.field("default_link"),
        &s.default_link.latency,
        s.default_link.loss,
        &mut err,
    );
    links_problems(s, &root, &nodes, &mut err);

    for (i, f) in s.faults.iter().enumerate() {
        fault_problems(s, &root.field("faults").index(i), f, &nodes, &mut err);
    }
    if let Some(slo) = &s.slo {
        errors.extend(
            slo.problems()
                .into_iter()
                .map(|p| Problem::new(root.field("slo").join(&p.path), p.message)),
        );
    }
    errors.extend(crate::topology::problems(s));
    errors.extend(crate::budget::problems(s));
    overload_warnings(s, &root, &mut warnings);
    (errors, warnings)
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

/// Names of clients and services, looked up in sorted maps (validation stays O(n log n)).
struct Nodes<'a> {
    /// In file order, clients then services: for messages.
    names: &'a [&'a str],
    known: BTreeSet<&'a str>,
    services: BTreeMap<&'a str, usize>,
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
        (i < s.services[j].replicas && s.services[j].replicas > 1).then_some((j, Some(i)))
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
        if nodes.replica_target(s, name).is_none() {
            let services = &nodes.names[s.clients.len()..];
            err(
                kind.field("service"),
                crate::topology::unknown_service("names", name, services),
            );
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
        FaultKind::Crash { service: x, .. } | FaultKind::Pause { service: x } => service(x, err),
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
    }
}

fn unknown_node(name: &str, known: &[&str]) -> String {
    let mut msg = format!("`{name}` is neither a client nor a service");
    if let Some(close) = nearest(name, known) {
        msg.push_str(&format!(" (did you mean `{close}`?)"));
    }
    msg
}

/// A time series holds at most this many windows (bounds memory whatever the input).
pub const MAX_WINDOWS: u64 = 10_000_000;

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

/// The known name closest to `name` by edit distance, if it is plausibly a typo.
pub fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        // A plausible typo: a few edits, and fewer edits than the name has letters.
        .filter(|&(d, k)| d <= 2.max(k.len() / 3) && d < name.chars().count())
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance, in characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
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
