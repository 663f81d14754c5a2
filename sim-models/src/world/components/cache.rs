//! The `Cache` component kind: a look-aside cache in front of a service, following Redis
//! used as a cache (`maxmemory-policy allkeys-lru`, keys set with an expiry) by an
//! application that reads the cache first and, on a miss, reads the backend and writes the
//! value back. Callers call it like a service (`Call(to: "redis")`), so every caller-side
//! policy (timeouts, retries, breakers, hedges) works in front of it; the cache itself
//! makes the backend call on a miss, through an ordinary call site built from its `policy`
//! (a read-through cache: the same traffic as look-aside, with the fetch drawn inside the
//! cache instead of in each caller).
//!
//! A lookup arrives, takes `lookup_time` (no queue: any number at once), then draws its key
//! from its own stream `cache/NAME/keys` (Zipf over `K` keys, the independent reference
//! model) and finds it held and unexpired (a hit: answered Ok) or not (a miss: fetched from
//! the backend; on success the key is filled, evicting the least recently used key at
//! capacity, and expires `ttl` after the fill; a hit does not extend it, as Redis `GET`
//! does not). A failed or degraded fetch answers the waiting lookups with the same outcome
//! and fills nothing (no negative caching, the default of cache-aside code: the next lookup
//! tries again). With `HitRatio(p)` a lookup hits with probability p and there is no state.
//!
//! `single_flight`: a miss on a key already being fetched waits for that fetch (Go's
//! `singleflight`, request coalescing): an application pattern, not a Redis feature.
//!
//! Where it differs from Redis: exact LRU (Redis samples `maxmemory-samples` keys and evicts
//! the oldest of them, an approximation of LRU); capacity counts keys, not bytes (no
//! per-key sizes); expiry is lazy only, checked when a key is looked up (Redis also expires
//! keys actively, sampling keys with a TTL ten times a second): an expired key not looked
//! up again holds its place until evicted, which matters only with both a TTL and a
//! capacity. A `Flush` fault empties it at its start (FLUSHALL); a `Crash` loses the
//! lookups and fetches in progress and it comes back empty (a restart without
//! persistence: a cold start). Lookups carry no deadline to the backend: one fetch may
//! serve many lookups.

mod store;

use std::collections::BTreeMap;

use rand::RngExt;
use rand_distr::{Distribution, Zipf};
use sim_core::dist::Sampler;
use sim_core::queue::EventQueue;
use sim_core::rng::{self, SimRng};

use super::super::effects::EffectKind;
use super::super::{AttemptKey, CallKey, Event, Failure, Outcome, Parent, Phase, World};
use crate::result::{CacheResult, CacheSeries};
use crate::scenario::{self, CacheKeys, CrashMode};
use store::{Lookup, Store};

/// Keys a cache may have: keys are numbered in 32 bits, one value kept as a marker.
pub const MAX_KEYS: u64 = u32::MAX as u64 - 1;

/// The cache's own events.
#[derive(Clone, Copy, Debug)]
pub enum CacheEvent {
    /// A lookup's `lookup_time` is over: the key is looked up.
    Looked(AttemptKey),
}

enum Keys {
    Zipf {
        popularity: Zipf<f64>,
        last: u32,
        store: Store,
    },
    HitRatio(f64),
}

/// A backend fetch in flight and the lookups waiting for it.
struct Fetch {
    live: bool,
    key: u32,
    call: Option<CallKey>,
    waiters: Vec<AttemptKey>,
}

/// Counts from the end of the warm-up on, and per window (`window`, the whole run).
#[derive(Default)]
pub(crate) struct CacheStats {
    lookups: u64,
    hits: u64,
    misses: u64,
    fetches: u64,
    failed_fetches: u64,
    coalesced: u64,
    evictions: u64,
    expirations: u64,
    flushes: u64,
    unavailable: u64,
    window: CacheWindow,
}

#[derive(Default)]
struct CacheWindow {
    lookups: u64,
    hits: u64,
    fetches: u64,
    coalesced: u64,
}

