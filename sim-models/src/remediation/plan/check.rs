//! The checks a plan passes before the orchestrator runs it: names the scenario has, a
//! DAG (unique ids, `after` naming steps that exist, no cycle), parameters within the
//! orchestrator's safety limits, and verifications that can decide.
//!
//! The capacity rule is the orchestrator's own (`Limits::max_capacity_fraction`): a
//! restart or drain never takes more than that fraction of a service's instances (its
//! `replicas`) out of service, neither in one step nor in steps that can run at the same
//! time, that is with no `after` path between them. Evacuating a zone is exempt: its
//! instances are the ones already lost.

use std::collections::{BTreeMap, BTreeSet};

use sim_core::path::{FieldPath, PathSeg, Problem};

use super::template::{TEMPLATES, targets_of};
use super::{Plan, PlanAction, PlanFile, Step, Verify};
use crate::Scenario;
use crate::diagnostic::nearest;
use crate::remediation::class::{Classification, IncidentClass};
use crate::remediation::spec::Limits;
use crate::topology::{listing, unknown_service};

/// Whether names may still be templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Templates {
    /// A plan as a file writes it: a name with `$` is a template (its name is checked; the
    /// target it stands for is checked once the plan is instantiated for an incident).
    Allowed,
    /// A plan for one incident: every name must be the scenario's.
    Resolved,
}

/// Every problem with `plan` against `s` and `limits`, paths relative to the plan.
pub fn problems(plan: &Plan, s: &Scenario, limits: &Limits, templates: Templates) -> Vec<Problem> {
    let mut c = Checker {
        s,
        limits,
        templates,
        out: Vec::new(),
    };
    c.plan(plan);
    c.out
}

/// A plans file's problems against `s` and `limits`: (errors, warnings), paths from the
/// file's root. A plan with templates is also instantiated for every target its class can
/// have in `s` (`targets_of`): a problem for every target is an error (the plan can never
/// run here), a problem for some targets a warning naming one of them.
pub fn check_file(file: &PlanFile, s: &Scenario, limits: &Limits) -> (Vec<Problem>, Vec<Problem>) {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let mut classes: BTreeMap<Option<IncidentClass>, usize> = BTreeMap::new();
    for (i, plan) in file.plans.iter().enumerate() {
        let at = FieldPath::root().field("plans").index(i);
        if let Some(first) = classes.get(&plan.class) {
            let what = plan
                .class
                .map_or("any class".to_string(), |c| format!("`{}`", c.name()));
            warnings.push(Problem::new(
                at.field("class"),
                format!("plans[{first}] also answers {what}: a runbook uses the first plan that fits, never this one"),
            ));
        } else {
            classes.insert(plan.class, i);
        }
        let found = problems(plan, s, limits, Templates::Allowed);
        if !found.is_empty() {
            errors.extend(
                found
                    .into_iter()
                    .map(|p| Problem::new(at.join(&p.path), p.message)),
            );
            continue;
        }
        if let Some(class) = plan.class
            && plan.has_templates()
        {
            let (e, w) = sweep(plan, class, s, limits);
            errors.extend(
                e.into_iter()
                    .map(|p| Problem::new(at.join(&p.path), p.message)),
            );
            warnings.extend(
                w.into_iter()
                    .map(|p| Problem::new(at.join(&p.path), p.message)),
            );
        }
    }
    (errors, warnings)
}

