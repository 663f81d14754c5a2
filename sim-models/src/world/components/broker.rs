//! The `Broker` component kind: a durable message queue with consumer groups and
//! at-least-once delivery.
//!
//! It follows SQS and RabbitMQ:
//! - a publish is a call to the broker (publisher confirms): it answers `Ok` once the
//!   message is on every group's queue, `Rejected` when a queue is full under
//!   `RejectPublish` (RabbitMQ's `reject-publish`), or drops the head of a full queue under
//!   `DropOldest` (RabbitMQ's `drop-head`). `capacity` counts ready messages only, as
//!   RabbitMQ's `max-length` does;
//! - every consumer group gets every message (a fanout exchange with one queue per group,
//!   or Kafka consumer groups); within a group each message goes to one consumer;
//! - each instance of a group's service taking work runs `consumers` consumers, and each
//!   consumer has at most `prefetch` deliveries unacknowledged (RabbitMQ's `basic.qos`), so
//!   scaling the service out (a rule on `Backlog`, as KEDA scales on queue length) adds
//!   delivery slots. A delivery is an ordinary call from the broker's
//!   node to the group's service (balanced over its replicas, one attempt, timeout = the
//!   visibility timeout), so the network, faults and the consumer's admission apply to it;
//! - the handler answering `Ok` (or `Degraded`) acks the message; an error or a rejection
//!   nacks it, and it is visible again at once (RabbitMQ's `basic.nack` with requeue); no
//!   answer within the visibility timeout (a slow consumer, a crashed one, a lost message)
//!   makes it visible again then (SQS's visibility timeout);
//! - a message whose `max_deliveries`-th delivery fails goes to the dead-letter queue
//!   (SQS's `maxReceiveCount`, RabbitMQ quorum queues' `delivery-limit`), kept as a count.
//!
//! Where it differs: one visibility timeout per delivery from the moment it is sent (SQS
//! counts from receipt; RabbitMQ has no redelivery timer, only a consumer ack timeout of
//! 30 minutes that closes the channel); a requeued message goes ahead of fresh ones but no
//! ordering is promised, and there are no partitions, no keys and no per-consumer state (a
//! group's consumers are one pool of `consumers * prefetch * instances` delivery slots,
//! balanced over the instances by the service's balancer); the broker
//! itself does no work (its answers take only the network's time); counts cover the whole
//! run, warm-up included, so that conservation holds exactly.
//!
//! Faults: `Crash` makes it refuse publishes (`Refuse`: an error at once; `BlackHole`: the
//! publisher times out) and stop delivering; the queue is durable, so its messages survive,
//! and unacknowledged deliveries return to the queue (their consumers' acks are lost). A
//! `Pause` stalls it: publishes wait, deliveries stop, answers wait until it ends.
//!
//! Conservation per group, at every window end: `published = acked + backlog + in_flight +
//! dead_lettered + dropped`. A handler that completes after its message went back to the
//! queue has done the work twice: `duplicates_processed` counts handler completions beyond
//! the first per message (observed when the consumer answers, remembered for
//! `side_effects::LEDGER_TTL`).

use std::collections::VecDeque;

use sim_core::queue::EventQueue;
use sim_core::stats::{LatencyRecorder, Welford};
use sim_core::{SimDuration, SimTime};

use super::super::effects::EffectKind;
use super::super::side_effects::{LEDGER_TTL, Ledger};
use super::super::{Attempt, AttemptKey, Event, Failure, Outcome, Parent, World};
use super::Kind;
use crate::result::{BrokerGroupResult, BrokerGroupSeries, BrokerResult, Latency};
use crate::scenario::{self, CrashMode, Overflow};

/// A message on one group's queue (ready or in flight).
struct Message {
    group: u32,
    /// The delivery call's request id: consumers see it as the idempotency key.
    id: u64,
    published_at: SimTime,
    deliveries: u32,
}

