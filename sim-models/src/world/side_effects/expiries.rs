//! A ledger's pending expiries, in the order they fall due, at 16 bytes each.
//!
//! A ledger's TTL is fixed and virtual time only grows, so expiries come in time order:
//! each keeps its key and the nanoseconds since the one before it as a `u32` (gaps of
//! 4.29 s or more, rare, go to `far`), where a key and a full time took 24 bytes. Both
//! queues grow by an eighth at a time rather than doubling: they are the bulk of a long
//! run's memory and settle at a size set by the TTL (v0.4: ~180,000 expiries).

use std::collections::VecDeque;

use sim_core::SimTime;

use super::OpKey;

/// A `gap` that means: the gap is the front of `far`.
const FAR: u32 = u32::MAX;

#[derive(Default)]
pub(super) struct Expiries {
    items: VecDeque<Item>,
    far: VecDeque<u64>,
    /// When the front item falls due, and the back one (meaningless when empty).
    front_at: SimTime,
    back_at: SimTime,
}

#[derive(Clone, Copy)]
struct Item {
    id: u64,
    site: u32,
    /// Nanoseconds after the item before (0 for the first one).
    gap: u32,
}

impl Expiries {
    /// Adds `key`, falling due at `at` or when the one before it does, whichever is later.
    pub fn push(&mut self, at: SimTime, key: OpKey) {
        let gap = if self.items.is_empty() {
            (self.front_at, self.back_at) = (at, at);
            0
        } else {
            // An expiry earlier than the one before it (a TTL shortened mid-run) waits for
            // it, as at the back of a queue of full times: it falls due at the later time.
            let g = at.0.saturating_sub(self.back_at.0);
            match u32::try_from(g) {
                Ok(g) if g != FAR => g,
                _ => {
                    grow_gently(&mut self.far);
                    self.far.push_back(g);
                    FAR
                }
            }
        };
        self.back_at = self.back_at.max(at);
        let (id, site) = key;
        grow_gently(&mut self.items);
        self.items.push_back(Item { id, site, gap });
    }

    /// Removes and returns the first key due at or before `now`.
    pub fn pop_due(&mut self, now: SimTime) -> Option<OpKey> {
        let first = self.items.front()?;
        if self.front_at > now {
            return None;
        }
        let key = (first.id, first.site);
        self.items.pop_front();
        if let Some(next) = self.items.front() {
            let gap = match next.gap {
                FAR => self.far.pop_front().expect("a far gap is kept"),
                g => u64::from(g),
            };
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

    #[test]
    fn agrees_with_a_queue_of_full_times_across_near_and_far_gaps() {
        let mut reference: VecDeque<(SimTime, OpKey)> = VecDeque::new();
        let mut q = Expiries::default();
        let mut rng = sim_core::rng::stream(3, "expiries");
        let mut at = SimTime::ZERO;
        let mut now = SimTime::ZERO;
        for step in 0..50_000u64 {
            if rng.random::<f64>() < 0.6 {
                // Same instant, short gaps, gaps around u32::MAX ns, and long ones.
                at = SimTime(match rng.random_range(0..10) {
                    0 => at.0,
                    9 => at.0.saturating_sub(rng.random_range(0..1_000_000u64)),
                    1 => at.0 + u64::from(FAR) - rng.random_range(0..2u64),
                    2 => at.0 + u64::from(FAR) + rng.random_range(0..3u64),
                    3 => at.0 + rng.random_range(0..1u64 << 40),
                    _ => at.0 + rng.random_range(0..10_000_000u64),
                });
                let key = (rng.random::<u64>(), rng.random::<u32>());
                q.push(at, key);
                reference.push_back((at, key));
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
                    assert_eq!(q.pop_due(now), expected, "step {step}");
                    if expected.is_none() {
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn an_item_takes_16_bytes() {
        assert_eq!(std::mem::size_of::<Item>(), 16);
    }
}
