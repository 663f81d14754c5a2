//! Rules that act during a run: when a condition holds, after a delay, start an action (an
//! effect on a target over a window), then rest for a cooldown.
//!
//! ```ron
//! rules: [
//!     Rule(
//!         name: "scale-out-api",
//!         when: Above(metric: QueueDepth, of: "api", threshold: 20.0, for: "10s"),
//!         after: "15s",                    // detection to action (a controller's delay)
//!         do: ScaleTo(service: "api", replicas: 6, provisioning: "20s"),
//!         cooldown: "2m",
//!     ),
//! ]
//! ```
//!
//! # Semantics
//!
//! Conditions are evaluated at the end of every series window (the same instants at which
//! the run's time series and its burn-rate alerts are computed), from that window's numbers:
//! - `Above` / `Below { metric, of, threshold, for }`: the metric of a service (all its
//!   instances in service together) or of a route (a client's requests) is strictly above
//!   (below) `threshold` at every window end of a stretch lasting at least `for` (with
//!   1 s windows and `for: "10s"`, ten consecutive windows; `for: "0s"` means one window).
//!   This is Prometheus' `for:` on an alerting rule and the HPA's evaluation on a metric.
//!   A window where the metric is undefined (an error rate with no traffic, a p99 with no
//!   success) breaks the stretch.
//! - `AlertFiring` / `AlertResolved { slo, alert }`: a burn-rate alert (`page-fast`,
//!   `page-slow` or `ticket`) of the scenario's SLO (`slo` omitted) or of a client's own SLO
//!   is firing, or has resolved (is not firing after having fired).
//! - `At(t)`: at the first window end at or after `t`, and only there (once per run).
//!
//! A rule whose condition holds, that is not waiting to act and not cooling down, acts
//! `after` later: its action starts then, whatever the condition says by that time (as a
//! controller that has decided). The action's effect lasts `for` (to the end of the run if
//! omitted). From the moment it acts the rule rests for `cooldown`; it may act again at the
//! first window end after that where the condition holds. `max_actions` bounds how often a
//! rule acts in one run. The level-triggered reading (act again while the condition still
//! holds after the cooldown) is the Kubernetes HPA's; an edge-triggered rule is a condition
//! that stops holding once acted on, e.g. `AlertFiring` resolving.
//!
//! What each action costs in the world (restart back-off, scale stabilization and
//! cooldown, shedding, evacuation, failover) is `world/actions.rs`'s; an action that did
//! nothing (a scale within its cooldown, a failover already under way) is listed with
//! why it was refused.

use serde::{Deserialize, Serialize};
use sim_core::path::{FieldPath, Problem};
use sim_core::{SimDuration, SimTime};

/// A rule as written in a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Names the rule in the output: every action says which rule took it.
    pub name: String,
    pub when: Condition,
    /// Delay from the condition holding to the action starting.
    #[serde(default)]
    pub after: SimDuration,
    #[serde(rename = "do")]
    pub action: Action,
    /// How long the action's effect lasts; to the end of the run if omitted.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub duration: Option<SimDuration>,
    /// After acting, the rule does not act again for this long.
    #[serde(default)]
    pub cooldown: SimDuration,
    /// At most this many actions per run.
    #[serde(default = "unlimited")]
    pub max_actions: u32,
}

fn unlimited() -> u32 {
    u32::MAX
}

fn is_zero(d: &SimDuration) -> bool {
    d.is_zero()
}

/// When a rule acts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    /// `metric` of service or client `of` above `threshold` for `for`.
    Above {
        metric: Metric,
        of: String,
        threshold: f64,
        #[serde(default, rename = "for")]
        sustained: SimDuration,
    },
    /// `metric` of service or client `of` below `threshold` for `for`.
    Below {
        metric: Metric,
        of: String,
        threshold: f64,
        #[serde(default, rename = "for")]
        sustained: SimDuration,
    },
    /// Burn-rate alert `alert` of the SLO of client `slo` (the scenario's SLO if omitted)
    /// is firing.
    AlertFiring {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slo: Option<String>,
        alert: String,
    },
    /// The alert has fired and is not firing now.
    AlertResolved {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slo: Option<String>,
        alert: String,
    },
    /// At the first window end at or after this time.
    At(SimDuration),
}