/// One consumer group's queue and counters.
pub(crate) struct GroupState {
    service: String,
    consumers: u32,
    prefetch: u32,
    /// The call site the broker delivers through, and the consumer service (its index in
    /// `World::groups`).
    pub(crate) edge: u32,
    service_group: u32,
    /// Unacknowledged deliveries at most per instance of the service in service
    /// (`consumers * prefetch`), and in flight now.
    window: u32,
    in_flight: u32,
    /// Ready messages (slots): fresh ones in publish order, requeued ones served first.
    fresh: VecDeque<u32>,
    requeued: VecDeque<u32>,
    /// While delivering: a delivery failed at once (no consumer reachable), so stop until
    /// another event.
    pumping: bool,
    stalled: bool,
    published: u64,
    acked: u64,
    redeliveries: u64,
    dead_lettered: u64,
    dropped: u64,
    duplicates: u64,
    /// First deliveries since the last window end (the per-window amplification's
    /// expected work: see `topology::visits_by_timing`).
    pub(crate) first_deliveries: u64,
    latency: LatencyRecorder,
    latency_exact: Welford,
    series: BrokerGroupSeries,
}

impl GroupState {
    fn backlog(&self) -> u64 {
        (self.fresh.len() + self.requeued.len()) as u64
    }
}

pub(crate) struct BrokerState {
    pub name: String,
    capacity: u64,
    overflow: Overflow,
    max_deliveries: u32,
    pub(crate) groups: Vec<GroupState>,
    /// Messages of every group by slot (a delivery's token); free slots are reused.
    messages: Vec<Message>,
    free: Vec<u32>,
    /// Handler completions per (message id, group), to count duplicates.
    handled: Ledger,
    rejected: u64,
    refused: u64,
    pub(crate) down: Option<CrashMode>,
    pub(crate) paused_since: Option<SimTime>,
    /// Publishes and answers that came during a pause: handled when it ends.
    pub(crate) deferred: Vec<Event>,
}

impl BrokerState {
    /// Broker `spec`, delivering to group k through call site `edges[k]`, to service
    /// `services[k]` (its index in the scenario).
    pub(crate) fn new(spec: &scenario::Broker, edges: &[u32], services: &[u32]) -> BrokerState {
        let groups = spec
            .groups
            .iter()
            .zip(edges.iter().zip(services))
            .map(|(g, (&edge, &service_group))| GroupState {
                service: g.service.clone(),
                consumers: g.consumers,
                prefetch: g.prefetch,
                edge,
                service_group,
                window: g.consumers.saturating_mul(g.prefetch),
                in_flight: 0,
                fresh: VecDeque::new(),
                requeued: VecDeque::new(),
                pumping: false,
                stalled: false,
                published: 0,
                acked: 0,
                redeliveries: 0,
                dead_lettered: 0,
                dropped: 0,
                duplicates: 0,
                first_deliveries: 0,
                latency: LatencyRecorder::new(),
                latency_exact: Welford::new(),
                series: BrokerGroupSeries::default(),
            })
            .collect();
        BrokerState {
            name: spec.name.clone(),
            capacity: spec.capacity.unwrap_or(u64::MAX),
            overflow: spec.overflow,
            max_deliveries: spec.max_deliveries,
            groups,
            messages: Vec::new(),
            free: Vec::new(),
            handled: Ledger::default(),
            rejected: 0,
            refused: 0,
            down: None,
            paused_since: None,
            deferred: Vec::new(),
        }
    }

    /// The delivery call policy of every group: one attempt, the visibility timeout.
    pub(crate) fn delivery_policy(spec: &scenario::Broker) -> scenario::CallPolicy {
        scenario::CallPolicy {
            timeout: Some(spec.visibility_timeout),
            max_attempts: 1,
            ..Default::default()
        }
    }

    /// A rule metric at the end of the window just closed (its series' last row).
    pub(crate) fn value(&self, metric: crate::rules::Metric) -> Option<f64> {
        use crate::rules::Metric;
        let values = self.groups.iter().filter_map(|g| match metric {
            Metric::Backlog => g.series.backlog.last().map(|&b| b as f64),
            Metric::ConsumerLag => g.series.lag_s.last().copied(),
            _ => None,
        });
        match metric {
            Metric::Backlog => Some(values.sum()),
            Metric::ConsumerLag => values.reduce(f64::max),
            _ => None,
        }
    }

    pub(crate) fn answers_probes(&self) -> bool {
        self.down.is_none() && self.paused_since.is_none()
    }

