//! The caller side: logical requests, calls, attempts over links, timeouts, retries and
//! the client's overall deadline. A service's worker calling downstream uses the same code
//! as a client: both are callers of an [`Edge`](super::Edge).

use sim_core::queue::EventQueue;
use sim_core::{SimDuration, SimTime};

use super::{
    Attempt, AttemptKey, Call, CallKey, Event, Failure, HEDGE_BASE, Hedge, LoadGen, Outcome,
    Parent, Phase, World,
};
use crate::policy::ThinnedPoisson;

/// Marks a request that no closed-loop user waits for.
pub(super) const NO_USER: u32 = u32::MAX;

impl World {
    /// Open loop: the next arrival of client `c`, then the request itself.
    pub(super) fn on_arrival(&mut self, c: u32, q: &mut EventQueue<Event>) {
        let now = q.now();
        let client = &mut self.clients[c as usize];
        if let LoadGen::Open { schedule, next, .. } = &mut client.load {
            *next = ThinnedPoisson
                .next_arrival(schedule, now, &mut client.rng)
                .map(|at| q.schedule(at, Event::Arrival { client: c }));
        }
        self.issue(c, NO_USER, q);
    }

    /// A spike on client `c` over `window` starts during the run: its rate schedule is built
    /// again with the spike, and its next arrival drawn again from now (Poisson arrivals are
    /// memoryless, so dropping the pending draw changes no law).
    pub(super) fn start_live_spike(
        &mut self,
        c: u32,
        factor: f64,
        window: (SimTime, SimTime),
        q: &mut EventQueue<Event>,
    ) {
        self.change_spikes(c, q, |spikes, _| spikes.push((window.0, window.1, factor)));
    }

    /// The scheduled spike on client `c` over `window` ends now instead (its rate schedule
    /// is built again and its next arrival drawn again, as for a live spike).
    pub(super) fn end_spike_early(
        &mut self,
        c: u32,
        window: (SimTime, SimTime),
        q: &mut EventQueue<Event>,
    ) {
        self.change_spikes(c, q, |spikes, now| {
            for spike in spikes.iter_mut() {
                if (spike.0, spike.1) == window {
                    spike.1 = now.max(spike.0);
                }
            }
        });
    }

    /// Changes open-loop client `c`'s spikes, rebuilds its rate schedule and draws its next
    /// arrival again from now.
    fn change_spikes(
        &mut self,
        c: u32,
        q: &mut EventQueue<Event>,
        change: impl FnOnce(&mut Vec<(SimTime, SimTime, f64)>, SimTime),
    ) {
        let now = q.now();
        let client = &mut self.clients[c as usize];
        let LoadGen::Open {
            schedule,
            next,
            base_rps,
            shape,
            spikes,
        } = &mut client.load
        else {
            return; // validated: spikes are on open loops only
        };
        change(spikes, now);
        *schedule = crate::policy::RateSchedule::new(*base_rps, shape, spikes);
        if let Some(k) = next.take() {
            q.cancel(k);
        }
        *next = ThinnedPoisson
            .next_arrival(schedule, now, &mut client.rng)
            .map(|at| q.schedule(at, Event::Arrival { client: c }));
    }

    /// Client `c` (user `user` for a closed loop) issues a logical request.
    pub(super) fn issue(&mut self, c: u32, user: u32, q: &mut EventQueue<Event>) {
        let now = q.now();
        let counted = now >= self.warmup;
        let client = &mut self.clients[c as usize];
        if client.down {
            return client.skip_issue(user, counted);
        }
        client.outcome.offered += u64::from(counted);
        self.metrics.window.offered += 1;
        self.metrics.window.client_offered[c as usize] += 1;
        let deadline = client.deadline.map(|d| now.saturating_add(d));
        let edge = client.edge;
        let id = self.next_request_id;
        self.next_request_id += 1;
        let parent = Parent::Request {
            client: c,
            user,
            counted,
        };
        let call = self.new_call(edge, parent, id, deadline, now);
        self.requests += 1;
        self.note_in_flight(self.requests);
        if let Some(t) = self.trace.as_deref_mut() {
            t.issue(call, id, now, &self.clients[c as usize].name);
        }
        if let Some(d) = deadline {
            self.calls[call].deadline_timer = Some(q.schedule(d, Event::DeadlineExpired(call)));
        }
        self.start_attempt(call, q);
    }

