//! The effect layer. Faults and remediation actions are one thing: an effect on a target
//! over a window `[start, end)`. A scheduled fault is an effect whose window is known at
//! build; a rule's action is an effect started during the run. Each effect starts and ends
//! as an ordinary event; the state effects change (an instance's workers, speed, errors,
//! liveness; a link's loss) is recomputed from the set of active effects on that target, so
//! overlapping effects compose and ending one never undoes another. Each component kind
//! says how it reacts (for a service: `world/components/service.rs`).

use sim_core::queue::EventQueue;
use sim_core::{SimDuration, SimTime};

use super::components::Kind;
use super::{Event, World};
use crate::scenario::CrashMode;

/// An effect with its targets resolved to indices.
#[derive(Clone, Debug)]
pub(crate) struct EffectDef {
    pub start: SimTime,
    pub end: SimTime,
    pub kind: EffectKind,
    /// Started by a rule (an action), not scheduled (a fault).
    pub by_rule: bool,
    /// The scheduled fault it comes from (its index in the scenario's `faults`).
    pub fault: Option<u32>,
}

/// What an effect does, to which instance (`instance`), node pair (`a`, `b`) or client.
#[derive(Clone, Debug)]
pub(crate) enum EffectKind {
    Crash {
        instance: u32,
        mode: CrashMode,
    },
    Errors {
        instance: u32,
        p: f64,
    },
    Slowdown {
        instance: u32,
        factor: f64,
    },
    CapacityLoss {
        instance: u32,
        workers: u32,
    },
    Pause {
        instance: u32,
    },
    Partition {
        a: u32,
        b: u32,
    },
    Loss {
        a: u32,
        b: u32,
        p: f64,
    },
    /// A scheduled spike on client `client`, compiled into its rate schedule at build.
    Spike {
        client: u32,
    },
    /// A spike started during the run: the client's schedule is rebuilt with it.
    LiveSpike {
        client: u32,
        factor: f64,
    },
    /// Service group `group` (scenario order) runs `replicas` instances; new ones come up
    /// after `provisioning`.
    Scale {
        group: u32,
        replicas: u32,
        provisioning: SimDuration,
    },
    /// No new attempts go to the instance; it finishes what it holds.
    Drain {
        instance: u32,
    },
    /// The instance admits at most `rps` new attempts per second (load shedding).
    Shed {
        instance: u32,
        rps: f64,
    },
    /// The instance admits at most this many attempts at once.
    Limit {
        instance: u32,
        max_concurrency: u32,
    },
    /// Call site `edge` answers with its fallback on final failure.
    Fallback {
        edge: u32,
    },
    /// The client issues nothing (its zone is out).
    ClientDown {
        client: u32,
    },
    /// The cache instance is emptied when the effect starts.
    Flush {
        instance: u32,
    },
    /// The service instance holds a bad config: its work fails with probability `p`.
    ConfigErrors {
        instance: u32,
        p: f64,
    },
    /// The service instance holds a config that crashes it: down, refusing connections.
    ConfigCrash {
        instance: u32,
    },
    /// The token auth instance's tokens are revoked when the effect starts.
    Revoke {
        instance: u32,
    },
}

impl EffectKind {
    /// The instance it acts on, for effects on one instance.
    fn instance(&self) -> Option<u32> {
        match *self {
            EffectKind::Crash { instance, .. }
            | EffectKind::Errors { instance, .. }
            | EffectKind::Slowdown { instance, .. }
            | EffectKind::CapacityLoss { instance, .. }
            | EffectKind::Limit { instance, .. }
            | EffectKind::Shed { instance, .. }
            | EffectKind::Flush { instance }
            | EffectKind::ConfigErrors { instance, .. }
            | EffectKind::ConfigCrash { instance }
            | EffectKind::Revoke { instance }
            | EffectKind::Pause { instance } => Some(instance),
            _ => None,
        }
    }
}