/// What a condition can watch, over the last window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    /// Service: attempts waiting in the queue, time-averaged over the window and summed
    /// over its instances.
    QueueDepth,
    /// Service: busy workers over workers of the instances in service, time-averaged.
    Utilization,
    /// Service: attempts queued or being served at the window end, all instances.
    InFlight,
    /// Service: attempts failed, rejected or dropped over attempts that arrived in the
    /// window. Client: failed requests over requests finished in the window.
    ErrorRate,
    /// Client: 99th percentile latency of the window's successes, in milliseconds.
    P99,
    /// Client: successes per second in the window.
    Goodput,
    /// Broker: ready messages at the window end, all its groups together.
    Backlog,
    /// Broker: age of the oldest ready message at the window end, in seconds (its most
    /// lagging group).
    ConsumerLag,
}

impl Metric {
    /// Its name in messages and outputs.
    pub fn name(self) -> &'static str {
        match self {
            Metric::QueueDepth => "queue_depth",
            Metric::Utilization => "utilization",
            Metric::InFlight => "in_flight",
            Metric::ErrorRate => "error_rate",
            Metric::P99 => "p99_ms",
            Metric::Goodput => "goodput_rps",
            Metric::Backlog => "backlog",
            Metric::ConsumerLag => "consumer_lag_s",
        }
    }

    /// Whether a service has it.
    pub fn of_service(self) -> bool {
        matches!(
            self,
            Metric::QueueDepth | Metric::Utilization | Metric::InFlight | Metric::ErrorRate
        )
    }

    /// Whether a client (route) has it.
    pub fn of_client(self) -> bool {
        matches!(self, Metric::ErrorRate | Metric::P99 | Metric::Goodput)
    }

    /// Whether a broker has it.
    pub fn of_broker(self) -> bool {
        matches!(self, Metric::Backlog | Metric::ConsumerLag)
    }
}

/// What a rule does: an effect started during the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Run `replicas` instances of `service` (at most its `max_replicas`). New instances
    /// take `provisioning` to come up, empty (cold); removed ones stop taking new attempts
    /// at once and finish what they hold (a graceful scale-in). When the effect ends the
    /// service goes back to its own `replicas`, or to another scaling effect still active.
    ///
    /// What a controller adds on top (the Kubernetes HPA's `behavior`; both 0 by default,
    /// which acts at once as a plain rule always did): a scale-in (fewer replicas than
    /// wanted now) takes effect only after `stabilization`, and not at all if a scale
    /// action asking for at least as many comes meanwhile (the HPA's
    /// `scaleDown.stabilizationWindowSeconds`, 5 min by default there); a scale action
    /// within `cooldown` of the last one accepted on this service is refused.
    ScaleTo {
        service: String,
        replicas: u32,
        #[serde(default)]
        provisioning: SimDuration,
        #[serde(default, skip_serializing_if = "is_zero")]
        stabilization: SimDuration,
        #[serde(default, skip_serializing_if = "is_zero")]
        cooldown: SimDuration,
    },
    /// Restart `service` (`NAME#i` one instance, `NAME` every instance at once, or a
    /// cache): down for `restart_time`, refusing connections, after a crash-loop back-off
    /// when restarted again soon (Kubernetes': 10 s, doubling, at most 5 min, forgotten
    /// after 10 min up); it comes back cold: an empty queue, a cache an empty store.
    Restart {
        service: String,
        restart_time: SimDuration,
    },
    /// Stop sending new attempts to `service` (`NAME#i` or every instance); it finishes
    /// what it holds (a drain, or an ejection by an operator).
    Drain { service: String },
    /// Admit at most `max_concurrency` attempts at once in `service` (each instance).
    Limit {
        service: String,
        max_concurrency: u32,
    },
    /// Calls from `caller` (a client or service) to `callee` answer with their fallback on
    /// final failure (degraded, not failed).
    Fallback { caller: String, callee: String },
    /// Multiply the arrival rate of client `client` by `factor`.
    Spike { client: String, factor: f64 },
    /// End the scheduled faults `faults` (their indices in the scenario's `faults`) now:
    /// active ones stop, later ones never start. A stop condition, as AWS FIS has: the
    /// rule that takes it is how `simctl experiment` aborts its method.
    EndFaults { faults: Vec<u32> },
    /// Roll config `config` back: the push being rolled out halts (its later steps never
    /// begin) and every instance is meant to hold the version before it again (Argo
    /// Rollouts' abort; see `world/config.rs`).
    Rollback { config: String },
    /// Promote the replica of database `database` that received the most, now (a
    /// switchover forced on the primary, Patroni's `failover`): the primary's operations
    /// fail, writes wait for the promotion, and the acknowledged writes the replica lacks
    /// are lost. The remedy for a hung primary that automatic failover does not see.
    Failover { database: String },
    /// Admit at most `rps` new attempts per second at each instance of `service` (a token
    /// bucket holding 100 ms of them, at least 1); the rest are rejected at once.
    ShedLoad { service: String, rps: f64 },
    /// Move traffic away from zone `zone`: every service instance in it is drained, so
    /// callers send to the other zones.
    EvacuateZone { zone: String },
}

