//! Retry budgets: how many retries one call site may send in all, whatever each call's
//! `max_attempts` allows. Two kinds, after the two libraries whose semantics engineers know:
//!
//! | kind | written | filled by | drained by | a retry passes while | long-run load under 100 % failure |
//! |---|---|---|---|---|---|
//! | gRPC retry throttling ([`GrpcBudget`]) | `(max_tokens: 10, token_ratio: 0.1)` | each successful attempt, `+token_ratio` | each failed attempt, `-1` | tokens > `max_tokens / 2` | 1: retries stop altogether |
//! | Finagle `RetryBudget` ([`FinagleBudget`]) | `Finagle(ttl: "10s", min_retries_per_sec: 10, percent_can_retry: 0.2)` | each call, `+1`; deposits expire after `ttl` | each retry, `-1 / percent_can_retry` | the balance (+ a reserve) covers one retry | `1 + percent_can_retry + min_retries_per_sec / calls per second` |
//!
//! gRPC's throttle debits **every failed attempt** (first tries included) and credits only
//! successes, so once failures exceed `r/(1+r)` of attempts (r = `token_ratio`; 9.1 % with the
//! defaults) the bucket drains to 0 and retries stop: long-run load tends to 1. Finagle's budget
//! (REFERENCES 3.2) credits every *call* and debits only *retries*, so under 100 % failure it
//! still allows retries at `percent_can_retry` of calls, plus `min_retries_per_sec` so that a
//! caller with little traffic keeps some retries. Brooker's token bucket (REFERENCES, top)
//! behaves like Finagle's without the expiry and the reserve.
//!
//! Both gate retries only; hedges are limited by their own `max_hedges` (A6 also throttles
//! hedges; simctl does not). Everything here is a
//! function of its inputs and of the virtual time passed in: no clock, no randomness.

use serde::de::Error as _;
use serde::ser::SerializeStructVariant;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sim_core::path::{FieldPath, Problem};
use sim_core::{SimDuration, SimTime};

// ---------------------------------------------------------------------------------------------
// Which kind
// ---------------------------------------------------------------------------------------------

/// A call site's retry budget, as the scenario writes it.
///
/// In RON: `(max_tokens: .., token_ratio: ..)` (or `Grpc(..)`) is gRPC retry throttling, as
/// it has always been; `Finagle(ttl: .., min_retries_per_sec: .., percent_can_retry: ..)` is
/// Finagle's budget. Omitted fields take each kind's defaults; `Finagle` alone is Finagle's
/// default budget.
#[derive(Clone, Debug, PartialEq)]
pub enum BudgetSpec {
    Grpc(GrpcBudgetSpec),
    Finagle(FinagleBudgetSpec),
}

impl Default for BudgetSpec {
    fn default() -> Self {
        BudgetSpec::Grpc(GrpcBudgetSpec::default())
    }
}

impl BudgetSpec {
    /// Every problem with the spec, with paths relative to it (a Finagle field is at
    /// `ttl`, not `Finagle.ttl`, as the file reads `budget: Finagle(ttl: ..)`).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            BudgetSpec::Grpc(g) => g.problems(),
            BudgetSpec::Finagle(f) => f.problems(),
        }
    }
}

/// How each kind is written; the error messages quote it.
const GRPC_FORM: &str = "(max_tokens: .., token_ratio: ..)";
const FINAGLE_FORM: &str = "Finagle(ttl: .., min_retries_per_sec: .., percent_can_retry: ..)";

/// gRPC serialises as the bare struct it has always been, so a scenario's canonical form
/// (and its hash) does not change; Finagle as a struct variant, which RON writes
/// `Finagle(ttl: ..)` and JSON `{"Finagle": {"ttl": ..}}`.
impl Serialize for BudgetSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            BudgetSpec::Grpc(g) => g.serialize(s),
            BudgetSpec::Finagle(f) => {
                let mut v = s.serialize_struct_variant("BudgetSpec", 1, "Finagle", 3)?;
                v.serialize_field("ttl", &f.ttl)?;
                v.serialize_field("min_retries_per_sec", &f.min_retries_per_sec)?;
                v.serialize_field("percent_can_retry", &f.percent_can_retry)?;
                v.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for BudgetSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The bare struct and the `Finagle(..)` variant share one field, so the value is read
        // whole first, then told apart. ron keeps a variant's name only when it reads into
        // serde's own buffer, which is what an untagged enum reads into; a plain
        // `ron::Value` would drop the name and read `Finagle(..)` as a bare struct.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Whole {
            Value(ron::Value),
        }
        let Whole::Value(value) = Whole::deserialize(d)?;
        from_value(value).map_err(D::Error::custom)
    }
}

/// Which kind `value` is (see [`BudgetSpec`]), and its fields, or a message that says what
/// was expected.
fn from_value(value: ron::Value) -> Result<BudgetSpec, String> {
    use ron::Value;
    let fields = |kind: &str, inner: Value| -> Result<BudgetSpec, String> {
        // `Finagle()` and `Finagle` alone take every default, like `()`.
        let inner = match inner {
            Value::Unit => Value::Map(ron::Map::new()),
            Value::Seq(s) if s.is_empty() => Value::Map(ron::Map::new()),
            other => other,
        };
        let spec = match kind {
            "Grpc" => inner.into_rust().map(BudgetSpec::Grpc),
            _ => inner.into_rust().map(BudgetSpec::Finagle),
        };
        spec.map_err(|e| format!("{kind} budget: {}", e))
    };
    match value {
        Value::Unit => Ok(BudgetSpec::default()),
        Value::String(kind) => match kind.as_str() {
            "Grpc" | "Finagle" => fields(&kind, Value::Unit),
            _ => Err(unknown_kind(&kind)),
        },
        Value::Map(map) => {
            let tagged = match map.iter().next() {
                Some((Value::String(key), _)) if map.len() == 1 => {
                    key.starts_with(|c: char| c.is_ascii_uppercase())
                }
                _ => false,
            };
            if !tagged {
                let spec: Result<GrpcBudgetSpec, _> = Value::Map(map).into_rust();
                return spec.map(BudgetSpec::Grpc).map_err(|e| {
                    format!(
                        "{} (a gRPC budget is written {GRPC_FORM}; a Finagle one {FINAGLE_FORM})",
                        e
                    )
                });
            }
            let (key, inner) = map.into_iter().next().expect("one entry");
            let Value::String(kind) = key else {
                unreachable!("checked above")
            };
            match kind.as_str() {
                "Grpc" | "Finagle" => fields(&kind, inner),
                _ => Err(unknown_kind(&kind)),
            }
        }
        _ => Err(format!(
            "expected a retry budget: {GRPC_FORM} for gRPC retry throttling, or {FINAGLE_FORM}"
        )),
    }
}

