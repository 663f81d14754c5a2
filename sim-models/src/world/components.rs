//! The component registry: the closed set of component kinds a scenario can hold, and the
//! single points where the kind-agnostic rest of the world (callers, the network, effects,
//! metrics) meets a kind.
//!
//! Instances are numbered in file order, each replica one instance; node `n_clients + i` is
//! instance `i`. Each kind keeps its own table (`World::services`, ...), and an instance
//! records its kind and its index in that table. Dispatch is a `match` on [`Kind`]: static,
//! no trait objects on the hot path.
//!
//! Adding a kind (see ARCHITECTURE.md "Adding a component kind"): a variant of [`Kind`], its
//! module beside [`service`] (state, build, arrival, own events, effect reactions, result),
//! its table in `World`, one arm in each `match` of this file, and its schema entry. The
//! caller side (timeouts, retries, budgets, breakers, hedges, deadlines) is untouched: it
//! only ever sends attempts to instances.

pub(crate) mod broker;
pub(crate) mod cache;
pub(crate) mod database;
pub(crate) mod service;
pub(crate) mod token_auth;

use sim_core::SimTime;
use sim_core::queue::EventQueue;

use super::{AttemptKey, Event, Outcome, Phase, World};

/// The kinds of component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A request/response server ([`service`]).
    Service,
    /// A look-aside cache in front of a service ([`cache`]).
    Cache,
    /// A message queue with consumer groups ([`broker`]).
    Broker,
    /// A primary and read replicas with failover ([`database`]).
    Database,
    /// Short-TTL tokens of a population of users in front of a service ([`token_auth`]).
    TokenAuth,
}

/// One instance of a component: its kind, its index in that kind's table, and the
/// scenario entry (group) it is a replica of (services only: a cache is one instance).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Instance {
    pub kind: Kind,
    pub index: u32,
    pub group: u32,
}

impl World {
    /// The node of instance `i` (clients come first).
    #[inline(always)]
    pub(super) fn node_of(&self, i: u32) -> u32 {
        self.clients.len() as u32 + i
    }

    /// The one place an attempt reaches the instance it was sent to.
    #[inline(always)]
    pub(super) fn deliver(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let att = &self.attempts[a];
        match self.instances[att.target as usize].kind {
            Kind::Service => self.on_attempt_arrives(a, q),
            Kind::Cache => self.on_cache_arrives(a, q),
            Kind::Broker => self.on_publish(a, q),
            Kind::Database => self.on_database_arrives(a, q),
            Kind::TokenAuth => self.on_token_auth_arrives(a, q),
        }
    }

    /// The one place a caller's cancel reaches the instance its attempt was sent to.
    pub(super) fn deliver_cancel(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        // Gone already: answered, dropped, lost in a crash.
        let Some(att) = self.attempts.get(a) else {
            return;
        };
        match self.instances[att.target as usize].kind {
            Kind::Service => self.on_cancel_arrives(a, q),
            Kind::Cache => {}  // callers send none: it does not honour cancellation
            Kind::Broker => {} // never sent: it does not honour cancellation
            Kind::Database => {} // never sent: it does not honour cancellation
            Kind::TokenAuth => {} // never sent: it does not honour cancellation
        }
    }

    /// Whether instance `i` acts on cancels (callers send none to one that does not).
    pub(super) fn honors_cancellation(&self, i: u32) -> bool {
        let inst = self.instances[i as usize];
        match inst.kind {
            Kind::Service => self.services[inst.index as usize].honor_cancellation,
            Kind::Cache => false,
            Kind::Broker => false,
            Kind::Database => false,
            Kind::TokenAuth => false,
        }
    }

    /// Whether instance `i` is down now (a crashed process sends nothing).
    pub(super) fn is_down(&self, i: u32) -> bool {
        let inst = self.instances[i as usize];
        match inst.kind {
            Kind::Service => self.services[inst.index as usize].down.is_some(),
            Kind::Cache => self.caches[inst.index as usize].down.is_some(),
            Kind::Broker => self.brokers[inst.index as usize].down.is_some(),
            // Its replicas serve reads while its primary is down; it never calls.
            Kind::Database => false,
            Kind::TokenAuth => false, // it is never down (validation)
        }
    }

    /// Attempts at instance `i` now (waiting or being handled): what balancers weigh.
    #[inline]
    pub(super) fn load_of(&self, i: u32) -> u64 {
        let inst = self.instances[i as usize];
        match inst.kind {
            Kind::Service => self.services[inst.index as usize].present(),
            Kind::Cache => self.caches[inst.index as usize].present(),
            Kind::Broker => 0, // never balanced over: one instance
            Kind::Database => self.databases[inst.index as usize].present(),
            Kind::TokenAuth => self.token_auths[inst.index as usize].present(),
        }
    }

