//! The callee side: admission, the queue, workers, local work, the endpoint's downstream
//! steps, and the answer. A worker is held from dequeue until the answer leaves.

use rand::RngExt;
use sim_core::queue::EventQueue;
use sim_core::{SimDuration, SimTime};

use super::effects::{self, Seen};
use super::{AttemptKey, Event, Failure, Outcome, Parent, Phase, Step, World};
use crate::scenario::CrashMode;

impl World {
    pub(super) fn on_attempt_arrives(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let now = q.now();
        let counted = now >= self.warmup;
        let att = &mut self.attempts[a];
        att.arrived = now;
        att.counted = counted;
        let s = att.service as usize;
        let svc = &mut self.services[s];
        svc.stats.attempts += u64::from(counted);
        svc.stats.window.attempts += 1;
        if let Some(mode) = svc.down {
            match mode {
                CrashMode::Refuse => {
                    svc.stats.refused += u64::from(counted);
                    self.reply(a, Outcome::Failed(Failure::Error), q);
                }
                CrashMode::BlackHole => {
                    svc.stats.dropped += u64::from(counted);
                    svc.stats.window.dropped += 1;
                    self.remove_attempt(a);
                }
            }
            return;
        }
        let key = (att.request_id, att.edge);
        let att_endpoint = att.endpoint;
        if let Some(store) = &mut svc.idempotency {
            match store.lookup(key, now) {
                Seen::Completed => {
                    // Answered from the record: no work, no second side effect.
                    svc.stats.deduplicated += u64::from(counted);
                    return self.reply(a, Outcome::Ok, q);
                }
                Seen::InProgress => {
                    // A conflict (409): the first attempt is still being worked on.
                    svc.stats.rejected += u64::from(counted);
                    svc.stats.window.rejected += 1;
                    return self.reply(a, Outcome::Failed(Failure::Rejected), q);
                }
                Seen::New => {}
            }
        }
        let present = svc.present();
        let start_now =
            svc.busy < svc.capacity && svc.paused_since.is_none() && svc.queue.is_empty();
        let has_room = start_now || (svc.queue.len() as u64) < svc.queue_capacity;
        let endpoint = &svc.endpoints[att_endpoint as usize];
        let in_bulkhead = endpoint.present < endpoint.bulkhead;
        // The token is taken last: an attempt refused for lack of room costs no token.
        let limit = svc
            .adaptive
            .as_ref()
            .map_or(u32::MAX, |l| l.limit())
            .min(svc.max_concurrency);
        let admitted = present < u64::from(limit)
            && has_room
            && in_bulkhead
            && svc
                .rate_limit
                .as_mut()
                .is_none_or(|bucket| bucket.try_take(now));
        if admitted {
            svc.stats.admitted += u64::from(counted);
            svc.endpoints[att_endpoint as usize].present += 1;
            if let Some(store) = &mut svc.idempotency {
                store.begin(key);
            }
        }
        if admitted && start_now {
            self.start_work(s, a, q);
        } else if admitted {
            svc.stats.waited += u64::from(counted);
            svc.queue.push_back(a);
            svc.stats.queue_level.add(now, 1);
            svc.stats.note_in_flight();
            self.attempts[a].phase = Phase::Queued;
        } else {
            svc.stats.rejected += u64::from(counted);
            svc.stats.window.rejected += 1;
            self.reply(a, Outcome::Failed(Failure::Rejected), q);
        }
    }

    /// A worker of service `s` takes attempt `a`, unless its deadline has passed and the
    /// service honours deadlines (then it is dropped). Returns whether a worker was taken.
    #[inline(always)]
    fn start_work(&mut self, s: usize, a: AttemptKey, q: &mut EventQueue<Event>) -> bool {
        let now = q.now();
        let svc = &mut self.services[s];
        let att = &mut self.attempts[a];
        if svc.honor_deadline && att.deadline.is_some_and(|d| now >= d) {
            svc.stats.dropped += u64::from(att.counted);
            svc.stats.window.dropped += 1;
            self.end_operation(a, now, false);
            self.remove_attempt(a);
            return false;
        }
        svc.busy += 1;
        svc.stats.busy_level.add(now, 1);
        svc.stats.note_in_flight();
        if att.counted {
            svc.stats
                .wait_exact
                .push((now - att.arrived).as_nanos() as f64);
        }
        att.phase = Phase::Working;
        att.started = now;
        att.active_idx = svc.active.len() as u32;
        svc.active.push(a);
        let work = svc.endpoints[att.endpoint as usize]
            .work
            .sample_duration(&mut svc.rng);
        let work = if svc.slowdown == 1.0 {
            work
        } else {
            SimDuration::from_nanos_f64(work.as_nanos() as f64 * svc.slowdown)
        };
        att.done_at = now + work;
        att.done_key = Some(q.schedule(att.done_at, Event::WorkDone(a)));
        true
    }