fn unknown_kind(kind: &str) -> String {
    format!(
        "unknown retry budget kind `{kind}`: expected `Finagle` ({FINAGLE_FORM}) or gRPC \
         throttling, written {GRPC_FORM}"
    )
}

// ---------------------------------------------------------------------------------------------
// The budget a call site keeps
// ---------------------------------------------------------------------------------------------

/// A call site's retry budget while a run goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryBudget {
    Grpc(GrpcBudget),
    Finagle(FinagleBudget),
}

impl RetryBudget {
    /// A budget as it is when a run starts. The spec is meant to have passed
    /// [`BudgetSpec::problems`].
    pub fn new(spec: &BudgetSpec) -> Self {
        match spec {
            BudgetSpec::Grpc(g) => RetryBudget::Grpc(GrpcBudget::new(g)),
            BudgetSpec::Finagle(f) => RetryBudget::Finagle(FinagleBudget::new(f)),
        }
    }

    /// A call starts on this call site (before its first attempt): Finagle deposits.
    #[inline]
    pub fn on_call(&mut self, now: SimTime) {
        if let RetryBudget::Finagle(f) = self {
            f.deposit(now);
        }
    }

    /// An attempt that was sent ended (given up on counts as failed): gRPC's throttle
    /// moves.
    #[inline]
    pub fn on_result(&mut self, success: bool) {
        if let RetryBudget::Grpc(g) = self {
            if success {
                g.on_success()
            } else {
                g.on_failure()
            }
        }
    }

    /// Whether a retry may be sent now. Finagle's budget is paid here (a retry withdraws);
    /// gRPC's only looks (its debit was the failure itself). Ask only once the retry is
    /// otherwise decided, as Finagle's `RetryFilter` does.
    #[inline]
    pub fn try_retry(&mut self, now: SimTime) -> bool {
        match self {
            RetryBudget::Grpc(g) => g.can_retry(),
            RetryBudget::Finagle(f) => f.try_withdraw(now),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Finagle
// ---------------------------------------------------------------------------------------------

/// Finagle's token scale: a call deposits this many tokens.
const FINAGLE_SCALE: f64 = 1000.0;
/// Slices of Finagle's sliding window (its `WindowedAdder`, 10 slices of `ttl / 10`).
const SLICES: usize = 10;

/// A Finagle retry budget's parameters (`RetryBudget(ttl, minRetriesPerSec,
/// percentCanRetry)`); the defaults are Finagle's `RetryBudget()`: 10 s, 10, 0.2.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinagleBudgetSpec {
    /// How long a deposit (and a withdrawal) counts: from 1s to 60s.
    pub ttl: SimDuration,
    /// Retries allowed per second on top of the deposits, so that a caller that has just
    /// started or sends little still gets some: a reserve of `min_retries_per_sec * ttl`
    /// retries that never expires.
    pub min_retries_per_sec: u32,
    /// Retries allowed per call, from 0 to 1000 (0.2: one retry per five calls).
    pub percent_can_retry: f64,
}

impl Default for FinagleBudgetSpec {
    fn default() -> Self {
        FinagleBudgetSpec {
            ttl: SimDuration::from_secs(10),
            min_retries_per_sec: 10,
            percent_can_retry: 0.2,
        }
    }
}

impl FinagleBudgetSpec {
    /// Every problem with the spec, with paths relative to it.
    ///
    /// Finagle's own bounds: `ttl` from 1 s to 60 s, `percent_can_retry` from 0 to 1000.
    /// Above 0 the percentage must also be at least 0.001, as a retry costs
    /// `1000 / percent_can_retry` tokens and a smaller one would cost more than a million.
    /// `min_retries_per_sec: 0` with `percent_can_retry: 0` is Finagle's empty budget:
    /// it allows no retry.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let root = FieldPath::root();
        if !(SimDuration::from_secs(1)..=SimDuration::from_secs(60)).contains(&self.ttl) {
            out.push(Problem::new(
                root.field("ttl"),
                format!(
                    "must be from 1s to 60s (how long each call's deposit counts; Finagle's bounds), got {}",
                    self.ttl
                ),
            ));
        }
        let p = self.percent_can_retry;
        if !(p == 0.0 || (p.is_finite() && (0.001..=1000.0).contains(&p))) {
            out.push(Problem::new(
                root.field("percent_can_retry"),
                format!(
                    "must be 0 or a number from 0.001 to 1000 (retries allowed per call: 0.2 = one per five calls), got {p}"
                ),
            ));
        }
        out
    }
}

/// Finagle's `RetryBudget`: a leaky token bucket whose entries expire.
///
/// - [`deposit`](Self::deposit): each call adds 1000 tokens (none if `percent_can_retry`
///   is 0).
/// - [`try_withdraw`](Self::try_withdraw): a retry costs `w = 1000 / percent_can_retry`
///   tokens, truncated to an integer as Finagle does (1 if `percent_can_retry` is 0); it
///   passes if the balance is at least `w`, and only a retry that passes is paid.
/// - Balance = the deposits minus the withdrawals of the sliding window, plus a reserve of
///   `min_retries_per_sec * ttl * w` that does not expire.
/// - The window is Finagle's: 10 slices of `ttl / 10`, counted from time 0 here; an entry
///   stops counting when its slice is 10 slices old, i.e. between `0.9 ttl` and `ttl` after
///   it was made. Withdrawals expire like deposits.
///
/// So over any window retries stay within `percent_can_retry` of the window's calls plus
/// `min_retries_per_sec * ttl`; when retries are wanted more often than that, the long-run
/// load (attempts per call) is `1 + percent_can_retry + min_retries_per_sec / (calls/s)`.
///
/// Finagle keeps the reserve at `min_retries_per_sec * ttl_in_whole_seconds * w`; here the
/// ttl counts to the nanosecond, which is the same for a whole number of seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinagleBudget {
    /// Width of one slice, in ns (`ttl / 10`).
    slice: u64,
    /// Net tokens (deposits - withdrawals) per slice, a ring indexed by slice number.
    slots: [i64; SLICES],
    /// The slice number (`now / slice`) the ring was last brought up to.
    current: u64,
    deposit: i64,
    withdrawal: i64,
    reserve: i64,
}

