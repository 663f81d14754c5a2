//! The pending-event set, ordered by (time, insertion sequence).
//!
//! **Ordering guarantee:** events fire in increasing time; events at the same time fire in the
//! order they were scheduled. Nothing depends on addresses or hashing, so a run is a pure
//! function of its inputs.
//!
//! **Cancellation** is lazy: `cancel` marks the event's slot dead in O(1) and the heap entry is
//! skipped when it surfaces. Nearly every attempt arms a timeout that is later cancelled, so a
//! heap search per cancel would dominate. Dead entries would otherwise pile up (a 5 s timeout at
//! 100 k attempts/s leaves 500 k of them), so the heap is compacted in O(n) whenever dead
//! entries outnumber live ones: amortised O(1) per cancel, and the heap never holds more than
//! twice the live events.
//!
//! Structure chosen by measurement (`simctl bench`, see README "Performance"): a binary heap of
//! small entries carrying the event inline beat a slab-indirect heap on the M/M/1 case and held
//! up with 100 k timeouts in flight once compaction bounded the dead entries.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::time::SimTime;

/// Identifies a scheduled event so it can be cancelled. Stale keys are harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventKey {
    seq: u64,
    slot: u32,
}

/// Marks a slot with no live event.
const FREE: u64 = u64::MAX;
/// Below this size compaction is not worth its pass.
const COMPACT_MIN: usize = 4096;

struct Entry<E> {
    time: SimTime,
    seq: u64,
    slot: u32,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed: `BinaryHeap` is a max-heap and we want the earliest (time, seq) on top.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Pending events of type `E` (a model's own closed enum: no boxing on the hot path).
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    /// `slots[s]` holds the seq of the live event using slot `s`, or `FREE`.
    slots: Vec<u64>,
    free_slots: Vec<u32>,
    next_seq: u64,
    now: SimTime,
    last_seq: u64,
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
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            next_seq: 0,
            now: SimTime::ZERO,
            last_seq: 0,
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
        assert!(at >= self.now, "event scheduled in the past: at {at}, now {}", self.now);
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
        self.heap.push(Entry { time: at, seq, slot, event });
        EventKey { seq, slot }
    }

    /// Cancels a pending event. Returns false if it already fired or was cancelled.
    #[inline]
    pub fn cancel(&mut self, key: EventKey) -> bool {
        let live = self.slots.get(key.slot as usize) == Some(&key.seq);
        if live {
            self.release(key.slot);
            self.dead += 1;
            if self.dead > COMPACT_MIN && self.dead * 2 > self.heap.len() {
                self.compact();
            }
        }
        live
    }

    /// Removes and returns the next live event, advancing `now` to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        while let Some(entry) = self.heap.pop() {
            if self.slots[entry.slot as usize] != entry.seq {
                self.dead -= 1;
                continue;
            }
            self.release(entry.slot);
            self.now = entry.time;
            self.last_seq = entry.seq;
            return Some((entry.time, entry.event));
        }
        None
    }

    /// The time of the next live event, if any (drops dead entries it finds on top).
    pub fn peek_time(&mut self) -> Option<SimTime> {
        while let Some(top) = self.heap.peek() {
            if self.slots[top.slot as usize] == top.seq {
                return Some(top.time);
            }
            self.heap.pop();
            self.dead -= 1;
        }
        None
    }

    /// Live (not cancelled) pending events.
    pub fn len(&self) -> usize {
        self.heap.len() - self.dead
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries held in the heap, dead ones included (for benchmarks and tests).
    pub fn heap_len(&self) -> usize {
        self.heap.len()
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
    fn release(&mut self, slot: u32) {
        self.slots[slot as usize] = FREE;
        self.free_slots.push(slot);
    }

    fn compact(&mut self) {
        let slots = &self.slots;
        self.heap.retain(|e| slots[e.slot as usize] == e.seq);
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
        assert_eq!(drain(&mut q), [(0, 5), (3, 1), (3, 3), (5, 0), (5, 2), (5, 4)]);
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
        assert!(q.heap_len() <= 2 * q.len() + COMPACT_MIN, "heap {}", q.heap_len());
        let fired = drain(&mut q);
        assert_eq!(fired.len(), 10_000);
        assert!(fired.iter().all(|&(_, e)| e % 10 == 0));
        assert!(fired.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
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