    /// Starts a call on `edge` for `parent` (serving logical request `request_id`), carrying
    /// the propagated `deadline`. The call may be over (and removed) when this returns.
    pub(super) fn call(
        &mut self,
        edge: u32,
        parent: Parent,
        request_id: u64,
        deadline: Option<SimTime>,
        q: &mut EventQueue<Event>,
    ) -> CallKey {
        let call = self.new_call(edge, parent, request_id, deadline, q.now());
        self.start_attempt(call, q);
        call
    }

    /// A call on `edge` for `parent`, before its first attempt. Always inlined: once per
    /// call, and it stopped being inlined when the service moved to its own module.
    #[inline(always)]
    fn new_call(
        &mut self,
        edge: u32,
        parent: Parent,
        request_id: u64,
        deadline: Option<SimTime>,
        now: SimTime,
    ) -> CallKey {
        if let Some(b) = &mut self.edges[edge as usize].budget {
            b.on_call(now);
        }
        self.calls.insert(Call {
            parent,
            edge,
            request_id,
            made_at: now,
            sent_at: now,
            replica: 0,
            policy: None,
            attempts: 0,
            current: None,
            timer: None,
            deadline,
            deadline_timer: None,
        })
    }

    /// Sends the next attempt of `key` (or fails it at once under backpressure).
    pub(super) fn start_attempt(&mut self, key: CallKey, q: &mut EventQueue<Event>) {
        let now = q.now();
        let call = &mut self.calls[key];
        call.attempts += 1;
        call.timer = None;
        // Counted like requests and attempts: from the end of the warm-up on.
        let counted = now >= self.warmup;
        if call.attempts > 1 {
            self.metrics.retries += u64::from(counted);
        }
        let (number, deadline, hedges_sent) = (call.attempts, call.deadline, call.hedges_sent());
        let (edge_id, request_id) = (call.edge, call.request_id);
        call.sent_at = now;
        if let Some(w) = self.watch.as_deref_mut() {
            w.edge_attempts[edge_id as usize] += 1;
        }
        let edge = &mut self.edges[edge_id as usize];
        if edge.breaker.as_mut().is_some_and(|b| !b.try_acquire(now)) {
            // An open circuit: fail fast, never retried.
            return self.attempt_failed(key, Failure::CircuitOpen, true, q);
        }
        if edge.outstanding >= edge.max_outstanding {
            // Backpressure: fail fast here rather than pile onto a slow callee.
            self.metrics.local_rejections += u64::from(counted);
            return self.attempt_failed(key, Failure::Rejected, true, q);
        }
        let Some(replica) = self.pick_replica(edge_id, now) else {
            // Every replica is ejected: no healthy upstream (a fast 503, as Envoy answers).
            return self.attempt_failed(key, Failure::Rejected, true, q);
        };
        let edge = &mut self.edges[edge_id as usize];
        edge.outstanding += 1;
        let route = edge.route(replica);
        let mut timeout = edge
            .adaptive_timeout
            .as_ref()
            .map(|t| t.timeout())
            .or(edge.timeout);
        // A caller that speaks deadlines waits no longer than its own deadline, and tells the
        // callee when it will stop waiting: min(inherited deadline, now + this timeout), as
        // gRPC deadlines and Envoy's expected-timeout header do. One that does not passes the
        // inherited deadline through unchanged.
        let honors = edge.caller_honors_deadline;
        if honors && let Some(d) = deadline {
            let left = d.saturating_since(now);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        let attempt_deadline = match (honors, timeout) {
            (true, Some(t)) => Some(now + t),
            _ => deadline,
        };
        let timer =
            timeout.map(|t| q.schedule(now + t, Event::AttemptTimeout { call: key, number }));
        if let Some(h) = edge.hedge
            && hedges_sent < h.max_hedges
        {
            q.schedule(now + h.delay, Event::HedgeDue { call: key, number });
        }
        let attempt = self.dispatch(
            key,
            (request_id, edge_id),
            route,
            number,
            attempt_deadline,
            q,
        );
        // Written once the attempt is out: nothing on the way reads them.
        let call = &mut self.calls[key];
        call.replica = replica;
        call.timer = timer;
        call.current = Some(attempt);
    }

    /// Creates attempt `number` of `key` (serving `request_id` on call site `edge_id`, read
    /// from the call by the caller) over `route` and puts it on the wire.
    /// Always inlined, like `reply` and `defer_if_paused`: once per attempt or answer, and
    /// plain `#[inline]` hints are not taken in this crate (measured).
    #[inline(always)]
    fn dispatch(
        &mut self,
        key: CallKey,
        (request_id, edge_id): (u64, u32),
        route: Route,
        number: u32,
        deadline: Option<SimTime>,
        q: &mut EventQueue<Event>,
    ) -> AttemptKey {
        let now = q.now();
        let Route {
            from,
            target,
            pair,
            endpoint,
        } = route;
        let attempt = self.attempts.insert(Attempt {
            call: key,
            number,
            request_id,
            edge: edge_id,
            degraded: false,
            target,
            local: self.instances[target as usize].index,
            pair,
            endpoint,
            step: 0,
            pending: 0,
            phase: Phase::Transit,
            failed: None,
            deadline,
            abandoned_at: None,
            arrived: now,
            started: now,
            done_at: now,
            done_key: None,
            active_idx: 0,
            counted: false,
        });
        self.note_in_flight(self.attempts.len());
        if self.trace.is_some() {
            self.trace_send(request_id, key, number, from, target, now);
        }
        match self.transmit(from, pair) {
            Some(delay) => self.post(delay, Event::AttemptArrives(attempt), q),
            // Lost on the way: the caller finds out by its timeout, if it has one.
            None => {
                self.remove_attempt(attempt);
            }
        }
        attempt
    }

    /// Traces attempt `number` of `key` sent from node `from` to instance `target`, if its
    /// request is traced. Out of line: the hot path pays one branch.
    #[cold]
    #[inline(never)]
    fn trace_send(
        &mut self,
        request_id: u64,
        key: CallKey,
        number: u32,
        from: u32,
        target: u32,
        now: SimTime,
    ) {
        if !self.trace.as_deref().is_some_and(|t| t.traced(request_id)) {
            return;
        }
        let n_clients = self.clients.len() as u32;
        let caller = match from.checked_sub(n_clients) {
            None => self.clients[from as usize].name.clone(),
            Some(i) => self.instance_name(i).to_string(),
        };
        let callee = self.instance_name(target).to_string();
        let hedge = number.checked_sub(HEDGE_BASE).map(|h| h + 1);
        if let Some(t) = self.trace.as_deref_mut() {
            t.send(request_id, key, number, hedge, &caller, &callee, now);
        }
    }

    /// An answer for attempt `number` of `key` arrives (the current attempt or a hedge).
    pub(super) fn on_response(
        &mut self,
        key: CallKey,
        number: u32,
        outcome: Outcome,
        q: &mut EventQueue<Event>,
    ) {
        let now = q.now();
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        let (sent_at, replica) = if number >= HEDGE_BASE {
            // A hedge was sent, so the policy state exists.
            let Some(hedges) = call.policy.as_deref_mut().map(|p| &mut p.hedges) else {
                return;
            };
            let Some(pos) = hedges.iter().position(|h| h.number == number) else {
                return; // a cancelled hedge
            };
            let h = hedges.remove(pos);
            (h.sent_at, h.replica)
        } else {
            if call.attempts != number || call.current.is_none() {
                return; // late: the caller already gave up on that attempt
            }
            call.current = None;
            (call.sent_at, call.replica)
        };
        let took = now - sent_at;
        let waiting = call.current.is_some() || !call.hedges().is_empty();
        let edge = &mut self.edges[call.edge as usize];
        edge.outstanding -= 1;
        let success = !matches!(outcome, Outcome::Failed(_));
        edge.record(now, success, took, replica);
        if let (Some(t), Outcome::Ok) = (&mut edge.adaptive_timeout, outcome) {
            t.observe(took);
        }
        if !success && waiting {
            return; // other attempts are still racing: wait for them (or the timeout)
        }
        if let Some(t) = call.timer.take() {
            q.cancel(t);
        }
        if waiting {
            self.cancel_racing(key, now, q);
        }
        match outcome {
            Outcome::Failed(f) => self.attempt_failed(key, f, false, q),
            ok => self.finish_call(key, ok, q),
        }
    }

    /// The caller stops waiting for every attempt of `key` still out (the losers of a race,
    /// or all of them at a timeout): each is abandoned, and counts as a failure for the
    /// breaker and the budget. A callee that honours cancellation is told. `since`: when
    /// the work became work for nobody (now, unless a caller further up gave up earlier).
    fn cancel_racing(&mut self, key: CallKey, since: SimTime, q: &mut EventQueue<Event>) {
        let now = q.now();
        if let Some(t) = self.trace.as_deref_mut() {
            t.end_all(key, now, "abandoned");
        }
        let call = &mut self.calls[key];
        let edge = &mut self.edges[call.edge as usize];
        let tell = self.cancellation;
        let told = &mut self.scratch_cancels;
        let mut abandon = |a: AttemptKey| {
            if let Some(att) = self.attempts.get_mut(a) {
                self.abandoned += u32::from(att.abandoned_at.is_none());
                att.abandoned_at = Some(since);
                if tell {
                    told.push(a);
                }
            }
        };
        if let Some(a) = call.current.take() {
            edge.outstanding -= 1;
            edge.record(now, false, now - call.sent_at, call.replica);
            abandon(a);
        }
        if let Some(p) = call.policy.as_deref_mut() {
            for h in p.hedges.drain(..) {
                edge.outstanding -= 1;
                edge.record(now, false, now - h.sent_at, h.replica);
                abandon(h.attempt);
            }
        }
        if tell {
            let from = edge.from;
            let mut told = std::mem::take(&mut self.scratch_cancels);
            for a in told.drain(..) {
                self.send_cancel(from, a, q);
            }
            self.scratch_cancels = told;
        }
    }

    /// Tells the callee of abandoned attempt `a`, sent from node `from`, to stop, if it
    /// honours cancellation (a callee that does not would ignore it, so nothing is sent). The
    /// cancel is a message like any other: it takes the link's latency and can be lost. A
    /// crashed caller sends nothing.
    fn send_cancel(&mut self, from: u32, a: AttemptKey, q: &mut EventQueue<Event>) {
        let (target, pair) = (self.attempts[a].target, self.attempts[a].pair);
        let caller_down = from
            .checked_sub(self.clients.len() as u32)
            .is_some_and(|i| self.is_down(i));
        if caller_down || !self.honors_cancellation(target) {
            return;
        }
        if let Some(delay) = self.transmit(from, pair) {
            self.post(delay, Event::CancelArrives(a), q);
        }
    }

    pub(super) fn on_attempt_timeout(
        &mut self,
        key: CallKey,
        number: u32,
        q: &mut EventQueue<Event>,
    ) {
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        if call.attempts != number || (call.current.is_none() && call.hedges().is_empty()) {
            return;
        }
        call.timer = None;
        if let Some(w) = self.watch.as_deref_mut() {
            let edge = &self.edges[call.edge as usize];
            w.timeouts[edge.targets[call.replica as usize] as usize] += 1;
        }
        if let Some(t) = self.trace.as_deref_mut() {
            t.end_all(key, q.now(), "timeout");
        }
        self.cancel_racing(key, q.now(), q);
        self.attempt_failed(key, Failure::Timeout, false, q);
    }

    /// No answer yet to attempt `number` of `key`: send a hedge racing it, if the policy
    /// and the call site's limits allow, and schedule the next one.
    pub(super) fn on_hedge_due(&mut self, key: CallKey, number: u32, q: &mut EventQueue<Event>) {
        let now = q.now();
        let Some(call) = self.calls.get(key) else {
            return;
        };
        if call.attempts != number || (call.current.is_none() && call.hedges().is_empty()) {
            return; // answered, or moved on to another attempt
        }
        let (edge_id, sent, request_id) = (call.edge, call.hedges_sent(), call.request_id);
        let deadline = call
            .current
            .and_then(|a| self.attempts.get(a))
            .map_or(call.deadline, |a| a.deadline);
        let edge = &mut self.edges[edge_id as usize];
        let Some(spec) = edge.hedge else { return };
        if sent >= spec.max_hedges
            || edge.outstanding >= edge.max_outstanding
            || edge.breaker.as_mut().is_some_and(|b| !b.try_acquire(now))
        {
            return;
        }
        let Some(replica) = self.pick_replica(edge_id, now) else {
            return;
        };
        let edge = &mut self.edges[edge_id as usize];
        edge.outstanding += 1;
        let route = edge.route(replica);
        // Counted like requests and attempts: hedges sent from the end of the warm-up on.
        self.metrics.hedges += u64::from(now >= self.warmup);
        let hedge_number = HEDGE_BASE + sent;
        let attempt = self.dispatch(key, (request_id, edge_id), route, hedge_number, deadline, q);
        let policy = self.calls[key].policy();
        policy.hedges_sent += 1;
        policy.hedges.push(Hedge {
            attempt,
            number: hedge_number,
            replica,
            sent_at: now,
        });
        if policy.hedges_sent < spec.max_hedges {
            q.schedule(now + spec.delay, Event::HedgeDue { call: key, number });
        }
    }

    /// The current attempt of `key` failed: retry if the policy allows, else fail the call
    /// (or answer with the fallback).
    /// `local`: refused at the caller, in [`World::start_attempt`] (open circuit,
    /// backpressure, no healthy replica). Its retry always waits for an event, even with no
    /// backoff: retrying in place would loop within one event, up to `max_attempts` times
    /// (billions, or a stack overflow), unseen by the event budget.
    fn attempt_failed(
        &mut self,
        key: CallKey,
        failure: Failure,
        local: bool,
        q: &mut EventQueue<Event>,
    ) {
        let now = q.now();
        let call = &self.calls[key];
        if local
            && let Some(t) = self.trace.as_deref_mut()
            && t.traced(call.request_id)
        {
            t.refused(call.request_id, key, failure, now);
        }
        let edge = &mut self.edges[call.edge as usize];
        let expired = call.deadline.is_some_and(|d| now >= d) && edge.caller_honors_deadline;
        let retry = call.attempts < edge.max_attempts
            && !expired
            && edge.retries_on(failure)
            // Last: a Finagle budget pays for the retry when it says yes.
            && edge.budget.as_mut().is_none_or(|b| b.try_retry(now));
        if retry {
            let delay = crate::retry::retry_delay(
                &edge.backoff,
                edge.jitter,
                call.attempts,
                call.last_delay(),
                &mut edge.rng,
            );
            if edge.jitter == crate::retry::Jitter::Decorrelated {
                self.calls[key].policy().last_delay = delay;
            }
            if let Some(t) = self.trace.as_deref_mut()
                && !delay.is_zero()
            {
                t.backoff(key, now, now + delay);
            }
            if delay.is_zero() && !local {
                return self.start_attempt(key, q);
            }
            let timer = q.schedule(now + delay, Event::RetryDue(key));
            self.calls[key].timer = Some(timer);
            return;
        }
        let outcome = if edge.fallback {
            Outcome::Degraded
        } else {
            Outcome::Failed(failure)
        };
        self.finish_call(key, outcome, q);
    }

    pub(super) fn on_retry_due(&mut self, key: CallKey, q: &mut EventQueue<Event>) {
        if self.calls.contains_key(key) {
            self.start_attempt(key, q);
        }
    }

    /// The call is over: tell whoever waits.
    #[inline(always)]
    fn finish_call(&mut self, key: CallKey, outcome: Outcome, q: &mut EventQueue<Event>) {
        let call = self.calls.remove(key).expect("finishing a live call");
        match call.parent {
            Parent::Request {
                client,
                user,
                counted,
            } => {
                let issued = (call.made_at, call.deadline_timer);
                self.finish_request(key, (client, user, counted), issued, outcome, q)
            }
            Parent::Attempt(a) => self.on_child_done(a, outcome, q),
            Parent::Component { instance, token } => {
                self.component_call_done(instance, token, outcome, q)
            }
            Parent::Nobody => {}
        }
    }

    /// Request `r` (its call, removed) of client `c` (`user`; `counted` after warm-up),
    /// issued at `issued_at` with deadline timer `deadline_timer`, is over.
    fn finish_request(
        &mut self,
        r: CallKey,
        (c, user, counted): (u32, u32, bool),
        (issued_at, deadline_timer): (SimTime, Option<sim_core::queue::EventKey>),
        outcome: Outcome,
        q: &mut EventQueue<Event>,
    ) {
        let now = q.now();
        self.requests -= 1;
        if let Some(t) = self.trace.as_deref_mut() {
            t.finish(r, now, outcome);
        }
        if let Some(t) = deadline_timer {
            q.cancel(t);
        }
        let latency = now - issued_at;
        let client_id = c;
        let c = c as usize;
        let client = &mut self.clients[c];
        let window = &mut self.metrics.window;
        match outcome {
            Outcome::Ok => {
                window.client_succeeded[c] += 1;
                window.slow += u64::from(self.slo_latency.is_some_and(|t| latency > t));
                if let Some(rec) = &mut window.client_latency[c] {
                    rec.record(latency);
                }
            }
            Outcome::Failed(_) => window.client_failed[c] += 1,
            Outcome::Degraded => {}
        }
        // The route's own SLO: a success within its latency is good; anything else is bad.
        let good = outcome == Outcome::Ok && client.slo_latency.is_none_or(|t| latency <= t);
        if good {
            window.client_good[c] += 1;
        } else {
            window.client_bad[c] += 1;
        }
        self.metrics
            .record_outcome(&mut client.outcome, counted, outcome, latency);
        if user != NO_USER
            && let LoadGen::Closed { think } = &client.load
        {
            let wake = now + think.sample_duration(&mut client.rng);
            q.schedule(
                wake,
                Event::UserReady {
                    client: client_id,
                    user,
                },
            );
        }
    }

    /// The client's overall deadline passed: it stops waiting, whatever is in flight.
    pub(super) fn on_deadline(&mut self, r: CallKey, q: &mut EventQueue<Event>) {
        let Some(call) = self.calls.get(r) else {
            return; // answered (or failed) before its deadline
        };
        let Parent::Request {
            client,
            user,
            counted,
        } = call.parent
        else {
            unreachable!("only a request's call has a deadline timer");
        };
        // Its timer fired: nothing to cancel.
        let issued = (call.made_at, None);
        self.abandon_call(r, q.now(), q);
        let timeout = Outcome::Failed(Failure::Timeout);
        self.finish_request(r, (client, user, counted), issued, timeout, q);
    }

    /// The caller gives up on `key` entirely (its attempts, if any, become work for nobody
    /// from `since` on: now, or earlier when the caller was itself working for nobody).
    pub(super) fn abandon_call(&mut self, key: CallKey, since: SimTime, q: &mut EventQueue<Event>) {
        if !self.calls.contains_key(key) {
            return;
        }
        if let Some(t) = self.calls[key].timer.take() {
            q.cancel(t);
        }
        // Given up on: failures, as far as the breaker and the budget can tell.
        self.cancel_racing(key, since, q);
        self.calls.remove(key);
    }

    /// Which of `edge`'s targets gets the next attempt (its position), or None if every
    /// replica is ejected.
    #[inline]
    fn pick_replica(&mut self, edge: u32, now: SimTime) -> Option<u32> {
        if self.edges[edge as usize].targets.len() == 1 && self.not_accepting == 0 {
            return Some(0);
        }
        self.balance(edge, now)
    }

    /// [`pick_replica`](Self::pick_replica) among several targets. Kept out of line so that
    /// the single-target check inlines into its callers.
    #[inline(never)]
    fn balance(&mut self, edge: u32, now: SimTime) -> Option<u32> {
        // Taken out and put back, so that the loads can be read through `self`.
        let mut outstanding = std::mem::take(&mut self.scratch_outstanding);
        outstanding.clear();
        for &k in &self.edges[edge as usize].targets {
            outstanding.push(self.load_of(k) as u32);
        }
        let e = &mut self.edges[edge as usize];
        // A replica is usable unless ejected for failing calls or failing its health probes.
        let healthy = &mut self.scratch_healthy;
        healthy.clear();
        // Instances out of service (scaled in, drained, not yet provisioned) get nothing new.
        healthy.extend(e.targets.iter().map(|&k| self.accepting[k as usize]));
        if let Some(d) = &mut e.detector {
            healthy
                .iter_mut()
                .zip(d.healthy(now))
                .for_each(|(h, ok)| *h &= *ok);
        }
        if let Some(checker) = &e.health {
            healthy
                .iter_mut()
                .zip(checker.healthy())
                .for_each(|(h, ok)| *h &= *ok);
        }
        if let Some(z) = &mut e.zone_aware {
            z.narrow(healthy, &mut e.lb_rng);
        }
        let picked = e
            .balancer
            .pick(&outstanding, healthy, &mut e.lb_rng)
            .map(|i| i as u32);
        self.scratch_outstanding = outstanding;
        picked
    }

    /// Call site `edge` probes every replica of its callee: a probe passes if the replica is
    /// up and not paused and the probe crosses the link both ways. Probes are served outside
    /// the worker pool (as health endpoints usually are) and judged when sent: their round
    /// trip is negligible next to the interval.
    pub(super) fn on_health_check(&mut self, edge: u32, q: &mut EventQueue<Event>) {
        let e = &self.edges[edge as usize];
        let (from, targets, pairs) = (e.from, e.targets.clone(), e.pairs.clone());
        for (i, (&k, &pair)) in targets.iter().zip(&pairs).enumerate() {
            let (up, to) = (self.answers_probes(k), self.node_of(k));
            let ok = up && self.transmit(from, pair).is_some() && self.transmit(to, pair).is_some();
            if let Some(checker) = &mut self.edges[edge as usize].health {
                checker.on_probe(i, ok);
            }
        }
        if let Some(checker) = &self.edges[edge as usize].health {
            q.schedule(q.now() + checker.interval(), Event::HealthCheck { edge });
        }
    }
}

impl super::ClientState {
    /// A client that is down (with its zone) issues nothing: an open-loop arrival is
    /// counted as not issued, a closed-loop user waits until the client is up again.
    #[cold]
    fn skip_issue(&mut self, user: u32, counted: bool) {
        if user == NO_USER {
            self.not_issued += u64::from(counted);
        } else {
            self.parked.push(user);
        }
    }
}

/// Where an attempt goes: from the caller's node to one target of its call site, over
/// their network pair, to the callee's endpoint. Read from the `Edge` once by the caller,
/// which holds it already, rather than looked up again by `dispatch`.
#[derive(Clone, Copy)]
struct Route {
    from: u32,
    target: u32,
    pair: u32,
    endpoint: u16,
}

impl super::Edge {
    /// The route of an attempt to target `replica` (its position in `targets`).
    #[inline(always)]
    fn route(&self, replica: u32) -> Route {
        Route {
            from: self.from,
            target: self.targets[replica as usize],
            pair: self.pairs[replica as usize],
            endpoint: self.endpoint,
        }
    }

    /// Records the outcome of an attempt that was sent (to target `replica`), for the breaker,
    /// the budget and the outlier detector.
    fn record(&mut self, now: SimTime, success: bool, took: SimDuration, replica: u32) {
        if let Some(d) = &mut self.detector {
            d.on_result(replica as usize, success, now);
        }
        if let Some(b) = &mut self.breaker {
            b.on_result(now, success, took);
        }
        if let Some(b) = &mut self.budget {
            b.on_result(success);
        }
    }

    /// Whether this call site's policy retries `failure` (an open circuit never).
    fn retries_on(&self, failure: Failure) -> bool {
        use crate::retry::Retryable;
        let kind = match failure {
            Failure::Timeout => Retryable::Timeout,
            Failure::Rejected => Retryable::Rejected,
            Failure::Error => Retryable::Error,
            Failure::CircuitOpen => return false,
        };
        self.retry_on.contains(&kind)
    }
}