impl FinagleBudget {
    /// An empty window with its reserve. The spec is meant to have passed
    /// [`FinagleBudgetSpec::problems`].
    pub fn new(spec: &FinagleBudgetSpec) -> Self {
        let p = spec.percent_can_retry;
        let (deposit, withdrawal) = if p > 0.0 {
            (FINAGLE_SCALE as i64, withdrawal_cost(p))
        } else {
            (0, 1)
        };
        let ttl = spec.ttl.as_nanos().max(SLICES as u64);
        // u128: at most 4.3e9 retries/s * 1e6 tokens * 6e10 ns, then / 1e9 fits an i64.
        let reserve = u128::from(spec.min_retries_per_sec) * withdrawal as u128 * u128::from(ttl)
            / 1_000_000_000;
        FinagleBudget {
            slice: ttl / SLICES as u64,
            slots: [0; SLICES],
            current: 0,
            deposit,
            withdrawal,
            reserve: i64::try_from(reserve).unwrap_or(i64::MAX),
        }
    }

    /// A call: its deposit.
    pub fn deposit(&mut self, now: SimTime) {
        self.advance(now);
        let slot = &mut self.slots[self.current as usize % SLICES];
        *slot = slot.saturating_add(self.deposit);
    }

    /// A retry wants to go: true (and paid) if the balance covers it.
    pub fn try_withdraw(&mut self, now: SimTime) -> bool {
        if self.balance(now) < self.withdrawal {
            return false;
        }
        let slot = &mut self.slots[self.current as usize % SLICES];
        *slot = slot.saturating_sub(self.withdrawal);
        true
    }

    /// Tokens available at `now`: the window's net deposits plus the reserve.
    pub fn balance(&mut self, now: SimTime) -> i64 {
        self.advance(now);
        self.slots
            .iter()
            .fold(self.reserve, |sum, &s| sum.saturating_add(s))
    }

    /// Retries the balance covers at `now` (Finagle's `balance`).
    pub fn retries_available(&mut self, now: SimTime) -> i64 {
        self.balance(now).max(0) / self.withdrawal
    }

    /// Clears the slices that ended since the last call: their entries have expired.
    fn advance(&mut self, now: SimTime) {
        let k = now.as_nanos() / self.slice;
        if k <= self.current {
            return;
        }
        let expired = (k - self.current).min(SLICES as u64);
        for j in 1..=expired {
            self.slots[((self.current + j) % SLICES as u64) as usize] = 0;
        }
        self.current = k;
    }
}

/// `1000 / p` truncated to an integer, as Finagle's `(1000 / p).toInt`, except that a
/// quotient within float error of an integer counts as that integer (0.2 costs 5000,
/// whichever way the division rounds).
fn withdrawal_cost(p: f64) -> i64 {
    let exact = FINAGLE_SCALE / p;
    let nearest = exact.round();
    let cost = if (exact - nearest).abs() < 1e-6 {
        nearest
    } else {
        exact.floor()
    };
    (cost as i64).max(1)
}

// ---------------------------------------------------------------------------------------------
// gRPC
// ---------------------------------------------------------------------------------------------

/// Tokens are counted in thousandths, like grpc-java's `Throttle`
/// (`THREE_DECIMAL_PLACES_SCALE_UP`); A6 gives `tokenRatio` at most 3 decimals.
const MILLI: f64 = 1000.0;
/// One whole token (the cost of a failed attempt), in thousandths.
const ONE_TOKEN: u64 = 1000;
/// The smallest size or ratio that is not zero once counted in thousandths.
const MIN_AMOUNT: f64 = 0.001;

/// A gRPC retry budget's parameters (gRPC A6 `retryThrottling { maxTokens, tokenRatio }`).
///
/// Defaults are A6's example: `max_tokens = 10`, `token_ratio = 0.1` (retries stay on while
/// fewer than ~10 % of attempts fail).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcBudgetSpec {
    /// Bucket size; the bucket starts full and retries are allowed while it holds more than
    /// half of this.
    pub max_tokens: f64,
    /// Tokens a successful attempt adds back (a failed attempt takes 1).
    pub token_ratio: f64,
}

impl Default for GrpcBudgetSpec {
    fn default() -> Self {
        GrpcBudgetSpec {
            max_tokens: 10.0,
            token_ratio: 0.1,
        }
    }
}

impl GrpcBudgetSpec {
    /// Every problem with the spec, with paths relative to it.
    ///
    /// `max_tokens` finite and at least 0.001; `token_ratio` finite, at least 0.001 and at
    /// most `max_tokens`. The floor of 0.001 (rather than "above 0") is because tokens are
    /// counted in thousandths: anything smaller would round to zero. Digits beyond the third
    /// decimal are rounded away, as gRPC ignores them.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let root = FieldPath::root();
        let max = self.max_tokens;
        let max_ok = max.is_finite() && max >= MIN_AMOUNT;
        if !max_ok {
            out.push(Problem::new(
                root.field("max_tokens"),
                format!(
                    "must be a finite number of at least 0.001 (the bucket's size in tokens), got {max}"
                ),
            ));
        }
        let ratio = self.token_ratio;
        // Compared with max_tokens only when that is valid, so one mistake gives one message.
        let ratio_ok = ratio.is_finite() && ratio >= MIN_AMOUNT && (!max_ok || ratio <= max);
        if !ratio_ok {
            let upper = if max_ok {
                format!("max_tokens ({max})")
            } else {
                "max_tokens".to_string()
            };
            out.push(Problem::new(
                root.field("token_ratio"),
                format!(
                    "must be a finite number from 0.001 to {upper} (tokens a success adds back), got {ratio}"
                ),
            ));
        }
        out
    }
}