    fn store(&mut self, m: Message) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.messages[slot as usize] = m;
                slot
            }
            None => {
                self.messages.push(m);
                (self.messages.len() - 1) as u32
            }
        }
    }

    /// Age of the oldest ready message of group `g` now (0 with none).
    fn lag(&self, g: &GroupState, now: SimTime) -> SimDuration {
        let oldest = g
            .fresh
            .front()
            .into_iter()
            .chain(&g.requeued)
            .map(|&slot| self.messages[slot as usize].published_at)
            .min();
        oldest.map_or(SimDuration::ZERO, |t| now.saturating_since(t))
    }

    /// Conservation of group `g`: every message published is acked, ready, in flight,
    /// dead-lettered or dropped.
    fn conserved(g: &GroupState) -> bool {
        g.published == g.acked + g.backlog() + u64::from(g.in_flight) + g.dead_lettered + g.dropped
    }

    /// The result of a finished run.
    pub(crate) fn result(&mut self) -> BrokerResult {
        let groups = self
            .groups
            .iter_mut()
            .map(|g| BrokerGroupResult {
                service: g.service.clone(),
                consumers: g.consumers,
                prefetch: g.prefetch,
                published: g.published,
                acked: g.acked,
                backlog_at_end: g.backlog(),
                in_flight_at_end: u64::from(g.in_flight),
                dead_lettered: g.dead_lettered,
                dropped: g.dropped,
                redeliveries: g.redeliveries,
                duplicates_processed: g.duplicates,
                publish_to_ack_ms: Latency::of(&g.latency, &g.latency_exact),
                series: std::mem::take(&mut g.series),
            })
            .collect();
        BrokerResult {
            name: self.name.clone(),
            rejected: self.rejected,
            refused: self.refused,
            groups,
        }
    }
}

impl World {
    /// A publish (attempt `a`) reaches broker `b`.
    pub(in crate::world) fn on_publish(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let now = q.now();
        let b = self.attempts[a].local as usize;
        let broker = &mut self.brokers[b];
        if broker.paused_since.is_some() {
            broker.deferred.push(Event::AttemptArrives(a));
            return;
        }
        if let Some(mode) = broker.down {
            broker.refused += 1;
            return match mode {
                CrashMode::Refuse => self.reply(a, Outcome::Failed(Failure::Error), q),
                CrashMode::BlackHole => {
                    self.remove_attempt(a);
                }
            };
        }
        let full = broker.groups.iter().any(|g| g.backlog() >= broker.capacity);
        if full && broker.overflow == Overflow::RejectPublish {
            broker.rejected += 1;
            return self.reply(a, Outcome::Failed(Failure::Rejected), q);
        }
        for k in 0..broker.groups.len() {
            if self.brokers[b].groups[k].backlog() >= self.brokers[b].capacity {
                self.drop_head(b, k);
            }
            let id = self.next_request_id;
            self.next_request_id += 1;
            let broker = &mut self.brokers[b];
            let slot = broker.store(Message {
                group: k as u32,
                id,
                published_at: now,
                deliveries: 0,
            });
            let g = &mut broker.groups[k];
            g.fresh.push_back(slot);
            g.published += 1;
        }
        self.reply(a, Outcome::Ok, q);
        for k in 0..self.brokers[b].groups.len() {
            self.pump(b, k, q);
        }
    }

    /// Drops the head of group `k`'s queue of broker `b` (the next message it would
    /// deliver) to make room.
    fn drop_head(&mut self, b: usize, k: usize) {
        let broker = &mut self.brokers[b];
        let g = &mut broker.groups[k];
        if let Some(slot) = g.requeued.pop_front().or_else(|| g.fresh.pop_front()) {
            g.dropped += 1;
            broker.free.push(slot);
        }
    }

