//! Availability zones: where each node runs, and the checks on the fields that say so.
//!
//! A zone is a name. A service's `zones` spread its instances round robin (instance `i` in
//! `zones[i % len]`, those up to `max_replicas` included); a client's `zone` is where its
//! traffic comes from. Zones matter in three places:
//! - the network: a pair of nodes in two different zones uses the scenario's `cross_zone`
//!   link unless a `links` entry names the pair; same-zone pairs and nodes without a zone
//!   use `default_link`. Each node still draws from its own stream (`net/NODE`);
//! - faults: `ZoneOutage(zone, mode)` crashes every instance in the zone (compiled at build
//!   into one `Crash` effect per instance, so it composes with other crashes exactly as
//!   they do with each other, and each component kind's own crash reaction applies), and
//!   stops every client in the zone from issuing: its would-be requests are counted as
//!   `not_issued`, not as offered, so availability is over the requests that were made;
//! - routing: a service with `zone_aware` has its callers prefer their own zone
//!   ([`crate::balancer::ZoneAware`], Envoy's zone-aware load balancing).
//!
//! Real systems followed, and where this differs:
//! - **AWS availability zones**: a zone fails as a unit and cross-zone round trips cost
//!   more than in-zone ones (AWS states single-digit milliseconds between the zones of a
//!   region). Here a zone fails
//!   only as a whole (no partial or gray zone failure besides the per-instance faults), and
//!   cross-zone traffic has a latency and loss but no data-transfer cost;
//! - **Kubernetes topology spread** (`topologySpreadConstraints`, `maxSkew: 1`): replicas
//!   are spread evenly over the zones. Here the placement is fixed round robin by instance
//!   index, and a replica is not rescheduled into a surviving zone during an outage;
//! - **Envoy zone-aware routing**: see [`crate::balancer::ZoneAware`].
//! - A zone outage's clients stop issuing, but requests they had in flight at its start
//!   run to their end (a real caller's would be lost with it).

use std::collections::{BTreeMap, BTreeSet};

use sim_core::path::{FieldPath, Problem};

use crate::diagnostic::nearest;
use crate::scenario::{FaultKind, Scenario};

pub use crate::balancer::MAX_ZONES;

/// Every zone a scenario names, numbered in name order.
#[derive(Clone, Debug, Default)]
pub struct Zones {
    names: Vec<String>,
}