    pub(super) fn on_work_done(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let att = &mut self.attempts[a];
        att.done_key = None;
        att.phase = Phase::Calling;
        let svc = &mut self.services[att.service as usize];
        if svc.endpoints[att.endpoint as usize].side_effect {
            let key = (att.request_id, att.edge);
            if self.ledger.complete(key, q.now(), effects::LEDGER_TTL) {
                svc.stats.duplicate_side_effects += u64::from(att.counted);
            }
            // The side effect is committed: from now on a repeat is answered from the record,
            // whatever happens to this attempt's answer.
            if let Some(store) = &mut svc.idempotency {
                store.end(key, q.now(), true);
            }
        }
        if svc.error_p > 0.0 && svc.error_rng.random::<f64>() < svc.error_p {
            svc.stats.errors += u64::from(att.counted);
            return self.finish_attempt(a, Outcome::Failed(Failure::Error), q);
        }
        self.advance(a, q);
    }

    /// Runs the steps of `a` from its current one until it must wait, or answers.
    /// After starting calls it must not touch `a` again: a call may complete at once and
    /// finish the attempt.
    #[inline(always)]
    fn advance(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let now = q.now();
        loop {
            let att = &mut self.attempts[a];
            let svc = &mut self.services[att.service as usize];
            let steps = &svc.endpoints[att.endpoint as usize].steps;
            let Some(step) = steps.get(att.step as usize) else {
                return self.finish_attempt(a, Outcome::Ok, q);
            };
            if svc.honor_deadline && att.deadline.is_some_and(|d| now >= d) {
                // Expired before this call: stop working for nobody.
                svc.stats.dropped += u64::from(att.counted);
                svc.stats.window.dropped += 1;
                return self.drop_active(a, q);
            }
            let (deadline, request_id) = (att.deadline, att.request_id);
            match *step {
                Step::Call(edge) => {
                    att.pending = 1;
                    return self.call(edge, Parent::Attempt(a), request_id, deadline, q);
                }
                Step::Parallel { first, count } => {
                    att.pending = count as u16;
                    for edge in first..first + count {
                        self.call(edge, Parent::Attempt(a), request_id, deadline, q);
                    }
                    return;
                }
                Step::Async(edge) => {
                    att.step += 1;
                    self.call(edge, Parent::Nobody, request_id, deadline, q);
                }
            }
        }
    }

    /// One of the current step's calls of `a` is over.
    pub(super) fn on_child_done(
        &mut self,
        a: AttemptKey,
        outcome: Outcome,
        q: &mut EventQueue<Event>,
    ) {
        // The attempt may be gone: its service crashed while the call was out.
        let Some(att) = self.attempts.get_mut(a) else {
            return;
        };
        match outcome {
            Outcome::Failed(f) => {
                att.failed.get_or_insert(f);
            }
            Outcome::Degraded => att.degraded = true,
            Outcome::Ok => {}
        }
        att.pending -= 1;
        if att.pending > 0 {
            return;
        }
        if let Some(f) = att.failed.take() {
            return self.finish_attempt(a, Outcome::Failed(f), q);
        }
        att.step += 1;
        self.advance(a, q);
    }

    /// The service answers `a`, frees its worker and takes the next attempt.
    #[inline(always)]
    fn finish_attempt(&mut self, a: AttemptKey, outcome: Outcome, q: &mut EventQueue<Event>) {
        let now = q.now();
        let outcome = match outcome {
            Outcome::Ok if self.attempts[a].degraded => Outcome::Degraded,
            other => other,
        };
        self.end_operation(a, now, !matches!(outcome, Outcome::Failed(_)));
        let att = &self.attempts[a];
        let s = att.service as usize;
        let stats = &mut self.services[s].stats;
        if att.counted {
            match outcome {
                Outcome::Ok | Outcome::Degraded => {
                    let latency = now - att.arrived;
                    stats.completed += 1;
                    stats.latency.record(latency);
                    stats.latency_exact.push(latency.as_nanos() as f64);
                }
                Outcome::Failed(_) => stats.failed += 1,
            }
        }
        let svc = &mut self.services[s];
        let inflight = svc.present() as u32;
        if let Some(limit) = &mut svc.adaptive {
            // One sample per answered attempt: its time in the service, and whether it failed.
            limit.on_sample(
                now - att.arrived,
                inflight,
                matches!(outcome, Outcome::Failed(_)),
            );
        }
        self.release_worker(a, now);
        self.reply(a, outcome, q);
        self.next_from_queue(s, q);
    }

