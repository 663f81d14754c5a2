//! The `TokenAuth` component kind: short-TTL JWTs (RFC 7519) held for a population of
//! users in front of a service, refreshed from an auth service. Callers call it like a
//! service (`Call(to: "gw")`), so every caller-side policy works in front of it; it makes
//! its own calls to the auth service and to its upstream through ordinary call sites
//! (answered via `Parent::Component`), so their policies (timeouts, retries, breakers)
//! apply too.
//!
//! A request arrives and belongs to a user drawn uniformly from its own stream
//! (`token_auth/NAME/users`). The user's token carries an expiry (`exp`): its issue time
//! plus a lifetime of `ttl` shortened by a uniform draw of up to `ttl_jitter` (issuer-side
//! jitter, stream `token_auth/NAME/tokens`).
//! - Expired (now >= `exp`, RFC 7519 4.1.4): the request waits for a refresh, a call to
//!   the auth service's `refresh_endpoint`; one refresh in flight per user, later requests
//!   of the user join it (as the AWS SDK for Go v2's credential cache does with its
//!   singleflight). A failed refresh fails the waiting requests with an error: a server
//!   rejects an expired JWT (401), so there is no stale token to serve them with.
//! - Valid, and past its refresh point with `refresh_ahead`: a background refresh starts
//!   (unless one is in flight) and the request goes on at once with the current token. The
//!   refresh point is a uniform draw in [`from`, `to`] of the token's lifetime, drawn at
//!   issue. This covers the real clients: kubelet rotates projected service-account tokens
//!   once they are older than 80% of their TTL (`from = to = 0.8`); Vault's
//!   `LifetimeWatcher` sleeps 2/3 of the remaining lease plus a third of a grace period
//!   drawn in [0.1, 0.2) of it, i.e. renews at about 0.70 to 0.73 of the lease; the AWS SDK
//!   for Go v2 treats credentials as expired `ExpiryWindow` early, less a random
//!   `ExpiryWindowJitterFrac` of that window (`from = 1 - W / ttl`, `to = 1 - (1 - J) W /
//!   ttl`). A failed background refresh leaves the token as it is: the user's next request
//!   tries again (as the AWS SDK does on its next retrieve).
//! - Then the token is validated: `Local` (the signature checked against cached signing
//!   keys, a JWKS: no call) or `Introspect` (an RFC 7662 introspection call to the auth
//!   service per request; a failed one fails the request with an error), and the request
//!   is forwarded to the upstream; its answer is the request's answer.
//!
//! Tokens issued together expire together: with `initial_tokens: Synchronized` every
//! user's token is issued at the start (a deploy, an auth restart that revoked every
//! token), so one lifetime later every user's next request refreshes: a JWT expiry storm
//! on the auth service, which recurs each lifetime for as long as nothing spreads the
//! herd (the spread of request arrivals after expiry does so only slowly). TTL jitter
//! spreads one generation's expiries over `ttl_jitter` of the TTL; a refresh point drawn
//! over a wide fraction of the lifetime spreads them over that fraction, and each
//! generation adds its own spread, so the storm fades generation after generation
//! (`scenarios/auth.ron` works the numbers).
//!
//! Where it differs from the real systems: refreshes happen on a user's request, not on a
//! timer (Vault's watcher and kubelet use timers; the AWS SDK checks on use): the same
//! for active users, and the token of a user who sends nothing is never refreshed. The
//! tokens held at the start were issued before the run (the login burst of a deploy is
//! not simulated: its echo one lifetime later is the storm studied). An introspection is
//! made by this component on the upstream's behalf, before forwarding (a real resource
//! server introspects on receipt: the same calls, one hop earlier). A `RevokeTokens` fault
//! revokes every token at once (an auth restart that lost its sessions, a key rotation
//! without overlap); the next request of each user finds it invalid and refreshes first
//! (a real client learns it from a 401, one round trip later). It does not honour
//! cancellation:
//! a forwarded request goes on when its caller gives up. Clients are not users: a user's
//! requests may come from any caller.