    /// Broker `b` delivers ready messages of group `k` while the group has room in flight.
    fn pump(&mut self, b: usize, k: usize, q: &mut EventQueue<Event>) {
        let instance = self.broker_instance(b);
        loop {
            let broker = &mut self.brokers[b];
            if broker.down.is_some() || broker.paused_since.is_some() {
                return;
            }
            let g = &mut broker.groups[k];
            // Each instance of the service taking work runs `consumers` consumers.
            let range = self.groups[g.service_group as usize].instances.clone();
            let serving = range.filter(|&i| self.accepting[i as usize]).count() as u32;
            if g.in_flight >= g.window.saturating_mul(serving) {
                return;
            }
            let Some(slot) = g.requeued.pop_front().or_else(|| g.fresh.pop_front()) else {
                return;
            };
            g.in_flight += 1;
            let edge = g.edge;
            let m = &mut broker.messages[slot as usize];
            m.deliveries += 1;
            g.redeliveries += u64::from(m.deliveries > 1);
            g.first_deliveries += u64::from(m.deliveries == 1);
            let id = m.id;
            g.pumping = true;
            let parent = Parent::Component {
                instance,
                token: slot,
            };
            self.call(edge, parent, id, None, q);
            let g = &mut self.brokers[b].groups[k];
            g.pumping = false;
            if std::mem::take(&mut g.stalled) {
                return;
            }
        }
    }

    /// The instance number of broker `b` (brokers come after every service instance).
    fn broker_instance(&self, b: usize) -> u32 {
        // Instances: the services', then the caches', then the brokers' (world/build.rs).
        (self.services.len() + self.caches.len() + b) as u32
    }

    /// The delivery of the message in `slot` of broker `b` is over: ack, or put it back
    /// (or dead-letter it after its last delivery).
    pub(in crate::world) fn on_delivery_done(
        &mut self,
        b: usize,
        slot: u32,
        outcome: Outcome,
        q: &mut EventQueue<Event>,
    ) {
        let now = q.now();
        let broker = &mut self.brokers[b];
        let m = &broker.messages[slot as usize];
        let k = m.group as usize;
        let g = &mut broker.groups[k];
        g.in_flight -= 1;
        let failed = matches!(outcome, Outcome::Failed(_));
        if !failed {
            g.acked += 1;
            let took = now.saturating_since(m.published_at);
            g.latency.record(took);
            g.latency_exact.push(took.as_nanos() as f64);
            broker.free.push(slot);
        } else if m.deliveries >= broker.max_deliveries {
            g.dead_lettered += 1;
            broker.free.push(slot);
        } else {
            g.requeued.push_back(slot);
        }
        if g.pumping {
            // Answered within the delivery itself (no consumer to send to): try again at
            // the next event rather than spin here.
            g.stalled |= failed;
            return;
        }
        self.pump(b, k, q);
    }

    /// A consumer of a broker's group answered attempt `att` (its handler is done): a
    /// second completion for one message is a duplicate. Called for every answer while
    /// the scenario has brokers.
    pub(in crate::world) fn note_handled(&mut self, att: &Attempt, outcome: Outcome, now: SimTime) {
        if matches!(outcome, Outcome::Failed(_)) {
            return;
        }
        let from = self.edges[att.edge as usize].from;
        let Some(i) = from.checked_sub(self.clients.len() as u32) else {
            return;
        };
        // The caller's kind from the instance table: nodes after the services' instances
        // may be caches, databases or token auths as well as brokers.
        let inst = self.instances[i as usize];
        if !matches!(inst.kind, Kind::Broker) {
            return;
        }
        let broker = &mut self.brokers[inst.index as usize];
        let Some(k) = broker.groups.iter().position(|g| g.edge == att.edge) else {
            return;
        };
        if broker
            .handled
            .complete((att.request_id, k as u32), now, LEDGER_TTL)
        {
            broker.groups[k].duplicates += 1;
        }
    }

    /// Every broker's series at the end of a window, with its conservation checked; groups
    /// that stopped delivering for want of a consumer try again.
    pub(in crate::world) fn close_broker_windows(
        &mut self,
        now: SimTime,
        mut q: Option<&mut EventQueue<Event>>,
    ) {
        for b in 0..self.brokers.len() {
            let broker = &mut self.brokers[b];
            for k in 0..broker.groups.len() {
                let lag = broker.lag(&broker.groups[k], now).as_secs_f64();
                let g = &mut broker.groups[k];
                debug_assert!(BrokerState::conserved(g), "broker conservation");
                let backlog = g.backlog();
                let s = &mut g.series;
                s.published.push(g.published);
                s.acked.push(g.acked);
                s.backlog.push(backlog);
                s.in_flight.push(u64::from(g.in_flight));
                s.dead_lettered.push(g.dead_lettered);
                s.dropped.push(g.dropped);
                s.lag_s.push(lag);
            }
            if let Some(q) = q.as_deref_mut() {
                for k in 0..self.brokers[b].groups.len() {
                    self.pump(b, k, q);
                }
            }
        }
    }