    /// Drops `a` while it holds a worker (no answer) and takes the next attempt.
    fn drop_active(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let s = self.attempts[a].service as usize;
        self.end_operation(a, q.now(), false);
        self.release_worker(a, q.now());
        self.remove_attempt(a);
        self.next_from_queue(s, q);
    }

    /// Sends the answer for `a` back over the link and forgets the attempt.
    #[inline(always)]
    pub(super) fn reply(&mut self, a: AttemptKey, outcome: Outcome, q: &mut EventQueue<Event>) {
        let att = self.remove_attempt(a).expect("answering a live attempt");
        // Nobody listens if the call is over or has moved on to another attempt.
        let Some(call) = self.calls.get(att.call) else {
            return;
        };
        let current = call.attempts == att.number && call.current == Some(a);
        if !current && !call.hedges.iter().any(|h| h.attempt == a) {
            return;
        }
        let caller = self.edges[call.edge as usize].from;
        let from = self.services[att.service as usize].node;
        if let Some(delay) = self.transmit(from, caller) {
            q.schedule(
                q.now() + delay,
                Event::Response {
                    call: att.call,
                    number: att.number,
                    outcome,
                },
            );
        }
    }

    /// Frees the worker held by `a`, counting the time it worked for nobody. Always inlined
    /// (once per answered attempt; a plain `#[inline]` was not taken), like `next_from_queue`.
    #[inline(always)]
    pub(super) fn release_worker(&mut self, a: AttemptKey, now: SimTime) {
        let orphaned = self.orphaned_at(a);
        let att = &self.attempts[a];
        let svc = &mut self.services[att.service as usize];
        svc.busy -= 1;
        svc.stats.busy_level.add(now, -1);
        let idx = att.active_idx as usize;
        svc.active.swap_remove(idx);
        if let Some(&moved) = svc.active.get(idx) {
            self.attempts[moved].active_idx = idx as u32;
        }
        if let Some(since) = orphaned {
            let start = since.max(self.attempts[a].started);
            svc.stats.wasted_work = svc.stats.wasted_work + now.saturating_since(start);
        }
    }

    /// Since when nobody waits for `a`: its caller gave up on it, or on an attempt up the
    /// chain of calls that led to it (deep orphans are wasted work too).
    fn orphaned_at(&self, a: AttemptKey) -> Option<SimTime> {
        if self.abandoned == 0 {
            return None;
        }
        let mut att = &self.attempts[a];
        let mut since = att.abandoned_at;
        for _ in 0..64 {
            let Some(call) = self.calls.get(att.call) else {
                break;
            };
            let Parent::Attempt(parent) = call.parent else {
                break;
            };
            let Some(p) = self.attempts.get(parent) else {
                break;
            };
            since = match (since, p.abandoned_at) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
            att = p;
        }
        since
    }

    /// Free workers of service `s` take queued attempts.
    #[inline(always)]
    pub(super) fn next_from_queue(&mut self, s: usize, q: &mut EventQueue<Event>) {
        let now = q.now();
        loop {
            let svc = &mut self.services[s];
            if svc.busy >= svc.capacity || svc.paused_since.is_some() || svc.down.is_some() {
                return;
            }
            let next = if svc.lifo {
                svc.queue.pop_back()
            } else {
                svc.queue.pop_front()
            };
            let Some(next) = next else { return };
            svc.stats.queue_level.add(now, -1);
            self.start_work(s, next, q);
        }
    }

    /// The one exit of an admitted attempt (answered, dropped or lost): it leaves its
    /// endpoint's bulkhead, and its idempotency record, if any, is completed or forgotten.
    #[inline]
    pub(super) fn end_operation(&mut self, a: AttemptKey, now: SimTime, succeeded: bool) {
        let att = &self.attempts[a];
        let key = (att.request_id, att.edge);
        let svc = &mut self.services[att.service as usize];
        svc.endpoints[att.endpoint as usize].present -= 1;
        if let Some(store) = &mut svc.idempotency {
            store.end(key, now, succeeded);
        }
    }
}
