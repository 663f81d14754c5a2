//! Side effects and idempotency keys.
//!
//! An operation is identified by (logical request id, call site): every attempt of the same
//! call, and every retry of the whole request by a caller further up, carries the same key.
//! - The **ledger** is the ground truth for `duplicate_side_effects`: a side-effect endpoint
//!   completing its work for a key it already completed is a duplicate. Keys are remembered
//!   for [`LEDGER_TTL`], so duplicates further apart than that are not counted.
//! - A service with **idempotency keys** keeps a record per key: a repeat of a completed
//!   operation is answered from the record without doing the work; a repeat of one still in
//!   progress is refused as a conflict (409, retryable), as Stripe-style idempotency keys do.
//!   Records of completed operations expire after the service's TTL.

mod expiries;

use std::collections::VecDeque;

use sim_core::{SimDuration, SimTime};

use expiries::{Expiries, grow_gently};

/// How long the ledger remembers an operation.
pub(crate) const LEDGER_TTL: SimDuration = SimDuration::from_secs(600);

/// (logical request id, call site).
pub(crate) type OpKey = (u64, u32);

/// Completed operations, expiring in the order they were completed.
///
/// `done` is sorted by key: request ids grow with time, so a new key usually lands at or
/// near the back and an expiring one near the front, which keeps inserts and removals
/// short shifts instead of tree rebalancing. Each key counts its completions still in
/// `expiry` and goes when the last of them expires (16 bytes a key, where the key and its
/// latest expiry took 24); `expiry` keeps 8 bytes a completion (see [`Expiries`]).
#[derive(Default)]
pub(crate) struct Ledger {
    done: VecDeque<Done>,
    expiry: Expiries,
}

#[derive(Clone, Copy)]
struct Done {
    id: u64,
    site: u32,
    /// Completions of this key in `expiry` (at least 1).
    pending: u32,
}

impl Done {
    fn key(&self) -> OpKey {
        (self.id, self.site)
    }
}

impl Ledger {
    /// Records that `key` completed at `now`; returns whether it had completed before.
    pub fn complete(&mut self, key: OpKey, now: SimTime, ttl: SimDuration) -> bool {
        self.expire(now);
        let expires = now.saturating_add(ttl);
        match find(&self.done, key, Done::key) {
            Ok(i) => {
                let d = &mut self.done[i];
                // Past 4 billion completions of one key within its TTL (a model gone
                // wrong), further ones do not extend it: the counts stay consistent.
                if let Some(n) = d.pending.checked_add(1) {
                    d.pending = n;
                    self.expiry.push(expires, key);
                }
                true
            }
            Err(i) => {
                let (id, site) = key;
                let pending = 1;
                grow_gently(&mut self.done);
                self.done.insert(i, Done { id, site, pending });
                self.expiry.push(expires, key);
                false
            }
        }
    }

    pub fn contains(&mut self, key: OpKey, now: SimTime) -> bool {
        self.expire(now);
        find(&self.done, key, Done::key).is_ok()
    }

    fn expire(&mut self, now: SimTime) {
        while let Some(key) = self.expiry.pop_due(now) {
            // A key completed again later stays until that completion expires.
            // Old keys sit near the front: a plain bisection finds them sooner.
            if let Ok(i) = bisect(&self.done, key, 0, self.done.len(), Done::key) {
                self.done[i].pending -= 1;
                if self.done[i].pending == 0 {
                    self.done.remove(i);
                }
            }
        }
    }
}

/// Where `key` is in `items` (sorted by `key_of`), or where it would go. A new key is
/// usually among the last few, so the range is narrowed from the back in doubling steps
/// before bisecting it.
fn find<T>(items: &VecDeque<T>, key: OpKey, key_of: impl Fn(&T) -> OpKey) -> Result<usize, usize> {
    let (mut lo, mut hi, mut step) = (0, items.len(), 1);
    while step <= hi {
        let i = hi - step;
        if key_of(&items[i]) < key {
            lo = i + 1;
            break;
        }
        hi = i;
        step *= 2;
    }
    bisect(items, key, lo, hi, key_of)
}

/// Where `key` is in `items[lo..hi]`, or where it would go, given it belongs there.
fn bisect<T>(
    items: &VecDeque<T>,
    key: OpKey,
    mut lo: usize,
    mut hi: usize,
    key_of: impl Fn(&T) -> OpKey,
) -> Result<usize, usize> {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if key_of(&items[mid]) < key {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    match items.get(lo) {
        Some(item) if key_of(item) == key => Ok(lo),
        _ => Err(lo),
    }
}

/// A service's idempotency records.
pub(crate) struct IdempotencyStore {
    pub ttl: SimDuration,
    /// Sorted, like the ledger's keys (operations start roughly in request order).
    in_progress: VecDeque<OpKey>,
    completed: Ledger,
}

/// What the store says about an arriving attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    New,
    InProgress,
    Completed,
}

impl IdempotencyStore {
    pub fn new(ttl: SimDuration) -> Self {
        IdempotencyStore {
            ttl,
            in_progress: VecDeque::new(),
            completed: Ledger::default(),
        }
    }

    /// What the store knows of `key`.
    pub fn lookup(&mut self, key: OpKey, now: SimTime) -> Seen {
        if self.completed.contains(key, now) {
            Seen::Completed
        } else if find(&self.in_progress, key, |&k| k).is_ok() {
            Seen::InProgress
        } else {
            Seen::New
        }
    }

