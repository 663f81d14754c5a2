//! Incident classes, and the online signals an incident is classified from.
//!
//! `Signals` is what the orchestrator, a learned policy and an external agent all see at a
//! window end: nothing a real on-call engineer could not read off their dashboards (no
//! fault schedule, no injected truth).

use serde::{Deserialize, Serialize};

pub use crate::scenario::IncidentClass;

/// What can be read at a window end, over the window just closed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    /// The window's end, seconds of virtual time.
    pub now_s: f64,
    pub window_s: f64,
    /// Burn-rate alerts firing now: `page-fast`, or `CLIENT:page-fast` for a client's SLO.
    pub alerts: Vec<String>,
    pub clients: Vec<ClientSignals>,
    pub services: Vec<ServiceSignals>,
    /// Config pushes begun in the last 10 minutes.
    pub recent_pushes: Vec<PushSignal>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientSignals {
    pub name: String,
    /// The component it calls.
    pub target: String,
    /// Requests issued per second over the window, and over the minutes before the
    /// current incident's first alert (its baseline).
    pub offered_rps: f64,
    pub baseline_rps: f64,
    /// Failed / finished over the window (none without finishes).
    pub error_rate: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Attempts sent / requests issued over the window.
    pub retry_amplification: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceSignals {
    pub name: String,
    /// Errors answered (failures and refusals, not attempts dropped unanswered, which
    /// callers see as timeouts) / received attempts over the window, all instances in
    /// service.
    pub error_rate: Option<f64>,
    /// Busy time over the workers usable (fewer under a capacity loss).
    pub utilization: f64,
    pub queue_depth: f64,
    /// Its callees (services, caches, databases, brokers, token auths by name).
    pub callees: Vec<String>,
    /// Call sites to it whose breaker is open now.
    pub breakers_open: u32,
    /// Timeouts of calls to it over the window, all callers.
    pub timeouts: u64,
    /// Attempts it received over the window, all instances.
    pub attempts: u64,
    pub instances: Vec<InstanceSignals>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceSignals {
    /// `NAME#i`.
    pub name: String,
    pub zone: Option<String>,
    /// Answers its health check (a crashed, hung or paused instance does not).
    pub healthy: bool,
    pub error_rate: Option<f64>,
    /// Timeouts of calls to it / attempts it received, over the window.
    pub timeout_rate: Option<f64>,
    pub utilization: f64,
    /// The config version it holds per config, when it reads any.
    pub config_versions: Vec<(String, u32)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PushSignal {
    pub config: String,
    pub version: u32,
    pub began_s: f64,
}

/// The classifier's answer: a class, the component it points at (a service, `NAME#i`, a
/// zone, a config or a client), and the evidence in words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub class: IncidentClass,
    pub target: String,
    pub evidence: String,
}

/// The triage runbook's thresholds, stated once.
pub mod thresholds {
    /// An instance or service failing: this share of its attempts fail (or time out).
    pub const FAILING: f64 = 0.2;
    /// A service that fails (nearly) every attempt: down, as its callers see it.
    pub const DOWN: f64 = 0.9;
    /// A service "with no errors of its own".
    pub const QUIET: f64 = 0.05;
    /// Saturated: busy time over workers in the window.
    pub const SATURATED: f64 = 0.85;
    /// Offered load "well above" its baseline.
    pub const SURGE: f64 = 1.5;
    /// Offered load "near" its baseline (a retry storm is not fed by new load).
    pub const NEAR: f64 = 1.2;
    /// Retry amplification "high": attempts sent per request issued.
    pub const AMPLIFIED: f64 = 1.5;
    /// Timeouts of calls to a service, a share of the attempts it received, for it to be
    /// "slow" as its callers see it.
    pub const TIMING_OUT: f64 = 0.05;
}

use thresholds::*;

impl InstanceSignals {
    /// Unhealthy, or failing or timing out on a fifth of its attempts.
    pub fn failing(&self) -> bool {
        !self.healthy
            || self.error_rate.is_some_and(|e| e >= FAILING)
            || self.timeout_rate.is_some_and(|t| t >= FAILING)
    }

    fn holds(&self, config: &str, version: u32) -> bool {
        self.config_versions
            .iter()
            .any(|(c, v)| c == config && *v == version)
    }
}

impl ServiceSignals {
    /// Every instance unhealthy, or (nearly) every attempt failing: down, as callers see it.
    pub fn down(&self) -> bool {
        let unhealthy = !self.instances.is_empty() && self.instances.iter().all(|i| !i.healthy);
        unhealthy || self.error_rate.is_some_and(|e| e >= DOWN)
    }

    fn saturated(&self) -> bool {
        self.utilization >= SATURATED
    }

    fn timing_out(&self) -> bool {
        self.timeouts > 0 && self.timeouts as f64 >= TIMING_OUT * self.attempts.max(1) as f64
    }
}

impl Signals {
    fn service(&self, name: &str) -> Option<&ServiceSignals> {
        self.services.iter().find(|s| s.name == name)
    }

    /// Services some service calls (dependencies, as opposed to front doors).
    fn is_dependency(&self, name: &str) -> bool {
        self.services
            .iter()
            .any(|s| s.callees.iter().any(|c| c == name))
    }

    /// Whether `s` has a callee that is down or timing out: its trouble comes from below.
    fn trouble_below(&self, s: &ServiceSignals) -> bool {
        s.callees
            .iter()
            .filter_map(|c| self.service(c))
            .any(|c| c.down() || c.timing_out())
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

/// Classifies an incident from the signals of one window (none while nothing looks
/// wrong, or when no rule of the runbook fits). A triage runbook, tried in this order, the
/// first rule that fits answering, each with the evidence it read:
/// 1. **zone loss**: every instance in one zone (at least two) unhealthy, and most
///    instances elsewhere fine;
/// 2. **bad config**: a push within the last 10 minutes, and the instances failing are
///    those holding its version (others fine), with nothing failing below them;
/// 3. **dependency down**: a service that others call is down (every instance unhealthy,
///    or nearly every attempt failing) while its own callees are fine: the deepest one;
/// 4. **instance failure**: one instance of a replicated service failing or unhealthy,
///    its peers fine;
/// 5. **overload**: a client's offered load well above its baseline, and a service
///    saturated;
/// 6. **retry storm**: a client's target saturated, its retry amplification high, its
///    offered load near its baseline;
/// 7. **dependency slow**: calls to a service that others call time out, it has no errors
///    of its own, and nothing below it times out: the deepest one, and of those the one
///    whose calls time out most.
pub fn classify(s: &Signals) -> Option<Classification> {
    zone_loss(s)
        .or_else(|| bad_config(s))
        .or_else(|| dependency_down(s))
        .or_else(|| instance_failure(s))
        .or_else(|| overload(s))
        .or_else(|| retry_storm(s))
        .or_else(|| dependency_slow(s))
}

fn found(class: IncidentClass, target: &str, evidence: String) -> Option<Classification> {
    Some(Classification {
        class,
        target: target.to_string(),
        evidence,
    })
}

fn zone_loss(s: &Signals) -> Option<Classification> {
    let all = || s.services.iter().flat_map(|svc| &svc.instances);
    let mut zones: Vec<&str> = all().filter_map(|i| i.zone.as_deref()).collect();
    zones.sort_unstable();
    zones.dedup();
    for zone in zones {
        let (inside, outside): (Vec<&InstanceSignals>, Vec<&InstanceSignals>) =
            all().partition(|i| i.zone.as_deref() == Some(zone));
        // Down, not merely failing: a saturated caller of a hung instance fails too.
        let failing_outside = outside.iter().filter(|i| i.failing()).count();
        if inside.len() >= 2
            && inside.iter().all(|i| !i.healthy)
            && 2 * failing_outside < outside.len()
        {
            let names: Vec<&str> = inside.iter().map(|i| i.name.as_str()).collect();
            return found(
                IncidentClass::ZoneLoss,
                zone,
                format!(
                    "no instance in zone {zone} answers health checks ({}); {failing_outside} of {} elsewhere failing",
                    names.join(", "),
                    outside.len()
                ),
            );
        }
    }
    None
}

fn bad_config(s: &Signals) -> Option<Classification> {
    // The latest push first: it is the likeliest culprit.
    let mut pushes: Vec<&PushSignal> = s.recent_pushes.iter().collect();
    pushes.sort_by(|a, b| b.began_s.total_cmp(&a.began_s));
    for push in pushes {
        let readers: Vec<(&ServiceSignals, &InstanceSignals)> = s
            .services
            .iter()
            .flat_map(|svc| svc.instances.iter().map(move |i| (svc, i)))
            .filter(|(_, i)| i.config_versions.iter().any(|(c, _)| *c == push.config))
            .collect();
        let (on, off): (Vec<_>, Vec<_>) = readers
            .iter()
            .partition(|(_, i)| i.holds(&push.config, push.version));
        let failing_on: Vec<_> = on.iter().filter(|(_, i)| i.failing()).collect();
        let failing_off = off.iter().filter(|(_, i)| i.failing()).count();
        let from_below = failing_on.iter().any(|(svc, _)| s.trouble_below(svc));
        if !failing_on.is_empty()
            && 2 * failing_on.len() >= on.len()
            && failing_off == 0
            && !from_below
        {
            return found(
                IncidentClass::BadConfig,
                &push.config,
                format!(
                    "{} of {} instances holding version {} of {} (pushed at {:.0}s) are failing, none of the {} on another version; nothing below them fails",
                    failing_on.len(),
                    on.len(),
                    push.version,
                    push.config,
                    push.began_s,
                    off.len()
                ),
            );
        }
    }
    None
}

fn dependency_down(s: &Signals) -> Option<Classification> {
    let svc = s
        .services
        .iter()
        .find(|x| s.is_dependency(&x.name) && x.down() && !s.trouble_below(x))?;
    let healthy = svc.instances.iter().filter(|i| i.healthy).count();
    found(
        IncidentClass::DependencyDown,
        &svc.name,
        format!(
            "{} fails {} of its attempts, {healthy} of {} instances answer health checks; its callees are fine",
            svc.name,
            svc.error_rate.map_or("?".into(), pct),
            svc.instances.len()
        ),
    )
}

fn instance_failure(s: &Signals) -> Option<Classification> {
    for svc in s.services.iter().filter(|x| x.instances.len() >= 2) {
        let failing: Vec<&InstanceSignals> = svc.instances.iter().filter(|i| i.failing()).collect();
        if let [one] = failing[..] {
            let why = if !one.healthy {
                "does not answer health checks".to_string()
            } else if one.timeout_rate.is_some_and(|t| t >= FAILING) {
                format!(
                    "times out on {} of its attempts",
                    pct(one.timeout_rate.unwrap_or(0.0))
                )
            } else {
                format!(
                    "fails {} of its attempts",
                    pct(one.error_rate.unwrap_or(0.0))
                )
            };
            return found(
                IncidentClass::InstanceFailure,
                &one.name,
                format!(
                    "{} {why}; its {} peers are fine",
                    one.name,
                    svc.instances.len() - 1
                ),
            );
        }
    }
    None
}

fn overload(s: &Signals) -> Option<Classification> {
    let hot = s.services.iter().find(|x| x.saturated())?;
    let client = s
        .clients
        .iter()
        .filter(|c| c.baseline_rps > 0.0 && c.offered_rps >= SURGE * c.baseline_rps)
        .max_by(|a, b| {
            (a.offered_rps / a.baseline_rps).total_cmp(&(b.offered_rps / b.baseline_rps))
        })?;
    found(
        IncidentClass::Overload,
        &client.name,
        format!(
            "{} offers {:.0} rps, {:.1}x its baseline of {:.0}; {} is {} busy",
            client.name,
            client.offered_rps,
            client.offered_rps / client.baseline_rps,
            client.baseline_rps,
            hot.name,
            pct(hot.utilization)
        ),
    )
}

fn retry_storm(s: &Signals) -> Option<Classification> {
    s.clients.iter().find_map(|c| {
        let target = s.service(&c.target).filter(|t| t.saturated())?;
        let amp = c.retry_amplification.filter(|&a| a >= AMPLIFIED)?;
        let near = c.baseline_rps > 0.0 && c.offered_rps <= NEAR * c.baseline_rps;
        if !near {
            return None;
        }
        found(
            IncidentClass::RetryStorm,
            &target.name,
            format!(
                "{} is {} busy while {} sends {amp:.1} attempts per request at {:.0} rps, near its baseline of {:.0}",
                target.name,
                pct(target.utilization),
                c.name,
                c.offered_rps,
                c.baseline_rps
            ),
        )
    })
}

fn dependency_slow(s: &Signals) -> Option<Classification> {
    // The one timing out most: a slow callee early in a call sequence eats the deadline of
    // the calls after it, which time out too.
    let share = |x: &ServiceSignals| x.timeouts as f64 / x.attempts.max(1) as f64;
    let svc = (s.services.iter())
        .filter(|x| {
            s.is_dependency(&x.name)
                && x.timing_out()
                && x.error_rate.is_none_or(|e| e < QUIET)
                && !s.trouble_below(x)
        })
        .max_by(|a, b| share(a).total_cmp(&share(b)))?;
    found(
        IncidentClass::DependencySlow,
        &svc.name,
        format!(
            "{} calls to {} timed out ({} of its attempts) while it fails {}; nothing below it is slow",
            svc.timeouts,
            svc.name,
            pct(svc.timeouts as f64 / svc.attempts.max(1) as f64),
            svc.error_rate.map_or("none".into(), pct)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// web -> gateway (3 instances, zones a b c) -> orders (3, zones a b c, reads `flags`)
    /// -> payment (1); batch -> reports (1). Everything fine at 200 and 100 rps.
    fn calm() -> Signals {
        let instance = |name: &str, i: usize, zoned: bool| InstanceSignals {
            name: format!("{name}#{i}"),
            zone: zoned.then(|| ["a", "b", "c"][i].to_string()),
            healthy: true,
            error_rate: Some(0.0),
            timeout_rate: Some(0.0),
            utilization: 0.3,
            config_versions: if name == "orders" {
                vec![("flags".into(), 0)]
            } else {
                Vec::new()
            },
        };
        let service = |name: &str, n: usize, callees: &[&str]| ServiceSignals {
            name: name.into(),
            error_rate: Some(0.0),
            utilization: 0.3,
            queue_depth: 0.0,
            callees: callees.iter().map(|c| c.to_string()).collect(),
            breakers_open: 0,
            timeouts: 0,
            attempts: 1000,
            instances: (0..n).map(|i| instance(name, i, n > 1)).collect(),
        };
        let client = |name: &str, target: &str, rps: f64| ClientSignals {
            name: name.into(),
            target: target.into(),
            offered_rps: rps,
            baseline_rps: rps,
            error_rate: Some(0.0),
            p99_ms: Some(20.0),
            retry_amplification: Some(1.0),
        };
        Signals {
            now_s: 600.0,
            window_s: 5.0,
            alerts: vec!["page-fast".into()],
            clients: vec![
                client("web", "gateway", 200.0),
                client("batch", "reports", 100.0),
            ],
            services: vec![
                service("gateway", 3, &["orders"]),
                service("orders", 3, &["payment"]),
                service("payment", 1, &[]),
                service("reports", 1, &[]),
            ],
            recent_pushes: Vec::new(),
        }
    }

    fn svc<'a>(s: &'a mut Signals, name: &str) -> &'a mut ServiceSignals {
        s.services.iter_mut().find(|x| x.name == name).unwrap()
    }

    fn fail(i: &mut InstanceSignals) {
        i.healthy = false;
        i.error_rate = Some(1.0);
    }

    fn verdict(s: &Signals) -> (IncidentClass, String) {
        let c = classify(s).expect("classified");
        assert!(!c.evidence.is_empty());
        (c.class, c.target)
    }

    #[test]
    fn nothing_wrong_nothing_classified() {
        assert_eq!(classify(&calm()), None);
    }

    #[test]
    fn a_dark_zone_is_a_zone_loss() {
        let mut s = calm();
        fail(&mut svc(&mut s, "gateway").instances[1]);
        fail(&mut svc(&mut s, "orders").instances[1]);
        // Gateways elsewhere see some errors from orders#1, below the failing mark.
        svc(&mut s, "gateway").instances[0].error_rate = Some(0.1);
        assert_eq!(verdict(&s), (IncidentClass::ZoneLoss, "b".into()));
    }

    #[test]
    fn one_dead_instance_is_an_instance_failure_not_a_zone_loss() {
        let mut s = calm();
        fail(&mut svc(&mut s, "orders").instances[2]);
        assert_eq!(
            verdict(&s),
            (IncidentClass::InstanceFailure, "orders#2".into())
        );
        // A hung one answers health checks but its callers time out.
        let mut s = calm();
        svc(&mut s, "orders").instances[0].timeout_rate = Some(0.9);
        let c = classify(&s).unwrap();
        assert_eq!(c.class, IncidentClass::InstanceFailure);
        assert!(c.evidence.contains("times out on 90%"), "{}", c.evidence);
    }

    #[test]
    fn errors_on_the_instances_of_a_fresh_push_are_a_bad_config() {
        let mut s = calm();
        s.recent_pushes.push(PushSignal {
            config: "flags".into(),
            version: 1,
            began_s: 560.0,
        });
        for i in &mut svc(&mut s, "orders").instances {
            i.config_versions = vec![("flags".into(), 1)];
            i.error_rate = Some(0.5);
        }
        svc(&mut s, "orders").error_rate = Some(0.5);
        assert_eq!(verdict(&s), (IncidentClass::BadConfig, "flags".into()));
        // A canary: only the instance holding the new version fails. Still the config, not
        // the instance.
        let mut s = calm();
        s.recent_pushes.push(PushSignal {
            config: "flags".into(),
            version: 1,
            began_s: 560.0,
        });
        let canary = &mut svc(&mut s, "orders").instances[0];
        canary.config_versions = vec![("flags".into(), 1)];
        canary.error_rate = Some(0.5);
        assert_eq!(verdict(&s), (IncidentClass::BadConfig, "flags".into()));
    }

    #[test]
    fn a_push_does_not_take_the_blame_for_a_dependency_down_below() {
        let mut s = calm();
        s.recent_pushes.push(PushSignal {
            config: "flags".into(),
            version: 1,
            began_s: 560.0,
        });
        for i in &mut svc(&mut s, "orders").instances {
            i.config_versions = vec![("flags".into(), 1)];
            i.error_rate = Some(1.0);
        }
        svc(&mut s, "orders").error_rate = Some(1.0);
        fail(&mut svc(&mut s, "payment").instances[0]);
        svc(&mut s, "payment").error_rate = Some(1.0);
        // orders fails everything too, but the deepest failing service is the one named.
        assert_eq!(
            verdict(&s),
            (IncidentClass::DependencyDown, "payment".into())
        );
    }

    #[test]
    fn a_front_door_down_is_not_a_dependency_down() {
        let mut s = calm();
        fail(&mut svc(&mut s, "reports").instances[0]);
        svc(&mut s, "reports").error_rate = Some(1.0);
        // Nobody calls reports but a client: no rule fits.
        assert_eq!(classify(&s), None);
    }

    #[test]
    fn more_load_than_the_baseline_on_a_saturated_service_is_an_overload() {
        let mut s = calm();
        s.clients[0].offered_rps = 800.0;
        s.clients[0].retry_amplification = Some(1.6);
        let orders = svc(&mut s, "orders");
        orders.utilization = 0.99;
        orders.timeouts = 300;
        assert_eq!(verdict(&s), (IncidentClass::Overload, "web".into()));
    }

    #[test]
    fn saturation_fed_by_retries_at_the_baseline_is_a_retry_storm() {
        let mut s = calm();
        s.clients[1].retry_amplification = Some(2.6);
        s.clients[1].offered_rps = 105.0;
        svc(&mut s, "reports").utilization = 1.0;
        assert_eq!(verdict(&s), (IncidentClass::RetryStorm, "reports".into()));
        // The same with the load still 3x its baseline: the trigger, an overload.
        s.clients[1].offered_rps = 300.0;
        assert_eq!(verdict(&s), (IncidentClass::Overload, "batch".into()));
        // Saturated without amplification or surge: nothing the runbook names.
        s.clients[1].offered_rps = 100.0;
        s.clients[1].retry_amplification = Some(1.0);
        assert_eq!(classify(&s), None);
    }

    #[test]
    fn timeouts_to_a_quiet_dependency_are_a_dependency_slow_the_deepest_one() {
        let mut s = calm();
        let payment = svc(&mut s, "payment");
        payment.timeouts = 400;
        payment.utilization = 0.95;
        // orders waits on payment: its callers time out too, and it is saturated.
        let orders = svc(&mut s, "orders");
        orders.timeouts = 200;
        orders.utilization = 1.0;
        assert_eq!(
            verdict(&s),
            (IncidentClass::DependencySlow, "payment".into())
        );
        // Errors of its own make it something else (here nothing the runbook names).
        svc(&mut s, "payment").error_rate = Some(0.5);
        assert_eq!(classify(&s).map(|c| c.class), None);
    }
}
