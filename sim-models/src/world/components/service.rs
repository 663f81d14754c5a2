//! The `Service` component kind: a request/response server with workers, a queue and
//! admission control, whose endpoints do local work and then call downstream in steps. It
//! follows a thread-per-request server (a worker is held from dequeue until the answer
//! leaves, across its downstream calls). This module owns the kind's state, its build, how
//! an attempt arrives at it, its own events, how it reacts to effects, and its result.

use rand::RngExt;
use sim_core::dist::Sampler;
use sim_core::queue::EventQueue;
use sim_core::rng::{self, SimRng};
use sim_core::{SimDuration, SimTime};

use super::super::effects::EffectKind;
use super::super::metrics::ServiceStats;
use super::super::side_effects::{self, IdempotencyStore, Seen};
use super::super::{Attempt, AttemptKey, CallKey, Event, Failure, Outcome, Parent, Phase, World};
use crate::limits::{Adaptive, RateLimiter, TokenBucket};
use crate::result::{Latency, ServiceResult};
use crate::scenario::{self, CrashMode, Discipline, QueueSpec};

/// The service's own events.
#[derive(Clone, Copy, Debug)]
pub enum ServiceEvent {
    /// An attempt's local work is done.
    WorkDone(AttemptKey),
    /// A cancelled attempt's worker has stopped it (after `cancel_cost`).
    Stopped(AttemptKey),
}

/// One step of an endpoint's downstream work; edges of a `Parallel` step are consecutive.
pub(crate) enum Step {
    Call(u32),
    Parallel { first: u32, count: u32 },
    Async(u32),
}

pub(crate) struct Endpoint {
    work: Sampler,
    steps: Vec<Step>,
    side_effect: bool,
    /// Bulkhead: attempts of this endpoint admitted at most at once, and admitted now.
    bulkhead: u32,
    present: u32,
    /// Chance of no error from the baseline rates (the service's and the endpoint's).
    base_ok: f64,
    /// Chance that work ends in an error now: the baseline with the active Errors effects.
    error_p: f64,
}

pub(crate) struct ServiceState {
    pub name: String,
    pub workers: u32,
    /// Workers usable now (fewer during a capacity-loss effect).
    capacity: u32,
    busy: u32,
    queue: crate::world::ring::Ring<AttemptKey>,
    queue_capacity: u64,
    lifo: bool,
    endpoints: Vec<Endpoint>,
    rate_limit: Option<RateLimiter>,
    /// Load shedding in force (a ShedLoad action): its rate, and a token bucket holding
    /// 100 ms of it (at least 1).
    shed: Option<(f64, TokenBucket)>,
    adaptive: Option<Adaptive>,
    /// Admission's `max_concurrency`, and the limit in force (lower under a Limit effect).
    max_concurrency: u32,
    concurrency_limit: u32,
    pub(crate) honor_deadline: bool,
    pub(crate) honor_cancellation: bool,
    cancel_cost: SimDuration,
    /// Queue entries whose attempt was cancelled while waiting: skipped when reached, and
    /// not counted as queued (an O(1) removal from the middle of the queue).
    stale: u64,
    idempotency: Option<IdempotencyStore>,
    /// Attempts holding a worker.
    active: Vec<AttemptKey>,
    // Effect state.
    pub(crate) down: Option<CrashMode>,
    pub(crate) paused_since: Option<SimTime>,
    /// Events for this service's calls that came during a pause: handled when it ends.
    pub(crate) deferred: Vec<Event>,
    slowdown: f64,
    /// The share of errors caused by a bad config it holds (`world/config.rs`), part of
    /// each endpoint's `error_p`; and the attempts those failed since its config last looked.
    config_p: f64,
    pub(crate) config_failed: u64,
    /// Down only because of a bad config (a crash loop): its refusals are the config's.
    config_down: bool,
    rng: SimRng,
    error_rng: SimRng,
    pub stats: ServiceStats,
}

