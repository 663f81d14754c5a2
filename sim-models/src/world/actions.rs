//! The world side of remediation actions: what each [`Action`] does, with its real cost.
//! A scenario's rule ([`super::control`]) and a recovery plan's step (a
//! [`crate::remediation::plan::PlanAction`], through [`PlanAction::to_action`]) act through
//! the one entry point [`World::take_action`], which starts the action's effects
//! ([`super::effects`]) and says what it did; [`World::record_action`] lists it in the
//! run's `actions`, and [`World::undo_action`] ends its effects early (do-no-harm).
//!
//! The costs, per action:
//! - `Restart`: each instance is down for `restart_time` (refusing connections; its queue
//!   and work in progress are lost, a cache's keys too: it comes back cold), after a
//!   crash-loop back-off when restarted again soon ([`crate::policy::CrashLoop`], kept per
//!   instance). Where it differs from the kubelet: an operator's restart (`kubectl delete
//!   pod`, a rollout restart) gets a fresh pod without back-off in Kubernetes; here every
//!   restart is the container restarting in place, so restarting one instance again and
//!   again is a crash loop, which is what an auto-healer that keeps restarting meets.
//! - `ScaleTo`: new instances come up after `provisioning`, empty; a scale-in waits for its
//!   `stabilization` window and a scale within `cooldown` of the last is refused
//!   ([`crate::policy::ScaleGate`], kept per service); both 0 in a rule unless it says so.
//!   At most the instances built (`max_replicas`, validated).
//! - `Failover`: a switchover of a database forced on its primary (see
//!   `components/database.rs`): writes fail until the promotion, unreplicated writes are lost.
//! - `ShedLoad`: a token bucket per instance rejecting what exceeds `rps` at once.
//! - `Drain`, `EvacuateZone`: the instances get no new attempts and finish what they hold;
//!   callers balance over the rest (a zone-aware caller moves to another zone).
//! - `Limit`, `Fallback`, `Spike`, `EndFaults`, `Rollback`: as `rules` describes them.
//!
//! [`PlanAction::to_action`]: crate::remediation::plan::PlanAction::to_action

use std::collections::BTreeMap;

use sim_core::queue::EventQueue;
use sim_core::{SimDuration, SimTime};

use super::components::Kind;
use super::effects::EffectKind;
use super::{Event, World};
use crate::policy::scale_gate::Verdict;
use crate::policy::{CrashLoop, ScaleGate};
use crate::result::ActionWindow;
use crate::rules::Action;
use crate::scenario::CrashMode;

/// Per-target state of the actions taken so far (empty until one is taken).
#[derive(Default)]
pub(crate) struct ActionState {
    /// Per instance, its restarts.
    restarts: BTreeMap<u32, CrashLoop>,
    /// Per service group, its scale actions.
    scaling: BTreeMap<u32, ScaleGate>,
}

/// What taking an action did.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Taken {
    /// The effects it started (possibly later: a stabilized scale-in), to end them if it
    /// is undone; none for an instantaneous action (a failover, a rollback).
    pub effects: Vec<u32>,
    /// When its effect starts and ends (the end of the run if it lasts that long).
    pub start: SimTime,
    pub end: SimTime,
    /// What its cost adds to its kind in the output (a crash-loop back-off).
    pub note: Option<String>,
    /// Why it did nothing, if it did nothing.
    pub refused: Option<String>,
}

