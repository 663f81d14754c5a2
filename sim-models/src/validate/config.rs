//! Checks of `configs` (the config service: `world/config.rs`) and of the `Rollback`
//! actions that name one.

use std::collections::BTreeMap;

use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};

use crate::diagnostic::nearest;
use crate::scenario::{ConfigEffect, Delivery, Scenario, Strategy};

/// At most this many pushes per config: each is a version with a series of its own.
pub const MAX_PUSHES: usize = 1000;

/// (errors, warnings) of `s`'s configs.
pub(super) fn problems(s: &Scenario) -> (Vec<Problem>, Vec<Problem>) {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let mut err = |path: FieldPath, msg: String| errors.push(Problem::new(path, msg));
    let root = FieldPath::root();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    // A service reads at most one config, so each error a bad config causes is its.
    let mut read_by: BTreeMap<&str, usize> = BTreeMap::new();
    let services: Vec<&str> = s.services.iter().map(|x| x.name.as_str()).collect();
    for (i, c) in s.configs.iter().enumerate() {
        let at = root.field("configs").index(i);
        if c.name.trim().is_empty() {
            err(
                at.field("name"),
                "a config needs a name: rollback actions name it".into(),
            );
        } else if c.name.chars().any(char::is_control) {
            err(
                at.field("name"),
                "must not contain control characters: names are printed in tables".into(),
            );
        } else if let Some(first) = seen.get(c.name.as_str()) {
            err(
                at.field("name"),
                format!(
                    "config name `{}` is already used by configs[{first}]",
                    c.name
                ),
            );
        } else {
            seen.insert(&c.name, i);
        }
        if c.services.is_empty() {
            err(
                at.field("services"),
                "names no service: a config nobody reads changes nothing".into(),
            );
        }
        for (k, name) in c.services.iter().enumerate() {
            let path = at.field("services").index(k);
            if s.service_index(name).is_none() {
                let mut msg = crate::topology::unknown_service("names", name, &services);
                if s.cache_index(name).is_some() || s.broker_index(name).is_some() {
                    msg = format!("`{name}` is a cache or a broker; only services read configs");
                }
                err(path, msg);
            } else if let Some(&first) = read_by.get(name.as_str()) {
                err(
                    path,
                    format!(
                        "service `{name}` already reads configs[{first}]: a service reads at most one config, so that each error a bad config causes is counted for it"
                    ),
                );
            } else {
                read_by.insert(name, i);
            }
        }
        match c.delivery {
            Delivery::Poll { every } if every.is_zero() => err(
                at.field("delivery").field("every"),
                "must be longer than 0s: an instance would fetch without end".into(),
            ),
            _ => {}
        }
        if c.pushes.len() > MAX_PUSHES {
            err(
                at.field("pushes"),
                format!("has {} pushes, more than {MAX_PUSHES}", c.pushes.len()),
            );
        }
        let mut last = SimDuration::ZERO;
        for (k, p) in c.pushes.iter().enumerate() {
            let path = at.field("pushes").index(k);
            if p.at >= s.horizon {
                err(
                    path.field("at"),
                    format!(
                        "is at or after the horizon ({}): the push would never happen",
                        s.horizon
                    ),
                );
            }
            if k > 0 && p.at < last {
                err(
                    path.field("at"),
                    format!("is before the push above it ({last}): list pushes in time order"),
                );
            }
            last = p.at;
            if let ConfigEffect::Errors { p } = p.effect
                && !(p > 0.0 && p <= 1.0)
            {
                err(
                    path.field("effect").field("p"),
                    format!(
                        "is {p}; must be a probability above 0 and at most 1 (a config without errors is `Good`)"
                    ),
                );
            }
        }
        if let Strategy::Staged {
            canary,
            waves,
            bake,
        } = c.strategy
        {
            let strategy = at.field("strategy");
            if canary > 1.0 {
                err(
                    strategy.field("canary"),
                    format!(
                        "is {canary}, a share above 1: the canary is a share of each service's instances (0.1 is 10%), at most 1 (all of them)"
                    ),
                );
            } else if canary <= 0.0 || canary.is_nan() {
                err(
                    strategy.field("canary"),
                    format!("is {canary}; must be a share above 0 (0.1 is 10% of the instances)"),
                );
            }
            if waves == 0 {
                err(
                    strategy.field("waves"),
                    "must be at least 1: the waves after the canary take the rest of the instances"
                        .into(),
                );
            }
            if bake.is_zero() {
                err(
                    strategy.field("bake"),
                    "must be longer than 0s: with no bake the canary is never watched (use AllAtOnce)".into(),
                );
            } else if let Delivery::Poll { every } = c.delivery
                && bake <= every
            {
                warnings.push(Problem::new(
                    strategy.field("bake"),
                    format!(
                        "is not longer than the poll interval ({every}): the next wave may begin before the canary instances have even fetched the version"
                    ),
                ));
            }
        }
    }
    (errors, warnings)
}

/// The problem with a `Rollback(config: name)` action, if `name` is no config.
pub(super) fn unknown_config(s: &Scenario, name: &str) -> Option<String> {
    if s.configs.iter().any(|c| c.name == name) {
        return None;
    }
    let known: Vec<&str> = s.configs.iter().map(|c| c.name.as_str()).collect();
    let mut msg = format!("config `{name}` does not exist");
    if let Some(close) = nearest(name, &known) {
        msg.push_str(&format!(" (did you mean `{close}`?)"));
    }
    if known.is_empty() {
        msg.push_str("; the scenario defines no configs");
    } else {
        msg.push_str(&format!(
            "; configs are: {}",
            crate::topology::listing(&known)
        ));
    }
    Some(msg)
}
