//! Control inside virtual time: the scenario's rules, evaluated at each window end from the
//! window just closed, and the actions they take as effects (see [`crate::rules`] for the
//! semantics). A scenario without rules builds none of this and pays nothing for it.

use sim_core::queue::EventQueue;
use sim_core::stats::WindowLatency;
use sim_core::{SimDuration, SimTime};

use super::effects::EffectKind;
use super::{Event, World};
use crate::result::ActionWindow;
use crate::rules::{Action, Condition, Metric, Rule, RuleState};
use crate::scenario::Scenario;

/// A rule with its names resolved.
pub(crate) struct CompiledRule {
    pub spec: Rule,
    watch: Watch,
    state: RuleState,
    /// What was observed when it last decided, for the output.
    cause: String,
    decided_at: SimTime,
}

/// Whose metric a threshold condition watches.
#[derive(Clone, Copy)]
enum Of {
    /// A service group (scenario order).
    Service(u32),
    Client(u32),
    /// A broker (scenario order).
    Broker(u32),
}

enum Watch {
    Threshold {
        of: Of,
        metric: Metric,
        above: bool,
        threshold: f64,
        sustained: SimDuration,
    },
    Alert {
        /// A client's own SLO, or the scenario's.
        client: Option<u32>,
        alert: usize,
        firing: bool,
        /// It has fired at some window end so far (a resolution needs a firing first).
        fired: bool,
    },
    /// Holds at the first window end at or after this time, and only then.
    At(SimTime),
}

/// A service's numbers over the window just closed, all its instances in service together.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GroupWindow {
    pub attempts: u64,
    pub failed: u64,
    pub queue_depth: f64,
    pub busy: f64,
    pub workers: f64,
    pub in_flight: u64,
}

/// A client's numbers over the window just closed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ClientWindow {
    pub finished: u64,
    pub failed: u64,
    pub succeeded: u64,
    pub p99_ms: Option<f64>,
}

/// Compiles the scenario's rules; `group_of` and `client_of` resolve names.
pub(crate) fn compile(s: &Scenario) -> Vec<CompiledRule> {
    let group = |name: &str| s.service_index(name).expect("validated rule") as u32;
    let client = |name: &str| {
        s.clients
            .iter()
            .position(|c| c.name == name)
            .expect("validated rule") as u32
    };
    s.rules
        .iter()
        .map(|r| {
            let watch = match &r.when {
                Condition::Above {
                    metric,
                    of,
                    threshold,
                    sustained,
                }
                | Condition::Below {
                    metric,
                    of,
                    threshold,
                    sustained,
                } => {
                    let of = if s.service_index(of).is_some() {
                        Of::Service(group(of))
                    } else if let Some(b) = s.broker_index(of) {
                        Of::Broker(b as u32)
                    } else {
                        Of::Client(client(of))
                    };
                    Watch::Threshold {
                        of,
                        metric: *metric,
                        above: matches!(r.when, Condition::Above { .. }),
                        threshold: *threshold,
                        sustained: *sustained,
                    }
                }
                Condition::AlertFiring { slo, alert } | Condition::AlertResolved { slo, alert } => {
                    Watch::Alert {
                        client: slo.as_deref().map(client),
                        alert: crate::slo::STANDARD_RULES
                            .iter()
                            .position(|x| x.name == alert)
                            .expect("validated alert"),
                        firing: matches!(r.when, Condition::AlertFiring { .. }),
                        fired: false,
                    }
                }
                Condition::At(t) => Watch::At(SimTime::ZERO.saturating_add(*t)),
            };
            CompiledRule {
                spec: r.clone(),
                watch,
                state: RuleState::default(),
                cause: String::new(),
                decided_at: SimTime::ZERO,
            }
        })
        .collect()
}

/// Which clients a rule watches the p99 of (they keep a per-window latency recorder).
pub(crate) fn p99_watched(rules: &[CompiledRule], clients: usize) -> Vec<bool> {
    let mut out = vec![false; clients];
    for r in rules {
        if let Watch::Threshold {
            of: Of::Client(client),
            metric: Metric::P99,
            ..
        } = r.watch
        {
            out[client as usize] = true;
        }
    }
    out
}