    /// Whether instance `i` answers a health probe now.
    pub(super) fn answers_probes(&self, i: u32) -> bool {
        let inst = self.instances[i as usize];
        match inst.kind {
            Kind::Service => self.services[inst.index as usize].answers_probes(),
            Kind::Cache => self.caches[inst.index as usize].down.is_none(),
            Kind::Broker => self.brokers[inst.index as usize].answers_probes(),
            Kind::Database => true, // its nodes fail over behind its one address
            Kind::TokenAuth => true,
        }
    }

    /// The instance a paused-process check applies to, if it is paused now: events for
    /// its calls wait until the pause ends.
    #[inline]
    pub(super) fn paused_instance(&mut self, i: u32) -> Option<&mut Vec<Event>> {
        let inst = self.instances[i as usize];
        match inst.kind {
            Kind::Service => {
                let svc = &mut self.services[inst.index as usize];
                svc.paused_since.is_some().then_some(&mut svc.deferred)
            }
            // A cache is never paused (validation); a database makes no calls (a hung
            // primary holds its own operations).
            Kind::Cache | Kind::Database => None,
            Kind::Broker => {
                let broker = &mut self.brokers[inst.index as usize];
                broker
                    .paused_since
                    .is_some()
                    .then_some(&mut broker.deferred)
            }
            Kind::TokenAuth => None, // never paused (validation)
        }
    }

    /// The one place the answer to a component's own call (`Parent::Component`) reaches
    /// its kind: a cache's backend fetch, a broker's delivery, a token auth's refresh,
    /// introspection or forwarded request. Services wait on their calls through their
    /// attempts instead (`Parent::Attempt`), so no service call ends here.
    pub(super) fn component_call_done(
        &mut self,
        instance: u32,
        token: u32,
        outcome: Outcome,
        q: &mut EventQueue<Event>,
    ) {
        let inst = self.instances[instance as usize];
        match inst.kind {
            Kind::Service => debug_assert!(false, "services wait through their attempts"),
            Kind::Cache => self.cache_fetch_done(inst.index as usize, token, outcome, q),
            Kind::Broker => self.on_delivery_done(inst.index as usize, token, outcome, q),
            Kind::Database => debug_assert!(false, "a database makes no calls"),
            Kind::TokenAuth => self.token_auth_call_done(inst.index as usize, token, outcome, q),
        }
    }

    /// Stamps an attempt's arrival at a component that takes it as it comes (a cache, a
    /// database, a token auth): when, and whether it is counted. `None` when its cancel
    /// overtook it on the way (it is forgotten), else whether it is counted.
    #[inline(always)]
    pub(super) fn arrive(&mut self, a: AttemptKey, now: SimTime) -> Option<bool> {
        let counted = now >= self.warmup;
        let att = &mut self.attempts[a];
        att.arrived = now;
        att.counted = counted;
        if att.phase == Phase::CancelledInTransit {
            self.remove_attempt(a);
            return None;
        }
        Some(counted)
    }

    /// The name of instance `i` (`NAME#r` for a replica).
    pub(super) fn instance_name(&self, i: u32) -> &str {
        let inst = self.instances[i as usize];
        match inst.kind {
            Kind::Service => &self.services[inst.index as usize].name,
            Kind::Cache => &self.caches[inst.index as usize].name,
            Kind::Broker => &self.brokers[inst.index as usize].name,
            Kind::Database => &self.databases[inst.index as usize].name,
            Kind::TokenAuth => &self.token_auths[inst.index as usize].name,
        }
    }

    /// Sends the answer for `a` back over the link and forgets the attempt: how every kind
    /// answers.
    #[inline(always)]
    pub(super) fn reply(&mut self, a: AttemptKey, outcome: Outcome, q: &mut EventQueue<Event>) {
        let att = self.remove_attempt(a).expect("answering a live attempt");
        if !self.brokers.is_empty() {
            self.note_handled(&att, outcome, q.now());
        }
        // Nobody listens if the call is over or has moved on to another attempt.
        let Some(call) = self.calls.get(att.call) else {
            return;
        };
        let current = call.attempts == att.number && call.current == Some(a);
        if !current && !call.hedges().iter().any(|h| h.attempt == a) {
            return;
        }
        let from = self.node_of(att.target);
        let delay = self.transmit(from, att.pair);
        if let Some(t) = self.trace.as_deref_mut() {
            let now = q.now();
            let answer_at = delay.map(|d| now + d);
            t.hop(
                att.call,
                att.number,
                att.arrived,
                att.started,
                now,
                answer_at,
                outcome,
            );
        }
        if let Some(delay) = delay {
            let response = Event::Response {
                call: att.call,
                number: att.number,
                outcome,
            };
            self.post(delay, response, q);
        }
    }
}