    /// Recomputes broker `b` (instance `i`) from the effects active on it now.
    pub(in crate::world) fn refresh_broker(&mut self, b: usize, i: u32, q: &mut EventQueue<Event>) {
        let now = q.now();
        let (mut down, mut paused) = (None, false);
        for def in self.active_effects() {
            match def.kind {
                EffectKind::Crash { instance, mode } if instance == i => down = down.or(Some(mode)),
                EffectKind::Pause { instance } if instance == i => paused = true,
                _ => {}
            }
        }
        let broker = &mut self.brokers[b];
        let crashing = broker.down.is_none() && down.is_some();
        let was_paused = broker.paused_since.is_some();
        broker.down = down;
        if crashing {
            self.requeue_deliveries(b, i, now, q);
        }
        if paused && !was_paused {
            self.brokers[b].paused_since = Some(now);
            self.paused += 1;
        } else if !paused && was_paused {
            let broker = &mut self.brokers[b];
            broker.paused_since = None;
            self.paused -= 1;
            for event in std::mem::take(&mut broker.deferred) {
                q.schedule(now, event);
            }
        }
        for k in 0..self.brokers[b].groups.len() {
            self.pump(b, k, q);
        }
    }

    /// Broker `b` (instance `i`) crashed: its unacknowledged deliveries go back to their
    /// queues (acks cannot reach it any more), as a durable queue's do on restart.
    fn requeue_deliveries(&mut self, b: usize, i: u32, now: SimTime, q: &mut EventQueue<Event>) {
        let out: Vec<(super::super::CallKey, u32)> = self
            .calls
            .iter()
            .filter_map(|(key, c)| match c.parent {
                Parent::Component { instance, token } if instance == i => Some((key, token)),
                _ => None,
            })
            .collect();
        for (call, slot) in out {
            self.abandon_call(call, now, q);
            let broker = &mut self.brokers[b];
            let k = broker.messages[slot as usize].group as usize;
            let g = &mut broker.groups[k];
            g.in_flight -= 1;
            g.requeued.push_back(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> scenario::Broker {
        scenario::Broker {
            name: "jobs".into(),
            capacity: Some(2),
            overflow: Overflow::DropOldest,
            visibility_timeout: SimDuration::from_secs(30),
            max_deliveries: 3,
            groups: vec![scenario::ConsumerGroup {
                service: "worker".into(),
                endpoint: None,
                consumers: 2,
                prefetch: 3,
            }],
        }
    }

    #[test]
    fn a_group_has_consumers_times_prefetch_delivery_slots() {
        let b = BrokerState::new(&spec(), &[7], &[0]);
        assert_eq!(b.groups[0].window, 6);
        assert_eq!(b.groups[0].edge, 7);
        assert_eq!(b.capacity, 2);
        let policy = BrokerState::delivery_policy(&spec());
        assert_eq!(policy.timeout, Some(SimDuration::from_secs(30)));
        assert_eq!(policy.max_attempts, 1);
    }

    #[test]
    fn slots_are_reused_and_lag_is_the_oldest_ready_message() {
        let mut b = BrokerState::new(&spec(), &[0], &[0]);
        let at = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
        let m = |t: u64| Message {
            group: 0,
            id: t,
            published_at: at(t),
            deliveries: 0,
        };
        let s1 = b.store(m(1));
        let s2 = b.store(m(2));
        assert_eq!((s1, s2), (0, 1));
        b.free.push(s1);
        assert_eq!(b.store(m(3)), 0, "a freed slot is reused");
        let mut g = std::mem::replace(
            &mut b.groups[0],
            BrokerState::new(&spec(), &[0], &[0]).groups.remove(0),
        );
        assert_eq!(b.lag(&g, at(10)), SimDuration::ZERO);
        g.fresh.push_back(0); // published at 3
        g.requeued.push_back(1); // published at 2, requeued
        assert_eq!(b.lag(&g, at(10)), SimDuration::from_secs(8));
        g.published = 5;
        g.acked = 1;
        g.in_flight = 1;
        assert!(!BrokerState::conserved(&g));
        g.dead_lettered = 1;
        assert!(BrokerState::conserved(&g));
    }
}