impl GroupWindow {
    pub(super) fn value(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::QueueDepth => Some(self.queue_depth),
            Metric::Utilization => (self.workers > 0.0).then(|| self.busy / self.workers),
            Metric::InFlight => Some(self.in_flight as f64),
            Metric::ErrorRate => {
                (self.attempts > 0).then(|| self.failed as f64 / self.attempts as f64)
            }
            Metric::P99 | Metric::Goodput | Metric::Backlog | Metric::ConsumerLag => None,
        }
    }
}

impl ClientWindow {
    pub(super) fn value(&self, metric: Metric, window_s: f64) -> Option<f64> {
        match metric {
            Metric::ErrorRate => {
                (self.finished > 0).then(|| self.failed as f64 / self.finished as f64)
            }
            Metric::P99 => self.p99_ms,
            Metric::Goodput => Some(self.succeeded as f64 / window_s),
            _ => None,
        }
    }
}

/// A client's window p99, in milliseconds, or `None` without successes.
pub(crate) fn p99_ms(recorder: &WindowLatency) -> Option<f64> {
    (recorder.count() > 0).then(|| recorder.quantile(0.99).as_millis_f64())
}

impl World {
    /// Evaluates every rule at the end of the window just closed (at `now`, `width` wide).
    pub(super) fn evaluate_rules(
        &mut self,
        now: SimTime,
        width: SimDuration,
        groups: &[GroupWindow],
        clients: &[ClientWindow],
        q: &mut EventQueue<Event>,
    ) {
        let names: Vec<String> = self.groups.iter().map(|g| g.name.clone()).collect();
        for (r, rule) in self.rules.iter_mut().enumerate() {
            let (holds, sustained, cause) = match rule.watch {
                Watch::Threshold {
                    of,
                    metric,
                    above,
                    threshold,
                    sustained,
                } => {
                    let (v, name) = match of {
                        Of::Service(g) => (groups[g as usize].value(metric), &names[g as usize]),
                        Of::Client(c) => (
                            clients[c as usize].value(metric, width.as_secs_f64()),
                            &self.clients[c as usize].name,
                        ),
                        Of::Broker(b) => {
                            let broker = &self.brokers[b as usize];
                            (broker.value(metric), &broker.name)
                        }
                    };
                    let holds =
                        v.is_some_and(|v| if above { v > threshold } else { v < threshold });
                    let cause = || {
                        format!(
                            "{} of {name} was {:.3} {} {threshold} for {sustained}",
                            metric.name(),
                            v.unwrap_or(f64::NAN),
                            if above { ">" } else { "<" },
                        )
                    };
                    (holds, sustained, holds.then(cause))
                }
                Watch::Alert {
                    client,
                    alert,
                    firing,
                    ref mut fired,
                } => {
                    let alerts = match client {
                        Some(c) => self.metrics.client_alerts[c as usize].as_ref(),
                        None => self.metrics.alerts.as_ref(),
                    };
                    let name = crate::slo::STANDARD_RULES[alert].name;
                    let on = alerts.expect("validated: the SLO exists").firing(name);
                    *fired |= on;
                    let holds = if firing { on } else { !on && *fired };
                    let slo = client.map_or("the scenario".to_string(), |c| {
                        self.clients[c as usize].name.clone()
                    });
                    let cause = || {
                        format!(
                            "alert {name} of {slo} {}",
                            if firing { "firing" } else { "resolved" }
                        )
                    };
                    (holds, SimDuration::ZERO, holds.then(cause))
                }
                Watch::At(t) => {
                    // The window just closed is (prev, now]; the first one also holds 0.
                    let prev = SimTime::ZERO + now.saturating_since(SimTime::ZERO + width);
                    let first = t <= now && (t > prev || prev == SimTime::ZERO);
                    let cause = format!("at {}", t.saturating_since(SimTime::ZERO));
                    (first, SimDuration::ZERO, Some(cause))
                }
            };
            if let Some(at) = rule.state.observe(&rule.spec, now, width, holds, sustained) {
                rule.cause = cause.unwrap_or_default();
                rule.decided_at = now;
                q.schedule(at, Event::RuleActs { rule: r as u32 });
            }
        }
    }

