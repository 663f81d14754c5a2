//! The pending-event set, ordered by (time, insertion sequence).
//!
//! **Ordering guarantee:** events fire in increasing time; events at the same time fire in the
//! order they were scheduled. Nothing depends on addresses or hashing, so a run is a pure
//! function of its inputs.
//!
//! **Structure: a timing wheel in front of a radix heap.** Virtual time never runs backwards
//! (nothing is scheduled before `now`), so keys are monotone. Time is cut into blocks of 2^16
//! ns (65.5 µs), widened for sparse traffic (see `adapt`: at 10 events/s a block is 67 ms).
//! The block being handled is `current`, sorted (and `late`, below); the next 1023 blocks
//! (67 ms at 65.5 µs) are wheel slots, unsorted `Vec`s found through a bitmap; anything later
//! is "far", in a radix heap relative to the end of the wheel (bucket `i` holds entries whose
//! time first differs from it at bit `i - 1`). Most events (network hops, service times,
//! backoffs) land in the wheel and move twice: pushed into their slot, then sorted with the few
//! others of their block when it comes up. Far entries (timeouts, deadlines) move down the
//! radix buckets only as the wheel's end passes them, and enter the wheel when it reaches them.
//! This replaced a plain radix heap, whose entries moved through most of the ~20 bit levels
//! between a millisecond and the gap between events: `simctl bench --scenario
//! scenarios/v0.4.ron` spent ~28% of its time there. A binary heap is worse still once many
//! events are pending (see README "Performance").
//!
//! **Crowded blocks.** An event scheduled into the block being handled is inserted into
//! `current` in order, shifting the entries that come before it. Usually that is none or
//! one, but 65,535 closed-loop users in lockstep (constant think and service times), a hedge
//! delay of a few ns or a huge rate put thousands of events in one block, and the shifts
//! made such runs quadratic (90-95% of the time in memmove). An insertion that would shift
//! more than `SHIFT_MAX` entries goes instead to `late`, a binary heap of the block, and
//! `settle` moves its top to the end of `current` when it comes first: O(log n) per event.
//! Ordinary runs never use it and pay one emptiness check per event (callgrind: M/M/1 and
//! v0.4 +0.8-1%; `scenarios/storm.ron` 2 ms 48.5 G -> 0.33 G instructions). Rejected: the
//! whole current block as a binary heap (simpler, but +11% instructions on M/M/1 and v0.4:
//! a heap pop costs more than popping the end of a sorted vector); appending unsorted and
//! sorting on the next pop (a closed loop pops and schedules alternately, so it would sort
//! every time).
//!
//! **Cancellation** is lazy: `cancel` marks the event's slot dead in O(1) and the entry is
//! dropped when it is next moved. Nearly every attempt arms a timeout that is later
//! cancelled, so a search per cancel would dominate. Dead entries far in the future would
//! otherwise pile up (a 5 s timeout at 100 k attempts/s leaves 500 k of them), so everything
//! is compacted in O(n) when dead entries outnumber live ones: amortised O(1) per cancel.

use std::cmp::{Ordering, Reverse};
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
/// Below this many dead entries compaction is not worth its pass.
const COMPACT_MIN: usize = 4096;
/// A block is 2^shift ns of virtual time: 2^16 (65.5 µs) to start with, widened for sparse
/// traffic (see `adapt`) up to 2^32 (4.3 s).
const NARROWEST: u32 = 16;
const WIDEST: u32 = 32;
/// The block width is first reconsidered after this many events are scheduled, then after
/// twice as many each time, up to every `ADAPT_MAX` events.
const ADAPT_FIRST: u64 = 64;
const ADAPT_MAX: u64 = 1 << 16;
/// An insertion into `current` shifts at most this many entries; past it the entry goes to
/// `late`, so that a crowded block costs O(log n) per insertion, not O(n).
const SHIFT_MAX: usize = 32;
/// An insertion into `current` that shifts at most this many entries is done inline in
/// `schedule`; more, in `schedule_rest`.
const INLINE_SHIFT: usize = 4;
/// Blocks covered by the wheel, the current one included.
const SLOTS: u64 = 1024;
const WORDS: usize = SLOTS as usize / 64;
/// Far bucket 0 plus one per bit of a u64 time.
const BUCKETS: usize = 65;