/// A retry token bucket for one caller (gRPC A6 retry throttling, per server name there).
///
/// - Starts full at `max_tokens`; the count stays within `[0, max_tokens]`.
/// - [`on_failure`](Self::on_failure): every failed attempt of a kind the policy retries on
///   (first tries included, and the last attempt of a call too) takes 1 token.
/// - [`on_success`](Self::on_success): every successful attempt adds `token_ratio`.
/// - [`can_retry`](Self::can_retry): a retry may be sent only while the count is
///   strictly above `max_tokens / 2`; the check follows the failure's debit.
///
/// With 10 / 0.1 under 100 % failure and 4 attempts per call: the first call makes 4 attempts
/// (10 -> 6), the second 1 (-> 5, not above 5), then 1 per call down to 0; from 0 it takes 51
/// successes to allow retries again. Long run, see the module doc: retries stop entirely
/// once failures exceed `r/(1+r)` of attempts.
///
/// The count is an integer number of thousandths, so those thresholds are exact. In f64 a
/// mix of `+0.1` and `-1` that should come to exactly 5 can come to 5.000000000000001 and
/// allow a retry the spec forbids (grpc-go keeps a float and has that edge; grpc-java keeps
/// thousandths).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcBudget {
    /// All three in thousandths of a token.
    max: u64,
    ratio: u64,
    tokens: u64,
}

impl GrpcBudget {
    /// A full bucket. The spec is meant to have passed [`GrpcBudgetSpec::problems`]; values are
    /// rounded to thousandths, and negative or NaN ones count as 0 (then retries never pass).
    pub fn new(spec: &GrpcBudgetSpec) -> Self {
        let max = milli(spec.max_tokens);
        GrpcBudget {
            max,
            ratio: milli(spec.token_ratio),
            tokens: max,
        }
    }

    /// A successful attempt: `+token_ratio`, capped at `max_tokens`.
    pub fn on_success(&mut self) {
        self.tokens = self.tokens.saturating_add(self.ratio).min(self.max);
    }

    /// A failed attempt: `-1`, floored at 0.
    pub fn on_failure(&mut self) {
        self.tokens = self.tokens.saturating_sub(ONE_TOKEN);
    }

    /// Whether a retry may be sent now: tokens strictly above `max_tokens / 2`.
    pub fn can_retry(&self) -> bool {
        // Doubling instead of halving keeps odd thousandths exact; u128 cannot overflow.
        2 * u128::from(self.tokens) > u128::from(self.max)
    }

    /// The tokens in the bucket now.
    pub fn tokens(&self) -> f64 {
        self.tokens as f64 / MILLI
    }
}