use rand::RngExt;
use sim_core::queue::EventQueue;
use sim_core::rng::{self, SimRng};
use sim_core::{SimDuration, SimTime};

use super::super::{AttemptKey, CallKey, Event, Failure, Outcome, Parent, Phase, World};
use crate::result::{TokenAuthResult, TokenAuthSeries};
use crate::scenario::{self, InitialTokens};

/// Users a token auth may hold: users are numbered in 32 bits, one value kept as a marker.
pub const MAX_USERS: u64 = u32::MAX as u64 - 1;

/// No refresh in flight.
const NONE: u32 = u32::MAX;
/// Tokens of refresh calls have this bit set; the others are a request's call.
const REFRESH: u32 = 1 << 31;

/// A user's token.
#[derive(Clone, Copy)]
struct Token {
    /// When it expires (`exp`).
    expires: SimTime,
    /// When a request starts a background refresh (`SimTime::MAX` without refresh-ahead).
    refresh_at: SimTime,
    /// The refresh in flight for the user, or [`NONE`].
    refreshing: u32,
}

/// A refresh call in flight and the requests waiting for it.
struct Refresh {
    live: bool,
    user: u32,
    call: Option<CallKey>,
    waiters: Vec<AttemptKey>,
}

/// Where a request is: waiting for its introspection or for the upstream's answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Introspecting,
    Forwarded,
}

struct Pending {
    attempt: AttemptKey,
    stage: Stage,
}

/// Counts from the end of the warm-up on, and per window.
#[derive(Default)]
struct Stats {
    requests: u64,
    on_expiry: u64,
    ahead: u64,
    refresh_failures: u64,
    waited: u64,
    introspections: u64,
    introspection_failures: u64,
    failed_by_auth: u64,
    revocations: u64,
    window: Window,
    /// Over the whole windows after the warm-up: the most refreshes in one, when it
    /// ended, their sum and number.
    peak: u64,
    peak_at: SimTime,
    sum: u64,
    windows: u64,
}

#[derive(Default)]
struct Window {
    refreshes: u64,
    auth_calls: u64,
    failed_by_auth: u64,
}

pub(crate) struct TokenAuthState {
    pub name: String,
    tokens: Vec<Token>,
    ttl: SimDuration,
    ttl_jitter: f64,
    refresh_ahead: Option<(f64, f64)>,
    /// Call sites: to the upstream, refreshes, introspections (with `Introspect`).
    upstream: u32,
    refresh_edge: u32,
    introspect_edge: Option<u32>,
    refreshes: Vec<Refresh>,
    free_refreshes: Vec<u32>,
    pending: Vec<Pending>,
    free_pending: Vec<u32>,
    /// Requests here now: what balancers weigh.
    present: u64,
    user_rng: SimRng,
    token_rng: SimRng,
    stats: Stats,
    series: TokenAuthSeries,
}