/// The plan instantiated for each target of its class, problems grouped by where they are.
fn sweep(
    plan: &Plan,
    class: IncidentClass,
    s: &Scenario,
    limits: &Limits,
) -> (Vec<Problem>, Vec<Problem>) {
    let targets = targets_of(class, s);
    if targets.is_empty() {
        let w = Problem::new(
            FieldPath::root().field("class"),
            format!(
                "the scenario has nothing a `{}` incident can happen to: this plan never runs here",
                class.name()
            ),
        );
        return (Vec::new(), vec![w]);
    }
    // Per place: how many targets fail there, and the first one with its message.
    let mut by_path: BTreeMap<FieldPath, (usize, String, String)> = BTreeMap::new();
    for target in &targets {
        let incident = Classification {
            class,
            target: target.clone(),
            evidence: String::new(),
        };
        let (inst, origin) = plan.instantiate_mapped(&incident, s);
        for p in problems(&inst, s, limits, Templates::Resolved) {
            let path = FieldPath(
                p.path
                    .0
                    .iter()
                    .enumerate()
                    .map(|(k, seg)| match (k, seg) {
                        (1, PathSeg::Index(j)) => PathSeg::Index(origin[*j]),
                        _ => *seg,
                    })
                    .collect(),
            );
            let entry = by_path
                .entry(path)
                .or_insert_with(|| (0, target.clone(), p.message.clone()));
            entry.0 += 1;
        }
    }
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let n = targets.len();
    for (path, (count, target, message)) in by_path {
        let class = class.name();
        if count == n {
            let what = if n == 1 {
                format!("for the one `{class}` target in the scenario, `{target}`")
            } else {
                format!("for every `{class}` target in the scenario ({n}), e.g. `{target}`")
            };
            errors.push(Problem::new(path, format!("{what}: {message}")));
        } else {
            let others = match count - 1 {
                0 => String::new(),
                k => format!(" (and {k} more of its {n} targets)"),
            };
            warnings.push(Problem::new(
                path,
                format!("for a `{class}` on `{target}`{others}: {message}"),
            ));
        }
    }
    (errors, warnings)
}

struct Checker<'a> {
    s: &'a Scenario,
    limits: &'a Limits,
    templates: Templates,
    out: Vec<Problem>,
}

