//! Checks of `brokers` and of what names a broker (`Publish` steps, clients publishing,
//! faults). Unknown consumer services and endpoints are the call graph's to report
//! (`topology`).

use std::collections::BTreeMap;

use sim_core::path::{FieldPath, Problem};

use crate::scenario::{Scenario, Step};

/// Every problem of `s`'s brokers and of the references to them.
pub(super) fn problems(s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    let root = FieldPath::root();
    let mut err = |path: FieldPath, msg: String| out.push(Problem::new(path, msg));
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let names: Vec<&str> = s.brokers.iter().map(|b| b.name.as_str()).collect();
    for (i, b) in s.brokers.iter().enumerate() {
        let at = root.field("brokers").index(i);
        if b.name.trim().is_empty() {
            err(at.field("name"), "a broker needs a name".into());
        } else if let Some(first) = seen.get(b.name.as_str()) {
            err(
                at.field("name"),
                format!(
                    "broker name `{}` is already used by broker #{first}",
                    b.name
                ),
            );
        } else {
            seen.insert(&b.name, i);
        }
        if s.service_index(&b.name).is_some() || s.clients.iter().any(|c| c.name == b.name) {
            err(
                at.field("name"),
                format!(
                    "`{}` is also the name of a service or a client: publishers and faults refer \
                     to brokers by name, so a name must be unique across all three",
                    b.name
                ),
            );
        }
        if b.capacity == Some(0) {
            err(
                at.field("capacity"),
                "must be at least 1 (or None for no bound): a queue of 0 holds no message".into(),
            );
        }
        if b.visibility_timeout.is_zero() {
            err(
                at.field("visibility_timeout"),
                "must be longer than 0s: every delivery would time out at once".into(),
            );
        }
        if b.max_deliveries == 0 {
            err(
                at.field("max_deliveries"),
                "must be at least 1: a message is delivered at least once".into(),
            );
        }
        if b.groups.is_empty() {
            err(
                at.field("groups"),
                "a broker needs at least one consumer group: nothing would take its messages"
                    .into(),
            );
        }
        for (k, g) in b.groups.iter().enumerate() {
            let at = at.field("groups").index(k);
            if g.consumers == 0 {
                err(
                    at.field("consumers"),
                    "must be at least 1: a group of 0 consumers takes no message".into(),
                );
            }
            if g.prefetch == 0 {
                err(
                    at.field("prefetch"),
                    "must be at least 1: a consumer with no prefetch gets no message".into(),
                );
            }
        }
    }
    let unknown = |to: &str| {
        if s.service_index(to).is_some() {
            format!("`{to}` is a service, not a broker: call it with `Call(to: \"{to}\")`")
        } else if names.is_empty() {
            format!("publishes to broker `{to}`, but the scenario defines no brokers")
        } else {
            let mut msg = format!("publishes to broker `{to}`, which does not exist");
            if let Some(close) = crate::diagnostic::nearest(to, &names) {
                msg.push_str(&format!(" (did you mean `{close}`?)"));
            }
            msg.push_str(&format!(
                "; brokers are: {}",
                crate::topology::listing(&names)
            ));
            msg
        }
    };
    for (i, svc) in s.services.iter().enumerate() {
        let at = root.field("services").index(i);
        let endpoints = std::iter::once((&svc.calls, at.field("calls"))).chain(
            svc.endpoints
                .iter()
                .enumerate()
                .map(|(e, ep)| (&ep.calls, at.field("endpoints").index(e).field("calls"))),
        );
        for (steps, at) in endpoints {
            for (j, step) in steps.iter().enumerate() {
                if let Step::Publish(p) = step
                    && s.broker_index(&p.to).is_none()
                {
                    err(at.index(j).field("to"), unknown(&p.to));
                }
            }
        }
    }
    for (i, c) in s.clients.iter().enumerate() {
        if s.broker_index(&c.target).is_some() && c.endpoint.is_some() {
            err(
                root.field("clients").index(i).field("endpoint"),
                format!(
                    "`{}` is a broker, which has no endpoints: a client targeting it publishes",
                    c.target
                ),
            );
        }
    }
    out
}