impl TokenAuthState {
    /// Token auth `spec`, calling through call sites `upstream`, `refresh` and
    /// `introspect`; its users' first tokens issued as `spec.initial_tokens` says.
    pub(crate) fn new(
        spec: &scenario::TokenAuth,
        seed: u64,
        upstream: u32,
        refresh: u32,
        introspect: Option<u32>,
    ) -> TokenAuthState {
        let mut state = TokenAuthState {
            name: spec.name.clone(),
            tokens: Vec::with_capacity(spec.users as usize),
            ttl: spec.ttl,
            ttl_jitter: spec.ttl_jitter,
            refresh_ahead: spec.refresh_ahead.map(|r| (r.from, r.to)),
            upstream,
            refresh_edge: refresh,
            introspect_edge: introspect,
            refreshes: Vec::new(),
            free_refreshes: Vec::new(),
            pending: Vec::new(),
            free_pending: Vec::new(),
            present: 0,
            user_rng: rng::stream(seed, &format!("token_auth/{}/users", spec.name)),
            token_rng: rng::stream(seed, &format!("token_auth/{}/tokens", spec.name)),
            stats: Stats::default(),
            series: TokenAuthSeries::default(),
        };
        for _ in 0..spec.users {
            let token = match spec.initial_tokens {
                InitialTokens::Synchronized => state.issue(SimTime::ZERO),
                InitialTokens::Spread => {
                    // Issued a uniform share of its lifetime ago: shift it back by that.
                    let t = state.issue(SimTime::ZERO);
                    let life = t.expires.as_nanos();
                    let age = (state.token_rng.random::<f64>() * life as f64) as u64;
                    let at = |ns: u64| SimTime::ZERO + SimDuration::from_nanos(ns);
                    Token {
                        expires: at(life.saturating_sub(age)),
                        refresh_at: match t.refresh_at {
                            SimTime::MAX => SimTime::MAX,
                            r => at(r.as_nanos().saturating_sub(age)),
                        },
                        refreshing: NONE,
                    }
                }
            };
            state.tokens.push(token);
        }
        state
    }

    /// A token issued at `now`: its lifetime (jittered) and refresh point.
    fn issue(&mut self, now: SimTime) -> Token {
        let cut = self.ttl_jitter * self.token_rng.random::<f64>();
        let life = (self.ttl.as_nanos() as f64 * (1.0 - cut)) as u64;
        let refresh_at = match self.refresh_ahead {
            None => SimTime::MAX,
            Some((from, to)) => {
                let f = from + (to - from) * self.token_rng.random::<f64>();
                now + SimDuration::from_nanos((life as f64 * f) as u64)
            }
        };
        Token {
            expires: now + SimDuration::from_nanos(life.max(1)),
            refresh_at,
            refreshing: NONE,
        }
    }

    /// Revokes every token at `now` (a `RevokeTokens` fault): each user's next request
    /// finds it expired and refreshes first. A refresh in flight still issues its token.
    pub(crate) fn revoke(&mut self, now: SimTime) {
        for t in &mut self.tokens {
            t.expires = t.expires.min(now);
        }
        self.stats.revocations += 1;
    }

    /// Requests here now: what balancers weigh.
    pub(crate) fn present(&self) -> u64 {
        self.present
    }

    /// The result of a finished run.
    pub(crate) fn result(&self) -> TokenAuthResult {
        let st = &self.stats;
        let mean = if st.windows > 0 {
            st.sum as f64 / st.windows as f64
        } else {
            0.0
        };
        TokenAuthResult {
            name: self.name.clone(),
            requests: st.requests,
            refreshes: st.on_expiry + st.ahead,
            refreshes_on_expiry: st.on_expiry,
            refreshes_ahead: st.ahead,
            refresh_failures: st.refresh_failures,
            waited_for_refresh: st.waited,
            introspections: st.introspections,
            introspection_failures: st.introspection_failures,
            failed_by_auth: st.failed_by_auth,
            revocations: st.revocations,
            refresh_peak: st.peak,
            refresh_peak_at_s: st.peak_at.as_secs_f64(),
            refresh_mean: mean,
            auth_peak_ratio: (mean > 0.0).then(|| st.peak as f64 / mean),
            series: self.series.clone(),
        }
    }

    /// Closes the window ending at `now`, `width` wide; `counted`: it lies after the
    /// warm-up and is whole, so it enters the peak and the mean.
    pub(crate) fn close_window(&mut self, now: SimTime, counted: bool) {
        let w = std::mem::take(&mut self.stats.window);
        self.series.refreshes.push(w.refreshes);
        self.series.auth_calls.push(w.auth_calls);
        self.series.failed_by_auth.push(w.failed_by_auth);
        if counted {
            let st = &mut self.stats;
            st.sum += w.refreshes;
            st.windows += 1;
            if w.refreshes > st.peak {
                st.peak = w.refreshes;
                st.peak_at = now;
            }
        }
    }