impl Zones {
    /// The zones of `s`'s services (clients may only name those: validated).
    pub fn of(s: &Scenario) -> Zones {
        let names: BTreeSet<&str> = s
            .services
            .iter()
            .flat_map(|svc| svc.zones.iter().map(String::as_str))
            .chain(s.clients.iter().filter_map(|c| c.zone.as_deref()))
            .collect();
        Zones {
            names: names.into_iter().map(str::to_string).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn name(&self, z: usize) -> &str {
        &self.names[z]
    }

    pub fn id(&self, name: &str) -> Option<usize> {
        self.names.binary_search_by(|n| n.as_str().cmp(name)).ok()
    }

    /// The zone of every client, then of every instance of every service (instances of
    /// other kinds come after these and have no zone).
    pub fn of_nodes(&self, s: &Scenario) -> Vec<Option<usize>> {
        let clients = s.clients.iter().map(|c| c.zone.as_deref());
        let instances = s
            .services
            .iter()
            .flat_map(|svc| (0..svc.instances()).map(move |i| svc.zone_of(i)));
        clients
            .chain(instances)
            .map(|z| z.and_then(|z| self.id(z)))
            .collect()
    }
}

/// (errors, warnings) of the zone fields of `s`, by field path.
pub fn problems(s: &Scenario) -> (Vec<Problem>, Vec<Problem>) {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let root = FieldPath::root();
    // Zones some instance is in.
    let mut used: BTreeSet<&str> = BTreeSet::new();
    // Every zone named so far, to refuse the one past MAX_ZONES where it is named.
    let mut named: BTreeSet<&str> = BTreeSet::new();
    for (i, svc) in s.services.iter().enumerate() {
        let at = root.field("services").index(i);
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let n = svc.instances() as usize;
        for (k, zone) in svc.zones.iter().enumerate() {
            let at = at.field("zones").index(k);
            if zone.trim().is_empty() {
                errors.push(Problem::new(at, "a zone needs a name"));
                continue;
            }
            if let Some(c) = zone.chars().find(|c| c.is_control()) {
                errors.push(Problem::new(
                    at.clone(),
                    format!(
                        "contains the control character U+{:04X}: names are printed in tables and terminals, use visible characters",
                        c as u32
                    ),
                ));
            }
            if let Some(first) = seen.get(zone.as_str()) {
                errors.push(Problem::new(
                    at,
                    format!("zone `{zone}` is already listed at zones[{first}]"),
                ));
                continue;
            }
            seen.insert(zone, k);
            if named.insert(zone) && named.len() > MAX_ZONES {
                errors.push(Problem::new(
                    at.clone(),
                    format!("zone `{zone}` is one more than the {MAX_ZONES} distinct zones a scenario may have"),
                ));
            }
            if k < n {
                used.insert(zone);
            } else {
                warnings.push(Problem::new(
                    at,
                    format!(
                        "zone `{zone}` gets no instance: `{}` has {n} instance(s) over {} zones (instance i is in zones[i % {}])",
                        svc.name,
                        svc.zones.len(),
                        svc.zones.len()
                    ),
                ));
            }
        }
        if let Some(z) = &svc.zone_aware {
            for p in z.problems() {
                errors.push(Problem::new(
                    at.field("zone_aware").join(&p.path),
                    p.message,
                ));
            }
            if svc.zones.is_empty() {
                warnings.push(Problem::new(
                    at.field("zone_aware"),
                    format!("has no effect: `{}` has no `zones`", svc.name),
                ));
            }
        }
    }
    let known: Vec<&str> = used.iter().copied().collect();
    let unknown = |zone: &str| {
        let mut msg = if known.is_empty() {
            format!("zone `{zone}` has no instance: no service has `zones`")
        } else {
            format!(
                "zone `{zone}` has no instance; zones with instances are: {}",
                crate::topology::listing(&known)
            )
        };
        if let Some(close) = nearest(zone, &known) {
            msg.push_str(&format!(" (did you mean `{close}`?)"));
        }
        msg
    };
    for (i, c) in s.clients.iter().enumerate() {
        if let Some(zone) = &c.zone
            && !used.contains(zone.as_str())
        {
            errors.push(Problem::new(
                root.field("clients").index(i).field("zone"),
                unknown(zone),
            ));
        }
    }
    let faults = s.faults.iter().map(|f| ("faults", &f.kind));
    let incidents = s.incidents.iter().map(|p| ("incidents", &p.kind));
    let mut seen = [0usize; 2];
    for (list, kind) in faults.chain(incidents) {
        let i = &mut seen[usize::from(list == "incidents")];
        if let FaultKind::ZoneOutage { zone, .. } = kind
            && !used.contains(zone.as_str())
        {
            errors.push(Problem::new(
                root.field(list).index(*i).field("kind").field("zone"),
                unknown(zone),
            ));
        }
        *i += 1;
    }
    if s.cross_zone.is_some() && used.is_empty() {
        warnings.push(Problem::new(
            root.field("cross_zone"),
            "has no effect: no service has `zones`",
        ));
    }
    (errors, warnings)
}

/// Nodes a zone outage of `zone` acts on (its instances and clients).
pub fn nodes_in(s: &Scenario, zone: &str) -> u64 {
    let instances: u64 = s
        .services
        .iter()
        .map(|svc| {
            (0..svc.instances())
                .filter(|&i| svc.zone_of(i) == Some(zone))
                .count() as u64
        })
        .sum();
    let clients = s
        .clients
        .iter()
        .filter(|c| c.zone.as_deref() == Some(zone))
        .count() as u64;
    instances + clients
}