impl ServiceState {
    /// Instance `name` of service `spec`; `compile_steps` turns an endpoint's steps into
    /// call sites (the caller side's business).
    pub(crate) fn new(
        spec: &scenario::Service,
        name: &str,
        seed: u64,
        start: SimTime,
        mut compile_steps: impl FnMut(&[scenario::Step]) -> Vec<Step>,
    ) -> ServiceState {
        let base_ok = |endpoint_rate: f64| (1.0 - spec.error_rate) * (1.0 - endpoint_rate);
        let mut endpoints = vec![Endpoint {
            work: spec.service_time.compile().expect("validated service time"),
            steps: compile_steps(&spec.calls),
            side_effect: spec.side_effect,
            bulkhead: spec.bulkhead.unwrap_or(u32::MAX),
            present: 0,
            base_ok: base_ok(0.0),
            error_p: 1.0 - base_ok(0.0),
        }];
        for ep in &spec.endpoints {
            endpoints.push(Endpoint {
                work: ep.service_time.compile().expect("validated service time"),
                steps: compile_steps(&ep.calls),
                side_effect: ep.side_effect,
                bulkhead: ep.bulkhead.unwrap_or(u32::MAX),
                present: 0,
                base_ok: base_ok(ep.error_rate),
                error_p: 1.0 - base_ok(ep.error_rate),
            });
        }
        ServiceState {
            name: name.to_string(),
            workers: spec.workers,
            capacity: spec.workers,
            busy: 0,
            queue: Default::default(),
            queue_capacity: match spec.queue {
                QueueSpec::Unbounded => u64::MAX,
                QueueSpec::Bounded(n) => n,
            },
            lifo: spec.discipline == Discipline::Lifo,
            endpoints,
            rate_limit: spec
                .admission
                .rate_limit
                .map(|r| RateLimiter::new(r.kind, &r, start)),
            shed: None,
            adaptive: spec.admission.adaptive.as_ref().map(Adaptive::new),
            max_concurrency: spec.admission.max_concurrency.unwrap_or(u32::MAX),
            concurrency_limit: spec.admission.max_concurrency.unwrap_or(u32::MAX),
            honor_deadline: spec.honor_deadline,
            honor_cancellation: spec.honor_cancellation,
            cancel_cost: spec.cancel_cost,
            stale: 0,
            idempotency: spec.idempotency.map(|i| IdempotencyStore::new(i.ttl)),
            active: Vec::new(),
            down: None,
            paused_since: None,
            deferred: Vec::new(),
            slowdown: 1.0,
            config_p: 0.0,
            config_failed: 0,
            config_down: false,
            rng: rng::stream(seed, &format!("service/{name}/service_time")),
            error_rng: rng::stream(seed, &format!("service/{name}/errors")),
            stats: ServiceStats::new(start),
        }
    }

    /// Attempts queued or holding a worker now.
    pub(crate) fn present(&self) -> u64 {
        u64::from(self.busy) + self.queued() as u64
    }

    /// Attempts queued or holding a worker now, queue first.
    pub(crate) fn in_service(&self) -> impl Iterator<Item = AttemptKey> + '_ {
        self.queue.iter().chain(&self.active).copied()
    }

    /// Attempts waiting in the queue now.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len() - self.stale as usize
    }

    /// Workers usable now.
    pub(crate) fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Whether it would answer a health probe now (up and not paused).
    pub(crate) fn answers_probes(&self) -> bool {
        self.down.is_none() && self.paused_since.is_none()
    }

    /// The result of a finished run: `expected` attempts it would have had if nothing
    /// failed and nobody retried, `end` the end of the run, `counted_s` the counted time,
    /// `in_flight_at_end` the counted attempts still queued or in service.
    pub(crate) fn result(
        &self,
        expected: f64,
        end: SimTime,
        counted_s: f64,
        in_flight_at_end: u64,
    ) -> ServiceResult {
        let st = &self.stats;
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        ServiceResult {
            name: self.name.clone(),
            zone: None,
            workers: self.workers,
            attempts: st.attempts,
            rejected: st.rejected,
            refused: st.refused,
            dropped: st.dropped,
            cancelled: st.cancelled,
            errors: st.errors,
            completed: st.completed,
            failed: st.failed,
            retry_amplification: ratio(st.attempts as f64, expected),
            wasted_work_s: st.wasted_work.as_secs_f64(),
            duplicate_side_effects: st.duplicate_side_effects,
            deduplicated: st.deduplicated,
            waited_fraction: ratio(st.waited as f64, st.admitted as f64),
            in_flight_at_end,
            wait_mean_ms: st.wait_exact.mean() / 1e6,
            latency_ms: Latency::of(&st.latency, &st.latency_exact),
            utilization: st.busy_level.overall_mean(end) / f64::from(self.workers),
            queue_depth_mean: st.queue_level.overall_mean(end),
            queue_depth_max: st.queue_level.overall_max(),
            in_flight_mean: st.busy_level.overall_mean(end) + st.queue_level.overall_mean(end),
            in_flight_max: st.in_flight_max,
            arrival_rps: st.attempts as f64 / counted_s.max(1e-12),
        }
    }
}

