//! The effect layer. Faults and remediation actions are one thing: an effect on a target
//! over a window `[start, end)`. A scheduled fault is an effect whose window is known at
//! build; a rule's action is an effect started during the run. Each effect starts and ends
//! as an ordinary event; the state effects change (an instance's workers, speed, errors,
//! liveness; a link's loss) is recomputed from the set of active effects on that target, so
//! overlapping effects compose and ending one never undoes another. Each component kind
//! says how it reacts (for a service: [`super::components::service`]).

use sim_core::SimTime;
use sim_core::queue::EventQueue;

use super::components::Kind;
use super::{Event, World};
use crate::scenario::CrashMode;

/// An effect with its targets resolved to indices.
#[derive(Clone, Debug)]
pub(crate) struct EffectDef {
    pub start: SimTime,
    pub end: SimTime,
    pub kind: EffectKind,
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
    /// Applied through the client's rate schedule.
    Spike,
}

impl EffectKind {
    /// The instance it acts on, for effects on one instance.
    fn instance(&self) -> Option<u32> {
        match *self {
            EffectKind::Crash { instance, .. }
            | EffectKind::Errors { instance, .. }
            | EffectKind::Slowdown { instance, .. }
            | EffectKind::CapacityLoss { instance, .. }
            | EffectKind::Pause { instance } => Some(instance),
            EffectKind::Partition { .. } | EffectKind::Loss { .. } | EffectKind::Spike => None,
        }
    }
}

impl World {
    pub(super) fn on_effect(&mut self, f: u32, starting: bool, q: &mut EventQueue<Event>) {
        self.effect_active[f as usize] = starting;
        if starting {
            self.metrics.window.faults_started += 1;
        }
        let kind = &self.effects[f as usize].kind;
        if let Some(i) = kind.instance() {
            let inst = self.instances[i as usize];
            match inst.kind {
                Kind::Service => self.refresh_service(inst.index as usize, i, q),
            }
        } else if let EffectKind::Partition { a, b } | EffectKind::Loss { a, b, .. } = *kind {
            self.refresh_pair(a, b)
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

    /// Number of effects active now.
    pub(super) fn effects_active(&self) -> u32 {
        self.effect_active.iter().filter(|&&on| on).count() as u32
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