impl Checker<'_> {
    fn err(&mut self, at: FieldPath, message: impl Into<String>) {
        self.out.push(Problem::new(at, message));
    }

    fn plan(&mut self, plan: &Plan) {
        let root = FieldPath::root();
        if plan.name.trim().is_empty() {
            self.err(root.field("name"), "a plan needs a name");
        }
        let steps = root.field("steps");
        if plan.steps.is_empty() {
            self.err(
                steps.clone(),
                "has no steps: a plan does at least one thing",
            );
        }
        let budget = self.limits.budget as usize;
        if plan.steps.len() > budget {
            self.err(
                steps.clone(),
                format!(
                    "has {} steps, more than an incident's action budget (`limits.budget`: {budget}): the incident would escalate before the plan ends",
                    plan.steps.len()
                ),
            );
        }
        // Ids: the first step with an id owns it.
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for (j, step) in plan.steps.iter().enumerate() {
            let at = steps.index(j).field("id");
            if step.id.trim().is_empty() {
                self.err(at, "a step needs an id (`after` names steps by it)");
            } else if let Some(k) = index.get(step.id.as_str()) {
                self.err(
                    at,
                    format!(
                        "step id `{}` is steps[{k}]'s too: ids are unique in a plan",
                        step.id
                    ),
                );
            } else {
                index.insert(&step.id, j);
            }
        }
        let ids: Vec<&str> = index.keys().copied().collect();
        // Edges: `deps[j]` are the steps j waits for.
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); plan.steps.len()];
        for (j, step) in plan.steps.iter().enumerate() {
            for (k, name) in step.after.iter().enumerate() {
                match index.get(name.as_str()) {
                    Some(&d) => deps[j].push(d),
                    None => {
                        let mut msg = format!("no step `{name}` in this plan");
                        if let Some(close) = nearest(name, &ids) {
                            msg.push_str(&format!(" (did you mean `{close}`?)"));
                        }
                        if !ids.is_empty() {
                            msg.push_str(&format!("; its steps are: {}", listing(&ids)));
                        }
                        self.err(steps.index(j).field("after").index(k), msg);
                    }
                }
            }
        }
        for (j, step) in plan.steps.iter().enumerate() {
            self.step(&steps.index(j), step);
        }
        let cycles = cycles(plan, &deps);
        for (j, k, cycle) in &cycles {
            let names: Vec<String> = cycle
                .iter()
                .map(|&c| format!("`{}`", plan.steps[c].id))
                .collect();
            self.err(
                steps.index(*j).field("after").index(*k),
                format!(
                    "the steps {} wait for each other in a cycle ({} -> {}), so none of them can start: a plan is a DAG",
                    names.join(", "),
                    names.join(" -> "),
                    names[0]
                ),
            );
        }
        if cycles.is_empty() {
            self.capacity(plan, &deps);
        }
    }

    /// A name as written: `None` when it is a template (checked here) or names nothing.
    fn concrete<'n>(&mut self, at: &FieldPath, name: &'n str) -> Option<&'n str> {
        if !name.contains('$') {
            return Some(name);
        }
        match self.templates {
            Templates::Allowed => {
                for t in template_names(name) {
                    if !TEMPLATES.contains(&t) {
                        let mut msg = format!("unknown template `{t}`");
                        if let Some(close) = nearest(t, &TEMPLATES) {
                            msg.push_str(&format!(" (did you mean `{close}`?)"));
                        }
                        msg.push_str(&format!("; templates are {}", TEMPLATES.join(", ")));
                        self.err(at.clone(), msg);
                    }
                }
            }
            Templates::Resolved => {
                let names: Vec<&str> = template_names(name).collect();
                self.err(
                    at.clone(),
                    format!(
                        "`{name}`: the template {} has no value for this incident (`$service` needs a target that is a service, an instance or a client; `$caller` a target that something calls)",
                        names.join(", ")
                    ),
                );
            }
        }
        None
    }

    /// A service (`instance`: or one of its instances `NAME#i`): its index and instance.
    fn service(
        &mut self,
        at: &FieldPath,
        name: &str,
        instance: bool,
    ) -> Option<(usize, Option<u32>)> {
        let name = self.concrete(at, name)?;
        let s = self.s;
        if let Some((j, i)) = s.replica_target(name) {
            if i.is_some() && !instance {
                let whole = &s.services[j].name;
                self.err(
                    at.clone(),
                    format!("acts on a whole service: name `{whole}` rather than one instance"),
                );
                return None;
            }
            return Some((j, i));
        }
        if let Some((base, _)) = name.rsplit_once('#')
            && let Some(j) = s.service_index(base)
        {
            let n = s.services[j].instances();
            let msg = if !instance {
                format!("acts on a whole service: name `{base}` rather than one instance")
            } else if n == 1 {
                format!("`{base}` has one instance: name it `{base}`")
            } else {
                format!(
                    "`{name}` is not an instance of `{base}`: it has {n}, `{base}#0` .. `{base}#{}`",
                    n - 1
                )
            };
            self.err(at.clone(), msg);
            return None;
        }
        let msg = if s.clients.iter().any(|c| c.name == name) {
            format!("`{name}` is a client; this action acts on a service")
        } else if s.databases.iter().any(|d| d.name == name) {
            format!(
                "`{name}` is a database; this action acts on a service (a database has `failover`)"
            )
        } else {
            unknown_service("names", name, &service_names(self.s))
        };
        self.err(at.clone(), msg);
        None
    }

    fn step(&mut self, at: &FieldPath, step: &Step) {
        let act = at.field("action");
        let s = self.s;
        match &step.action {
            PlanAction::Restart { target, .. } | PlanAction::Drain { target } => {
                self.service(&act.field("target"), target, true);
            }
            PlanAction::Scale {
                service, replicas, ..
            } => {
                if let Some((j, _)) = self.service(&act.field("service"), service, false) {
                    let max = s.services[j].instances();
                    if *replicas == 0 {
                        self.err(
                            act.field("replicas"),
                            "must be at least 1: scaling to 0 takes the whole service down",
                        );
                    } else if *replicas > max {
                        self.err(
                            act.field("replicas"),
                            format!("would scale `{service}` to {replicas}, past the {max} instances it may have (its `max_replicas`)"),
                        );
                    }
                }
            }
            PlanAction::ShedLoad { service, rps } => {
                self.service(&act.field("service"), service, false);
                if !(rps.is_finite() && *rps > 0.0) {
                    self.err(
                        act.field("rps"),
                        format!("must be a finite rate above 0 requests/s, got {rps}: shedding to 0 refuses everything"),
                    );
                }
            }
            PlanAction::Limit {
                service,
                max_concurrency,
            } => {
                self.service(&act.field("service"), service, true);
                if *max_concurrency == 0 {
                    self.err(
                        act.field("max_concurrency"),
                        "must be at least 1: a limit of 0 refuses everything",
                    );
                }
            }
            PlanAction::Failover { database } => {
                let at = act.field("database");
                if let Some(name) = self.concrete(&at, database) {
                    match s.databases.iter().find(|d| d.name == name) {
                        None => {
                            let known: Vec<&str> =
                                s.databases.iter().map(|d| d.name.as_str()).collect();
                            self.err(at, unknown("database", name, &known));
                        }
                        Some(d) if d.replicas == 0 => {
                            self.err(at, format!("database `{name}` has no replica to promote"));
                        }
                        Some(_) => {}
                    }
                }
            }
            PlanAction::Rollback { config } => {
                let at = act.field("config");
                if let Some(name) = self.concrete(&at, config)
                    && !s.configs.iter().any(|c| c.name == name)
                {
                    let known: Vec<&str> = s.configs.iter().map(|c| c.name.as_str()).collect();
                    self.err(at, unknown("config", name, &known));
                }
            }
            PlanAction::Degrade { caller, callee } => {
                let (at_caller, at_callee) = (act.field("caller"), act.field("callee"));
                let caller = self.concrete(&at_caller, caller);
                let callee = self.concrete(&at_callee, callee);
                let mut callers = service_names(self.s);
                callers.extend(s.clients.iter().map(|c| c.name.as_str()));
                let caller_ok = caller.is_some_and(|c| {
                    let ok = callers.contains(&c);
                    if !ok {
                        let mut msg = format!("`{c}` is neither a service nor a client");
                        if let Some(close) = nearest(c, &callers) {
                            msg.push_str(&format!(" (did you mean `{close}`?)"));
                        }
                        self.err(at_caller.clone(), msg);
                    }
                    ok
                });
                if let Some(callee) = callee {
                    let nodes = call_targets(s);
                    if !nodes.contains(&callee) {
                        self.err(
                            at_callee,
                            unknown("service, cache, database or token auth", callee, &nodes),
                        );
                    } else if let (true, Some(caller)) = (caller_ok, caller)
                        && !crate::topology::calls(s, caller, callee)
                    {
                        self.err(
                            at_callee,
                            format!(
                                "`{caller}` never calls `{callee}`: there is no call to degrade"
                            ),
                        );
                    }
                }
            }
            PlanAction::EvacuateZone { zone } => {
                let at = act.field("zone");
                if let Some(name) = self.concrete(&at, zone) {
                    let zones = crate::zones::Zones::of(s);
                    let known: Vec<&str> = (0..zones.len()).map(|z| zones.name(z)).collect();
                    if !known.contains(&name) {
                        self.err(at, unknown("zone", name, &known));
                    }
                }
            }
        }
        if let Some(v) = &step.verify {
            self.verify(&at.field("verify"), v);
        }
    }

    fn verify(&mut self, at: &FieldPath, v: &Verify) {
        let s = self.s;
        match (v.below, v.above) {
            (None, None) => self.err(
                at.clone(),
                "gives neither `below` nor `above`: say which level the signal must reach",
            ),
            (Some(_), Some(_)) => self.err(
                at.clone(),
                "gives both `below` and `above`: a verification watches one level",
            ),
            (Some(x), None) | (None, Some(x)) if !x.is_finite() => {
                let field = if v.below.is_some() { "below" } else { "above" };
                self.err(at.field(field), format!("must be a finite level, got {x}"));
            }
            _ => {}
        }
        if v.within.is_zero() {
            self.err(
                at.field("within"),
                "must be longer than 0s: a verification needs at least one window",
            );
        } else if v.within > s.horizon {
            self.err(
                at.field("within"),
                format!(
                    "{} is longer than the run ({}): the verification could never pass",
                    v.within, s.horizon
                ),
            );
        }
        let at_of = at.field("of");
        let Some(of) = self.concrete(&at_of, &v.of) else {
            return;
        };
        let signal = v.signal;
        let names = |f: fn(crate::rules::Metric) -> bool| -> String {
            super::metric_name::ALL
                .iter()
                .filter(|m| f(**m))
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let fits = if s.service_index(of).is_some() {
            Some((
                "service",
                signal.of_service(),
                names(crate::rules::Metric::of_service),
            ))
        } else if s.clients.iter().any(|c| c.name == of) {
            Some((
                "client",
                signal.of_client(),
                names(crate::rules::Metric::of_client),
            ))
        } else if s.brokers.iter().any(|b| b.name == of) {
            Some((
                "broker",
                signal.of_broker(),
                names(crate::rules::Metric::of_broker),
            ))
        } else {
            None
        };
        match fits {
            None => {
                let mut known = service_names(self.s);
                known.extend(s.clients.iter().map(|c| c.name.as_str()));
                known.extend(s.brokers.iter().map(|b| b.name.as_str()));
                self.err(at_of, unknown("service, client or broker", of, &known));
            }
            Some((kind, false, has)) => self.err(
                at.field("signal"),
                format!(
                    "`{of}` is a {kind}, which has no `{}`; a {kind} has {has}",
                    signal.name()
                ),
            ),
            Some(_) => {}
        }
    }

    /// Restarts and drains against `max_capacity_fraction`, alone and together.
    fn capacity(&mut self, plan: &Plan, deps: &[Vec<usize>]) {
        let s = self.s;
        let fraction = self.limits.max_capacity_fraction;
        let before = ancestors(deps);
        // Per service: the steps that take instances out, with which.
        let mut touching: BTreeMap<usize, Vec<(usize, BTreeSet<u32>)>> = BTreeMap::new();
        for (j, step) in plan.steps.iter().enumerate() {
            let (PlanAction::Restart { target, .. } | PlanAction::Drain { target }) = &step.action
            else {
                continue;
            };
            let Some((svc, instance)) = s.replica_target(target) else {
                continue;
            };
            let n = s.services[svc].replicas.max(1);
            let set: BTreeSet<u32> = match instance {
                Some(i) => BTreeSet::from([i]),
                None => (0..n).collect(),
            };
            let verb = verb(&step.action);
            if over(set.len(), n, fraction) {
                let name = &s.services[svc].name;
                self.err(
                    FieldPath::root().field("steps").index(j).field("action").field("target"),
                    format!(
                        "{verb} {} of `{name}`'s {n} instances at once ({}), more than `limits.max_capacity_fraction` ({fraction}) allows: {} at a time, in steps ordered with `after`",
                        set.len(),
                        percent(set.len(), n),
                        allowed(n, fraction),
                    ),
                );
            } else {
                touching.entry(svc).or_default().push((j, set));
            }
        }
        for (svc, steps) in touching {
            let n = s.services[svc].replicas.max(1);
            let concurrent =
                |a: usize, b: usize| !before[a].contains(&b) && !before[b].contains(&a);
            if let Some(group) = antichain_over(&steps, n, fraction, &concurrent) {
                let last = *group.iter().max().unwrap_or(&0);
                let ids: Vec<String> = group
                    .iter()
                    .map(|&j| format!("`{}`", plan.steps[j].id))
                    .collect();
                let count: BTreeSet<u32> = steps
                    .iter()
                    .filter(|(j, _)| group.contains(j))
                    .flat_map(|(_, set)| set.iter().copied())
                    .collect();
                let name = &s.services[svc].name;
                self.err(
                    FieldPath::root().field("steps").index(last).field("action").field("target"),
                    format!(
                        "the steps {} can run at the same time (no `after` path between them) and together take {} of `{name}`'s {n} instances out ({}), more than `limits.max_capacity_fraction` ({fraction}) allows: {} at a time; order them with `after`",
                        ids.join(", "),
                        count.len(),
                        percent(count.len(), n),
                        allowed(n, fraction),
                    ),
                );
            }
        }
    }
}