pub(crate) struct CacheState {
    pub name: String,
    keys: Keys,
    lookup_time: Sampler,
    /// The call site of its backend fetches.
    edge: u32,
    single_flight: bool,
    fetches: Vec<Fetch>,
    free: Vec<u32>,
    /// With `single_flight`: the fetch in flight for each key being fetched.
    fetching: BTreeMap<u32, u32>,
    /// Lookups here now (waiting for `lookup_time` or for a fetch); each attempt's
    /// `active_idx` is its place.
    present: Vec<AttemptKey>,
    pub(crate) down: Option<CrashMode>,
    key_rng: SimRng,
    time_rng: SimRng,
    stats: CacheStats,
}

impl CacheState {
    /// Cache `spec`, fetching through call site `edge`.
    pub(crate) fn new(spec: &scenario::Cache, seed: u64, edge: u32) -> CacheState {
        let keys = match spec.keys {
            CacheKeys::Zipf { keys, exponent } => Keys::Zipf {
                popularity: Zipf::new(keys as f64, exponent).expect("validated Zipf keys"),
                last: keys as u32 - 1,
                store: Store::new(keys as u32, spec.capacity, spec.ttl),
            },
            CacheKeys::HitRatio(p) => Keys::HitRatio(p),
        };
        CacheState {
            name: spec.name.clone(),
            keys,
            lookup_time: spec.lookup_time.compile().expect("validated lookup time"),
            edge,
            single_flight: spec.single_flight,
            fetches: Vec::new(),
            free: Vec::new(),
            fetching: BTreeMap::new(),
            present: Vec::new(),
            down: None,
            key_rng: rng::stream(seed, &format!("cache/{}/keys", spec.name)),
            time_rng: rng::stream(seed, &format!("cache/{}/lookup_time", spec.name)),
            stats: CacheStats::default(),
        }
    }

    /// Lookups here now: what balancers weigh.
    pub(crate) fn present(&self) -> u64 {
        self.present.len() as u64
    }

    /// Empties it: every key misses until filled again.
    fn clear(&mut self) {
        if let Keys::Zipf { store, .. } = &mut self.keys {
            store.clear();
        }
    }

    /// The result of a finished run.
    pub(crate) fn result(&self) -> CacheResult {
        let st = &self.stats;
        CacheResult {
            name: self.name.clone(),
            lookups: st.lookups,
            hits: st.hits,
            misses: st.misses,
            hit_ratio: if st.lookups > 0 {
                st.hits as f64 / st.lookups as f64
            } else {
                0.0
            },
            backend_fetches: st.fetches,
            failed_fetches: st.failed_fetches,
            coalesced: st.coalesced,
            evictions: st.evictions,
            expirations: st.expirations,
            flushes: st.flushes,
            unavailable: st.unavailable,
            keys_held_at_end: match &self.keys {
                Keys::Zipf { store, .. } => store.len(),
                Keys::HitRatio(_) => 0,
            },
        }
    }

    /// Closes a window of the series (`secs` its width).
    pub(crate) fn close_window(&mut self, out: &mut CacheSeries, secs: f64) {
        let w = std::mem::take(&mut self.stats.window);
        out.lookups.push(w.lookups);
        out.hits.push(w.hits);
        out.hit_ratio.push(if w.lookups > 0 {
            w.hits as f64 / w.lookups as f64
        } else {
            0.0
        });
        out.backend_fetches.push(w.fetches);
        out.backend_rps.push(w.fetches as f64 / secs);
        out.coalesced.push(w.coalesced);
    }
}

