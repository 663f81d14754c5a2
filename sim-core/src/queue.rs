//! The pending-event set, ordered by (time, insertion sequence).
//!
//! **Ordering guarantee:** events fire in increasing time; events at the same time fire in the
//! order they were scheduled. Nothing depends on addresses or hashing, so a run is a pure
//! function of its inputs.
//!
//! **Structure: a radix heap.** Virtual time never runs backwards (nothing is scheduled
//! before `now`), so keys are monotone and a radix heap applies: bucket `i` holds entries
//! whose time first differs from the last popped time at bit `i - 1` (bucket 0: equal to it).
//! Insert is O(1) (a `Vec` push); pop takes the lowest non-empty bucket and redistributes it
//! into lower buckets, so each entry moves at most 64 times and usually two or three. All
//! access is sequential, which is what matters once ~200 k events are pending: measured with
//! `simctl bench --in-flight 100000`, a binary heap of the same entries spent 57% of the run
//! in `pop` cache misses and managed 1.07 M events/s; see README "Performance" for the radix
//! heap's figures and the M/M/1 case.
//!
//! Bucket 0 holds only entries at the current time; it is a FIFO in insertion sequence
//! (entries moved there are sorted by sequence, and new ones always have the largest), which
//! gives the (time, seq) order.
//!
//! **Cancellation** is lazy: `cancel` marks the event's slot dead in O(1) and the entry is
//! dropped when its bucket is redistributed. Nearly every attempt arms a timeout that is later
//! cancelled, so a search per cancel would dominate. Dead entries far in the future would
//! otherwise pile up (a 5 s timeout at 100 k attempts/s leaves 500 k of them), so all buckets
//! are compacted in O(n) when dead entries outnumber live ones: amortised O(1) per cancel.

use std::collections::VecDeque;

use crate::time::SimTime;

/// Identifies a scheduled event so it can be cancelled. Stale keys are harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventKey {
    seq: u64,
    slot: u32,
}

/// Marks a slot with no live event.
const FREE: u64 = u64::MAX;
/// Below this many dead entries compaction is not worth its pass.
const COMPACT_MIN: usize = 4096;
/// Bucket 0 plus one per bit of a u64 time.
const BUCKETS: usize = 65;

struct Entry<E> {
    time: SimTime,
    seq: u64,
    slot: u32,
    event: E,
}