impl World {
    pub(in crate::world) fn on_attempt_arrives(
        &mut self,
        a: AttemptKey,
        q: &mut EventQueue<Event>,
    ) {
        let now = q.now();
        let counted = now >= self.warmup;
        let att = &mut self.attempts[a];
        att.arrived = now;
        att.counted = counted;
        let s = att.local as usize;
        let svc = &mut self.services[s];
        svc.stats.attempts += u64::from(counted);
        svc.stats.window.attempts += 1;
        if att.phase == Phase::CancelledInTransit {
            // Its cancel came first: on one connection it would have come right after it.
            svc.stats.note_cancelled(counted);
            self.remove_attempt(a);
            return;
        }
        if let Some(mode) = svc.down {
            match mode {
                CrashMode::Refuse => {
                    svc.config_failed += u64::from(svc.config_down);
                    svc.stats.refused += u64::from(counted);
                    svc.stats.window.failed += 1;
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
        let queued = svc.queued() as u64;
        let start_now = svc.busy < svc.capacity && svc.paused_since.is_none() && queued == 0;
        let has_room = start_now || queued < svc.queue_capacity;
        let endpoint = &svc.endpoints[att_endpoint as usize];
        let in_bulkhead = endpoint.present < endpoint.bulkhead;
        // The token is taken last: an attempt refused for lack of room costs no token.
        let limit = svc
            .adaptive
            .as_ref()
            .map_or(u32::MAX, |l| l.limit())
            .min(svc.concurrency_limit);
        let admitted = present < u64::from(limit)
            && has_room
            && in_bulkhead
            && svc
                .rate_limit
                .as_mut()
                .is_none_or(|bucket| bucket.try_take(now))
            && svc
                .shed
                .as_mut()
                .is_none_or(|(_, bucket)| bucket.try_take(now));
        if admitted {
            svc.stats.admitted += u64::from(counted);
            svc.endpoints[att_endpoint as usize].present += 1;
            if let Some(store) = &mut svc.idempotency {
                store.begin(key);
            }
        }
        if admitted && start_now {
            if svc.expired(att, now) {
                self.drop_expired(s, a, now);
            } else {
                svc.take_worker(att, a, q);
            }
        } else if admitted {
            svc.stats.waited += u64::from(counted);
            svc.queue.push_back(a);
            svc.stats.queue_level.add(now, 1);
            svc.stats.note_in_flight();
            att.phase = Phase::Queued;
        } else {
            svc.stats.rejected += u64::from(counted);
            svc.stats.window.rejected += 1;
            self.reply(a, Outcome::Failed(Failure::Rejected), q);
        }
    }

    /// Service `s` drops attempt `a` instead of giving it a worker: its deadline has passed
    /// and the service honours deadlines (see [`ServiceState::expired`]).
    #[cold]
    fn drop_expired(&mut self, s: usize, a: AttemptKey, now: SimTime) {
        let svc = &mut self.services[s];
        svc.stats.dropped += u64::from(self.attempts[a].counted);
        svc.stats.window.dropped += 1;
        self.end_operation(a, now, false);
        self.remove_attempt(a);
    }
}

impl ServiceState {
    /// Whether it drops `att` rather than work on it: its deadline has passed and the
    /// service honours deadlines.
    #[inline(always)]
    fn expired(&self, att: &Attempt, now: SimTime) -> bool {
        self.honor_deadline && att.deadline.is_some_and(|d| now >= d)
    }

    /// A worker takes attempt `a` (`att`, not expired) and its local work is scheduled; the
    /// caller holds the service and the attempt already, so neither is looked up again.
    #[inline(always)]
    fn take_worker(&mut self, att: &mut Attempt, a: AttemptKey, q: &mut EventQueue<Event>) {
        let now = q.now();
        self.busy += 1;
        self.stats.busy_level.add(now, 1);
        self.stats.note_in_flight();
        if att.counted {
            self.stats
                .wait_exact
                .push((now - att.arrived).as_nanos() as f64);
        }
        att.phase = Phase::Working;
        att.started = now;
        att.active_idx = self.active.len() as u32;
        self.active.push(a);
        let work = self.endpoints[att.endpoint as usize]
            .work
            .sample_duration(&mut self.rng);
        let work = if self.slowdown == 1.0 {
            work
        } else {
            SimDuration::from_nanos_f64(work.as_nanos() as f64 * self.slowdown)
        };
        att.done_at = now + work;
        att.done_key = Some(q.schedule(att.done_at, Event::Service(ServiceEvent::WorkDone(a))));
    }
}

impl World {
    pub(in crate::world) fn on_work_done(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let att = &mut self.attempts[a];
        att.done_key = None;
        att.phase = Phase::Calling;
        let svc = &mut self.services[att.local as usize];
        if svc.endpoints[att.endpoint as usize].side_effect {
            let key = (att.request_id, att.edge);
            if self.ledger.complete(key, q.now(), side_effects::LEDGER_TTL) {
                svc.stats.duplicate_side_effects += u64::from(att.counted);
            }
            // The side effect is committed: from now on a repeat is answered from the record,
            // whatever happens to this attempt's answer.
            if let Some(store) = &mut svc.idempotency {
                store.end(key, q.now(), true);
            }
        }
        // Drawn only where an error can happen, so a scenario without errors keeps its stream.
        let endpoint = &svc.endpoints[att.endpoint as usize];
        let error_p = endpoint.error_p;
        if error_p > 0.0 {
            let u = svc.error_rng.random::<f64>();
            if u < error_p {
                svc.stats.errors += u64::from(att.counted);
                // Causes are independent and the config's comes first: u < config_p has
                // probability config_p, the rest of [0, error_p) is the other causes'.
                svc.config_failed += u64::from(u < svc.config_p);
                return self.finish_attempt(a, Outcome::Failed(Failure::Error), q);
            }
        }
        if endpoint.steps.is_empty() {
            // No downstream calls: `advance` would answer at once (looking it all up again).
            return self.finish_attempt(a, Outcome::Ok, q);
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
            let svc = &mut self.services[att.local as usize];
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
            let track = svc.honor_cancellation;
            match *step {
                Step::Call(edge) => {
                    att.pending = 1;
                    let call = self.call(edge, Parent::Attempt(a), request_id, deadline, q);
                    if track {
                        self.track_child(a, call);
                    }
                    return;
                }
                Step::Parallel { first, count } => {
                    att.pending = count as u16;
                    for edge in first..first + count {
                        let call = self.call(edge, Parent::Attempt(a), request_id, deadline, q);
                        if track {
                            self.track_child(a, call);
                        }
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
    pub(in crate::world) fn on_child_done(
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

    /// The service answers `a`, frees its worker and takes the next attempt, on one lookup
    /// of the attempt and of its service (each `self.attempts[a]` or `self.services[s]`
    /// after a store through `self` is a fresh lookup: going through `World::end_operation`
    /// and `World::release_worker` did five of each).
    #[inline(always)]
    fn finish_attempt(&mut self, a: AttemptKey, outcome: Outcome, q: &mut EventQueue<Event>) {
        let now = q.now();
        let orphaned = self.orphaned_at(a);
        let att = &self.attempts[a];
        let outcome = match outcome {
            Outcome::Ok if att.degraded => Outcome::Degraded,
            other => other,
        };
        let failed = matches!(outcome, Outcome::Failed(_));
        let (s, idx, arrived) = (att.local as usize, att.active_idx as usize, att.arrived);
        let svc = &mut self.services[s];
        svc.end_operation(att, now, !failed);
        let stats = &mut svc.stats;
        if att.counted {
            if failed {
                stats.failed += 1;
            } else {
                let latency = now - arrived;
                stats.completed += 1;
                stats.latency.record(latency);
                stats.latency_exact.push(latency.as_nanos() as f64);
            }
        }
        stats.window.failed += u64::from(failed);
        let inflight = svc.present() as u32;
        if let Some(limit) = &mut svc.adaptive {
            // One sample per answered attempt: its time in the service, and whether it failed.
            limit.on_sample(now - arrived, inflight, failed);
        }
        if let Some(moved) = svc.release_worker(att, orphaned, now) {
            self.attempts[moved].active_idx = idx as u32;
        }
        self.reply(a, outcome, q);
        self.next_from_queue(s, q);
    }

    /// Drops `a` while it holds a worker (no answer) and takes the next attempt.
    fn drop_active(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let s = self.attempts[a].local as usize;
        self.end_operation(a, q.now(), false);
        self.release_worker(a, q.now());
        self.remove_attempt(a);
        self.next_from_queue(s, q);
    }

    /// Frees the worker held by `a`, counting the time it worked for nobody. Always inlined
    /// (once per answered attempt; a plain `#[inline]` was not taken), like `next_from_queue`.
    #[inline(always)]
    pub(in crate::world) fn release_worker(&mut self, a: AttemptKey, now: SimTime) {
        let orphaned = self.orphaned_at(a);
        let att = &self.attempts[a];
        let idx = att.active_idx;
        if let Some(moved) = self.services[att.local as usize].release_worker(att, orphaned, now) {
            self.attempts[moved].active_idx = idx;
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
    pub(in crate::world) fn next_from_queue(&mut self, s: usize, q: &mut EventQueue<Event>) {
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
            if svc.stale > 0 && !self.attempts.contains_key(next) {
                // Cancelled while it waited: already counted out of the queue.
                svc.stale -= 1;
                continue;
            }
            svc.stats.queue_level.add(now, -1);
            let att = &mut self.attempts[next];
            if svc.expired(att, now) {
                self.drop_expired(s, next, now);
            } else {
                svc.take_worker(att, next, q);
            }
        }
    }

    /// The one exit of an admitted attempt (answered, dropped or lost): it leaves its
    /// endpoint's bulkhead, and its idempotency record, if any, is completed or forgotten.
    #[inline(always)]
    pub(in crate::world) fn end_operation(&mut self, a: AttemptKey, now: SimTime, succeeded: bool) {
        let att = &self.attempts[a];
        self.services[att.local as usize].end_operation(att, now, succeeded);
    }
}

/// The parts of an attempt's exit that touch only its service, for a caller that holds
/// the attempt and the service already (`finish_attempt`) as for one that does not.
impl ServiceState {
    /// `att` leaves its endpoint's bulkhead; its idempotency record is completed or forgotten.
    #[inline(always)]
    fn end_operation(&mut self, att: &Attempt, now: SimTime, succeeded: bool) {
        self.endpoints[att.endpoint as usize].present -= 1;
        if let Some(store) = &mut self.idempotency {
            store.end((att.request_id, att.edge), now, succeeded);
        }
    }

    /// Frees the worker `att` held, counting the time it worked for nobody (since
    /// `orphaned`). Returns the attempt moved into its place among the active ones, whose
    /// `active_idx` the caller sets to `att`'s.
    #[inline(always)]
    fn release_worker(
        &mut self,
        att: &Attempt,
        orphaned: Option<SimTime>,
        now: SimTime,
    ) -> Option<AttemptKey> {
        self.busy -= 1;
        self.stats.busy_level.add(now, -1);
        if let Some(since) = orphaned {
            let start = since.max(att.started);
            self.stats.wasted_work = self.stats.wasted_work + now.saturating_since(start);
        }
        let idx = att.active_idx as usize;
        self.active.swap_remove(idx);
        self.active.get(idx).copied()
    }
}

/// Cancellation: a caller that abandoned an attempt says so, and a service that honours it
/// stops working for nobody.
impl World {
    /// A caller's cancel for live attempt `a` arrives. Queued, it leaves the queue; holding
    /// a worker, its local work stops or its downstream calls are cancelled in turn (their
    /// callees are told if they honour cancellation too), and the worker is free after
    /// `cancel_cost`. Still on its way, it is dropped when it arrives. A paused service
    /// handles the cancel when the pause ends.
    pub(in crate::world) fn on_cancel_arrives(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let now = q.now();
        let att = &mut self.attempts[a];
        let svc = &mut self.services[att.local as usize];
        if svc.paused_since.is_some() {
            svc.deferred.push(Event::CancelArrives(a));
            return;
        }
        match att.phase {
            Phase::Transit => att.phase = Phase::CancelledInTransit,
            Phase::Queued => {
                svc.stale += 1;
                svc.stats.queue_level.add(now, -1);
                svc.stats.note_cancelled(att.counted);
                self.end_operation(a, now, false);
                self.remove_attempt(a);
            }
            Phase::Working | Phase::Calling => {
                if let Some(k) = att.done_key.take() {
                    q.cancel(k);
                }
                att.phase = Phase::Stopping;
                let cost = svc.cancel_cost;
                if let Some(children) = self.children.remove(a) {
                    // Its calls have been work for nobody since its own caller (or one further
                    // up) gave up, as they would count without the cancel.
                    let since = self.orphaned_at(a).unwrap_or(now);
                    for call in children {
                        self.abandon_call(call, since, q);
                    }
                }
                if cost.is_zero() {
                    self.stop(a, q);
                } else {
                    let stopped = q.schedule(now + cost, Event::Service(ServiceEvent::Stopped(a)));
                    self.attempts[a].done_key = Some(stopped);
                }
            }
            Phase::CancelledInTransit | Phase::Stopping => {}
        }
    }

    /// The worker has stopped cancelled attempt `a` (a crash meanwhile cancels this event).
    pub(in crate::world) fn on_stopped(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        self.attempts[a].done_key = None;
        self.stop(a, q);
    }

    /// Cancelled attempt `a` leaves its worker, which takes the next attempt.
    fn stop(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let att = &self.attempts[a];
        let counted = att.counted;
        self.services[att.local as usize]
            .stats
            .note_cancelled(counted);
        self.drop_active(a, q);
    }

    /// Remembers `call` as a downstream call of `a` (whose service honours cancellation), to
    /// cancel it with `a`; unless it is already over (answered at once), or `a` with it.
    fn track_child(&mut self, a: AttemptKey, call: CallKey) {
        if !self.calls.contains_key(call) || !self.attempts.contains_key(a) {
            return;
        }
        let calls = &self.calls;
        if let Some(entry) = self.children.entry(a) {
            let children = entry.or_default();
            // Calls of earlier steps are over: forget them.
            children.retain(|&k| calls.contains_key(k));
            children.push(call);
        }
    }
}

/// How a service reacts to effects: crashes lose the queue and the work in progress,
/// pauses freeze work and defer its callers' events.
impl World {
    /// Recomputes service `s` (instance `i`) from the effects active on it now.
    pub(in crate::world) fn refresh_service(
        &mut self,
        s: usize,
        i: u32,
        q: &mut EventQueue<Event>,
    ) {
        let now = q.now();
        let svc = &self.services[s];
        let (mut down, mut slowdown, mut ok_p, mut capacity, mut paused) =
            (None, 1.0, 1.0, svc.workers, false);
        let (mut config_ok, mut config_crash, mut other_crash) = (1.0, false, false);
        let mut limit = svc.max_concurrency;
        let mut shed: Option<f64> = None;
        for def in self.active_effects() {
            match def.kind {
                EffectKind::Crash { instance, mode } if instance == i => {
                    down = down.or(Some(mode));
                    other_crash = true
                }
                EffectKind::ConfigCrash { instance } if instance == i => {
                    down = down.or(Some(CrashMode::Refuse));
                    config_crash = true
                }
                EffectKind::Errors { instance, p } if instance == i => ok_p *= 1.0 - p,
                EffectKind::ConfigErrors { instance, p } if instance == i => {
                    ok_p *= 1.0 - p;
                    config_ok *= 1.0 - p
                }
                EffectKind::Slowdown { instance, factor } if instance == i => slowdown *= factor,
                EffectKind::CapacityLoss { instance, workers } if instance == i => {
                    capacity = capacity.min(workers)
                }
                EffectKind::Pause { instance } if instance == i => paused = true,
                EffectKind::Limit {
                    instance,
                    max_concurrency,
                } if instance == i => limit = limit.min(max_concurrency),
                EffectKind::Shed { instance, rps } if instance == i => {
                    shed = Some(shed.map_or(rps, |r| r.min(rps)))
                }
                _ => {}
            }
        }
        let svc = &mut self.services[s];
        let crashing = svc.down.is_none() && down.is_some();
        let was_paused = svc.paused_since.is_some();
        svc.down = down;
        svc.slowdown = slowdown;
        svc.config_p = 1.0 - config_ok;
        svc.config_down = config_crash && !other_crash;
        for ep in &mut svc.endpoints {
            ep.error_p = 1.0 - ok_p * ep.base_ok;
        }
        svc.capacity = capacity;
        svc.concurrency_limit = limit;
        if svc.shed.as_ref().map(|(r, _)| *r) != shed {
            // A new rate starts a full bucket; the same rate keeps its bucket.
            svc.shed = shed.map(|rps| {
                let burst = (rps * 0.1).ceil().max(1.0).min(f64::from(u32::MAX)) as u32;
                (rps, TokenBucket::new(rps, burst, now))
            });
        }
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
        let queued: Vec<AttemptKey> = svc.queue.take_all();
        let queued: Vec<AttemptKey> = if svc.stale > 0 {
            svc.stale = 0;
            queued
                .into_iter()
                .filter(|&a| self.attempts.contains_key(a))
                .collect()
        } else {
            queued
        };
        let svc = &mut self.services[s];
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
                att.done_key =
                    Some(q.schedule(att.done_at, Event::Service(ServiceEvent::WorkDone(a))));
            }
        }
    }
}