impl World {
    /// A lookup arrives at cache `att.local`.
    pub(in crate::world) fn on_cache_arrives(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let now = q.now();
        let Some(counted) = self.arrive(a, now) else {
            return;
        };
        let att = &mut self.attempts[a];
        let cache = &mut self.caches[att.local as usize];
        if let Some(mode) = cache.down {
            cache.stats.unavailable += u64::from(counted);
            match mode {
                CrashMode::Refuse => self.reply(a, Outcome::Failed(Failure::Error), q),
                CrashMode::BlackHole => {
                    self.remove_attempt(a);
                }
            }
            return;
        }
        att.active_idx = cache.present.len() as u32;
        cache.present.push(a);
        let wait = cache.lookup_time.sample_duration(&mut cache.time_rng);
        if wait.is_zero() {
            return self.cache_lookup(a, q);
        }
        att.phase = Phase::Working;
        att.done_key = Some(q.schedule(now + wait, Event::Cache(CacheEvent::Looked(a))));
    }

    pub(in crate::world) fn on_cache_event(&mut self, e: CacheEvent, q: &mut EventQueue<Event>) {
        match e {
            CacheEvent::Looked(a) => {
                self.attempts[a].done_key = None;
                self.cache_lookup(a, q);
            }
        }
    }

    /// Looks up the key of lookup `a`: a hit is answered, a miss waits for a fetch.
    fn cache_lookup(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let now = q.now();
        let att = &mut self.attempts[a];
        let (instance, counted, request_id) = (att.target, att.counted, att.request_id);
        att.phase = Phase::Calling;
        let cache = &mut self.caches[att.local as usize];
        let st = &mut cache.stats;
        st.lookups += u64::from(counted);
        st.window.lookups += 1;
        let (hit, key) = match &mut cache.keys {
            Keys::HitRatio(p) => (cache.key_rng.random::<f64>() < *p, 0),
            Keys::Zipf {
                popularity,
                last,
                store,
            } => {
                // Zipf draws 1..=K (kept in range should rounding ever say K + 1).
                let key = (popularity.sample(&mut cache.key_rng) as u32)
                    .saturating_sub(1)
                    .min(*last);
                match store.lookup(key, now) {
                    Lookup::Hit => (true, key),
                    Lookup::Miss => (false, key),
                    Lookup::Expired => {
                        st.expirations += u64::from(now >= self.warmup);
                        (false, key)
                    }
                }
            }
        };
        if hit {
            st.hits += u64::from(counted);
            st.window.hits += 1;
            return self.cache_answer(a, Outcome::Ok, q);
        }
        st.misses += u64::from(counted);
        if cache.single_flight
            && let Some(&token) = cache.fetching.get(&key)
        {
            st.coalesced += u64::from(counted);
            st.window.coalesced += 1;
            cache.fetches[token as usize].waiters.push(a);
            return;
        }
        st.fetches += u64::from(now >= self.warmup);
        st.window.fetches += 1;
        let fetch = Fetch {
            live: true,
            key,
            call: None,
            waiters: vec![a],
        };
        let token = match cache.free.pop() {
            Some(t) => {
                cache.fetches[t as usize] = fetch;
                t
            }
            None => {
                cache.fetches.push(fetch);
                (cache.fetches.len() - 1) as u32
            }
        };
        if cache.single_flight {
            cache.fetching.insert(key, token);
        }
        let (c, edge) = (self.attempts[a].local as usize, cache.edge);
        let parent = Parent::Component { instance, token };
        let call = self.call(edge, parent, request_id, None, q);
        // Unless it is over already (refused at once by a breaker, say).
        let f = &mut self.caches[c].fetches[token as usize];
        if f.live && f.call.is_none() {
            f.call = Some(call);
        }
    }

    /// Fetch `token` of cache `c` is over: fill on success, answer every lookup waiting.
    pub(in crate::world) fn cache_fetch_done(
        &mut self,
        c: usize,
        token: u32,
        outcome: Outcome,
        q: &mut EventQueue<Event>,
    ) {
        let now = q.now();
        let counted = now >= self.warmup;
        let cache = &mut self.caches[c];
        let f = &mut cache.fetches[token as usize];
        if !f.live {
            return;
        }
        f.live = false;
        f.call = None;
        let key = f.key;
        let waiters = std::mem::take(&mut f.waiters);
        cache.free.push(token);
        if cache.single_flight {
            cache.fetching.remove(&key);
        }
        match outcome {
            Outcome::Ok => {
                if let Keys::Zipf { store, .. } = &mut cache.keys
                    && store.fill(key, now)
                {
                    cache.stats.evictions += u64::from(counted);
                }
            }
            Outcome::Degraded => {}
            Outcome::Failed(_) => cache.stats.failed_fetches += u64::from(counted),
        }
        for w in waiters {
            if self.attempts.contains_key(w) {
                self.cache_answer(w, outcome, q);
            }
        }
    }