fn verb(action: &PlanAction) -> &'static str {
    match action {
        PlanAction::Restart { .. } => "restarts",
        _ => "drains",
    }
}

fn over(count: usize, n: u32, fraction: f64) -> bool {
    count as f64 > fraction * f64::from(n)
}

fn allowed(n: u32, fraction: f64) -> usize {
    (0..=n as usize)
        .take_while(|&k| !over(k, n, fraction))
        .last()
        .unwrap_or(0)
}

fn percent(count: usize, n: u32) -> String {
    format!("{:.0}%", 100.0 * count as f64 / f64::from(n))
}

/// Steps that can all run at once and together take more instances out than allowed,
/// if any (the first found, smallest first). Each step added must take out an instance
/// the others do not, so the search is at most `allowed + 1` deep.
fn antichain_over(
    steps: &[(usize, BTreeSet<u32>)],
    n: u32,
    fraction: f64,
    concurrent: &dyn Fn(usize, usize) -> bool,
) -> Option<Vec<usize>> {
    fn grow(
        steps: &[(usize, BTreeSet<u32>)],
        from: usize,
        chosen: &mut Vec<usize>,
        union: &BTreeSet<u32>,
        n: u32,
        fraction: f64,
        concurrent: &dyn Fn(usize, usize) -> bool,
    ) -> bool {
        if over(union.len(), n, fraction) {
            return true;
        }
        for k in from..steps.len() {
            let (j, set) = &steps[k];
            if set.is_subset(union) || !chosen.iter().all(|&c| concurrent(c, *j)) {
                continue;
            }
            chosen.push(*j);
            let bigger: BTreeSet<u32> = union.union(set).copied().collect();
            if grow(steps, k + 1, chosen, &bigger, n, fraction, concurrent) {
                return true;
            }
            chosen.pop();
        }
        false
    }
    let mut chosen = Vec::new();
    grow(
        steps,
        0,
        &mut chosen,
        &BTreeSet::new(),
        n,
        fraction,
        concurrent,
    )
    .then_some(chosen)
}