/// `x` in thousandths, rounded; negative and NaN give 0, huge values saturate (`as` does both).
fn milli(x: f64) -> u64 {
    (x * MILLI).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;
    use sim_core::rng;

    fn secs(s: f64) -> SimTime {
        SimTime(SimDuration::from_secs_f64(s).as_nanos())
    }

    fn finagle(ttl_s: u64, min_retries_per_sec: u32, percent_can_retry: f64) -> FinagleBudget {
        let spec = FinagleBudgetSpec {
            ttl: SimDuration::from_secs(ttl_s),
            min_retries_per_sec,
            percent_can_retry,
        };
        assert_eq!(spec.problems(), vec![], "{spec:?}");
        FinagleBudget::new(&spec)
    }

    /// Withdrawals that pass at `now`, trying until one fails (at most `limit`).
    fn drain(b: &mut FinagleBudget, now: SimTime, limit: u32) -> u32 {
        (0..limit).take_while(|_| b.try_withdraw(now)).count() as u32
    }

    // --- Finagle ---

    #[test]
    fn finagle_default_is_finagles_retry_budget() {
        // REFERENCES 3.2: RetryBudget() = (10 s, 10/s, 0.2): a retry costs 5000, the reserve
        // is 10 * 10 * 5000 = 500 000 tokens = 100 retries.
        let mut b = FinagleBudget::new(&FinagleBudgetSpec::default());
        assert_eq!((b.deposit, b.withdrawal, b.reserve), (1000, 5000, 500_000));
        assert_eq!(b.retries_available(SimTime::ZERO), 100);
        assert_eq!(drain(&mut b, SimTime::ZERO, 1000), 100);
    }

    #[test]
    fn finagle_withdrawal_costs_follow_the_percentage() {
        // (percent_can_retry, tokens per retry): 1000 / p, truncated as Finagle's `toInt`.
        let cases = [
            (0.2, 5000),
            (0.1, 10_000),
            (0.3, 3333),
            (0.7, 1428),
            (2.0, 500),
            (1000.0, 1),
            (0.001, 1_000_000),
        ];
        for (p, cost) in cases {
            assert_eq!(withdrawal_cost(p), cost, "{p}");
        }
        // percent 0: calls deposit nothing, a retry costs 1 token (reserve only).
        let b = finagle(10, 3, 0.0);
        assert_eq!((b.deposit, b.withdrawal, b.reserve), (0, 1, 30));
    }

    #[test]
    fn finagle_percent_of_calls_may_retry() {
        // 0.2 without a reserve: every fifth call buys one retry, no sooner.
        let mut b = finagle(10, 0, 0.2);
        let t = SimTime::ZERO;
        for call in 1..=12 {
            b.deposit(t);
            let expected = if call % 5 == 0 { 1 } else { 0 };
            assert_eq!(drain(&mut b, t, 10), expected, "after call {call}");
        }
        // 2.0: every call buys two retries.
        let mut b = finagle(10, 0, 2.0);
        b.deposit(t);
        assert_eq!(drain(&mut b, t, 10), 2);
    }

    #[test]
    fn finagle_deposits_expire_after_the_ttl() {
        // ttl 10 s = 10 slices of 1 s. A deposit lives until its slice is 10 slices old:
        // made at 0 s or at 0.95 s (slice 0), it counts until just before 10 s.
        for made in [0.0, 0.95] {
            let mut b = finagle(10, 0, 1.0);
            b.deposit(secs(made));
            assert_eq!(b.balance(secs(9.999_999_999)), 1000, "made at {made}");
            assert_eq!(b.balance(secs(10.0)), 0, "made at {made}");
        }
        // Made at 1 s (slice 1): until 11 s. So a deposit lives between 0.9 ttl and ttl.
        let mut b = finagle(10, 0, 1.0);
        b.deposit(secs(1.0));
        assert_eq!(b.balance(secs(10.5)), 1000);
        assert_eq!(b.balance(secs(11.0)), 0);
        // A long silence clears everything, however many slices it skips.
        let mut b = finagle(10, 0, 1.0);
        for s in 0..10 {
            b.deposit(secs(f64::from(s)));
        }
        assert_eq!(b.balance(secs(9.5)), 10_000);
        assert_eq!(b.balance(secs(12.5)), 7000);
        assert_eq!(b.balance(secs(1000.0)), 0);
        b.deposit(secs(1000.0));
        assert_eq!(b.balance(secs(1000.0)), 1000);
    }

    #[test]
    fn finagle_withdrawals_expire_too_so_the_reserve_refills() {
        // Reserve only (percent 0): 2/s over 10 s = 20 retries per window. A burst spends it;
        // it comes back when the burst's slice leaves the window, not bit by bit.
        let mut b = finagle(10, 2, 0.0);
        assert_eq!(drain(&mut b, secs(0.5), 100), 20);
        assert_eq!(drain(&mut b, secs(5.0), 100), 0);
        assert_eq!(drain(&mut b, secs(9.99), 100), 0);
        assert_eq!(drain(&mut b, secs(10.0), 100), 20);
        // Spread out: 4 at each of 0..5 s; those of 0 s come back at 10 s, and so on.
        let mut b = finagle(10, 2, 0.0);
        for s in 0..5 {
            assert_eq!(drain(&mut b, secs(f64::from(s)), 4), 4, "at {s} s");
        }
        assert_eq!(drain(&mut b, secs(9.0), 100), 0);
        assert_eq!(drain(&mut b, secs(10.0), 100), 4);
        assert_eq!(drain(&mut b, secs(11.0), 100), 4);
    }

    #[test]
    fn finagle_reserve_and_deposits_add_up() {
        // 1/s over 10 s = 10 reserve retries, plus 0.5 of 6 calls = 3.
        let mut b = finagle(10, 1, 0.5);
        for _ in 0..6 {
            b.deposit(secs(2.0));
        }
        assert_eq!(b.retries_available(secs(2.0)), 13);
        assert_eq!(drain(&mut b, secs(2.0), 100), 13);
        // Withdrawing below the deposits' share never goes below the reserve's floor: after
        // the deposits expire (at 12 s), so do the 13 withdrawals, and the reserve is whole.
        assert_eq!(b.retries_available(secs(11.9)), 0);
        assert_eq!(b.retries_available(secs(12.0)), 10);
    }

    #[test]
    fn finagle_empty_budget_never_retries() {
        // Finagle's `Empty`: no reserve and nothing deposited.
        let mut b = finagle(10, 0, 0.0);
        b.deposit(SimTime::ZERO);
        assert!(!b.try_withdraw(SimTime::ZERO));
    }

    /// Long-run load (attempts per call) of one caller whose every attempt fails, calls
    /// evenly spaced at `rate` per second for `seconds`, each retrying at once up to
    /// `max_attempts` in all while `budget` allows. Counts the calls after the first
    /// `skip` seconds (the start-up, while the window fills).
    fn load_under_total_failure(
        budget: &mut RetryBudget,
        rate: u32,
        seconds: u32,
        skip: u32,
        max_attempts: u32,
    ) -> f64 {
        let (mut calls, mut attempts) = (0u64, 0u64);
        for i in 0..rate * seconds {
            let now = SimTime(u64::from(i) * 1_000_000_000 / u64::from(rate));
            budget.on_call(now);
            let mut made = 1;
            budget.on_result(false);
            while made < max_attempts && budget.try_retry(now) {
                made += 1;
                budget.on_result(false);
            }
            if i >= rate * skip {
                calls += 1;
                attempts += u64::from(made);
            }
        }
        attempts as f64 / calls as f64
    }

    #[test]
    fn long_run_load_under_total_failure_finagle_vs_grpc() {
        // Finagle's defaults allow retries at 20 % of calls plus 10/s, so the load is
        // 1 + 0.2 + 10 / rate: REFERENCES 3.2's 2.2, 1.3 and 1.21 at 10, 100 and 1000 calls/s.
        // Calls are evenly spaced, so the only departure from the formula is the window's
        // granularity: at most one retry's worth per slice boundary (10 per ttl) against
        // ~(0.2 rate + 10) * 10 retries per ttl, i.e. under 1 % at these rates.
        for (rate, expected) in [(10, 2.2), (100, 1.3), (1000, 1.21)] {
            let mut finagle = RetryBudget::new(&BudgetSpec::Finagle(Default::default()));
            let load = load_under_total_failure(&mut finagle, rate, 600, 60, 4);
            let extra = expected - 1.0;
            assert!(
                (load - expected).abs() <= 0.01 * extra,
                "{rate}/s: load {load}, expected {expected}"
            );
            // gRPC throttling under the same failure: retries stop, load goes to 1.
            let mut grpc = RetryBudget::new(&BudgetSpec::default());
            let load = load_under_total_failure(&mut grpc, rate, 600, 60, 4);
            assert_eq!(load, 1.0, "{rate}/s, gRPC");
        }
        // Without a reserve the long run is exactly 1 + percent.
        for p in [0.1, 0.2, 0.5] {
            let spec = FinagleBudgetSpec {
                min_retries_per_sec: 0,
                percent_can_retry: p,
                ..Default::default()
            };
            let mut b = RetryBudget::new(&BudgetSpec::Finagle(spec));
            let load = load_under_total_failure(&mut b, 100, 600, 60, 4);
            assert!((load - (1.0 + p)).abs() <= 0.01 * p, "{p}: {load}");
        }
    }

    // --- the two kinds in a scenario file ---

    /// Reads a budget as a scenario field (ron with the scenario's extensions).
    fn read(text: &str) -> Result<BudgetSpec, String> {
        let options = ron::Options::default().with_default_extension(
            ron::extensions::Extensions::IMPLICIT_SOME
                | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES,
        );
        options.from_str(text).map_err(|e| e.code.to_string())
    }

    #[test]
    fn both_kinds_read_from_ron() {
        let grpc = |max_tokens, token_ratio| {
            BudgetSpec::Grpc(GrpcBudgetSpec {
                max_tokens,
                token_ratio,
            })
        };
        let fin = |ttl_s, min_retries_per_sec, percent_can_retry| {
            BudgetSpec::Finagle(FinagleBudgetSpec {
                ttl: SimDuration::from_secs(ttl_s),
                min_retries_per_sec,
                percent_can_retry,
            })
        };
        let cases = [
            ("(max_tokens: 10.0, token_ratio: 0.1)", grpc(10.0, 0.1)),
            ("(max_tokens: 5)", grpc(5.0, 0.1)),
            ("()", grpc(10.0, 0.1)),
            ("Grpc(max_tokens: 4, token_ratio: 0.5)", grpc(4.0, 0.5)),
            ("Grpc", grpc(10.0, 0.1)),
            (
                "Finagle(ttl: \"20s\", min_retries_per_sec: 5, percent_can_retry: 0.1)",
                fin(20, 5, 0.1),
            ),
            ("Finagle(percent_can_retry: 1)", fin(10, 10, 1.0)),
            ("Finagle", fin(10, 10, 0.2)),
            ("Finagle()", fin(10, 10, 0.2)),
        ];
        for (text, spec) in cases {
            assert_eq!(read(text), Ok(spec.clone()), "{text}");
            // Written back, in RON and in JSON (the form `--set` edits), it reads the same.
            let back = ron::to_string(&spec).unwrap();
            assert_eq!(read(&back), Ok(spec.clone()), "{back}");
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(
                serde_json::from_str::<BudgetSpec>(&json).map_err(|e| e.to_string()),
                Ok(spec),
                "{json}"
            );
        }
        // gRPC is written exactly as before the Finagle kind existed: scenario hashes keep.
        assert_eq!(
            ron::to_string(&grpc(10.0, 0.1)).unwrap(),
            "(max_tokens:10.0,token_ratio:0.1)"
        );
        assert_eq!(
            ron::to_string(&fin(10, 10, 0.2)).unwrap(),
            "Finagle(ttl:\"10s\",min_retries_per_sec:10,percent_can_retry:0.2)"
        );
    }

    #[test]
    fn mistakes_in_either_kind_say_what_was_expected() {
        // (text, words the message must hold)
        let cases: &[(&str, &[&str])] = &[
            ("(ttl: \"10s\")", &["ttl", "max_tokens", "Finagle(ttl: .."]),
            (
                "Finagle(max_tokens: 5)",
                &["Finagle budget", "max_tokens", "ttl"],
            ),
            ("Finagle(ttl: 10)", &["Finagle budget", "duration"]),
            (
                "Finagle(min_retries_per_sec: 2.5)",
                &["Finagle budget", "u32"],
            ),
            ("Grpc(ttl: \"1s\")", &["Grpc budget", "ttl"]),
            (
                "Envoy(budget_percent: 20)",
                &["unknown retry budget kind `Envoy`"],
            ),
            (
                "Finagel",
                &["unknown retry budget kind `Finagel`", "Finagle("],
            ),
            ("5", &["expected a retry budget"]),
            ("[1, 2]", &["expected a retry budget"]),
        ];
        for (text, words) in cases {
            let message = read(text).expect_err(text);
            for w in *words {
                assert!(message.contains(w), "{text}: `{w}` not in: {message}");
            }
        }
    }

    #[test]
    fn finagle_spec_problems() {
        // (ttl, percent_can_retry, fields reported)
        let nan = f64::NAN;
        let cases: &[(u64, f64, &[&str])] = &[
            (10_000, 0.2, &[]),
            (1000, 0.0, &[]),
            (60_000, 1000.0, &[]),
            (1000, 0.001, &[]),
            (999, 0.2, &["ttl"]),
            (60_001, 0.2, &["ttl"]),
            (0, 0.2, &["ttl"]),
            (10_000, 0.0009, &["percent_can_retry"]),
            (10_000, -0.1, &["percent_can_retry"]),
            (10_000, 1000.5, &["percent_can_retry"]),
            (10_000, nan, &["percent_can_retry"]),
            (10_000, f64::INFINITY, &["percent_can_retry"]),
            (0, nan, &["ttl", "percent_can_retry"]),
        ];
        for &(ttl_ms, percent_can_retry, fields) in cases {
            let spec = FinagleBudgetSpec {
                ttl: SimDuration::from_millis(ttl_ms),
                min_retries_per_sec: 10,
                percent_can_retry,
            };
            let got: Vec<String> = spec.problems().iter().map(|p| p.path.to_string()).collect();
            assert_eq!(got, fields, "{spec:?}");
            let kind = BudgetSpec::Finagle(spec);
            assert_eq!(kind.problems().len(), fields.len());
        }
    }

    // --- gRPC ---
    #[derive(Clone, Copy, Debug)]
    enum Event {
        Success,
        Failure,
    }
    use Event::{Failure as F, Success as S};

    #[test]
    fn budget_follows_its_script() {
        // (spec, [(event, tokens after, can_retry after)])
        type Script = ((f64, f64), &'static [(Event, f64, bool)]);
        let cases: &[(&str, Script)] = &[
            (
                "full bucket stays capped",
                (
                    (10.0, 0.1),
                    &[(S, 10.0, true), (F, 9.0, true), (S, 9.1, true)],
                ),
            ),
            (
                "exactly half is not enough",
                (
                    (4.0, 0.5),
                    &[
                        (F, 3.0, true),
                        (F, 2.0, false),
                        (S, 2.5, true),
                        (F, 1.5, false),
                    ],
                ),
            ),
            (
                "floored at zero, then climbs",
                (
                    (2.0, 0.75),
                    &[
                        (F, 1.0, false),
                        (F, 0.0, false),
                        (F, 0.0, false),
                        (S, 0.75, false),
                        (S, 1.5, true),
                        (S, 2.0, true),
                    ],
                ),
            ),
            (
                "odd thousandths: 0.003 > 0.005 / 2",
                (
                    (0.005, 0.001),
                    &[
                        (F, 0.0, false),
                        (S, 0.001, false),
                        (S, 0.002, false),
                        (S, 0.003, true),
                    ],
                ),
            ),
            (
                "ratio rounded to thousandths",
                ((1.0, 0.1004), &[(F, 0.0, false), (S, 0.1, false)]),
            ),
        ];
        for (name, ((max_tokens, token_ratio), script)) in cases {
            let spec = GrpcBudgetSpec {
                max_tokens: *max_tokens,
                token_ratio: *token_ratio,
            };
            assert_eq!(spec.problems(), vec![], "{name}");
            let mut budget = GrpcBudget::new(&spec);
            assert_eq!(budget.tokens(), *max_tokens, "{name}: starts full");
            assert!(budget.can_retry(), "{name}: a full bucket allows retries");
            for (i, &(event, tokens, can_retry)) in script.iter().enumerate() {
                match event {
                    Event::Success => budget.on_success(),
                    Event::Failure => budget.on_failure(),
                }
                assert_eq!(
                    (budget.tokens(), budget.can_retry()),
                    (tokens, can_retry),
                    "{name}: step {i} ({event:?})"
                );
            }
        }
    }

    /// One call under the budget: attempts until one succeeds, the attempts run out, or the
    /// budget refuses a retry; `fails()` decides each attempt. Returns the attempts made.
    fn call(budget: &mut GrpcBudget, max_attempts: u32, mut fails: impl FnMut() -> bool) -> u32 {
        let mut attempts = 0;
        loop {
            attempts += 1;
            if !fails() {
                budget.on_success();
                return attempts;
            }
            budget.on_failure();
            if attempts == max_attempts || !budget.can_retry() {
                return attempts;
            }
        }
    }

    #[test]
    fn budget_reproduces_the_grpc_worked_example() {
        // REFERENCES 3.3: 10 / 0.1, maxAttempts 4, every attempt fails.
        let mut budget = GrpcBudget::new(&GrpcBudgetSpec::default());
        let expected: &[(u32, f64)] = &[
            (4, 6.0), // 10 -> 9, 8, 7 (each > 5: retry), -> 6 (attempts exhausted)
            (1, 5.0), // -> 5, not above 5: throttled
            (1, 4.0),
            (1, 3.0),
            (1, 2.0),
            (1, 1.0),
            (1, 0.0),
            (1, 0.0), // floored
        ];
        for (i, &(attempts, tokens)) in expected.iter().enumerate() {
            assert_eq!(call(&mut budget, 4, || true), attempts, "call {}", i + 1);
            assert_eq!(budget.tokens(), tokens, "call {}", i + 1);
        }
        // From 0, retries come back on the 51st success (5.1 > 5), not the 50th (5.0).
        for success in 1..=51 {
            budget.on_success();
            assert_eq!(
                budget.can_retry(),
                success == 51,
                "after {success} successes"
            );
        }
        assert_eq!(budget.tokens(), 5.1);
    }

    #[test]
    fn thousandths_keep_the_threshold_exact() {
        // From a full bucket, 24 failures and 141 successes (the floor at 0 absorbs some of
        // the failures) leave exactly 5 tokens. Summed in f64 the same steps give
        // 5.000000000000001, which would pass the `> 5` check.
        let script = "FSSSFSFSSSFSSSFSSSSSFSSFFFSSSFFSSSSSSSSSSSSSFFSSFSFSSFFSSSSSSSSSSSSFSSSSSSFSF\
                      SSSSFSSSSSSSSSSSSSSSSSSSSSFSSSSSSSSSSSSSSSFSSSSSSSSSSSSSSSSFSSSSSSSSSSSSSSSS\
                      SSSSSSSSSSSS";
        let mut budget = GrpcBudget::new(&GrpcBudgetSpec::default());
        let mut float = 10.0_f64;
        for step in script.chars() {
            if step == 'F' {
                budget.on_failure();
                float = (float - 1.0).max(0.0);
            } else {
                budget.on_success();
                float = (float + 0.1).min(10.0);
            }
        }
        assert_eq!(budget.tokens(), 5.0);
        assert!(!budget.can_retry());
        assert!(float > 5.0, "the float sum is {float}");
    }

    #[test]
    fn budget_spec_problems() {
        // (max_tokens, token_ratio, fields reported)
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let cases: &[(f64, f64, &[&str])] = &[
            (10.0, 0.1, &[]),
            (10.0, 10.0, &[]),
            (0.001, 0.001, &[]),
            (0.0, 0.1, &["max_tokens"]),
            (-1.0, 0.1, &["max_tokens"]),
            (nan, 0.1, &["max_tokens"]),
            (inf, 0.1, &["max_tokens"]),
            (0.0004, 0.0004, &["max_tokens", "token_ratio"]),
            (10.0, 0.0, &["token_ratio"]),
            (10.0, 0.0004, &["token_ratio"]),
            (10.0, -0.1, &["token_ratio"]),
            (10.0, 10.5, &["token_ratio"]),
            (10.0, nan, &["token_ratio"]),
            (10.0, inf, &["token_ratio"]),
            (nan, nan, &["max_tokens", "token_ratio"]),
        ];
        for &(max_tokens, token_ratio, fields) in cases {
            let spec = GrpcBudgetSpec {
                max_tokens,
                token_ratio,
            };
            let got: Vec<String> = spec.problems().iter().map(|p| p.path.to_string()).collect();
            assert_eq!(got, fields, "{spec:?}");
        }
        let message = &GrpcBudgetSpec {
            max_tokens: 10.0,
            token_ratio: 11.0,
        }
        .problems()[0]
            .message;
        assert!(
            message.contains("max_tokens (10)") && message.contains("got 11"),
            "{message}"
        );
    }

    #[test]
    fn budget_spec_reads_from_ron_with_defaults() {
        let cases = [
            ("()", GrpcBudgetSpec::default()),
            (
                "(max_tokens: 5.0)",
                GrpcBudgetSpec {
                    max_tokens: 5.0,
                    token_ratio: 0.1,
                },
            ),
            (
                "(max_tokens: 100.0, token_ratio: 0.5)",
                GrpcBudgetSpec {
                    max_tokens: 100.0,
                    token_ratio: 0.5,
                },
            ),
        ];
        for (text, spec) in cases {
            assert_eq!(
                ron::from_str::<GrpcBudgetSpec>(text),
                Ok(spec.clone()),
                "{text}"
            );
            let back = ron::to_string(&spec).unwrap();
            assert_eq!(ron::from_str::<GrpcBudgetSpec>(&back), Ok(spec), "{back}");
        }
        assert!(ron::from_str::<GrpcBudgetSpec>("(max_tokens: 5.0, ttl: \"10s\")").is_err());
    }

    // --- long run: Brooker's model ---

    const MAX_ATTEMPTS: u32 = 4;

    /// Exact expected load (attempts / calls) of one caller making `calls` calls from a full
    /// default bucket, each attempt failing independently with probability `p`.
    ///
    /// An independent re-derivation of the budget as a Markov chain: the token count, in
    /// tenths, is a multiple of 1 in 0..=100 (a success adds 1, a failure takes 10, the
    /// threshold is 50), and the state after each call depends only on the state before it.
    /// The distribution is pushed forward call by call. Returns (mean load over the calls,
    /// expected attempts of the last call = the long-run load when `calls` is large).
    fn exact_load(p: f64, calls: u32) -> (f64, f64) {
        const TOP: usize = 100;
        // outcomes[t] = [(probability, attempts, tokens after)] of a call starting at t.
        let outcomes: Vec<Vec<(f64, f64, usize)>> = (0..=TOP)
            .map(|start| {
                let mut out = Vec::new();
                let (mut reach, mut t) = (1.0, start);
                for attempt in 1..=MAX_ATTEMPTS {
                    out.push((reach * (1.0 - p), f64::from(attempt), (t + 1).min(TOP)));
                    reach *= p;
                    t = t.saturating_sub(10);
                    if attempt == MAX_ATTEMPTS || t <= 50 {
                        out.push((reach, f64::from(attempt), t));
                        break;
                    }
                }
                out
            })
            .collect();
        let mut dist = vec![0.0; TOP + 1];
        dist[TOP] = 1.0;
        let (mut total, mut last) = (0.0, 0.0);
        for _ in 0..calls {
            let mut next = vec![0.0; TOP + 1];
            last = 0.0;
            for (start, &mass) in dist.iter().enumerate() {
                if mass == 0.0 {
                    continue;
                }
                for &(prob, attempts, end) in &outcomes[start] {
                    last += mass * prob * attempts;
                    next[end] += mass * prob;
                }
            }
            total += last;
            dist = next;
        }
        (total / f64::from(calls), last)
    }

    /// Load without a budget: `(1 - p^N) / (1 - p)`, N at p = 1.
    fn unbudgeted_load(p: f64) -> f64 {
        let n = MAX_ATTEMPTS as i32;
        if p == 1.0 {
            f64::from(MAX_ATTEMPTS)
        } else {
            (1.0 - p.powi(n)) / (1.0 - p)
        }
    }

    #[test]
    fn budget_caps_load_in_brookers_model() {
        // Brooker's setup: 100 clients, each with its own budget (10 / 0.1) and 4 attempts
        // per call; every attempt fails independently with probability p. Arrival times do
        // not matter here (no shared state, independent failures), so each client is simply
        // a run of calls; 100 x 1000 = 100k calls per p.
        const CLIENTS: u32 = 100;
        const CALLS: u32 = 1000;
        // Retries are allowed while failures stay under
        // r/(1+r) = 9.1 % of attempts. Below that the budget almost never binds and load is
        // the unbudgeted (1-p^4)/(1-p); above it every failed attempt drains the bucket
        // (first tries included), it sinks to 0 and stays there, and long-run load is 1.
        let cases = [0.0, 0.05, 0.2, 0.5, 1.0];
        for p in cases {
            let mut rng = rng::stream(42, "retry/brooker");
            let loads: Vec<f64> = (0..CLIENTS)
                .map(|_| {
                    let mut budget = GrpcBudget::new(&GrpcBudgetSpec::default());
                    let attempts: u32 = (0..CALLS)
                        .map(|_| call(&mut budget, MAX_ATTEMPTS, || rng.random::<f64>() < p))
                        .sum();
                    f64::from(attempts) / f64::from(CALLS)
                })
                .collect();
            let n = f64::from(CLIENTS);
            let measured = loads.iter().sum::<f64>() / n;
            let var = loads.iter().map(|l| (l - measured).powi(2)).sum::<f64>() / (n - 1.0);
            let (expected, long_run) = exact_load(p, CALLS);
            let (_, stationary) = exact_load(p, 100_000);
            // Clients are i.i.d., so by the CLT the mean of their loads is within 4 standard
            // errors (sample sd / sqrt(100)) of the exact expectation but with probability
            // ~6e-5; the 1e-9 absorbs float summation when the load is deterministic (p = 0, 1).
            let tolerance = 4.0 * (var / n).sqrt() + 1e-9;
            eprintln!(
                "p = {p}: measured {measured:.5} +- {tolerance:.5}, exact {expected:.5} \
                 (call {CALLS}: {long_run:.5}, stationary {stationary:.5}), \
                 unbudgeted {:.5}",
                unbudgeted_load(p)
            );
            assert!(
                (measured - expected).abs() <= tolerance,
                "p = {p}: measured {measured} vs exact {expected} +- {tolerance}"
            );
            if p < 1.0 / 11.0 {
                // Budget not binding: within 0.1 % of the unbudgeted load, long run included.
                for load in [expected, stationary] {
                    let relative = (load - unbudgeted_load(p)).abs() / unbudgeted_load(p);
                    assert!(
                        relative <= 1e-3,
                        "p = {p}: {load} vs {}",
                        unbudgeted_load(p)
                    );
                }
            } else {
                // Binding: only the start-up, while the full bucket drains to half, allows
                // retries (~5-7 extra attempts per client); the long run is first tries only.
                assert!(measured <= 1.01 && expected <= 1.01, "p = {p}: {measured}");
                assert!((stationary - 1.0).abs() <= 1e-3, "p = {p}: {stationary}");
            }
        }
        // 100 % failure is deterministic: 4 + 1 + 998 attempts per client (call 1, 2, rest).
        assert_eq!(exact_load(1.0, CALLS).0, 1.003);
    }
}
