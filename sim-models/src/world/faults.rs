//! The fault schedule. Each fault starts and ends as an ordinary event; the state a fault
//! changes (a service's workers, speed, errors, liveness; a link's loss) is recomputed from
//! the set of active faults, so overlapping faults compose and ending one never undoes another.

use sim_core::SimTime;
use sim_core::queue::EventQueue;

use super::{AttemptKey, CallKey, Event, Failure, Outcome, Parent, Phase, World};
use crate::scenario::CrashMode;

/// A fault with its targets resolved to indices.
#[derive(Clone, Debug)]
pub(crate) struct FaultDef {
    pub start: SimTime,
    pub end: SimTime,
    pub kind: FaultTarget,
}

#[derive(Clone, Debug)]
pub(crate) enum FaultTarget {
    Crash {
        service: u32,
        mode: CrashMode,
    },
    Errors {
        service: u32,
        p: f64,
    },
    Slowdown {
        service: u32,
        factor: f64,
    },
    CapacityLoss {
        service: u32,
        workers: u32,
    },
    Pause {
        service: u32,
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
    /// Applied through the client's rate schedule, built in advance.
    Spike,
}

impl World {
    pub(super) fn on_fault(&mut self, f: u32, starting: bool, q: &mut EventQueue<Event>) {
        self.fault_active[f as usize] = starting;
        if starting {
            self.metrics.window.faults_started += 1;
        }
        match self.fault_defs[f as usize].kind {
            FaultTarget::Crash { service, .. }
            | FaultTarget::Errors { service, .. }
            | FaultTarget::Slowdown { service, .. }
            | FaultTarget::CapacityLoss { service, .. }
            | FaultTarget::Pause { service } => self.refresh_service(service as usize, q),
            FaultTarget::Partition { a, b } | FaultTarget::Loss { a, b, .. } => {
                self.refresh_pair(a, b)
            }
            FaultTarget::Spike => {}
        }
    }

    /// The faults active now, in schedule order.
    fn active_faults(&self) -> impl Iterator<Item = &FaultDef> {
        self.fault_defs
            .iter()
            .zip(&self.fault_active)
            .filter(|(_, on)| **on)
            .map(|(def, _)| def)
    }

    /// Number of faults active now.
    pub(super) fn faults_active(&self) -> u32 {
        self.fault_active.iter().filter(|&&on| on).count() as u32
    }

    fn refresh_service(&mut self, s: usize, q: &mut EventQueue<Event>) {
        let now = q.now();
        let svc = &self.services[s];
        let (mut down, mut slowdown, mut ok_p, mut capacity, mut paused) =
            (None, 1.0, 1.0, svc.workers, false);
        for def in self.active_faults() {
            match def.kind {
                FaultTarget::Crash { service, mode } if service as usize == s => {
                    down = down.or(Some(mode))
                }
                FaultTarget::Errors { service, p } if service as usize == s => ok_p *= 1.0 - p,
                FaultTarget::Slowdown { service, factor } if service as usize == s => {
                    slowdown *= factor
                }
                FaultTarget::CapacityLoss { service, workers } if service as usize == s => {
                    capacity = capacity.min(workers)
                }
                FaultTarget::Pause { service } if service as usize == s => paused = true,
                _ => {}
            }
        }
        let svc = &mut self.services[s];
        let crashing = svc.down.is_none() && down.is_some();
        let was_paused = svc.paused_since.is_some();
        svc.down = down;
        svc.slowdown = slowdown;
        svc.error_p = 1.0 - ok_p;
        svc.capacity = capacity;
        if crashing {
            self.crash(s, now, q);
        }
        if paused && !was_paused {
            self.freeze(s, now, q);
        } else if !paused && was_paused {
            self.thaw(s, now, q);
        }
        self.next_from_queue(s, q);
    }

    /// Service `s` goes down: its queue and the work in progress are lost. In `Refuse` mode
    /// the host is up and resets the connections, so each caller gets an error at once; in
    /// `BlackHole` mode nothing comes back and callers wait for their timeouts.
    fn crash(&mut self, s: usize, now: SimTime, q: &mut EventQueue<Event>) {
        let reset = self.services[s].down == Some(CrashMode::Refuse);
        let svc = &mut self.services[s];
        let queued: Vec<AttemptKey> = svc.queue.drain(..).collect();
        svc.stats.queue_level.set(now, 0);
        let active = std::mem::take(&mut svc.active);
        // Calls the lost attempts were waiting on now wait for nobody.
        let orphans: Vec<CallKey> = self
            .calls
            .iter()
            .filter(|(_, c)| matches!(c.parent, Parent::Attempt(p) if active.contains(&p)))
            .map(|(k, _)| k)
            .collect();
        for call in orphans {
            self.abandon_call(call, now, q);
        }
        for &a in &active {
            if let Some(k) = self.attempts[a].done_key.take() {
                q.cancel(k);
            }
            let svc = &mut self.services[s];
            svc.busy -= 1;
            svc.stats.busy_level.add(now, -1);
        }
        for a in queued.into_iter().chain(active) {
            self.end_operation(a, now, false);
            let svc = &mut self.services[s];
            svc.stats.dropped += u64::from(self.attempts[a].counted);
            svc.stats.window.dropped += 1;
            if reset {
                self.reply(a, Outcome::Failed(Failure::Error), q);
            } else {
                self.remove_attempt(a);
            }
        }
    }

    /// Stop the world: local work in progress freezes where it is.
    fn freeze(&mut self, s: usize, now: SimTime, q: &mut EventQueue<Event>) {
        self.services[s].paused_since = Some(now);
        self.paused += 1;
        for &a in &self.services[s].active {
            let att = &mut self.attempts[a];
            if att.phase == Phase::Working
                && let Some(k) = att.done_key.take()
            {
                q.cancel(k);
            }
        }
    }

    /// The pause is over: frozen work resumes with the time it had left, and what came in
    /// for its calls meanwhile is handled now, in the order it came.
    fn thaw(&mut self, s: usize, now: SimTime, q: &mut EventQueue<Event>) {
        let since = self.services[s].paused_since.take().expect("was paused");
        self.paused -= 1;
        for event in std::mem::take(&mut self.services[s].deferred) {
            q.schedule(now, event);
        }
        for &a in &self.services[s].active {
            let att = &mut self.attempts[a];
            if att.phase == Phase::Working && att.done_key.is_none() {
                att.done_at = now + att.done_at.saturating_since(since);
                att.done_key = Some(q.schedule(att.done_at, Event::WorkDone(a)));
            }
        }
    }

    fn refresh_pair(&mut self, a: u32, b: u32) {
        let (mut partitioned, mut ok_p) = (0, 1.0);
        for def in self.active_faults() {
            match def.kind {
                FaultTarget::Partition { a: x, b: y } if (x, y) == (a, b) || (y, x) == (a, b) => {
                    partitioned += 1
                }
                FaultTarget::Loss { a: x, b: y, p } if (x, y) == (a, b) || (y, x) == (a, b) => {
                    ok_p *= 1.0 - p
                }
                _ => {}
            }
        }
        let n = self.nodes;
        for (from, to) in [(a, b), (b, a)] {
            let pair = &mut self.pairs[(from * n + to) as usize];
            pair.partitioned = partitioned;
            pair.loss = self.links[pair.link as usize].loss_with(1.0 - ok_p);
        }
    }
}