#[cold]
#[inline(never)]
fn scheduled_in_the_past(at: SimTime, now: SimTime) -> ! {
    panic!("event scheduled in the past: at {at}, now {now}")
}

struct Entry<E> {
    time: SimTime,
    seq: u64,
    slot: u32,
    event: E,
}

// `BinaryHeap` pops its greatest entry: the greatest is the earliest (time, seq).
impl<E> Ord for Entry<E> {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}
impl<E> PartialOrd for Entry<E> {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> PartialEq for Entry<E> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}

/// Pending events of type `E` (a model's own closed enum: no boxing on the hot path).
pub struct EventQueue<E> {
    /// Entries of block `block`, sorted by (time, seq) descending: the next one is last.
    current: Vec<Entry<E>>,
    /// More entries of block `block`, scheduled while it was current where an insertion
    /// into `current` would have shifted more than `SHIFT_MAX` entries; top: the earliest.
    /// `settle` moves the top to the end of `current` when it is the next event.
    late: BinaryHeap<Entry<E>>,
    /// The block `current` holds.
    block: u64,
    /// Entries of blocks `block + 1 .. block + SLOTS`, each in slot `b % SLOTS`, unsorted.
    wheel: Box<[Vec<Entry<E>>; SLOTS as usize]>,
    /// Bit `s` of word `s / 64` set iff `wheel[s]` is non-empty.
    wheel_occupied: [u64; WORDS],
    /// A block is 2^shift ns.
    shift: u32,
    /// Entries of later blocks; `far[i]` holds those whose time first differs from
    /// `far_base` at bit i-1 (`far[0]`: equal to it).
    far: Vec<Vec<Entry<E>>>,
    /// Bit i set iff `far[i]` is non-empty.
    far_occupied: u128,
    /// The time far buckets are relative to: the start of the first block past the wheel.
    /// (It saturates only when no block can be far, so `far` is then empty.)
    far_base: u64,
    /// `slots[s]` holds the seq of the live event using slot `s`, or `FREE`.
    slots: Vec<u64>,
    free_slots: Vec<u32>,
    next_seq: u64,
    now: SimTime,
    last_seq: u64,
    held: usize,
    dead: usize,
    /// When `adapt` runs next (a count of events scheduled).
    next_adapt: u64,
    /// Events scheduled and `now` when `adapt` last ran.
    adapted_at: (u64, SimTime),
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            current: Vec::new(),
            late: BinaryHeap::new(),
            block: 0,
            // Built in place on the heap: `Box::new(array)` would build its 24 KiB on the
            // stack first and copy it (a short run's first page faults, measured).
            wheel: (0..SLOTS)
                .map(|_| Vec::new())
                .collect::<Box<[_]>>()
                .try_into()
                .unwrap_or_else(|_| unreachable!("SLOTS slots")),
            wheel_occupied: [0; WORDS],
            shift: NARROWEST,
            far: (0..BUCKETS).map(|_| Vec::new()).collect(),
            far_occupied: 0,
            far_base: SLOTS << NARROWEST,
            slots: Vec::new(),
            free_slots: Vec::new(),
            next_seq: 0,
            now: SimTime::ZERO,
            last_seq: 0,
            held: 0,
            dead: 0,
            next_adapt: ADAPT_FIRST,
            adapted_at: (0, SimTime::ZERO),
        }
    }

    /// The time of the event being handled (or of the last one popped).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `at`. Scheduling in the past is a model bug and panics.
    ///
    /// Small enough to inline: the common cases (a later block within the wheel, whose slot
    /// has room: a push and a bit set; the block being handled, with room: a push and a
    /// few swaps) are here; everything else is `schedule_rest`, out of line.
    /// Measured: the call's register saves and restores cost more than the push itself.
    #[inline(always)]
    pub fn schedule(&mut self, at: SimTime, event: E) -> EventKey {
        if at < self.now {
            scheduled_in_the_past(at, self.now);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.slots[s as usize] = seq;
                s
            }
            None => self.new_slot(seq),
        };
        let entry = Entry {
            time: at,
            seq,
            slot,
            event,
        };
        self.held += 1;
        let block = self.block_of(&entry);
        if block > self.block && block < self.block + SLOTS {
            let s = (block % SLOTS) as usize;
            let v = &mut self.wheel[s];
            if v.len() < v.capacity() {
                v.push(entry);
                self.wheel_occupied[s / 64] |= 1 << (s % 64);
                return EventKey { seq, slot };
            }
        } else if block == self.block {
            // The block being handled, in descending order: the newest seq goes before the
            // entries at an earlier or equal time, counted from the end (usually none or
            // one). More than `INLINE_SHIFT` of them (a crowded block) go the long way, by
            // binary search or to `late`: scanning up to `SHIFT_MAX` here first cost
            // storm.ron 2 ms +11% instructions.
            // (A plain loop: iterator adapters here were not inlined, measured.)
            let cur = &mut self.current;
            let n = cur.len();
            if n < cur.capacity() {
                let mut i = n;
                while i > 0 && n - i <= INLINE_SHIFT && cur[i - 1].time <= at {
                    i -= 1;
                }
                if n - i <= INLINE_SHIFT {
                    cur.push(entry);
                    for j in (i..n).rev() {
                        cur.swap(j, j + 1);
                    }
                    return EventKey { seq, slot };
                }
            }
        }
        self.schedule_rest(block, entry);
        EventKey { seq, slot }
    }

    /// A slot for a new pending event when none is free.
    #[cold]
    #[inline(never)]
    fn new_slot(&mut self, seq: u64) -> u32 {
        self.slots.push(seq);
        u32::try_from(self.slots.len() - 1).expect("more than 4 G pending events")
    }

    /// `schedule` for an entry of block `block` outside the wheel's fast path: the block
    /// being handled, a wheel slot that must grow, a far block, or (only after a peek beyond
    /// `now`: a run stopped at a horizon, then resumed) an earlier block.
    #[inline(never)]
    fn schedule_rest(&mut self, block: u64, entry: Entry<E>) {
        if block < self.block {
            self.rebuild(block);
        }
        if block == self.block {
            // The newest seq: after every entry at an earlier or equal time.
            let i = self.current.partition_point(|e| e.time > entry.time);
            if self.current.len() - i <= SHIFT_MAX {
                self.current.insert(i, entry);
            } else {
                self.late.push(entry);
            }
        } else if block < self.block + SLOTS {
            self.place(entry);
        } else {
            // Inlined here, not in `place` (measured: with 100 k in flight nearly every
            // schedule is far, and the second call cost 1.8%; inlined into `place` it made
            // `move_to` dearer, v0.4 +0.4%).
            self.file_far(entry);
        }
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
        let entry = self.current.pop().expect("settled");
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

    /// Whether an event may be pending at `now`; false means every pending event comes later.
    /// Conservative (a cancelled event at `now` counts) and O(1): entries at `now` can only be
    /// at the end of `current` or in `late`. A model uses it while handling an event to know
    /// that something it would schedule at `now` would be the very next event (issue 20:
    /// zero-latency hops handled without an event).
    #[inline]
    pub fn may_have_now(&self) -> bool {
        debug_assert!(
            self.now.0 >> self.shift >= self.block,
            "asked after a peek beyond now"
        );
        !self.late.is_empty() || self.current.last().is_some_and(|e| e.time <= self.now)
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
    fn block_of(&self, e: &Entry<E>) -> u64 {
        // `shift` is at most `WIDEST`: no overflow check needed on this hot path.
        e.time.0.wrapping_shr(self.shift)
    }

    #[inline]
    fn is_live(&self, e: &Entry<E>) -> bool {
        self.slots[e.slot as usize] == e.seq
    }

    /// Makes `block` the one being handled.
    #[inline]
    fn set_block(&mut self, block: u64) {
        self.block = block;
        self.far_base = (block + SLOTS).saturating_mul(1 << self.shift);
    }

    /// Files an entry of a block at or after `block` (unsorted if it is `block` itself).
    #[inline]
    fn place(&mut self, e: Entry<E>) {
        let block = self.block_of(&e);
        if block == self.block {
            self.current.push(e);
        } else if block < self.block + SLOTS {
            let s = (block % SLOTS) as usize;
            if self.wheel[s].capacity() == 0 {
                // A slot not used before. The slot of the block being handled is always
                // empty and holds the previous block's spent buffer: take that over rather
                // than allocate (sparse traffic reaches every slot, one allocation each).
                self.wheel.swap(s, (self.block % SLOTS) as usize);
            }
            self.wheel[s].push(e);
            self.wheel_occupied[s / 64] |= 1 << (s % 64);
        } else {
            self.place_far(e);
        }
    }

    #[inline(never)]
    fn place_far(&mut self, e: Entry<E>) {
        self.file_far(e);
    }

    #[inline(always)]
    fn file_far(&mut self, e: Entry<E>) {
        let diff = e.time.0 ^ self.far_base;
        let i = (u64::BITS - diff.leading_zeros()) as usize;
        self.far[i].push(e);
        self.far_occupied |= 1 << i;
    }

    /// Makes the last entry of `current` the next live event; returns its time.
    #[inline]
    fn settle(&mut self) -> Option<SimTime> {
        match self.current.last() {
            Some(last) if self.is_live(last) && self.late.is_empty() => Some(last.time),
            _ => self.settle_further(),
        }
    }

    /// `settle` while `late` holds entries: drops dead ones met, then moves the top of
    /// `late` to the end of `current` if it comes first. Returns the next time, if the block
    /// holds a live entry.
    #[cold]
    fn settle_late(&mut self) -> Option<SimTime> {
        while let Some(top) = self.late.peek() {
            if self.is_live(top) {
                break;
            }
            self.late.pop();
            self.held -= 1;
            self.dead -= 1;
        }
        while let Some(last) = self.current.last() {
            if self.is_live(last) {
                break;
            }
            self.current.pop();
            self.held -= 1;
            self.dead -= 1;
        }
        let top = self.late.peek()?;
        if self
            .current
            .last()
            .is_none_or(|last| (top.time, top.seq) < (last.time, last.seq))
        {
            let top = self.late.pop().expect("peeked");
            self.current.push(top);
        }
        self.current.last().map(|e| e.time)
    }

    /// `settle` past dead entries and spent blocks (kept out of line so the common case
    /// above stays small).
    #[inline(never)]
    fn settle_further(&mut self) -> Option<SimTime> {
        loop {
            while let Some(last) = self.current.last() {
                if self.is_live(last) {
                    if self.late.is_empty() {
                        return Some(last.time);
                    }
                    break;
                }
                self.current.pop();
                self.held -= 1;
                self.dead -= 1;
            }
            if !self.late.is_empty() {
                match self.settle_late() {
                    Some(t) => return Some(t),
                    // `late` held only dead entries: look at `current` again.
                    None => continue,
                }
            }
            if self.next_seq >= self.next_adapt {
                // Between blocks: `current` and `late` are empty.
                self.adapt();
                continue;
            }
            let next = match self.next_wheel_block() {
                Some(b) => b,
                None => self.first_far_block()?,
            };
            self.move_to(next);
        }
    }

    /// The first block after `block` with a non-empty wheel slot.
    fn next_wheel_block(&self) -> Option<u64> {
        let start = ((self.block + 1) % SLOTS) as usize;
        let (word, bit) = (start / 64, start % 64);
        let mut bits = self.wheel_occupied[word] & (!0 << bit);
        // Scan forward once round the wheel, ending with the first word's lower bits.
        for k in 0..=WORDS {
            let w = (word + k) % WORDS;
            if k == WORDS {
                bits = self.wheel_occupied[w] & !(!0 << bit);
            } else if k > 0 {
                bits = self.wheel_occupied[w];
            }
            if bits != 0 {
                let s = (w * 64 + bits.trailing_zeros() as usize) as u64;
                let ahead = s.wrapping_sub(start as u64) % SLOTS;
                return Some(self.block + 1 + ahead);
            }
        }
        None
    }

    /// The block of the earliest live far entry (the wheel being empty); drops dead ones met.
    fn first_far_block(&mut self) -> Option<u64> {
        while self.far_occupied != 0 {
            let i = self.far_occupied.trailing_zeros() as usize;
            let slots = &self.slots;
            let before = self.far[i].len();
            self.far[i].retain(|e| slots[e.slot as usize] == e.seq);
            let dropped = before - self.far[i].len();
            self.held -= dropped;
            self.dead -= dropped;
            if let Some(min) = self.far[i].iter().map(|e| e.time).min() {
                return Some(min.0 >> self.shift);
            }
            self.far_occupied &= !(1 << i);
        }
        None
    }

    /// Makes `block` (later than the current one, which is spent) current: takes its wheel
    /// slot, brings far entries the wheel's end has passed into the wheel, sorts.
    fn move_to(&mut self, block: u64) {
        debug_assert!(self.current.is_empty() && self.late.is_empty() && block > self.block);
        let old_base = self.far_base;
        self.set_block(block);
        let s = (block % SLOTS) as usize;
        std::mem::swap(&mut self.current, &mut self.wheel[s]);
        self.wheel_occupied[s / 64] &= !(1 << (s % 64));
        // Buckets up to the highest bit where the far base changed no longer match it.
        let diff = old_base ^ self.far_base;
        if diff != 0 && self.far_occupied != 0 {
            let top = (u64::BITS - diff.leading_zeros()) as usize;
            let mut stale = self.far_occupied & ((2 << top) - 1);
            while stale != 0 {
                let i = stale.trailing_zeros() as usize;
                stale &= stale - 1;
                self.far_occupied &= !(1 << i);
                let mut bucket = std::mem::take(&mut self.far[i]);
                for e in bucket.drain(..) {
                    if self.is_live(&e) {
                        self.place(e);
                    } else {
                        self.held -= 1;
                        self.dead -= 1;
                    }
                }
                // Keep a small allocation for reuse; a large one would sit idle.
                if bucket.capacity() <= 1024 && self.far[i].is_empty() {
                    self.far[i] = bucket;
                }
            }
        }
        // Dead entries stay: `settle` drops them as they come up.
        self.current
            .sort_unstable_by_key(|e| Reverse((e.time, e.seq)));
    }

    /// Re-files everything relative to an earlier `block` (rare: see `schedule`).
    fn rebuild(&mut self, block: u64) {
        let mut all: Vec<Entry<E>> = std::mem::take(&mut self.current);
        all.append(&mut std::mem::take(&mut self.late).into_vec());
        for v in self.wheel.iter_mut().chain(self.far.iter_mut()) {
            all.append(v);
        }
        self.wheel_occupied = [0; WORDS];
        self.far_occupied = 0;
        self.set_block(block);
        for e in all {
            self.place(e);
        }
        self.current
            .sort_unstable_by_key(|e| Reverse((e.time, e.seq)));
    }

    /// Sizes blocks to the traffic: about as long as the mean gap between the events scheduled
    /// since the last call, so that a block holds an event or two and the wheel spans ~1,000
    /// gaps, but never narrower than 65.5 µs. 65.5 µs suits ~10 k events/s; at 10 events/s
    /// (the DesCartes harness's retry model: a 1 s timeout, a request every 500 ms) nearly
    /// every event landed beyond a 67 ms wheel, in the far heap, and each pop moved every far
    /// entry. Narrower blocks for dense traffic cost more than they saved (the 100 k
    /// in-flight bench +7% instructions: its 1 s services and 5 s timeouts then fall through
    /// more far buckets). Wider blocks (8-16 gaps) cost fewer instructions (M/M/1 -2.3%,
    /// v0.4 -2.0%) but more time: v0.4 for 1 h ran 2.75 s against 2.36-2.39 s, interleaved,
    /// with 1 MB more peak RSS (probably: its wheel then spans 537 ms, not 67 ms, and holds
    /// most pending events in 1,024 separate buffers). Refiles everything (O(n)) only when the width changes by 4x or
    /// more. Runs between blocks, after `ADAPT_FIRST` events are scheduled, then after twice
    /// as many each time.
    #[cold]
    #[inline(never)]
    fn adapt(&mut self) {
        let (scheduled, since) = self.adapted_at;
        let gap = (self.now.0 - since.0) / (self.next_seq - scheduled);
        let shift = (u64::BITS - gap.leading_zeros()).saturating_sub(1);
        let shift = shift.clamp(NARROWEST, WIDEST);
        if shift.abs_diff(self.shift) >= 2 {
            self.shift = shift;
            self.rebuild(self.now.0 >> shift);
        }
        self.adapted_at = (self.next_seq, self.now);
        self.next_adapt =
            self.next_seq + (self.next_seq - scheduled).saturating_mul(2).min(ADAPT_MAX);
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
        self.late.retain(live);
        for (s, v) in self.wheel.iter_mut().enumerate() {
            v.retain(live);
            if v.is_empty() {
                self.wheel_occupied[s / 64] &= !(1 << (s % 64));
            }
        }
        for (i, v) in self.far.iter_mut().enumerate() {
            v.retain(live);
            if v.is_empty() {
                self.far_occupied &= !(1 << i);
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
    fn may_have_now_sees_every_event_at_now() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(10), 0);
        q.schedule(SimTime(10), 1);
        q.schedule(SimTime(1 << 20), 2);
        assert_eq!(q.pop(), Some((SimTime(10), 0)));
        assert!(q.may_have_now(), "event 1 is at now");
        assert_eq!(q.pop(), Some((SimTime(10), 1)));
        assert!(!q.may_have_now(), "only a later event is left");
        q.schedule(SimTime(10), 3);
        assert!(q.may_have_now());
        assert_eq!(q.pop(), Some((SimTime(10), 3)));
        q.schedule(SimTime(11), 4);
        assert!(!q.may_have_now(), "a later event in the same block");
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

    use rand::RngExt;

    /// Random schedules, cancels, peeks and pops against a reference ordered by
    /// (time, seq): the orders must agree exactly. `delay` draws how far ahead of `now` an
    /// event goes at a step; `burst` how many events one schedule step adds at once. Returns
    /// the block widths (shifts) the queue used.
    fn agrees_with_reference(
        seed: u64,
        steps: usize,
        delay: impl Fn(&mut crate::rng::SimRng, usize) -> u64,
        burst: impl Fn(&mut crate::rng::SimRng, usize) -> usize,
    ) -> std::collections::BTreeSet<u32> {
        use std::collections::BTreeMap;
        let mut rng = crate::rng::stream(seed, "queue-property");
        let mut q = EventQueue::new();
        let mut reference: BTreeMap<(u64, u64), u32> = BTreeMap::new();
        let mut keys: Vec<(EventKey, u64, u64)> = Vec::new();
        let mut next = 0u32;
        let mut shifts = std::collections::BTreeSet::new();
        for step in 0..steps {
            shifts.insert(q.shift);
            let now = q.now().0;
            match rng.random_range(0..10) {
                0..=4 => {
                    for _ in 0..burst(&mut rng, reference.len()) {
                        let at = now + delay(&mut rng, step);
                        let key = q.schedule(SimTime(at), next);
                        reference.insert((at, q.scheduled() - 1), next);
                        keys.push((key, at, q.scheduled() - 1));
                        next += 1;
                    }
                }
                5 | 6 if !keys.is_empty() => {
                    let (key, t, seq) = keys.swap_remove(rng.random_range(0..keys.len()));
                    assert_eq!(q.cancel(key), reference.remove(&(t, seq)).is_some());
                }
                7 => {
                    let expected = reference.keys().next().map(|&(t, _)| SimTime(t));
                    assert_eq!(q.peek_time(), expected, "seed {seed}");
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
        assert_eq!(rest, expected, "seed {seed}");
        shifts
    }

    #[test]
    fn agrees_with_a_reference_ordering() {
        for seed in 0..20 {
            // Ties, the current block, the wheel (up to 2^26 ns), and far.
            let delay = |rng: &mut crate::rng::SimRng, _| match rng.random_range(0..7) {
                0 => 0,
                1 => rng.random_range(0..4),
                2 => rng.random_range(0..1_000),
                3 => rng.random_range(0..1u64 << 20),
                4 => rng.random_range(0..1u64 << 26),
                5 => rng.random_range(0..1u64 << 31),
                _ => rng.random_range(0..1u64 << 40),
            };
            agrees_with_reference(seed, 20_000, delay, |_, _| 1);
        }
    }

    /// Storms: bursts of up to thousands of events at `now` or a few ns after it (one wheel
    /// block), with pops, cancels and more schedules in between, as a closed loop with
    /// constant times or a hedge delay of nanoseconds makes them.
    #[test]
    fn agrees_with_a_reference_ordering_in_same_instant_storms() {
        for seed in 100..110 {
            let delay = |rng: &mut crate::rng::SimRng, _| match rng.random_range(0..8) {
                0..=3 => 0,
                4 | 5 => rng.random_range(0..4),
                6 => rng.random_range(0..1u64 << 16),
                _ => rng.random_range(0..1u64 << 22),
            };
            let burst = |rng: &mut crate::rng::SimRng, pending: usize| {
                if pending < 8_000 && rng.random_range(0..20) == 0 {
                    rng.random_range(1..5_000)
                } else {
                    1
                }
            };
            agrees_with_reference(seed, 40_000, delay, burst);
        }
    }

    /// Traffic that turns sparse, dense and sparse again (gaps of ~1 s, ~1 µs, ~100 ms):
    /// the queue re-sizes its blocks (refiling every entry) in between, and the order must
    /// not change.
    #[test]
    fn agrees_with_a_reference_ordering_while_blocks_resize() {
        for seed in 200..210 {
            let delay = |rng: &mut crate::rng::SimRng, step: usize| {
                let scale: u64 = match step / 15_000 {
                    0 => 1 << 30,
                    1 => 1 << 10,
                    _ => 1 << 27,
                };
                match rng.random_range(0..6) {
                    0 => 0,
                    1 => rng.random_range(0..scale),
                    2 => rng.random_range(0..2 * scale),
                    3 => rng.random_range(0..1 << 20) * scale,
                    _ => rng.random_range(0..16 * scale),
                }
            };
            let shifts = agrees_with_reference(seed, 45_000, delay, |_, _| 1);
            assert!(shifts.len() >= 3, "seed {seed}: block widths {shifts:?}");
        }
    }

    /// 10,000 events at one instant come out in insertion order, also while each pop
    /// schedules another at the same instant (a closed loop with zero delays).
    #[test]
    fn thousands_of_ties_keep_insertion_order() {
        let mut q = EventQueue::new();
        let t = SimTime(123_456_789);
        for e in 0..10_000u32 {
            q.schedule(t, e);
        }
        let mut fired = Vec::new();
        while let Some((at, e)) = q.pop() {
            assert_eq!(at, t);
            fired.push(e);
            if e < 20_000 {
                q.schedule(t, e + 10_000);
            }
        }
        assert_eq!(fired, (0..30_000).collect::<Vec<_>>());
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

    /// The same after a peek that moved past wheel and far boundaries.
    #[test]
    fn scheduling_far_before_a_peeked_event_keeps_order() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(10_000_000_000), 1);
        q.schedule(SimTime(20_000_000_000), 2);
        assert_eq!(q.peek_time(), Some(SimTime(10_000_000_000)));
        q.schedule(SimTime(1_000_000), 3);
        q.schedule(SimTime(300_000_000), 4);
        q.schedule(SimTime(10_000_000_000), 5);
        assert_eq!(
            drain(&mut q),
            [
                (1_000_000, 3),
                (300_000_000, 4),
                (10_000_000_000, 1),
                (10_000_000_000, 5),
                (20_000_000_000, 2)
            ]
        );
    }

    /// Times at the very end of virtual time (saturated "never" timers) sort like any other.
    #[test]
    fn the_end_of_time_keeps_order() {
        let mut q = EventQueue::new();
        let end = u64::MAX;
        for (t, e) in [(end, 0), (end - 1, 1), (1 << 63, 2), (end, 3), (5, 4)] {
            q.schedule(SimTime(t), e);
        }
        assert_eq!(q.pop(), Some((SimTime(5), 4)));
        assert_eq!(q.pop(), Some((SimTime(1 << 63), 2)));
        q.schedule(SimTime(end - (1 << 20)), 5);
        assert_eq!(
            drain(&mut q),
            [(end - (1 << 20), 5), (end - 1, 1), (end, 0), (end, 3)]
        );
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