impl Action {
    /// Its kind and target, as the output names them.
    pub fn describe(&self) -> (String, String) {
        match self {
            Action::ScaleTo {
                service, replicas, ..
            } => (format!("scale to {replicas}"), service.clone()),
            Action::Restart { service, .. } => ("restart".into(), service.clone()),
            Action::Drain { service } => ("drain".into(), service.clone()),
            Action::Limit {
                service,
                max_concurrency,
            } => (
                format!("limit concurrency to {max_concurrency}"),
                service.clone(),
            ),
            Action::Fallback { caller, callee } => {
                ("fallback".into(), format!("{caller} -> {callee}"))
            }
            Action::Spike { client, factor } => {
                (format!("traffic spike x{factor}"), client.clone())
            }
            Action::Rollback { config } => ("rollback".into(), format!("config {config}")),
            Action::Failover { database } => ("failover".into(), format!("database {database}")),
            Action::ShedLoad { service, rps } => {
                (format!("shed load to {rps} rps"), service.clone())
            }
            Action::EvacuateZone { zone } => ("evacuate".into(), format!("zone {zone}")),
            Action::EndFaults { faults } => {
                let list: Vec<String> = faults.iter().map(|f| format!("#{f}")).collect();
                ("end faults".into(), format!("faults {}", list.join(", ")))
            }
        }
    }
}

impl Rule {
    /// What the rule says about itself alone (names are checked against the scenario by
    /// `validate`), by field path relative to the rule.
    pub fn problems(&self) -> Vec<Problem> {
        let root = FieldPath::root();
        let mut out = Vec::new();
        if self.name.trim().is_empty() {
            out.push(Problem::new(
                root.field("name"),
                "must not be empty: actions name the rule that took them",
            ));
        }
        if let Condition::Above { threshold, .. } | Condition::Below { threshold, .. } = &self.when
            && !threshold.is_finite()
        {
            out.push(Problem::new(
                root.field("when").field("threshold"),
                format!("must be a finite number, got {threshold}"),
            ));
        }
        if self.duration == Some(SimDuration::ZERO) {
            out.push(Problem::new(
                root.field("for"),
                "must be longer than 0s (leave it out to last to the end of the run)",
            ));
        }
        if self.max_actions == 0 {
            out.push(Problem::new(
                root.field("max_actions"),
                "must be at least 1 (a rule that never acts can be removed)",
            ));
        }
        let action = root.field("do");
        match &self.action {
            Action::ScaleTo { replicas: 0, .. } => out.push(Problem::new(
                action.field("replicas"),
                "must be at least 1 (to stop a service, use a Restart or a fault)",
            )),
            Action::Restart { restart_time, .. } if restart_time.is_zero() => out.push(
                Problem::new(action.field("restart_time"), "must be longer than 0s"),
            ),
            Action::Limit {
                max_concurrency: 0, ..
            } => out.push(Problem::new(
                action.field("max_concurrency"),
                "must be at least 1",
            )),
            Action::EndFaults { faults } if faults.is_empty() => out.push(Problem::new(
                action.field("faults"),
                "must name at least one fault (by its index in `faults`)",
            )),
            Action::ShedLoad { rps, .. } if !(rps.is_finite() && *rps > 0.0) => {
                out.push(Problem::new(
                    action.field("rps"),
                    format!(
                        "must be a finite number above 0, got {rps} (to stop a service, use a Drain)"
                    ),
                ))
            }
            Action::Spike { factor, .. } if !(factor.is_finite() && *factor >= 0.0) => {
                out.push(Problem::new(
                    action.field("factor"),
                    format!("must be a finite number at least 0, got {factor}"),
                ))
            }
            _ => {}
        }
        out
    }
}

/// A rule's progress through a run: how long its condition has held, whether it is
/// waiting to act, and until when it rests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleState {
    /// Start of the current stretch of windows where the condition held.
    held_since: Option<SimTime>,
    /// The rule decided and will act at this time.
    pending: Option<SimTime>,
    /// No new decision before this time (the cooldown after the last action).
    resting_until: SimTime,
    /// Actions taken so far.
    pub actions: u32,
}