impl World {
    pub(super) fn on_effect(&mut self, f: u32, starting: bool, q: &mut EventQueue<Event>) {
        // A fault ended early (`end_faults`) before its start never starts, nor an action
        // ended before its start (a scale-in dropped within its stabilization window).
        let def = &self.effects[f as usize];
        if starting && (def.end < def.start || (def.end <= q.now() && !def.by_rule)) {
            return;
        }
        self.effect_active[f as usize] = starting;
        if starting && !self.effects[f as usize].by_rule {
            self.metrics.window.faults_started += 1;
        }
        let kind = &self.effects[f as usize].kind;
        if let Some(i) = kind.instance() {
            let inst = self.instances[i as usize];
            match inst.kind {
                Kind::Service => self.refresh_service(inst.index as usize, i, q),
                Kind::Cache => {
                    let flush = starting && matches!(kind, EffectKind::Flush { .. });
                    self.refresh_cache(inst.index as usize, i, flush, q)
                }
                Kind::Broker => self.refresh_broker(inst.index as usize, i, q),
                Kind::Database => self.refresh_database(inst.index as usize, i, q),
                // Only a revocation applies to it (validation), at its start.
                Kind::TokenAuth => {
                    if starting {
                        let now = q.now();
                        self.token_auths[inst.index as usize].revoke(now);
                    }
                }
            }
            return;
        }
        match *kind {
            EffectKind::Partition { a, b } | EffectKind::Loss { a, b, .. } => {
                self.refresh_pair(a, b)
            }
            EffectKind::Spike { .. } => {}
            EffectKind::LiveSpike { client, factor } => {
                if starting {
                    let def = &self.effects[f as usize];
                    let window = (def.start, def.end);
                    self.start_live_spike(client, factor, window, q);
                }
            }
            EffectKind::Scale { group, .. } => self.refresh_group(group, q),
            EffectKind::Drain { instance } => self.refresh_accepting(instance),
            EffectKind::Fallback { edge } => self.refresh_fallback(edge),
            EffectKind::ClientDown { client } => self.refresh_client(client, q),
            EffectKind::Crash { .. }
            | EffectKind::Errors { .. }
            | EffectKind::Slowdown { .. }
            | EffectKind::CapacityLoss { .. }
            | EffectKind::Pause { .. }
            | EffectKind::Flush { .. }
            | EffectKind::ConfigErrors { .. }
            | EffectKind::ConfigCrash { .. }
            | EffectKind::Revoke { .. }
            | EffectKind::Shed { .. }
            | EffectKind::Limit { .. } => unreachable!("instance effects are handled above"),
        }
    }

    /// Starts effect `kind` now, for `duration` (to the end of the run if `None`); returns
    /// its index. How rules act.
    pub(super) fn start_effect(
        &mut self,
        kind: EffectKind,
        duration: Option<SimDuration>,
        q: &mut EventQueue<Event>,
    ) -> u32 {
        self.start_effect_at(kind, q.now(), duration, q)
    }

    /// Starts effect `kind` at `start` (now or later), for `duration` from then; returns
    /// its index. Ended before `start` ([`World::end_effect`]), it never starts.
    pub(super) fn start_effect_at(
        &mut self,
        kind: EffectKind,
        start: SimTime,
        duration: Option<SimDuration>,
        q: &mut EventQueue<Event>,
    ) -> u32 {
        let start = start.max(q.now());
        let end = duration.map_or(SimTime::MAX, |d| start.saturating_add(d));
        let f = self.effects.len() as u32;
        self.effects.push(EffectDef {
            start,
            end,
            kind,
            by_rule: true,
            fault: None,
        });
        self.effect_active.push(false);
        if end < SimTime::MAX {
            q.schedule(end, Event::EffectEnd(f));
        }
        if start > q.now() {
            q.schedule(start, Event::EffectStart(f));
        } else {
            self.on_effect(f, true, q);
        }
        f
    }

    /// Ends effect `f` now (one started with no end: a bad config an instance stops holding).
    pub(super) fn end_effect(&mut self, f: u32, q: &mut EventQueue<Event>) {
        self.effects[f as usize].end = q.now();
        if self.effect_active[f as usize] {
            self.on_effect(f, false, q);
        }
    }

    /// Ends scheduled faults `faults` (indices in the scenario's `faults`) now: active ones
    /// stop, later ones never start. How an experiment's stop condition takes its method out.
    pub(super) fn end_faults(&mut self, faults: &[u32], q: &mut EventQueue<Event>) {
        let now = q.now();
        for f in 0..self.effects.len() {
            let def = &self.effects[f];
            if def.end <= now || !def.fault.is_some_and(|x| faults.contains(&x)) {
                continue;
            }
            let (start, end) = (def.start, def.end);
            self.effects[f].end = now;
            if let EffectKind::Spike { client } = self.effects[f].kind {
                self.end_spike_early(client, (start, end), q);
            }
            if self.effect_active[f] {
                self.on_effect(f as u32, false, q);
            }
        }
    }

