//! The keys a cache holds: presence, expiry and least-recently-used order, in one row per
//! key of a table indexed by key (keys are `0..K`), so every operation is O(1) and nothing
//! iterates a hash map. The LRU order is a doubly linked list threaded through the rows;
//! a flush empties the cache in O(1) by starting a new generation (a row counts as held
//! only if it carries the current one).

use sim_core::{SimDuration, SimTime};

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Row {
    /// Neighbours in LRU order: `prev` towards the most recent.
    prev: u32,
    next: u32,
    /// When the key expires (`SimTime::MAX` without a TTL).
    expires: SimTime,
    /// Held iff equal to the store's generation.
    generation: u32,
}

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    Hit,
    Miss,
    /// Held but expired: removed now (lazy expiry), and a miss.
    Expired,
}

pub(crate) struct Store {
    rows: Vec<Row>,
    /// Most and least recently used held keys.
    head: u32,
    tail: u32,
    len: u64,
    /// Keys held at most (`u64::MAX`: no bound, the order is not kept).
    capacity: u64,
    ttl: Option<SimDuration>,
    generation: u32,
}

impl Store {
    /// An empty store for keys `0..keys`.
    pub(crate) fn new(keys: u32, capacity: Option<u64>, ttl: Option<SimDuration>) -> Store {
        Store {
            rows: vec![
                Row {
                    prev: NIL,
                    next: NIL,
                    expires: SimTime::MAX,
                    generation: 0,
                };
                keys as usize
            ],
            head: NIL,
            tail: NIL,
            len: 0,
            // A bound at or above the key count never evicts: no order to keep.
            capacity: capacity
                .filter(|&c| c < u64::from(keys))
                .unwrap_or(u64::MAX),
            ttl,
            // Rows start at generation 0: nothing is held.
            generation: 1,
        }
    }

    fn bounded(&self) -> bool {
        self.capacity != u64::MAX
    }

    /// Keys held now (expired ones included until looked up or evicted).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn lookup(&mut self, key: u32, now: SimTime) -> Lookup {
        let row = self.rows[key as usize];
        if row.generation != self.generation {
            return Lookup::Miss;
        }
        if now >= row.expires {
            self.remove(key);
            return Lookup::Expired;
        }
        if self.bounded() && self.head != key {
            self.unlink(key);
            self.push_front(key);
        }
        Lookup::Hit
    }

    /// Stores `key` (fetched now), expiring a TTL from now; returns whether a key was
    /// evicted to make room.
    pub(crate) fn fill(&mut self, key: u32, now: SimTime) -> bool {
        let expires = self.ttl.map_or(SimTime::MAX, |t| now.saturating_add(t));
        let held = self.rows[key as usize].generation == self.generation;
        self.rows[key as usize].expires = expires;
        if held {
            // Filled again (two fetches raced): fresher, and most recent.
            if self.bounded() && self.head != key {
                self.unlink(key);
                self.push_front(key);
            }
            return false;
        }
        let evicted = self.len >= self.capacity;
        if evicted {
            let last = self.tail;
            self.remove(last);
        }
        self.rows[key as usize].generation = self.generation;
        self.len += 1;
        if self.bounded() {
            self.push_front(key);
        }
        evicted
    }

    /// Forgets every key (a flush or a restart).
    pub(crate) fn clear(&mut self) {
        self.generation += 1;
        self.head = NIL;
        self.tail = NIL;
        self.len = 0;
    }

    fn remove(&mut self, key: u32) {
        if self.bounded() {
            self.unlink(key);
        }
        self.rows[key as usize].generation = 0;
        self.len -= 1;
    }

    fn unlink(&mut self, key: u32) {
        let Row { prev, next, .. } = self.rows[key as usize];
        match prev {
            NIL => self.head = next,
            p => self.rows[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.rows[n as usize].prev = prev,
        }
    }

    fn push_front(&mut self, key: u32) {
        let old = self.head;
        let row = &mut self.rows[key as usize];
        row.prev = NIL;
        row.next = old;
        match old {
            NIL => self.tail = key,
            o => self.rows[o as usize].prev = key,
        }
        self.head = key;
    }

    /// Held keys from most to least recently used (tests).
    #[cfg(test)]
    fn order(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut k = self.head;
        while k != NIL {
            out.push(k);
            k = self.rows[k as usize].next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SimTime {
        SimTime::ZERO.saturating_add(SimDuration::from_secs(s))
    }

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut st = Store::new(10, Some(3), None);
        for k in [1, 2, 3] {
            assert_eq!(st.lookup(k, t(0)), Lookup::Miss);
            assert!(!st.fill(k, t(0)));
        }
        assert_eq!(st.order(), vec![3, 2, 1]);
        // A hit makes 1 the most recent: 2 is now the least.
        assert_eq!(st.lookup(1, t(1)), Lookup::Hit);
        assert_eq!(st.order(), vec![1, 3, 2]);
        assert!(st.fill(4, t(2)));
        assert_eq!(st.order(), vec![4, 1, 3]);
        assert_eq!(st.lookup(2, t(3)), Lookup::Miss);
        assert_eq!(st.len(), 3);
        // Filling a held key evicts nothing and moves it to the front.
        assert!(!st.fill(3, t(4)));
        assert_eq!(st.order(), vec![3, 4, 1]);
    }

    #[test]
    fn ttl_expires_lazily_and_a_hit_does_not_extend_it() {
        let mut st = Store::new(5, None, Some(SimDuration::from_secs(10)));
        st.fill(2, t(0));
        assert_eq!(st.lookup(2, t(9)), Lookup::Hit);
        assert_eq!(st.len(), 1);
        assert_eq!(st.lookup(2, t(10)), Lookup::Expired);
        assert_eq!(st.len(), 0);
        assert_eq!(st.lookup(2, t(11)), Lookup::Miss);
    }

    #[test]
    fn ttl_and_lru_together_keep_the_list_consistent() {
        let mut st = Store::new(8, Some(2), Some(SimDuration::from_secs(5)));
        st.fill(0, t(0));
        st.fill(1, t(1));
        assert_eq!(st.lookup(0, t(6)), Lookup::Expired);
        assert_eq!(st.order(), vec![1]);
        assert!(!st.fill(2, t(6)));
        assert_eq!(st.order(), vec![2, 1]);
        assert!(st.fill(3, t(6)));
        assert_eq!(st.order(), vec![3, 2]);
    }

    #[test]
    fn clear_empties_in_one_step_and_the_store_refills() {
        let mut st = Store::new(4, Some(2), None);
        st.fill(0, t(0));
        st.fill(1, t(0));
        st.clear();
        assert_eq!(st.len(), 0);
        assert_eq!(st.order(), Vec::<u32>::new());
        for k in 0..4 {
            assert_eq!(st.lookup(k, t(1)), Lookup::Miss);
        }
        st.fill(1, t(1));
        st.fill(2, t(1));
        assert!(st.fill(3, t(1)));
        assert_eq!(st.order(), vec![3, 2]);
    }

    #[test]
    fn a_bound_at_or_above_the_key_count_never_evicts() {
        let mut st = Store::new(3, Some(3), None);
        for k in 0..3 {
            assert!(!st.fill(k, t(0)));
        }
        assert_eq!(st.len(), 3);
        for k in 0..3 {
            assert_eq!(st.lookup(k, t(1)), Lookup::Hit);
        }
    }
}