impl World {
    /// Takes `action` now, decided at `decided_at`, its effect lasting `duration` (to the end
    /// of the run if `None`; a restart lasts its restart time, instantaneous actions no time).
    pub(crate) fn take_action(
        &mut self,
        action: &Action,
        duration: Option<SimDuration>,
        decided_at: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Taken {
        let now = q.now();
        let mut taken = Taken {
            effects: Vec::new(),
            start: now,
            end: duration.map_or(self.horizon, |d| now.saturating_add(d).min(self.horizon)),
            note: None,
            refused: None,
        };
        match action {
            // Instantaneous: it ends other effects and starts none.
            Action::EndFaults { faults } => {
                self.end_faults(faults, q);
                taken.end = now;
            }
            Action::Rollback { config } => {
                self.rollback_config(config, decided_at, q);
                taken.end = now;
            }
            Action::Failover { database } => {
                let d = (self.databases.iter())
                    .position(|x| &x.name == database)
                    .expect("validated database");
                taken.refused = self.database_switchover(d, q).err();
                taken.end = now;
            }
            Action::Restart {
                service,
                restart_time,
            } => {
                let mut longest = SimDuration::ZERO;
                for i in self.targets(service) {
                    let loop_ = self.acting.restarts.entry(i).or_default();
                    let backoff = loop_.restart(now, *restart_time);
                    longest = longest.max(backoff);
                    let kind = EffectKind::Crash {
                        instance: i,
                        mode: CrashMode::Refuse,
                    };
                    let down = backoff + *restart_time;
                    taken.effects.push(self.start_effect(kind, Some(down), q));
                }
                if !longest.is_zero() {
                    taken.note = Some(format!("after crash-loop back-off {longest}"));
                }
                let down = longest + *restart_time;
                taken.end = now.saturating_add(down).min(self.horizon);
            }
            Action::ScaleTo {
                service,
                replicas,
                provisioning,
                stabilization,
                cooldown,
            } => {
                let g = self.group_index(service);
                let wanted = self.groups[g as usize].wanted;
                let gate = self.acting.scaling.entry(g).or_default();
                let kind = EffectKind::Scale {
                    group: g,
                    replicas: *replicas,
                    provisioning: *provisioning,
                };
                match gate.decide(now, wanted, *replicas, *stabilization, *cooldown) {
                    Verdict::Now { cancel } => {
                        for f in cancel {
                            self.end_effect(f, q);
                        }
                        taken.effects.push(self.start_effect(kind, duration, q));
                    }
                    Verdict::After(window) => {
                        let start = now.saturating_add(window);
                        let f = self.start_effect_at(kind, start, duration, q);
                        self.acting
                            .scaling
                            .get_mut(&g)
                            .expect("just used")
                            .pending(f, *replicas, start);
                        taken.effects.push(f);
                        taken.start = start.min(self.horizon);
                        taken.end = duration
                            .map_or(self.horizon, |d| start.saturating_add(d).min(self.horizon));
                        taken.note = Some(format!("after stabilization {window}"));
                    }
                    Verdict::Refused { until } => {
                        taken.refused = Some(format!(
                            "cooldown: the last scale of {service} was less than {cooldown} ago (until {})",
                            until.saturating_since(SimTime::ZERO)
                        ));
                        taken.end = now;
                    }
                }
            }
            _ => {
                for kind in self.action_effects(action) {
                    taken.effects.push(self.start_effect(kind, duration, q));
                }
            }
        }
        taken
    }

    /// Lists what `action` did in the run's `actions`, as taken by `by` (a rule's name, or
    /// a plan's step) because of `cause`.
    pub(crate) fn record_action(
        &mut self,
        by: String,
        cause: String,
        action: &Action,
        decided_at: SimTime,
        taken: &Taken,
    ) {
        let (mut kind, target) = action.describe();
        if let Some(note) = &taken.note {
            kind = format!("{kind} {note}");
        }
        self.actions.push(ActionWindow {
            rule: by,
            kind,
            target,
            cause,
            decided_s: decided_at.as_secs_f64(),
            start_s: taken.start.as_secs_f64(),
            end_s: taken.end.as_secs_f64(),
            refused: taken.refused.clone(),
        });
    }

    /// Ends what `taken` started, now (a restart cannot be undone: its instances come back
    /// when they come back, cold). The orchestrator's do-no-harm undo.
    pub(crate) fn undo_action(&mut self, taken: &Taken, q: &mut EventQueue<Event>) {
        for &f in &taken.effects {
            if self.effects[f as usize].end > q.now() {
                self.end_effect(f, q);
            }
        }
    }

    fn group_index(&self, service: &str) -> u32 {
        (self.groups.iter())
            .position(|g| g.name == service)
            .expect("validated target") as u32
    }

    /// The instances `name` stands for: `NAME#i` one instance of a service, `NAME` every
    /// instance of a service, or a cache.
    fn targets(&self, name: &str) -> Vec<u32> {
        let (base, one) = match name.rsplit_once('#') {
            Some((b, i)) if !self.groups.iter().any(|g| g.name == name) => {
                (b, i.parse::<u32>().ok())
            }
            _ => (name, None),
        };
        if let Some(g) = self.groups.iter().find(|g| g.name == base) {
            return match one {
                Some(i) => vec![g.instances.start + i],
                None => g.instances.clone().collect(),
            };
        }
        let cache = (0..self.instances.len() as u32).find(|&i| {
            let inst = self.instances[i as usize];
            inst.kind == Kind::Cache && self.caches[inst.index as usize].name == name
        });
        vec![cache.expect("validated target")]
    }

    /// The effects an action starts (one per instance or call site it acts on); restarts
    /// and scaling, whose effects depend on their state, are [`World::take_action`]'s.
    fn action_effects(&self, action: &Action) -> Vec<EffectKind> {
        match action {
            Action::Drain { service } => self
                .targets(service)
                .into_iter()
                .map(|instance| EffectKind::Drain { instance })
                .collect(),
            Action::EvacuateZone { zone } => {
                let z = self.zones.id(zone);
                let first = self.clients.len();
                (self.node_zone[first..].iter().enumerate())
                    .filter(|&(i, nz)| {
                        z.is_some() && *nz == z && self.instances[i].kind == Kind::Service
                    })
                    .map(|(i, _)| EffectKind::Drain { instance: i as u32 })
                    .collect()
            }
            Action::Limit {
                service,
                max_concurrency,
            } => self
                .targets(service)
                .into_iter()
                .map(|instance| EffectKind::Limit {
                    instance,
                    max_concurrency: *max_concurrency,
                })
                .collect(),
            Action::ShedLoad { service, rps } => self
                .targets(service)
                .into_iter()
                .map(|instance| EffectKind::Shed {
                    instance,
                    rps: *rps,
                })
                .collect(),
            Action::Fallback { caller, callee } => {
                let callers: Vec<u32> = match self.clients.iter().position(|c| &c.name == caller) {
                    Some(c) => vec![c as u32],
                    None => self
                        .targets(caller)
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
            Action::ScaleTo { .. }
            | Action::Restart { .. }
            | Action::Failover { .. }
            | Action::EndFaults { .. }
            | Action::Rollback { .. } => Vec::new(),
        }
    }
}