    /// Service group `group` runs as many instances as the latest active scaling effect on
    /// it says (its own `replicas` if none): instances beyond leave service at once (they
    /// finish what they hold); missing ones come up after the effect's provisioning delay.
    fn refresh_group(&mut self, group: u32, q: &mut EventQueue<Event>) {
        let (mut want, mut provisioning) =
            (self.groups[group as usize].replicas, SimDuration::ZERO);
        for def in self.active_effects() {
            if let EffectKind::Scale {
                group: g,
                replicas,
                provisioning: p,
            } = def.kind
                && g == group
            {
                (want, provisioning) = (replicas, p);
            }
        }
        let range = self.groups[group as usize].instances.clone();
        self.groups[group as usize].wanted = want;
        for (r, i) in range.enumerate() {
            let wanted = (r as u32) < want;
            if wanted && !self.in_service[i as usize] {
                // Comes up after provisioning, if still wanted then.
                q.schedule(q.now() + provisioning, Event::InService { instance: i });
            } else if !wanted && self.in_service[i as usize] {
                self.in_service[i as usize] = false;
                self.refresh_accepting(i);
            }
        }
    }

    /// Instance `i` has been provisioned: it enters service if its group still wants it.
    pub(super) fn on_in_service(&mut self, i: u32) {
        let g = self.instances[i as usize].group as usize;
        let rank = i - self.groups[g].instances.start;
        if rank < self.groups[g].wanted && !self.in_service[i as usize] {
            self.in_service[i as usize] = true;
            self.refresh_accepting(i);
        }
    }

    /// Whether callers may send new attempts to instance `i`: in service and not drained.
    fn refresh_accepting(&mut self, i: u32) {
        let drained = self
            .active_effects()
            .any(|d| matches!(d.kind, EffectKind::Drain { instance } if instance == i));
        let accepting = self.in_service[i as usize] && !drained;
        let was = self.accepting[i as usize];
        self.accepting[i as usize] = accepting;
        match (was, accepting) {
            (true, false) => self.not_accepting += 1,
            (false, true) => self.not_accepting -= 1,
            _ => {}
        }
    }

    /// Call site `edge` answers with its fallback if its policy says so or an active
    /// effect does.
    fn refresh_fallback(&mut self, edge: u32) {
        let forced = self
            .active_effects()
            .any(|d| matches!(d.kind, EffectKind::Fallback { edge: e } if e == edge));
        let e = &mut self.edges[edge as usize];
        e.fallback = e.fallback_spec || forced;
    }

    /// Client `c` is down while an effect says so; when it comes up, its parked
    /// closed-loop users issue at once (open-loop arrivals never stopped being drawn).
    fn refresh_client(&mut self, c: u32, q: &mut EventQueue<Event>) {
        let down = self
            .active_effects()
            .any(|d| matches!(d.kind, EffectKind::ClientDown { client } if client == c));
        let client = &mut self.clients[c as usize];
        client.down = down;
        if !down {
            for user in std::mem::take(&mut client.parked) {
                q.schedule(q.now(), Event::UserReady { client: c, user });
            }
        }
    }

    /// The effects active now, in the order they were defined.
    pub(super) fn active_effects(&self) -> impl Iterator<Item = &EffectDef> {
        self.effects
            .iter()
            .zip(&self.effect_active)
            .filter(|(_, on)| **on)
            .map(|(def, _)| def)
    }

    /// Number of scheduled faults active now (actions are reported apart).
    pub(super) fn faults_active(&self) -> u32 {
        self.effects
            .iter()
            .zip(&self.effect_active)
            .filter(|(d, on)| **on && !d.by_rule)
            .count() as u32
    }

    fn refresh_pair(&mut self, a: u32, b: u32) {
        let (mut partitioned, mut ok_p) = (0, 1.0);
        for def in self.active_effects() {
            match def.kind {
                EffectKind::Partition { a: x, b: y } if (x, y) == (a, b) || (y, x) == (a, b) => {
                    partitioned += 1
                }
                EffectKind::Loss { a: x, b: y, p } if (x, y) == (a, b) || (y, x) == (a, b) => {
                    ok_p *= 1.0 - p
                }
                _ => {}
            }
        }
        self.net.set_pair(a, b, partitioned, 1.0 - ok_p);
    }
}