impl RuleState {
    /// The condition was `holds` at the window ending at `now` (the window is `window`
    /// wide); `sustained` is how long it must have held. Returns when to act, if the rule
    /// decides to act now.
    pub fn observe(
        &mut self,
        rule: &Rule,
        now: SimTime,
        window: SimDuration,
        holds: bool,
        sustained: SimDuration,
    ) -> Option<SimTime> {
        if !holds {
            self.held_since = None;
            return None;
        }
        // The stretch covers the windows that ended in it: the first began one window
        // before its end.
        let since = *self
            .held_since
            .get_or_insert(SimTime::ZERO + now.saturating_since(SimTime::ZERO + window));
        let held = now.saturating_since(since);
        if held < sustained.max(window)
            || self.pending.is_some()
            || now < self.resting_until
            || self.actions >= rule.max_actions
        {
            return None;
        }
        let at = now.saturating_add(rule.after);
        self.pending = Some(at);
        Some(at)
    }

    /// The rule acts now: it rests for its cooldown.
    pub fn acted(&mut self, rule: &Rule, now: SimTime) {
        self.pending = None;
        self.actions += 1;
        self.resting_until = now.saturating_add(rule.cooldown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> Rule {
        let options = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        options.from_str(text).expect("a valid rule")
    }

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    const W: SimDuration = SimDuration::from_secs(1);

    #[test]
    fn reads_from_ron() {
        let r = rule(
            r#"Rule(name: "out", when: Above(metric: QueueDepth, of: "api", threshold: 20.0, for: "10s"),
                    after: "15s", do: ScaleTo(service: "api", replicas: 6, provisioning: "20s"),
                    cooldown: "2m")"#,
        );
        assert_eq!(r.after, SimDuration::from_secs(15));
        assert_eq!(r.cooldown, SimDuration::from_secs(120));
        assert_eq!(r.duration, None);
        assert_eq!(r.max_actions, u32::MAX);
        assert_eq!(
            r.when,
            Condition::Above {
                metric: Metric::QueueDepth,
                of: "api".into(),
                threshold: 20.0,
                sustained: SimDuration::from_secs(10)
            }
        );
        assert!(r.problems().is_empty());
    }

    #[test]
    fn acts_once_the_condition_held_for_its_duration_then_after_its_delay() {
        let r = rule(
            r#"Rule(name: "r", when: At("0s"), after: "5s", do: Drain(service: "a"), cooldown: "30s")"#,
        );
        let mut st = RuleState::default();
        let need = SimDuration::from_secs(3);
        // Held at the ends of windows 1, 2: 2 s so far.
        assert_eq!(st.observe(&r, secs(1), W, true, need), None);
        assert_eq!(st.observe(&r, secs(2), W, true, need), None);
        // A gap resets the stretch.
        assert_eq!(st.observe(&r, secs(3), W, false, need), None);
        assert_eq!(st.observe(&r, secs(4), W, true, need), None);
        assert_eq!(st.observe(&r, secs(5), W, true, need), None);
        // Windows 4, 5, 6 (from t=3 to t=6): 3 s held.
        assert_eq!(st.observe(&r, secs(6), W, true, need), Some(secs(11)));
        // Waiting to act: no second decision.
        assert_eq!(st.observe(&r, secs(7), W, true, need), None);
        st.acted(&r, secs(11));
        assert_eq!(st.actions, 1);
        // Resting until t=41.
        assert_eq!(st.observe(&r, secs(40), W, true, need), None);
        assert_eq!(st.observe(&r, secs(41), W, true, need), Some(secs(46)));
    }

    #[test]
    fn zero_sustain_means_one_window_and_max_actions_bounds() {
        let r = rule(r#"Rule(name: "r", when: At("0s"), do: Drain(service: "a"), max_actions: 1)"#);
        let mut st = RuleState::default();
        assert_eq!(
            st.observe(&r, secs(1), W, true, SimDuration::ZERO),
            Some(secs(1))
        );
        st.acted(&r, secs(1));
        assert_eq!(st.observe(&r, secs(2), W, true, SimDuration::ZERO), None);
        assert_eq!(st.observe(&r, secs(9), W, true, SimDuration::ZERO), None);
    }

    #[test]
    fn problems_name_the_field() {
        let r = rule(
            r#"Rule(name: "", when: Below(metric: Goodput, of: "c", threshold: inf), for: "0s",
                    do: ScaleTo(service: "a", replicas: 0), max_actions: 0)"#,
        );
        let fields: Vec<String> = r.problems().iter().map(|p| p.path.to_string()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "when.threshold",
                "for",
                "max_actions",
                "do.replicas"
            ]
        );
    }
}
