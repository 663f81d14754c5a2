//! The network between nodes (clients first, then component instances): each link's
//! latency and loss, partitions and loss effects on a pair, and the one function every
//! message goes through, [`World::transmit`]. Every component kind uses it alike.
//!
//! Messages only travel along call sites (a caller node to each instance of its callee,
//! and back), so only those pairs are stored: one entry per unordered pair some call site
//! uses, found by index from the call site (memory grows with call sites x targets, not
//! with nodes squared). Both directions share a pair's state.

use std::collections::BTreeMap;

use rand::RngExt;
use sim_core::SimDuration;
use sim_core::dist::Sampler;
use sim_core::queue::EventQueue;
use sim_core::rng::{self, SimRng};

use super::{Event, World};
use crate::scenario::Scenario;

/// Link state between two nodes (both directions share it).
#[derive(Clone)]
pub(crate) struct Pair {
    link: u32,
    partitioned: u32,
    /// The link's loss combined with loss effects' (set when either changes, not per message).
    loss: f64,
}

pub(crate) struct LinkDef {
    latency: Sampler,
    loss: f64,
}

impl LinkDef {
    /// Probability a message is lost on this link with `extra_loss` from effects on top.
    fn loss_with(&self, extra_loss: f64) -> f64 {
        1.0 - (1.0 - self.loss) * (1.0 - extra_loss)
    }
}

/// Every link, the state of each pair of nodes that exchanges messages, and each node's
/// random stream.
pub(crate) struct Network {
    links: Vec<LinkDef>,
    /// One per unordered pair of nodes some call site uses.
    pairs: Vec<Pair>,
    /// `(lower node, higher node)` -> its index in `pairs`.
    index: BTreeMap<(u32, u32), u32>,
    /// Each node's own stream for network draws (latency, loss).
    rng: Vec<SimRng>,
}

fn key(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}

impl Network {
    /// The links of `s` between `node_names` (clients, then instances), for the node pairs
    /// in `used` (each call site's caller and each of its targets); `nodes_of` resolves a
    /// name in a link spec to its nodes (every replica for a replicated service). A pair in
    /// two different zones (`node_zone`) uses `s.cross_zone`, if set, unless a link names it.
    pub(crate) fn new(
        s: &Scenario,
        seed: u64,
        node_names: &[&str],
        used: impl IntoIterator<Item = (u32, u32)>,
        nodes_of: impl Fn(&str) -> Vec<u32>,
        node_zone: &[Option<usize>],
    ) -> Network {
        let mut links = vec![LinkDef {
            latency: s.default_link.latency.compile().expect("validated link"),
            loss: s.default_link.loss,
        }];
        let mut index = BTreeMap::new();
        for (a, b) in used {
            let next = index.len() as u32;
            index.entry(key(a, b)).or_insert(next);
        }
        let mut pairs = vec![
            Pair {
                link: 0,
                partitioned: 0,
                loss: 0.0
            };
            index.len()
        ];
        if let Some(cross) = &s.cross_zone {
            links.push(LinkDef {
                latency: cross.latency.compile().expect("validated link"),
                loss: cross.loss,
            });
            let id = (links.len() - 1) as u32;
            for (&(a, b), &p) in &index {
                if let (Some(za), Some(zb)) = (node_zone[a as usize], node_zone[b as usize])
                    && za != zb
                {
                    pairs[p as usize].link = id;
                }
            }
        }
        for l in &s.links {
            links.push(LinkDef {
                latency: l.latency.compile().expect("validated link"),
                loss: l.loss,
            });
            let id = (links.len() - 1) as u32;
            for a in nodes_of(&l.from) {
                for b in nodes_of(&l.to) {
                    if let Some(&p) = index.get(&key(a, b)) {
                        pairs[p as usize].link = id;
                    }
                }
            }
        }
        for pair in &mut pairs {
            pair.loss = links[pair.link as usize].loss_with(0.0);
        }
        let rng = node_names
            .iter()
            .map(|n| rng::stream(seed, &format!("net/{n}")))
            .collect();
        Network {
            links,
            pairs,
            index,
            rng,
        }
    }

    /// The pair of nodes `a` and `b`, if any call site joins them.
    pub(crate) fn pair(&self, a: u32, b: u32) -> Option<u32> {
        self.index.get(&key(a, b)).copied()
    }

    /// Sets the pair `a`-`b` (both directions) to `partitions` active partitions and an
    /// extra loss probability `extra_loss` from effects. A pair no call site uses carries
    /// no message, so there is nothing to set.
    pub(crate) fn set_pair(&mut self, a: u32, b: u32, partitions: u32, extra_loss: f64) {
        if let Some(p) = self.pair(a, b) {
            let pair = &mut self.pairs[p as usize];
            pair.partitioned = partitions;
            pair.loss = self.links[pair.link as usize].loss_with(extra_loss);
        }
    }
}

/// Zero-latency hops one event may send without events of their own; past this many they
/// are events again. A retry loop over zero-latency links (an answer refused at once,
/// retried at once) is then still seen by the event budget and the progress guard.
const MAX_HOPS_PER_EVENT: usize = 64;

impl World {
    /// Puts `message` on its way, to arrive after `delay` (drawn by [`World::transmit`]).
    ///
    /// A message with zero delay is not an event (issue 20) when it can be delivered exactly
    /// where its event would have come in (time, insertion order): right after the event
    /// being handled, and after the zero-latency hops that event sent before it. That holds
    /// when nothing else is pending at `now`: every event scheduled later at `now` has a
    /// later sequence number, so it comes after the message either way, and the handler
    /// finishes before the message is delivered, as before. Otherwise (something at `now`
    /// is pending, which must come first) the message is an event, as are the ones sent
    /// after it in the same instant, since that event is then pending at `now`.
    /// What changes is only the count of events and the trace digest (which hashes the
    /// events handled), never the order of what happens.
    #[inline(always)]
    pub(super) fn post(&mut self, delay: SimDuration, message: Event, q: &mut EventQueue<Event>) {
        if delay.is_zero() && self.hops.len() < MAX_HOPS_PER_EVENT && !q.may_have_now() {
            self.hops.push(message);
        } else {
            q.schedule(q.now() + delay, message);
        }
    }

    /// One message from node `from` across pair `pair` (found from its call site): its
    /// latency, or `None` if it is lost. Draws come from the sender's own stream, and loss
    /// is drawn only where it can happen. Always inlined: twice per attempt, and a plain
    /// `#[inline]` was not taken (measured).
    #[inline(always)]
    pub(super) fn transmit(&mut self, from: u32, pair: u32) -> Option<SimDuration> {
        let net = &mut self.net;
        let pair = &net.pairs[pair as usize];
        if pair.partitioned > 0 {
            return None;
        }
        let link = &net.links[pair.link as usize];
        let rng = &mut net.rng[from as usize];
        if pair.loss > 0.0 && rng.random::<f64>() < pair.loss {
            return None;
        }
        Some(link.latency.sample_duration(rng))
    }
}