    /// Cache lookup `a` leaves with `outcome`.
    fn cache_answer(&mut self, a: AttemptKey, outcome: Outcome, q: &mut EventQueue<Event>) {
        let att = &self.attempts[a];
        let cache = &mut self.caches[att.local as usize];
        let idx = att.active_idx as usize;
        cache.present.swap_remove(idx);
        if let Some(&moved) = cache.present.get(idx) {
            self.attempts[moved].active_idx = idx as u32;
        }
        self.reply(a, outcome, q);
    }

    /// Recomputes cache `c` (instance `i`) from the effects active on it; `flush`: a Flush
    /// effect starts now.
    pub(in crate::world) fn refresh_cache(
        &mut self,
        c: usize,
        i: u32,
        flush: bool,
        q: &mut EventQueue<Event>,
    ) {
        let down = self.active_effects().find_map(|def| match def.kind {
            EffectKind::Crash { instance, mode } if instance == i => Some(mode),
            _ => None,
        });
        let cache = &mut self.caches[c];
        if flush {
            cache.clear();
            cache.stats.flushes += 1;
        }
        let crashing = cache.down.is_none() && down.is_some();
        cache.down = down;
        if crashing {
            self.cache_crash(c, q);
        }
    }

    /// Cache `c` goes down: it loses its keys, its fetches in flight and its lookups (each
    /// answered with an error in `Refuse` mode, dropped in `BlackHole` mode).
    fn cache_crash(&mut self, c: usize, q: &mut EventQueue<Event>) {
        let now = q.now();
        let cache = &mut self.caches[c];
        cache.clear();
        cache.fetching.clear();
        let reset = cache.down == Some(CrashMode::Refuse);
        let mut calls = Vec::new();
        for (t, f) in cache.fetches.iter_mut().enumerate() {
            if f.live {
                f.live = false;
                f.waiters.clear();
                calls.extend(f.call.take());
                cache.free.push(t as u32);
            }
        }
        let present = std::mem::take(&mut cache.present);
        for call in calls {
            self.abandon_call(call, now, q);
        }
        for a in present {
            if let Some(k) = self.attempts[a].done_key.take() {
                q.cancel(k);
            }
            let counted = self.attempts[a].counted;
            self.caches[c].stats.unavailable += u64::from(counted);
            if reset {
                self.reply(a, Outcome::Failed(Failure::Error), q);
            } else {
                self.remove_attempt(a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rand_distr's Zipf draws key k with probability proportional to k^-s: check the
    /// frequencies of the first keys against the formula (the tests' analytical hit ratios
    /// rest on it).
    #[test]
    fn zipf_draws_follow_the_power_law() {
        let (n, s) = (1000u32, 0.9);
        let z = Zipf::new(f64::from(n), s).unwrap();
        let mut rng = rng::stream(7, "zipf-test");
        let draws = 2_000_000;
        let mut count = [0u64; 5];
        for _ in 0..draws {
            let k = z.sample(&mut rng) as usize;
            if k <= 5 {
                count[k - 1] += 1;
            }
        }
        let h: f64 = (1..=n).map(|k| f64::from(k).powf(-s)).sum();
        for (k, &c) in count.iter().enumerate() {
            let p = ((k + 1) as f64).powf(-s) / h;
            let got = c as f64 / f64::from(draws);
            assert!(
                (got - p).abs() < 4.0 * (p / f64::from(draws)).sqrt() + 1e-4,
                "key {}: {got} vs {p}",
                k + 1
            );
        }
    }
}