    /// The operation `key` was admitted and is now in progress.
    pub fn begin(&mut self, key: OpKey) {
        if let Err(i) = find(&self.in_progress, key, |&k| k) {
            self.in_progress.insert(i, key);
        }
    }

    /// The operation `key` is over: remembered if it succeeded, forgotten if it failed (so a
    /// retry may try again). Only the first end counts: a side effect ends its operation when
    /// it commits, and the attempt's answer later must not restart the record's TTL.
    pub fn end(&mut self, key: OpKey, now: SimTime, succeeded: bool) {
        let Ok(i) = find(&self.in_progress, key, |&k| k) else {
            return;
        };
        self.in_progress.remove(i);
        if succeeded {
            self.completed.complete(key, now, self.ttl);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SimTime {
        SimTime(s * 1_000_000_000)
    }

    #[test]
    fn ledger_counts_repeats_within_its_ttl_only() {
        let mut l = Ledger::default();
        let ttl = SimDuration::from_secs(10);
        assert!(!l.complete((1, 0), t(0), ttl));
        assert!(l.complete((1, 0), t(5), ttl), "repeat within the TTL");
        assert!(!l.complete((2, 0), t(6), ttl), "another request");
        assert!(!l.complete((1, 1), t(6), ttl), "another call site");
        // (1, 0) was last completed at 5 s: remembered until 15 s.
        assert!(l.contains((1, 0), t(14)));
        assert!(!l.contains((1, 0), t(15)));
        assert!(!l.complete((1, 0), t(30), ttl), "forgotten after the TTL");
    }

    #[test]
    fn ledger_agrees_with_a_map_on_shuffled_keys() {
        use rand::RngExt;
        use std::collections::BTreeMap;
        // The reference: the ledger as a map from key to expiry, expired lazily.
        let mut reference: BTreeMap<OpKey, SimTime> = BTreeMap::new();
        let mut l = Ledger::default();
        let mut rng = sim_core::rng::stream(7, "ledger");
        let ttl = SimDuration::from_secs(5);
        for step in 0..20_000u64 {
            let now = SimTime(step * 1_000_000);
            // Mostly recent requests, some old ones, a few call sites.
            let id = (step / 4)
                .saturating_sub(rng.random_range(0..if step % 7 == 0 { 2000 } else { 20 }));
            let key = (id, rng.random_range(0..3));
            reference.retain(|_, &mut at| at > now);
            if rng.random::<f64>() < 0.3 {
                assert_eq!(
                    l.contains(key, now),
                    reference.contains_key(&key),
                    "step {step}"
                );
            } else {
                let expected = reference.insert(key, now.saturating_add(ttl)).is_some();
                assert_eq!(l.complete(key, now, ttl), expected, "step {step}");
            }
        }
    }

    #[test]
    fn store_agrees_with_a_set_on_shuffled_keys() {
        use rand::RngExt;
        use std::collections::BTreeSet;
        let mut in_progress: BTreeSet<OpKey> = BTreeSet::new();
        let mut s = IdempotencyStore::new(SimDuration::from_secs(3600));
        let mut rng = sim_core::rng::stream(11, "store");
        for step in 0..20_000u64 {
            let now = SimTime(step);
            let key = ((step / 4).saturating_sub(rng.random_range(0..30)), 0);
            let expected = if s.completed.contains(key, now) {
                Seen::Completed
            } else if in_progress.contains(&key) {
                Seen::InProgress
            } else {
                Seen::New
            };
            assert_eq!(s.lookup(key, now), expected, "step {step}");
            if expected == Seen::New && rng.random::<f64>() < 0.5 {
                s.begin(key);
                in_progress.insert(key);
            } else if expected == Seen::InProgress && rng.random::<f64>() < 0.5 {
                let ok = rng.random::<f64>() < 0.5;
                s.end(key, now, ok);
                in_progress.remove(&key);
            }
        }
    }

    #[test]
    fn store_answers_repeats_and_forgets_failures() {
        let mut s = IdempotencyStore::new(SimDuration::from_secs(60));
        assert_eq!(s.lookup((7, 2), t(0)), Seen::New);
        s.begin((7, 2));
        assert_eq!(s.lookup((7, 2), t(1)), Seen::InProgress);
        s.end((7, 2), t(2), false);
        assert_eq!(
            s.lookup((7, 2), t(3)),
            Seen::New,
            "a failed operation may be retried"
        );
        s.begin((7, 2));
        s.end((7, 2), t(4), true);
        assert_eq!(s.lookup((7, 2), t(5)), Seen::Completed);
        assert_eq!(s.lookup((7, 2), t(64)), Seen::New, "record expired");
    }

    #[test]
    fn only_the_first_end_of_an_operation_counts() {
        let mut s = IdempotencyStore::new(SimDuration::from_secs(60));
        s.begin((7, 2));
        s.end((7, 2), t(0), true);
        s.end((7, 2), t(30), true);
        assert_eq!(s.lookup((7, 2), t(59)), Seen::Completed);
        assert_eq!(
            s.lookup((7, 2), t(61)),
            Seen::New,
            "the TTL runs from the first end"
        );
        s.begin((8, 2));
        s.end((8, 2), t(62), true);
        s.end((8, 2), t(63), false);
        assert_eq!(
            s.lookup((8, 2), t(64)),
            Seen::Completed,
            "a committed effect stays"
        );
    }
}
