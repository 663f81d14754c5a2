//! Checks of `databases` (a primary and read replicas; see
//! `world/components/database.rs`). Calls naming a database and their endpoints are the
//! call graph's to check (`topology`); faults on it are checked with the other faults.

use std::collections::BTreeMap;

use sim_core::SimDuration;
use sim_core::dist::Dist;
use sim_core::path::{FieldPath, Problem};

use crate::scenario::{DatabaseKeys, ReadFrom, Replication, Scenario};
use crate::world::components::database::{MAX_KEYS, MAX_REPLICAS};

/// (errors, warnings) of `s`'s databases.
pub(super) fn problems(s: &Scenario) -> (Vec<Problem>, Vec<Problem>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let root = FieldPath::root();
    let mut err = |path: FieldPath, msg: String| errors.push(Problem::new(path, msg));
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, d) in s.databases.iter().enumerate() {
        let at = root.field("databases").index(i);
        if d.name.trim().is_empty() {
            err(at.field("name"), "a database needs a name".into());
        } else if let Some(first) = seen.get(d.name.as_str()) {
            err(
                at.field("name"),
                format!(
                    "database name `{}` is already used by database #{first}",
                    d.name
                ),
            );
        } else {
            seen.insert(&d.name, i);
        }
        let taken = s.service_index(&d.name).is_some()
            || s.cache_index(&d.name).is_some()
            || s.broker_index(&d.name).is_some()
            || s.clients.iter().any(|c| c.name == d.name);
        if taken {
            err(
                at.field("name"),
                format!(
                    "`{}` is also the name of a service, cache, broker or client: calls, links \
                     and faults refer to each by name, so a name must be unique across them",
                    d.name
                ),
            );
        }
        if d.workers == 0 {
            err(
                at.field("workers"),
                "must be at least 1: a node with no connections serves nothing".into(),
            );
        }
        if d.replicas > MAX_REPLICAS {
            err(
                at.field("replicas"),
                format!("must be at most {MAX_REPLICAS}, got {}", d.replicas),
            );
        }
        if d.reads == ReadFrom::Replicas && d.replicas == 0 {
            err(
                at.field("reads"),
                "reads go to replicas, and there are none: set `replicas`, or `reads: Primary`"
                    .into(),
            );
        }
        if let Replication::Sync { acks } | Replication::SemiSync { acks } = d.replication
            && (acks == 0 || acks > d.replicas)
        {
            err(
                at.field("replication").field("acks"),
                format!(
                    "must be within 1..={} (the replicas), got {acks}: use `Async` for no \
                     acknowledgements",
                    d.replicas
                ),
            );
        }
        let DatabaseKeys::Zipf { keys, exponent } = d.keys;
        if keys == 0 || keys > MAX_KEYS {
            err(
                at.field("keys").field("keys"),
                format!("must be within 1..={MAX_KEYS}, got {keys}"),
            );
        }
        if !(exponent.is_finite() && exponent >= 0.0) {
            err(
                at.field("keys").field("exponent"),
                format!("must be a number >= 0 (0: every key equally likely), got {exponent}"),
            );
        }
        let dists: [(FieldPath, &Dist<SimDuration>); 6] = [
            (at.field("read_time"), &d.read_time),
            (at.field("write_time"), &d.write_time),
            (at.field("lag"), &d.lag),
            (at.field("replay"), &d.replay),
            (
                at.field("failover").field("detection"),
                &d.failover.detection,
            ),
            (
                at.field("failover").field("promotion"),
                &d.failover.promotion,
            ),
        ];
        for (path, dist) in &dists {
            for p in dist.problems() {
                err(path.join(&p.path), p.message);
            }
        }
        let mean = |dist: &Dist<SimDuration>| dist.compile().ok().map(|c| c.mean());
        let horizon = s.horizon.as_nanos() as f64;
        if let (Some(lag), Some(replay)) = (mean(&d.lag), mean(&d.replay))
            && d.replicas > 0
            && lag + replay >= horizon
        {
            err(
                at.field("lag"),
                format!(
                    "a mean replication lag of {} (lag + replay) is at or above the horizon ({}): \
                     no write would reach a replica within the run",
                    SimDuration::from_nanos_f64(lag + replay),
                    s.horizon
                ),
            );
        }
        if let (Some(detect), Some(promote)) =
            (mean(&d.failover.detection), mean(&d.failover.promotion))
            && d.replicas > 0
            && detect + promote >= horizon
        {
            warnings.push(Problem::new(
                at.field("failover"),
                format!(
                    "a mean failover time of {} (detection + promotion) is at or above the \
                     horizon ({}): a crashed primary would not be replaced within the run",
                    SimDuration::from_nanos_f64(detect + promote),
                    s.horizon
                ),
            ));
        }
    }
    (errors, warnings)
}