    /// A slot for a request's call.
    fn park(&mut self, attempt: AttemptKey, stage: Stage) -> u32 {
        let p = Pending { attempt, stage };
        match self.free_pending.pop() {
            Some(t) => {
                self.pending[t as usize] = p;
                t
            }
            None => {
                self.pending.push(p);
                (self.pending.len() - 1) as u32
            }
        }
    }
}

impl World {
    /// A request arrives at token auth `att.local`.
    pub(in crate::world) fn on_token_auth_arrives(
        &mut self,
        a: AttemptKey,
        q: &mut EventQueue<Event>,
    ) {
        let now = q.now();
        let Some(counted) = self.arrive(a, now) else {
            return;
        };
        let att = &mut self.attempts[a];
        att.phase = Phase::Calling;
        let t = att.local as usize;
        let ta = &mut self.token_auths[t];
        ta.present += 1;
        ta.stats.requests += u64::from(counted);
        let user = ta.user_rng.random_range(0..ta.tokens.len() as u32);
        let token = ta.tokens[user as usize];
        if now >= token.expires {
            ta.stats.waited += u64::from(counted);
            match token.refreshing {
                NONE => self.start_refresh(t, user, Some(a), q),
                r => ta.refreshes[r as usize].waiters.push(a),
            }
            return;
        }
        if now >= token.refresh_at && token.refreshing == NONE {
            self.start_refresh(t, user, None, q);
        }
        self.token_validate(t, a, q);
    }

    /// Starts a refresh of `user`'s token at token auth `t`; `waiter`: the request that
    /// found it expired (none: a background refresh ahead of expiry).
    fn start_refresh(
        &mut self,
        t: usize,
        user: u32,
        waiter: Option<AttemptKey>,
        q: &mut EventQueue<Event>,
    ) {
        let counted = q.now() >= self.warmup;
        let ta = &mut self.token_auths[t];
        match waiter {
            Some(_) => ta.stats.on_expiry += u64::from(counted),
            None => ta.stats.ahead += u64::from(counted),
        }
        ta.stats.window.refreshes += 1;
        ta.stats.window.auth_calls += 1;
        let refresh = Refresh {
            live: true,
            user,
            call: None,
            waiters: waiter.into_iter().collect(),
        };
        let slot = match ta.free_refreshes.pop() {
            Some(s) => {
                ta.refreshes[s as usize] = refresh;
                s
            }
            None => {
                ta.refreshes.push(refresh);
                (ta.refreshes.len() - 1) as u32
            }
        };
        ta.tokens[user as usize].refreshing = slot;
        let edge = ta.refresh_edge;
        let parent = Parent::Component {
            instance: self.token_auth_instance(t),
            token: slot | REFRESH,
        };
        // No deadline: a refresh may serve several requests.
        let call = self.call(edge, parent, u64::from(user), None, q);
        // Unless it is over already (refused at once by a breaker, say).
        let r = &mut self.token_auths[t].refreshes[slot as usize];
        if r.live && r.call.is_none() {
            r.call = Some(call);
        }
    }

    /// Request `a` holds a valid token: validates it (an introspection call, or nothing
    /// with local validation), then forwards it.
    fn token_validate(&mut self, t: usize, a: AttemptKey, q: &mut EventQueue<Event>) {
        let ta = &mut self.token_auths[t];
        let Some(edge) = ta.introspect_edge else {
            return self.token_forward(t, a, q);
        };
        ta.stats.introspections += u64::from(self.attempts[a].counted);
        ta.stats.window.auth_calls += 1;
        let slot = ta.park(a, Stage::Introspecting);
        let parent = Parent::Component {
            instance: self.token_auth_instance(t),
            token: slot,
        };
        let (request_id, deadline) = (self.attempts[a].request_id, self.attempts[a].deadline);
        self.call(edge, parent, request_id, deadline, q);
    }