/// Cycles in the `after` graph, each once: (step, index in its `after` that closes the
/// cycle, the steps of the cycle in wait order).
fn cycles(plan: &Plan, deps: &[Vec<usize>]) -> Vec<(usize, usize, Vec<usize>)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        j: usize,
        plan: &Plan,
        deps: &[Vec<usize>],
        mark: &mut [Mark],
        stack: &mut Vec<usize>,
        found: &mut Vec<(usize, usize, Vec<usize>)>,
        seen: &mut BTreeSet<Vec<usize>>,
    ) {
        mark[j] = Mark::Open;
        stack.push(j);
        for &d in &deps[j] {
            match mark[d] {
                Mark::New => visit(d, plan, deps, mark, stack, found, seen),
                Mark::Open => {
                    let from = stack.iter().position(|&x| x == d).unwrap_or(0);
                    let cycle = stack[from..].to_vec();
                    let mut key = cycle.clone();
                    key.sort_unstable();
                    if seen.insert(key) {
                        let name = &plan.steps[d].id;
                        let k = plan.steps[j]
                            .after
                            .iter()
                            .position(|a| a == name)
                            .unwrap_or(0);
                        found.push((j, k, cycle));
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        mark[j] = Mark::Done;
    }
    let mut mark = vec![Mark::New; deps.len()];
    let (mut found, mut seen) = (Vec::new(), BTreeSet::new());
    for j in 0..deps.len() {
        if mark[j] == Mark::New {
            visit(
                j,
                plan,
                deps,
                &mut mark,
                &mut Vec::new(),
                &mut found,
                &mut seen,
            );
        }
    }
    found
}

/// For each step, every step that must finish before it (the graph has no cycle).
fn ancestors(deps: &[Vec<usize>]) -> Vec<BTreeSet<usize>> {
    fn of(
        j: usize,
        deps: &[Vec<usize>],
        memo: &mut Vec<Option<BTreeSet<usize>>>,
    ) -> BTreeSet<usize> {
        if let Some(done) = &memo[j] {
            return done.clone();
        }
        let mut all = BTreeSet::new();
        for &d in &deps[j] {
            all.insert(d);
            all.extend(of(d, deps, memo));
        }
        memo[j] = Some(all.clone());
        all
    }
    let mut memo = vec![None; deps.len()];
    (0..deps.len()).map(|j| of(j, deps, &mut memo)).collect()
}

/// The `$name`s in a text.
fn template_names(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('$').map(move |(i, _)| {
        let rest = &text[i + 1..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        &text[i..=i + end]
    })
}

/// What a call can name: services, caches, databases, token auths.
fn call_targets(s: &Scenario) -> Vec<&str> {
    s.services
        .iter()
        .map(|x| x.name.as_str())
        .chain(s.caches.iter().map(|c| c.name.as_str()))
        .chain(s.databases.iter().map(|d| d.name.as_str()))
        .chain(s.token_auths.iter().map(|t| t.name.as_str()))
        .collect()
}

fn unknown(kind: &str, name: &str, known: &[&str]) -> String {
    let mut msg = format!("no {kind} `{name}` in the scenario");
    if let Some(close) = nearest(name, known) {
        msg.push_str(&format!(" (did you mean `{close}`?)"));
    }
    if known.is_empty() {
        msg.push_str(&format!("; it has no {kind}"));
    } else {
        msg.push_str(&format!("; it has {}", listing(known)));
    }
    msg
}

fn service_names(s: &Scenario) -> Vec<&str> {
    s.services.iter().map(|x| x.name.as_str()).collect()
}
