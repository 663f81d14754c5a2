//! A ledger's pending expiries, in the order they fall due, at 8 bytes each.
//!
//! A ledger's TTL is fixed and virtual time only grows, so expiries come in time order:
//! each is packed in a `u64` as the nanoseconds since the one before it, its call site and
//! its request id as the difference from the one before it (request ids grow with time,
//! so neighbours are close), where a key and a full time took 24 bytes. One that does not
//! fit (a gap of 67 ms or more, a call site past 1,023, ids far apart: rare) is kept whole
//! in `far`. Both queues grow by an eighth at a time rather than doubling: they are the
//! bulk of a long run's memory and settle at a size set by the TTL (v0.4: ~180,000
//! expiries).

use std::collections::VecDeque;

use sim_core::SimTime;

use super::OpKey;

/// Bits of a packed item: the gap in ns (its top value is [`FAR`]'s), the call site, and
/// the zigzag difference from the id before it.
const GAP_BITS: u32 = 26;
const SITE_BITS: u32 = 10;
const ID_BITS: u32 = 28;
const _: () = assert!(GAP_BITS + SITE_BITS + ID_BITS == 64);

/// An item that is the front of `far`.
const FAR: u64 = u64::MAX;

#[derive(Default)]
pub(super) struct Expiries {
    /// Packed items; the front one's key and time are `front` and `front_at`.
    items: VecDeque<u64>,
    far: VecDeque<Far>,
    front: OpKey,
    /// The id of the back item (the base of the next one's difference).
    back_id: u64,
    /// When the front item falls due, and the back one (meaningless when empty).
    front_at: SimTime,
    back_at: SimTime,
}

/// An item that did not fit in 8 bytes.
struct Far {
    id: u64,
    site: u32,
    /// Nanoseconds after the item before.
    gap: u64,
}

impl Expiries {
    /// Adds `key`, falling due at `at` or when the one before it does, whichever is later.
    pub fn push(&mut self, at: SimTime, key: OpKey) {
        let (id, site) = key;
        let item = if self.items.is_empty() {
            // The front is kept whole: its word is never read.
            (self.front, self.front_at, self.back_at) = (key, at, at);
            0
        } else {
            // An expiry earlier than the one before it (a TTL shortened mid-run) waits for
            // it, as at the back of a queue of full times: it falls due at the later time.
            let gap = at.0.saturating_sub(self.back_at.0);
            let delta = id.wrapping_sub(self.back_id) as i64;
            let zigzag = ((delta << 1) ^ (delta >> 63)) as u64;
            if gap < (1 << GAP_BITS) - 1 && site < 1 << SITE_BITS && zigzag < 1 << ID_BITS {
                gap << (SITE_BITS + ID_BITS) | u64::from(site) << ID_BITS | zigzag
            } else {
                grow_gently(&mut self.far);
                self.far.push_back(Far { id, site, gap });
                FAR
            }
        };
        self.back_at = self.back_at.max(at);
        self.back_id = id;
        grow_gently(&mut self.items);
        self.items.push_back(item);
    }

    /// Removes and returns the first key due at or before `now`.
    pub fn pop_due(&mut self, now: SimTime) -> Option<OpKey> {
        if self.items.is_empty() || self.front_at > now {
            return None;
        }
        let key = self.front;
        self.items.pop_front();
        if let Some(&item) = self.items.front() {
            let (id, site, gap) = if item == FAR {
                let f = self.far.pop_front().expect("a far item is kept");
                (f.id, f.site, f.gap)
            } else {
                let zigzag = item & ((1 << ID_BITS) - 1);
                let delta = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
                let site = (item >> ID_BITS) & ((1 << SITE_BITS) - 1);
                (
                    key.0.wrapping_add(delta as u64),
                    site as u32,
                    item >> (SITE_BITS + ID_BITS),
                )
            };
            self.front = (id, site);
            self.front_at = SimTime(self.front_at.0 + gap);
        }
        Some(key)
    }
}

/// Makes room for one more in `q`, by an eighth of its length (at least 64) when full.
pub(super) fn grow_gently<T>(q: &mut VecDeque<T>) {
    if q.len() == q.capacity() {
        q.reserve_exact((q.len() / 8).max(64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    /// Pushes and pops at random against a queue of full times and keys: gaps short, at
    /// and past the packed limit, and long; ids close, far apart and at the ends of `u64`;
    /// call sites below and past 1,023.
    #[test]
    fn agrees_with_a_queue_of_full_times_across_near_and_far_items() {
        let limit = (1u64 << GAP_BITS) - 1;
        for seed in 0..4 {
            let mut reference: VecDeque<(SimTime, OpKey)> = VecDeque::new();
            let mut q = Expiries::default();
            let mut rng = sim_core::rng::stream(seed, "expiries");
            let mut at = SimTime::ZERO;
            let mut now = SimTime::ZERO;
            let mut id = 0u64;
            for step in 0..50_000u64 {
                if rng.random::<f64>() < 0.6 {
                    at = SimTime(match rng.random_range(0..10) {
                        0 => at.0,
                        9 => at.0.saturating_sub(rng.random_range(0..1_000_000u64)),
                        1 => at.0 + limit - rng.random_range(0..2u64),
                        2 => at.0 + limit + rng.random_range(0..3u64),
                        3 => at.0 + rng.random_range(0..1u64 << 40),
                        _ => at.0 + rng.random_range(0..10_000_000u64),
                    });
                    let edge = 1u64 << (ID_BITS - 1);
                    id = match rng.random_range(0..10) {
                        0 => rng.random::<u64>(),
                        1 => id.wrapping_add(edge - rng.random_range(0..2u64)),
                        2 => id.wrapping_sub(edge - rng.random_range(0..2u64)),
                        3 => id.wrapping_add(edge + rng.random_range(0..2u64)),
                        4 => id.wrapping_sub(edge + 1),
                        5 => u64::MAX - rng.random_range(0..3u64),
                        _ => id
                            .wrapping_add(rng.random_range(0..100u64))
                            .wrapping_sub(50),
                    };
                    let site = match rng.random_range(0..4) {
                        0 => rng.random::<u32>(),
                        1 => 1023 + rng.random_range(0..2u32),
                        _ => rng.random_range(0..8u32),
                    };
                    q.push(at, (id, site));
                    reference.push_back((at, (id, site)));
                } else {
                    now = SimTime(
                        now.0
                            .max(at.0.saturating_sub(rng.random_range(0..1u64 << 33))),
                    );
                    loop {
                        let expected = reference
                            .front()
                            .filter(|&&(t, _)| t <= now)
                            .map(|&(_, k)| k);
                        if expected.is_some() {
                            reference.pop_front();
                        }
                        assert_eq!(q.pop_due(now), expected, "seed {seed} step {step}");
                        if expected.is_none() {
                            break;
                        }
                    }
                }
            }
        }
    }
}