    /// Rule `r` acts now: its action starts as an effect.
    pub(super) fn on_rule_acts(&mut self, r: u32, q: &mut EventQueue<Event>) {
        let now = q.now();
        let rule = &mut self.rules[r as usize];
        rule.state.acted(&rule.spec, now);
        let (spec, decided_at, cause) = (rule.spec.clone(), rule.decided_at, rule.cause.clone());
        self.start_action(
            &spec.action,
            spec.duration,
            decided_at,
            spec.name.clone(),
            cause,
            q,
        );
    }

    /// Starts `action` now for `duration` (a restart for its restart time; to the end of
    /// the run if `None`), decided at `decided_at` by `by` because of `cause`: its effects
    /// start and it is listed in the run's actions. Returns the effects started and when
    /// they end. The one way rules and remediation plans act.
    pub(super) fn start_action(
        &mut self,
        action: &Action,
        duration: Option<SimDuration>,
        decided_at: SimTime,
        by: String,
        cause: String,
        q: &mut EventQueue<Event>,
    ) -> (Vec<u32>, SimTime) {
        let now = q.now();
        let kinds = self.action_effects(action);
        let duration = match action {
            Action::Restart { restart_time, .. } => Some(*restart_time),
            // Instantaneous: it ends other effects and starts none.
            Action::EndFaults { faults } => {
                self.end_faults(faults, q);
                Some(SimDuration::ZERO)
            }
            Action::Rollback { config } => {
                self.rollback_config(config, decided_at, q);
                Some(SimDuration::ZERO)
            }
            _ => duration,
        };
        let effects = kinds
            .into_iter()
            .map(|kind| self.start_effect(kind, duration, q))
            .collect();
        let (kind, target) = action.describe();
        let end = duration.map_or(self.horizon, |d| now.saturating_add(d).min(self.horizon));
        self.actions.push(ActionWindow {
            rule: by,
            kind,
            target,
            cause,
            decided_s: decided_at.as_secs_f64(),
            start_s: now.as_secs_f64(),
            end_s: end.as_secs_f64(),
        });
        (effects, end)
    }

    /// The effects an action starts (one per instance or call site it acts on).
    fn action_effects(&self, action: &Action) -> Vec<EffectKind> {
        let instances = |name: &str| -> Vec<u32> {
            let (base, one) = match name.rsplit_once('#') {
                Some((b, i)) if !self.groups.iter().any(|g| g.name == name) => {
                    (b, i.parse::<u32>().ok())
                }
                _ => (name, None),
            };
            let g = self
                .groups
                .iter()
                .find(|g| g.name == base)
                .expect("validated target");
            match one {
                Some(i) => vec![g.instances.start + i],
                None => g.instances.clone().collect(),
            }
        };
        match action {
            Action::ScaleTo {
                service,
                replicas,
                provisioning,
            } => vec![EffectKind::Scale {
                group: self
                    .groups
                    .iter()
                    .position(|g| &g.name == service)
                    .expect("validated target") as u32,
                replicas: *replicas,
                provisioning: *provisioning,
            }],
            Action::Restart { service, .. } => instances(service)
                .into_iter()
                .map(|instance| EffectKind::Crash {
                    instance,
                    mode: crate::scenario::CrashMode::Refuse,
                })
                .collect(),
            Action::Drain { service } => instances(service)
                .into_iter()
                .map(|instance| EffectKind::Drain { instance })
                .collect(),
            Action::Limit {
                service,
                max_concurrency,
            } => instances(service)
                .into_iter()
                .map(|instance| EffectKind::Limit {
                    instance,
                    max_concurrency: *max_concurrency,
                })
                .collect(),
            Action::Fallback { caller, callee } => {
                let callers: Vec<u32> = match self.clients.iter().position(|c| &c.name == caller) {
                    Some(c) => vec![c as u32],
                    None => instances(caller)
                        .into_iter()
                        .map(|i| self.node_of(i))
                        .collect(),
                };
                self.edges
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| callers.contains(&e.from) && &e.callee == callee)
                    .map(|(edge, _)| EffectKind::Fallback { edge: edge as u32 })
                    .collect()
            }
            Action::Spike { client, factor } => vec![EffectKind::LiveSpike {
                client: self
                    .clients
                    .iter()
                    .position(|c| &c.name == client)
                    .expect("validated target") as u32,
                factor: *factor,
            }],
            Action::EndFaults { .. } | Action::Rollback { .. } => Vec::new(),
        }
    }
}
