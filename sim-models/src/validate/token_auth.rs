//! Checks of `token_auths`. Unknown upstream and auth services and endpoints, and token
//! auths no request reaches, are the call graph's to report (`topology`).

use std::collections::BTreeMap;

use sim_core::path::{FieldPath, Problem};

use crate::scenario::Scenario;
use crate::world::components::token_auth::MAX_USERS;

/// Every problem of `s`'s token auths: errors, then warnings.
pub(super) fn problems(s: &Scenario) -> (Vec<Problem>, Vec<Problem>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let root = FieldPath::root();
    let mut err = |path: FieldPath, msg: String| out.push(Problem::new(path, msg));
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, t) in s.token_auths.iter().enumerate() {
        let at = root.field("token_auths").index(i);
        if t.name.trim().is_empty() {
            err(at.field("name"), "a token auth needs a name".into());
        } else if let Some(first) = seen.get(t.name.as_str()) {
            err(
                at.field("name"),
                format!(
                    "token auth name `{}` is already used by token auth #{first}",
                    t.name
                ),
            );
        } else {
            seen.insert(&t.name, i);
        }
        let other = if s.service_index(&t.name).is_some() {
            Some("a service")
        } else if s.clients.iter().any(|c| c.name == t.name) {
            Some("a client")
        } else if s.cache_index(&t.name).is_some() {
            Some("a cache")
        } else if s.broker_index(&t.name).is_some() {
            Some("a broker")
        } else {
            None
        };
        if let Some(other) = other {
            err(
                at.field("name"),
                format!(
                    "`{}` is also the name of {other}: callers refer to token auths by name, so \
                     a name must be unique across services, clients, caches and brokers",
                    t.name
                ),
            );
        }
        if t.users == 0 {
            err(
                at.field("users"),
                "must be at least 1: requests belong to users, and there would be none".into(),
            );
        } else if t.users > MAX_USERS {
            err(
                at.field("users"),
                format!("must be at most {MAX_USERS}, got {}", t.users),
            );
        }
        if t.ttl.is_zero() {
            err(
                at.field("ttl"),
                "must be longer than 0s: a token that expires when issued is never valid, so \
                 every request would refresh and none would pass"
                    .into(),
            );
        } else if t.ttl >= s.horizon {
            warnings.push(Problem::new(
                at.field("ttl"),
                format!(
                    "is at or beyond the horizon ({}): no token issued at the start expires \
                     during the run",
                    s.horizon
                ),
            ));
        }
        let fraction = |x: f64| (0.0..1.0).contains(&x);
        if !fraction(t.ttl_jitter) {
            err(
                at.field("ttl_jitter"),
                format!(
                    "is a fraction of the TTL and must be within [0, 1), got {} (1 would allow \
                     a lifetime of 0)",
                    t.ttl_jitter
                ),
            );
        }
        if let Some(r) = t.refresh_ahead {
            let ahead = at.field("refresh_ahead");
            for (field, x) in [("from", r.from), ("to", r.to)] {
                if !fraction(x) {
                    err(
                        ahead.field(field),
                        format!(
                            "is a fraction of a token's lifetime and must be within [0, 1), got \
                             {x} (at 1 the token has expired: leave `refresh_ahead` out to \
                             refresh on expiry)"
                        ),
                    );
                }
            }
            if fraction(r.from) && fraction(r.to) && r.from > r.to {
                err(
                    ahead.field("to"),
                    format!(
                        "must be at least `from` ({}), got {}: the refresh point is drawn \
                         between them",
                        r.from, r.to
                    ),
                );
            }
        }
        for (field, policy) in [
            ("upstream_policy", &t.upstream_policy),
            ("auth_policy", &t.auth_policy),
        ] {
            for p in super::policy_problems(policy) {
                err(at.field(field).join(&p.path), p.message);
            }
        }
    }
    (out, warnings)
}
