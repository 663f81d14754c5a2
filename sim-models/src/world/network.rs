//! The network between nodes (clients first, then component instances): each link's
//! latency and loss, partitions and loss effects on a pair, and the one function every
//! message goes through, [`World::transmit`]. Every component kind uses it alike.

use rand::RngExt;
use sim_core::SimDuration;
use sim_core::dist::Sampler;
use sim_core::rng::{self, SimRng};

use super::World;
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

/// Every link, the state of each pair of nodes, and each node's random stream.
pub(crate) struct Network {
    links: Vec<LinkDef>,
    /// `pairs[from * nodes + to]`.
    pairs: Vec<Pair>,
    nodes: u32,
    /// Each node's own stream for network draws (latency, loss).
    rng: Vec<SimRng>,
}

impl Network {
    /// The links of `s` between `node_names` (clients, then instances); `nodes_of` resolves
    /// a name in a link spec to its nodes (every replica for a replicated service).
    pub(crate) fn new(
        s: &Scenario,
        seed: u64,
        node_names: &[&str],
        nodes_of: impl Fn(&str) -> Vec<u32>,
    ) -> Network {
        let nodes = node_names.len() as u32;
        let mut links = vec![LinkDef {
            latency: s.default_link.latency.compile().expect("validated link"),
            loss: s.default_link.loss,
        }];
        let mut pairs = vec![
            Pair {
                link: 0,
                partitioned: 0,
                loss: 0.0
            };
            (nodes * nodes) as usize
        ];
        for l in &s.links {
            links.push(LinkDef {
                latency: l.latency.compile().expect("validated link"),
                loss: l.loss,
            });
            let id = (links.len() - 1) as u32;
            for a in nodes_of(&l.from) {
                for b in nodes_of(&l.to) {
                    pairs[(a * nodes + b) as usize].link = id;
                    pairs[(b * nodes + a) as usize].link = id;
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
            nodes,
            rng,
        }
    }

    /// Sets the pair `a`-`b` (both directions) to `partitions` active partitions and an
    /// extra loss probability `extra_loss` from effects.
    pub(crate) fn set_pair(&mut self, a: u32, b: u32, partitions: u32, extra_loss: f64) {
        let n = self.nodes;
        for (from, to) in [(a, b), (b, a)] {
            let pair = &mut self.pairs[(from * n + to) as usize];
            pair.partitioned = partitions;
            pair.loss = self.links[pair.link as usize].loss_with(extra_loss);
        }
    }
}

impl World {
    /// One message from node `from` to node `to`: its latency, or `None` if it is lost.
    /// Draws come from the sender's own stream, and loss is drawn only where it can happen.
    /// Always inlined: twice per attempt, and a plain `#[inline]` was not taken (measured).
    #[inline(always)]
    pub(super) fn transmit(&mut self, from: u32, to: u32) -> Option<SimDuration> {
        let net = &mut self.net;
        let pair = &net.pairs[(from * net.nodes + to) as usize];
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