/// Pending events of type `E` (a model's own closed enum: no boxing on the hot path).
pub struct EventQueue<E> {
    /// Entries at time `base`, in insertion order.
    current: VecDeque<Entry<E>>,
    /// `buckets[i]` for i in 1..65: entries whose time first differs from `base` at bit i-1.
    buckets: Vec<Vec<Entry<E>>>,
    /// Bit i set iff `buckets[i]` is non-empty.
    occupied: u128,
    /// The time all bucket indices are relative to: the latest time popped or peeked.
    base: u64,
    /// `slots[s]` holds the seq of the live event using slot `s`, or `FREE`.
    slots: Vec<u64>,
    free_slots: Vec<u32>,
    next_seq: u64,
    now: SimTime,
    last_seq: u64,
    held: usize,
    dead: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            current: VecDeque::new(),
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: 0,
            base: 0,
            slots: Vec::new(),
            free_slots: Vec::new(),
            next_seq: 0,
            now: SimTime::ZERO,
            last_seq: 0,
            held: 0,
            dead: 0,
        }
    }

    /// The time of the event being handled (or of the last one popped).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `at`. Scheduling in the past is a model bug and panics.
    #[inline]
    pub fn schedule(&mut self, at: SimTime, event: E) -> EventKey {
        assert!(
            at >= self.now,
            "event scheduled in the past: at {at}, now {}",
            self.now
        );
        if at.0 < self.base {
            // Only after a peek beyond `now` (a run stopped at a horizon, then resumed).
            self.rebase(at.0);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.slots[s as usize] = seq;
                s
            }
            None => {
                self.slots.push(seq);
                u32::try_from(self.slots.len() - 1).expect("more than 4 G pending events")
            }
        };
        self.insert(Entry {
            time: at,
            seq,
            slot,
            event,
        });
        self.held += 1;
        EventKey { seq, slot }
    }

    /// Cancels a pending event. Returns false if it already fired or was cancelled.
    #[inline]
    pub fn cancel(&mut self, key: EventKey) -> bool {
        let live = self.slots.get(key.slot as usize) == Some(&key.seq);
        if live {
            self.release(key.slot);
            self.dead += 1;
            if self.dead > COMPACT_MIN && self.dead * 2 > self.held {
                self.compact();
            }
        }
        live
    }

    /// Removes and returns the next live event, advancing `now` to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.settle()?;
        let entry = self.current.pop_front().expect("settled");
        self.held -= 1;
        self.release(entry.slot);
        self.now = entry.time;
        self.last_seq = entry.seq;
        Some((entry.time, entry.event))
    }

    /// The time of the next live event, if any.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.settle()
    }

    /// Live (not cancelled) pending events.
    pub fn len(&self) -> usize {
        self.held - self.dead
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries held, dead ones included (for benchmarks and tests).
    pub fn held(&self) -> usize {
        self.held
    }

    /// Insertion sequence number of the event popped last (feeds the trace digest).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Events scheduled so far (the next insertion sequence number).
    pub fn scheduled(&self) -> u64 {
        self.next_seq
    }

    #[inline]
    fn is_live(&self, e: &Entry<E>) -> bool {
        self.slots[e.slot as usize] == e.seq
    }

    #[inline]
    fn insert(&mut self, e: Entry<E>) {
        let diff = e.time.0 ^ self.base;
        if diff == 0 {
            self.current.push_back(e);
        } else {
            let i = (u64::BITS - diff.leading_zeros()) as usize;
            self.buckets[i].push(e);
            self.occupied |= 1 << i;
        }
    }

    /// Makes the front of `current` the next live event; returns its time.
    #[inline]
    fn settle(&mut self) -> Option<SimTime> {
        loop {
            while let Some(front) = self.current.front() {
                if self.is_live(front) {
                    return Some(front.time);
                }
                self.current.pop_front();
                self.held -= 1;
                self.dead -= 1;
            }
            if self.occupied == 0 {
                return None;
            }
            self.redistribute(self.occupied.trailing_zeros() as usize);
        }
    }

    /// Empties bucket `i` into lower buckets relative to its earliest live time.
    fn redistribute(&mut self, i: usize) {
        let mut bucket = std::mem::take(&mut self.buckets[i]);
        self.occupied &= !(1 << i);
        let min = bucket
            .iter()
            .filter(|e| self.is_live(e))
            .map(|e| e.time.0)
            .min();
        if let Some(min) = min {
            self.base = min;
        }
        let before = self.current.len();
        for e in bucket.drain(..) {
            if self.is_live(&e) {
                self.insert(e);
            } else {
                self.held -= 1;
                self.dead -= 1;
            }
        }
        // Entries that landed at the current time: restore insertion order.
        self.current.make_contiguous()[before..].sort_unstable_by_key(|e| e.seq);
        // Keep a small allocation for reuse; a large one would sit idle while entries live lower.
        if bucket.capacity() <= 1024 {
            self.buckets[i] = bucket;
        }
    }

    /// Re-buckets everything relative to an earlier `base` (rare: see `schedule`).
    fn rebase(&mut self, base: u64) {
        let mut all: Vec<Entry<E>> = self.current.drain(..).collect();
        for b in &mut self.buckets {
            all.append(b);
        }
        self.occupied = 0;
        self.base = base;
        all.sort_unstable_by_key(|e| (e.time, e.seq));
        for e in all {
            self.insert(e);
        }
    }

    #[inline]
    fn release(&mut self, slot: u32) {
        self.slots[slot as usize] = FREE;
        self.free_slots.push(slot);
    }

    fn compact(&mut self) {
        let slots = &self.slots;
        let live = |e: &Entry<E>| slots[e.slot as usize] == e.seq;
        self.current.retain(live);
        for (i, b) in self.buckets.iter_mut().enumerate() {
            b.retain(live);
            if b.is_empty() {
                self.occupied &= !(1 << i);
            }
        }
        self.held -= self.dead;
        self.dead = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut EventQueue<u32>) -> Vec<(u64, u32)> {
        std::iter::from_fn(|| q.pop().map(|(t, e)| (t.0, e))).collect()
    }

    #[test]
    fn same_time_events_fire_in_insertion_order() {
        let mut q = EventQueue::new();
        for (t, e) in [(5, 0), (3, 1), (5, 2), (3, 3), (5, 4), (0, 5)] {
            q.schedule(SimTime(t), e);
        }
        assert_eq!(
            drain(&mut q),
            [(0, 5), (3, 1), (3, 3), (5, 0), (5, 2), (5, 4)]
        );
    }

    #[test]
    fn cancelled_events_never_fire_and_stale_keys_are_harmless() {
        let mut q = EventQueue::new();
        let a = q.schedule(SimTime(1), 1);
        let b = q.schedule(SimTime(2), 2);
        assert!(q.cancel(a));
        assert!(!q.cancel(a), "double cancel");
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop(), Some((SimTime(2), 2)));
        assert!(!q.cancel(b), "cancel after firing");
        // Slot of `a` is reused by `c`: the stale key must not cancel `c`.
        let c = q.schedule(SimTime(3), 3);
        assert!(!q.cancel(a));
        assert_eq!(q.pop(), Some((SimTime(3), 3)));
        assert!(!q.cancel(c));
        assert!(q.is_empty());
    }

    #[test]
    fn compaction_bounds_dead_entries_and_keeps_order() {
        let mut q = EventQueue::new();
        let mut keys = Vec::new();
        for i in 0..100_000u32 {
            keys.push(q.schedule(SimTime(u64::from(i % 977)), i));
        }
        for (i, k) in keys.iter().enumerate() {
            if i % 10 != 0 {
                assert!(q.cancel(*k));
            }
        }
        assert_eq!(q.len(), 10_000);
        assert!(q.held() <= 2 * q.len() + COMPACT_MIN, "held {}", q.held());
        let fired = drain(&mut q);
        assert_eq!(fired.len(), 10_000);
        assert!(fired.iter().all(|&(_, e)| e % 10 == 0));
        assert!(
            fired
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        );
    }

    /// Random schedules, cancels, peeks and pops against a reference ordered by
    /// (time, seq): the orders must agree exactly.
    #[test]
    fn agrees_with_a_reference_ordering() {
        use rand::RngExt;
        use std::collections::BTreeMap;
        for seed in 0..20 {
            let mut rng = crate::rng::stream(seed, "queue-property");
            let mut q = EventQueue::new();
            let mut reference: BTreeMap<(u64, u64), u32> = BTreeMap::new();
            let mut keys: Vec<(EventKey, u64, u64)> = Vec::new();
            let mut next = 0u32;
            for _ in 0..20_000 {
                let now = q.now().0;
                match rng.random_range(0..10) {
                    0..=4 => {
                        // Mostly near-future times with many ties, sometimes far ones.
                        let dt = match rng.random_range(0..4) {
                            0 => 0,
                            1 => rng.random_range(0..4),
                            2 => rng.random_range(0..1_000),
                            _ => rng.random_range(0..1u64 << 40),
                        };
                        let key = q.schedule(SimTime(now + dt), next);
                        reference.insert((now + dt, q.scheduled() - 1), next);
                        keys.push((key, now + dt, q.scheduled() - 1));
                        next += 1;
                    }
                    5 | 6 if !keys.is_empty() => {
                        let (key, t, seq) = keys.swap_remove(rng.random_range(0..keys.len()));
                        assert_eq!(q.cancel(key), reference.remove(&(t, seq)).is_some());
                    }
                    7 => {
                        let expected = reference.keys().next().map(|&(t, _)| SimTime(t));
                        assert_eq!(q.peek_time(), expected);
                    }
                    _ => {
                        let expected = reference.pop_first().map(|((t, _), e)| (SimTime(t), e));
                        assert_eq!(q.pop(), expected, "seed {seed}");
                    }
                }
                assert_eq!(q.len(), reference.len());
            }
            let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
            let expected: Vec<_> = reference
                .into_iter()
                .map(|((t, _), e)| (SimTime(t), e))
                .collect();
            assert_eq!(rest, expected);
        }
    }

    /// A run stopped at a horizon has peeked past `now`; scheduling before the peeked event
    /// must still come out first.
    #[test]
    fn scheduling_after_a_peek_beyond_now_keeps_order() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(100), 1);
        assert_eq!(q.peek_time(), Some(SimTime(100)));
        q.schedule(SimTime(50), 2);
        q.schedule(SimTime(100), 3);
        assert_eq!(drain(&mut q), [(50, 2), (100, 1), (100, 3)]);
    }

    #[test]
    fn peek_skips_cancelled() {
        let mut q = EventQueue::new();
        let a = q.schedule(SimTime(1), 1);
        q.schedule(SimTime(2), 2);
        q.cancel(a);
        assert_eq!(q.peek_time(), Some(SimTime(2)));
    }

    #[test]
    #[should_panic(expected = "scheduled in the past")]
    fn scheduling_in_the_past_is_a_bug() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(5), 0);
        q.pop();
        q.schedule(SimTime(4), 1);
    }
}
