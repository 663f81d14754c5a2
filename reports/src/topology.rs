//! A scenario's call graph as a Mermaid flowchart (GitHub, GitLab and most markdown hosts
//! draw it): clients and their load, services with their kind, replicas, workers and queue,
//! and on each call edge the caller's policy (timeout, attempts, budget, breaker, hedge,
//! fallback, deadline); caches (with their backend fetch) and brokers (with their consumer
//! groups, thick edges), databases, and token auths (with their upstream and their auth
//! service, dotted). Nodes are named by position (`c0`, `s1`, `k0` a cache, `b0` a
//! broker, `d0` a database, `a0` a token auth), so any name works.

use std::fmt::Write;

use sim_models::Scenario;
use sim_models::policy::Load;
use sim_models::scenario::{CallPolicy, CallSpec, QueueSpec, Replication, Step};

/// The flowchart's Mermaid text (without the markdown fence).
pub fn topology_mermaid(s: &Scenario) -> String {
    let mut out = String::from("flowchart LR\n");
    let id = |name: &str| -> String {
        if let Some(i) = s.service_index(name) {
            format!("s{i}")
        } else if let Some(i) = s.cache_index(name) {
            format!("k{i}")
        } else if let Some(i) = s.broker_index(name) {
            format!("b{i}")
        } else if let Some(i) = s.database_index(name) {
            format!("d{i}")
        } else if let Some(i) = s.token_auth_index(name) {
            format!("a{i}")
        } else {
            format!("unknown_{}", safe(name))
        }
    };
    for (i, c) in s.clients.iter().enumerate() {
        let load = match &c.load {
            Load::Open { rate_rps, shape } => {
                let shaped = if shape.is_empty() { "" } else { ", shaped" };
                format!("open loop {rate_rps} rps{shaped}")
            }
            Load::Closed { users, .. } => format!("closed loop {users} users"),
        };
        let _ = writeln!(out, "  c{i}([\"{}<br/>client: {load}\"])", text(&c.name));
    }
    for (i, v) in s.services.iter().enumerate() {
        let mut parts = vec![format!("{} workers", v.workers)];
        match v.max_replicas {
            Some(most) if most > v.replicas => {
                parts.push(format!("{} replicas (up to {most})", v.replicas))
            }
            _ if v.replicas > 1 => parts.push(format!("{} replicas", v.replicas)),
            _ => {}
        }
        if let QueueSpec::Bounded(n) = v.queue {
            parts.push(format!("queue {n}"));
        }
        let _ = writeln!(
            out,
            "  s{i}[\"{}<br/>service: {}\"]",
            text(&v.name),
            parts.join(", ")
        );
    }
    for (i, k) in s.caches.iter().enumerate() {
        let _ = writeln!(out, "  k{i}[(\"{}<br/>cache\")]", text(&k.name));
        let mut label: Vec<String> = k
            .backend_endpoint
            .iter()
            .map(|e| format!("→ /{e}"))
            .collect();
        label.push("on a miss".into());
        label.extend(policy(&k.policy));
        edge(&mut out, &format!("k{i}"), &id(&k.backend), "-->", label);
    }
    for (i, b) in s.brokers.iter().enumerate() {
        let _ = writeln!(out, "  b{i}[/\"{}<br/>broker\"/]", text(&b.name));
        for g in &b.groups {
            let mut label = vec![format!(
                "{} consumers x prefetch {}",
                g.consumers, g.prefetch
            )];
            label.extend(g.endpoint.iter().map(|e| format!("→ /{e}")));
            edge(&mut out, &format!("b{i}"), &id(&g.service), "==>", label);
        }
    }
    for (i, d) in s.databases.iter().enumerate() {
        let replication = match d.replication {
            Replication::Async => "async".to_string(),
            Replication::Sync { acks } => format!("sync, {acks} acks"),
            Replication::SemiSync { acks } => format!("semi-sync, {acks} acks"),
        };
        let _ = writeln!(
            out,
            "  d{i}[(\"{}<br/>database: primary + {} replicas, {replication}\")]",
            text(&d.name),
            d.replicas
        );
    }
    for (i, t) in s.token_auths.iter().enumerate() {
        let _ = writeln!(
            out,
            "  a{i}{{{{\"{}<br/>token auth: {} users, TTL {}\"}}}}",
            text(&t.name),
            t.users,
            t.ttl
        );
        let mut label: Vec<String> = (t.upstream_endpoint.iter())
            .map(|e| format!("→ /{e}"))
            .collect();
        label.extend(policy(&t.upstream_policy));
        edge(&mut out, &format!("a{i}"), &id(&t.upstream), "-->", label);
        let mut label = vec![match t.validation {
            sim_models::scenario::Validation::Local => "refresh".to_string(),
            sim_models::scenario::Validation::Introspect { .. } => {
                "refresh, introspect".to_string()
            }
        }];
        label.extend(policy(&t.auth_policy));
        edge(&mut out, &format!("a{i}"), &id(&t.auth), "-.->", label);
    }
    for (i, c) in s.clients.iter().enumerate() {
        let mut label: Vec<String> = c.endpoint.iter().map(|e| format!("→ /{e}")).collect();
        label.extend(policy(&c.policy));
        if let Some(d) = c.deadline {
            label.push(format!("deadline {d}"));
        }
        edge(&mut out, &format!("c{i}"), &id(&c.target), "-->", label);
    }
    for (i, v) in s.services.iter().enumerate() {
        let from = format!("s{i}");
        let steps = v.calls.iter().map(|st| (None, st)).chain(
            v.endpoints
                .iter()
                .flat_map(|e| e.calls.iter().map(move |st| (Some(e.name.as_str()), st))),
        );
        for (at, step) in steps {
            let calls: Vec<(&CallSpec, &str, Option<&str>)> = match step {
                Step::Call(c) => vec![(c, "-->", None)],
                Step::Parallel(cs) => cs.iter().map(|c| (c, "-->", Some("parallel"))).collect(),
                Step::Async(c) => vec![(c, "-.->", Some("async"))],
                Step::Publish(p) => {
                    let mut label = vec!["publish".to_string()];
                    label.extend(policy(&p.policy));
                    edge(&mut out, &from, &id(&p.to), "-->", label);
                    Vec::new()
                }
            };
            for (c, arrow, how) in calls {
                // `/browse → /list`: the caller's endpoint, then the callee's.
                let route = match (at, &c.endpoint) {
                    (Some(a), Some(b)) => Some(format!("/{a} → /{b}")),
                    (Some(a), None) => Some(format!("/{a} →")),
                    (None, Some(b)) => Some(format!("→ /{b}")),
                    (None, None) => None,
                };
                let mut label: Vec<String> = route.into_iter().collect();
                label.extend(how.map(str::to_string));
                label.extend(policy(&c.policy));
                edge(&mut out, &from, &id(&c.to), arrow, label);
            }
        }
    }
    out
}

