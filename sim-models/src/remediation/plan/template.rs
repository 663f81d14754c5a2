//! Plans written for any incident of a class: `$target` is the incident's target (what
//! the classifier points at), `$service` the service it belongs to (the service of a
//! `NAME#i`, the service a client calls), and a step naming `$caller` is copied once per
//! node that calls `$target` (to degrade every caller of a failing dependency).

use crate::Scenario;
use crate::remediation::class::{Classification, IncidentClass};

use super::{Plan, PlanAction, Step};

/// The template names a plan may use.
pub const TEMPLATES: [&str; 3] = ["$target", "$service", "$caller"];

impl Plan {
    /// This plan for one incident: templates replaced by the incident's names. A template
    /// with no value here (`$service` of a zone) stays as written, and the checks say so.
    pub fn instantiate(&self, incident: &Classification, scenario: &Scenario) -> Plan {
        self.instantiate_mapped(incident, scenario).0
    }

    /// [`Plan::instantiate`], with the index of the step each new step comes from.
    pub(super) fn instantiate_mapped(
        &self,
        incident: &Classification,
        scenario: &Scenario,
    ) -> (Plan, Vec<usize>) {
        let target = incident.target.as_str();
        let service = service_of(scenario, target);
        let fill = |text: &str| {
            let text = text.replace("$target", target);
            match &service {
                Some(svc) => text.replace("$service", svc),
                None => text,
            }
        };
        let callers = callers_of(scenario, target);
        // Steps naming `$caller` become one copy per caller, `ID-CALLER`; `after` naming
        // such a step waits for every copy.
        let copies = |step: &Step| -> Option<Vec<String>> {
            mentions_caller(step)
                .then(|| callers.iter().map(|c| format!("{}-{c}", step.id)).collect())
        };
        let (mut steps, mut origin) = (Vec::new(), Vec::new());
        for (j, step) in self.steps.iter().enumerate() {
            let after: Vec<String> = step
                .after
                .iter()
                .flat_map(
                    |id| match self.steps.iter().find(|s| &s.id == id).and_then(copies) {
                        Some(ids) => ids,
                        None => vec![id.clone()],
                    },
                )
                .collect();
            let one = |caller: Option<&str>, id: String| {
                let fill = |text: &str| {
                    let text = fill(text);
                    match caller {
                        Some(c) => text.replace("$caller", c),
                        None => text,
                    }
                };
                let mut s = step.clone();
                s.id = id;
                s.after = after.clone();
                map_names(&mut s, &mut |t: &str| fill(t));
                s
            };
            match copies(step) {
                Some(ids) => {
                    for (c, id) in callers.iter().zip(ids) {
                        steps.push(one(Some(c), id));
                        origin.push(j);
                    }
                }
                None => {
                    steps.push(one(None, step.id.clone()));
                    origin.push(j);
                }
            }
        }
        let plan = Plan {
            name: self.name.clone(),
            class: self.class,
            description: self.description.clone(),
            steps,
        };
        (plan, origin)
    }

    /// Whether any name in it is a template.
    pub fn has_templates(&self) -> bool {
        self.steps.iter().any(|s| {
            let mut found = false;
            let mut probe = s.clone();
            map_names(&mut probe, &mut |t: &str| {
                found |= t.contains('$');
                t.to_string()
            });
            found
        })
    }
}

fn mentions_caller(step: &Step) -> bool {
    let mut found = false;
    let mut probe = step.clone();
    map_names(&mut probe, &mut |t: &str| {
        found |= t.contains("$caller");
        t.to_string()
    });
    found
}

/// Rewrites every name a step holds (its action's targets and its verification's `of`).
pub(super) fn map_names(step: &mut Step, f: &mut dyn FnMut(&str) -> String) {
    match &mut step.action {
        PlanAction::Restart { target, .. } | PlanAction::Drain { target } => {
            *target = f(target);
        }
        PlanAction::Scale { service, .. }
        | PlanAction::ShedLoad { service, .. }
        | PlanAction::Limit { service, .. } => *service = f(service),
        PlanAction::Failover { database } => *database = f(database),
        PlanAction::Rollback { config } => *config = f(config),
        PlanAction::Degrade { caller, callee } => {
            *caller = f(caller);
            *callee = f(callee);
        }
        PlanAction::EvacuateZone { zone } => *zone = f(zone),
    }
    if let Some(v) = &mut step.verify {
        v.of = f(&v.of);
    }
}

/// The service `name` belongs to: itself, the service of an instance `NAME#i`, or the
/// service a client calls.
pub(super) fn service_of(s: &Scenario, name: &str) -> Option<String> {
    if let Some((j, _)) = s.replica_target(name) {
        return Some(s.services[j].name.clone());
    }
    if let Some(c) = s.clients.iter().find(|c| c.name == name) {
        return s.service_index(&c.target).map(|_| c.target.clone());
    }
    None
}

/// The services and clients that call `callee` directly, in file order.
pub(crate) fn callers_of(s: &Scenario, callee: &str) -> Vec<String> {
    let services = s.services.iter().map(|x| x.name.as_str());
    let clients = s.clients.iter().map(|c| c.name.as_str());
    services
        .chain(clients)
        .filter(|n| crate::topology::calls(s, n, callee))
        .map(str::to_string)
        .collect()
}

/// The targets an incident of `class` can have in `s`, as the classifier names them:
/// services (overload, retry storm), instances `NAME#i` of replicated services (instance
/// failure), what some node calls (dependency down or slow), configs, zones.
pub fn targets_of(class: IncidentClass, s: &Scenario) -> Vec<String> {
    let services = || s.services.iter().map(|x| x.name.clone());
    match class {
        IncidentClass::Overload | IncidentClass::RetryStorm => services().collect(),
        IncidentClass::InstanceFailure => s
            .services
            .iter()
            .filter(|x| x.instances() > 1)
            .flat_map(|x| (0..x.replicas.max(1)).map(move |i| format!("{}#{i}", x.name)))
            .collect(),
        IncidentClass::DependencyDown | IncidentClass::DependencySlow => {
            let nodes = services()
                .chain(s.caches.iter().map(|c| c.name.clone()))
                .chain(s.databases.iter().map(|d| d.name.clone()))
                .chain(s.token_auths.iter().map(|t| t.name.clone()));
            nodes.filter(|n| !callers_of(s, n).is_empty()).collect()
        }
        IncidentClass::BadConfig => s.configs.iter().map(|c| c.name.clone()).collect(),
        IncidentClass::ZoneLoss => {
            let zones = crate::zones::Zones::of(s);
            (0..zones.len())
                .map(|z| zones.name(z).to_string())
                .collect()
        }
    }
}