    /// Forwards request `a` to the upstream; its answer is the request's.
    fn token_forward(&mut self, t: usize, a: AttemptKey, q: &mut EventQueue<Event>) {
        let ta = &mut self.token_auths[t];
        let edge = ta.upstream;
        let slot = ta.park(a, Stage::Forwarded);
        let parent = Parent::Component {
            instance: self.token_auth_instance(t),
            token: slot,
        };
        let (request_id, deadline) = (self.attempts[a].request_id, self.attempts[a].deadline);
        self.call(edge, parent, request_id, deadline, q);
    }

    /// The instance number of token auth `t`.
    fn token_auth_instance(&self, t: usize) -> u32 {
        self.token_auth_first + t as u32
    }

    /// A call of token auth `t` is over: a refresh (`token` with [`REFRESH`] set), an
    /// introspection or a forwarded request.
    pub(in crate::world) fn token_auth_call_done(
        &mut self,
        t: usize,
        token: u32,
        outcome: Outcome,
        q: &mut EventQueue<Event>,
    ) {
        if token & REFRESH != 0 {
            return self.refresh_done(t, token & !REFRESH, outcome, q);
        }
        let ta = &mut self.token_auths[t];
        let Pending { attempt: a, stage } = ta.pending[token as usize];
        ta.free_pending.push(token);
        if !self.attempts.contains_key(a) {
            return;
        }
        match (stage, outcome) {
            (Stage::Introspecting, Outcome::Ok) => self.token_forward(t, a, q),
            (Stage::Introspecting, _) => {
                let counted = self.attempts[a].counted;
                let st = &mut self.token_auths[t].stats;
                st.introspection_failures += u64::from(counted);
                self.token_auth_fail(t, a, q);
            }
            (Stage::Forwarded, outcome) => self.token_auth_answer(t, a, outcome, q),
        }
    }

    /// Refresh `slot` of token auth `t` is over: on success its user holds a new token
    /// issued now; the waiting requests go on, or fail with it.
    fn refresh_done(&mut self, t: usize, slot: u32, outcome: Outcome, q: &mut EventQueue<Event>) {
        let now = q.now();
        let ta = &mut self.token_auths[t];
        let r = &mut ta.refreshes[slot as usize];
        if !r.live {
            return;
        }
        r.live = false;
        r.call = None;
        let user = r.user as usize;
        let waiters = std::mem::take(&mut r.waiters);
        ta.free_refreshes.push(slot);
        let ok = outcome == Outcome::Ok;
        if ok {
            ta.tokens[user] = ta.issue(now);
        } else {
            ta.tokens[user].refreshing = NONE;
            ta.stats.refresh_failures += u64::from(now >= self.warmup);
        }
        for w in waiters {
            if !self.attempts.contains_key(w) {
                continue;
            }
            if ok {
                self.token_validate(t, w, q);
            } else {
                self.token_auth_fail(t, w, q);
            }
        }
    }

    /// Request `a` fails because its token could not be refreshed or validated.
    fn token_auth_fail(&mut self, t: usize, a: AttemptKey, q: &mut EventQueue<Event>) {
        let st = &mut self.token_auths[t].stats;
        st.failed_by_auth += u64::from(self.attempts[a].counted);
        st.window.failed_by_auth += 1;
        self.token_auth_answer(t, a, Outcome::Failed(Failure::Error), q);
    }