fn edge(out: &mut String, from: &str, to: &str, arrow: &str, label: Vec<String>) {
    if label.is_empty() {
        let _ = writeln!(out, "  {from} {arrow} {to}");
    } else {
        let _ = writeln!(
            out,
            "  {from} {arrow}|\"{}\"| {to}",
            text(&label.join(", "))
        );
    }
}

/// A call policy in a few words: only what is set.
fn policy(p: &CallPolicy) -> Vec<String> {
    let mut words = Vec::new();
    if let Some(t) = p.timeout {
        words.push(format!("timeout {t}"));
    }
    if p.adaptive_timeout.is_some() {
        words.push("adaptive timeout".into());
    }
    if p.max_attempts > 1 {
        words.push(format!("{} retries", p.max_attempts - 1));
    }
    if let Some(b) = &p.budget {
        let kind = match b {
            sim_models::retry_budget::BudgetSpec::Grpc(_) => "gRPC",
            sim_models::retry_budget::BudgetSpec::Finagle(_) => "Finagle",
        };
        words.push(format!("{kind} retry budget"));
    }
    if let Some(b) = &p.breaker {
        words.push(format!("breaker at {}% failures", b.failure_rate));
    }
    if let Some(h) = &p.hedge {
        words.push(format!("hedge after {}", h.delay));
    }
    if let Some(n) = p.max_outstanding {
        words.push(format!("max {n} outstanding"));
    }
    if p.fallback {
        words.push("fallback".into());
    }
    words
}

/// Text inside a quoted Mermaid label: quotes and angle brackets as entities.
fn text(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// A name usable in a Mermaid node id.
fn safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_escape_what_mermaid_would_read() {
        assert_eq!(text("a\"<b>"), "a#quot;#lt;b#gt;");
        assert_eq!(safe("db-1.x"), "db_1_x");
    }
}