    /// Request `a` leaves token auth `t` with `outcome`.
    fn token_auth_answer(
        &mut self,
        t: usize,
        a: AttemptKey,
        outcome: Outcome,
        q: &mut EventQueue<Event>,
    ) {
        self.token_auths[t].present -= 1;
        self.reply(a, outcome, q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{RefreshAhead, TokenAuth, Validation};

    fn spec(users: u64, jitter: f64, ahead: Option<(f64, f64)>) -> TokenAuth {
        TokenAuth {
            name: "gw".into(),
            upstream: "api".into(),
            upstream_endpoint: None,
            upstream_policy: Default::default(),
            auth: "auth".into(),
            refresh_endpoint: None,
            auth_policy: Default::default(),
            users,
            ttl: SimDuration::from_secs(100),
            ttl_jitter: jitter,
            refresh_ahead: ahead.map(|(from, to)| RefreshAhead { from, to }),
            validation: Validation::Local,
            initial_tokens: InitialTokens::Synchronized,
        }
    }

    fn secs(t: SimTime) -> f64 {
        t.as_secs_f64()
    }

    /// Without jitter every token issued together expires together, one TTL later.
    #[test]
    fn synchronized_tokens_expire_together() {
        let ta = TokenAuthState::new(&spec(1000, 0.0, None), 1, 0, 1, None);
        assert!(ta.tokens.iter().all(|t| secs(t.expires) == 100.0));
        assert!(ta.tokens.iter().all(|t| t.refresh_at == SimTime::MAX));
    }

    /// Jitter draws lifetimes uniformly in [(1 - j) ttl, ttl]: check the range, the mean
    /// (0.95 ttl for j = 0.1) and that each tenth of the range holds about a tenth.
    #[test]
    fn jitter_spreads_lifetimes_uniformly() {
        let n = 100_000;
        let ta = TokenAuthState::new(&spec(n, 0.1, None), 1, 0, 1, None);
        let lives: Vec<f64> = ta.tokens.iter().map(|t| secs(t.expires)).collect();
        assert!(lives.iter().all(|&l| (90.0..=100.0).contains(&l)));
        let mean = lives.iter().sum::<f64>() / n as f64;
        // Standard error of the mean: 10 / sqrt(12 n) = 0.009 s.
        assert!((mean - 95.0).abs() < 0.05, "{mean}");
        let mut bins = [0u64; 10];
        for l in lives {
            bins[((l - 90.0) as usize).min(9)] += 1;
        }
        for b in bins {
            // n / 10 = 10,000 each, sd 95.
            assert!((b as i64 - 10_000).abs() < 500, "{bins:?}");
        }
    }

    /// A refresh point is drawn in [from, to] of the token's own lifetime.
    #[test]
    fn refresh_points_fall_within_the_fraction() {
        let ta = TokenAuthState::new(&spec(10_000, 0.1, Some((0.5, 0.9))), 3, 0, 1, None);
        for t in &ta.tokens {
            let f = secs(t.refresh_at) / secs(t.expires);
            assert!((0.5..=0.9 + 1e-9).contains(&f), "{f}");
        }
        let mean: f64 = ta
            .tokens
            .iter()
            .map(|t| secs(t.refresh_at) / secs(t.expires))
            .sum::<f64>()
            / 10_000.0;
        assert!((mean - 0.7).abs() < 0.01, "{mean}");
    }

    /// Spread tokens are stationary: remaining lifetimes uniform over [0, lifetime), so
    /// their expiries spread evenly over one TTL instead of all at once.
    #[test]
    fn spread_tokens_expire_evenly() {
        let mut s = spec(100_000, 0.0, Some((0.8, 0.8)));
        s.initial_tokens = InitialTokens::Spread;
        let ta = TokenAuthState::new(&s, 5, 0, 1, None);
        let mut bins = [0u64; 10];
        for t in &ta.tokens {
            let e = secs(t.expires);
            assert!(e <= 100.0);
            // Its refresh point keeps its place in its lifetime: 20 s before expiry.
            assert!((e - secs(t.refresh_at) - 20.0).abs() < 1e-6 || secs(t.refresh_at) == 0.0);
            bins[((e / 10.0) as usize).min(9)] += 1;
        }
        for b in bins {
            assert!((b as i64 - 10_000).abs() < 500, "{bins:?}");
        }
    }
}
