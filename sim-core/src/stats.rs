//! Statistics collected while a run executes, and the confidence intervals reported after it.
//!
//! * [`Welford`]: numerically stable running count / mean / variance of `f64` samples (one pass, O(1)
//!   memory, mergeable across replicates), with a Student-t confidence interval on the mean.
//! * [`ConfidenceInterval`] and [`mean_ci`]: the same interval for a slice of samples, e.g.
//!   one per-replicate mean per run.
//! * [`LatencyRecorder`]: the distribution of a latency in nanoseconds, counted in an
//!   HdrHistogram's buckets. Quantiles are accurate to 3 significant digits; use it for percentiles,
//!   not for theory checks on means or variances (feed exact values to a [`Welford`]).
//! * [`WindowLatency`]: the same quantiles for one time-series window, at a cost that
//!   follows what the window holds.
//! * [`TimeWeighted`]: the time average of a piecewise-constant level (queue depth, busy
//!   workers), accumulated exactly in integer level x nanoseconds.
//!
//! The `record`/`push`/`set` methods sit on the simulation's hot path: they are O(1), never
//! allocate (except for the histogram's rare, amortised range growth) and never sort.
//! Plain counters are `u64` fields in the models and have no type here.

#[cfg(test)]
use std::sync::OnceLock;

#[cfg(test)]
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::time::{SimDuration, SimTime};

mod window;
pub use window::WindowLatency;

/// Running mean and variance by Welford's algorithm: numerically stable in one pass, unlike
/// the textbook `sum(x^2) - n*mean^2`, which cancels catastrophically for large means.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Welford {
    n: u64,
    mean: f64,
    /// Sum of squared deviations from the current mean.
    m2: f64,
}

impl Welford {
    pub const fn new() -> Self {
        Welford {
            n: 0,
            mean: 0.0,
            m2: 0.0,
        }
    }

    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        // A count is below 2^63, so through i64 it converts to the same f64 in one
        // instruction, where a u64 takes six on x86-64 without AVX-512 (a push per answer).
        self.mean += delta / (self.n as i64) as f64;
        self.m2 += delta * (x - self.mean);
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    /// The sample mean; `0.0` when empty (not NaN, so an idle component reports a plain zero
    /// rather than poisoning sums and JSON output; check [`count`](Self::count) to tell apart).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The unbiased sample variance (divisor `n - 1`); `0.0` for fewer than 2 samples.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// The sample standard deviation; `0.0` for fewer than 2 samples.
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// Combines `other` into `self` as if all of its samples had been pushed here
    /// (Chan, Golub & LeVeque's pairwise update), e.g. to pool replicates.
    pub fn merge(&mut self, other: &Welford) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        self.mean += delta * (nb / n as f64);
        self.m2 += other.m2 + delta * delta * (na * nb / n as f64);
        self.n = n;
    }

    /// Student-t confidence interval on the mean at `level` (e.g. `0.95`); see [`mean_ci`].
    ///
    /// # Panics
    /// If `level` is not strictly between 0 and 1.
    pub fn ci(&self, level: f64) -> ConfidenceInterval {
        assert!(
            level > 0.0 && level < 1.0,
            "confidence level must be in (0, 1), got {level}"
        );
        let half_width = if self.n < 2 {
            // One sample says nothing about spread: claim nothing rather than a zero width.
            f64::INFINITY
        } else {
            let t = t_quantile(0.5 + level / 2.0, (self.n - 1) as f64);
            t * (self.variance() / self.n as f64).sqrt()
        };
        ConfidenceInterval {
            mean: self.mean,
            half_width,
            level,
            n: self.n,
        }
    }
}

/// A symmetric confidence interval `mean ± half_width` at confidence `level` from `n` samples.
///
/// `half_width` is infinite when `n < 2` (JSON output shows it as `null`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ConfidenceInterval {
    pub mean: f64,
    pub half_width: f64,
    pub level: f64,
    pub n: u64,
}

impl ConfidenceInterval {
    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }

    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }

    /// Whether `x` lies in the closed interval `[low, high]`.
    pub fn contains(&self, x: f64) -> bool {
        self.low() <= x && x <= self.high()
    }
}

/// Student-t confidence interval on the mean of `samples` at `level` (e.g. `0.95`), with
/// `n - 1` degrees of freedom. Assumes independent samples (e.g. one value per replicate);
/// consecutive observations inside one run are autocorrelated and would give too narrow an
/// interval. For `n < 2` the half width is infinite (and the mean is `0.0` when empty).
///
/// # Panics
/// If `level` is not strictly between 0 and 1.
pub fn mean_ci(samples: &[f64], level: f64) -> ConfidenceInterval {
    let mut w = Welford::new();
    for &x in samples {
        w.push(x);
    }
    w.ci(level)
}

/// Above this many degrees of freedom the t quantile comes from an expansion around the
/// normal quantile instead of statrs.
const T_EXPANSION_DOF: f64 = 1000.0;

/// The `p` quantile of Student's t with `dof` degrees of freedom, for `p` in `[0.5, 1)`.
///
/// statrs' inverse CDF (via the inverse regularised beta) is accurate to ~1e-13 up to 10^4
/// degrees of freedom but drifts beyond (1.95985 instead of 1.95997 at 10^6 for p = 0.975),
/// collapses by 10^7 and does not return at 10^9; runs with millions of samples get there.
/// Past 1000 the Cornish-Fisher expansion to 1/dof^4 is exact to ~1e-13 instead, and the two
/// agree to 5e-13 around the switch.
pub fn t_quantile(p: f64, dof: f64) -> f64 {
    if dof <= T_EXPANSION_DOF {
        return StudentsT::new(0.0, 1.0, dof)
            .expect("positive, finite degrees of freedom")
            .inverse_cdf(p);
    }
    let z = Normal::standard().inverse_cdf(p);
    let z2 = z * z;
    // Abramowitz & Stegun 26.7.5, each term's polynomial in Horner form.
    let g1 = z * (z2 + 1.0) / 4.0;
    let g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0;
    let g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0;
    let g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0;
    z + (g1 + (g2 + (g3 + g4 / dof) / dof) / dof) / dof
}

/// Significant decimal digits kept by [`LatencyRecorder`]: relative error at most 1e-3.
const LATENCY_SIGFIGS: u8 = 3;

/// The distribution of a latency, recorded in nanoseconds.
///
/// Quantiles come from an HdrHistogram and are accurate to 3 significant digits (its
/// guarantee: the reported value is within 0.1% of a value that was recorded at that rank).
/// Count, min, max and mean are tracked exactly beside the histogram. Even so, theory checks
/// (e.g. against M/M/1 formulas) should use a [`Welford`] on the exact values: it also gives
/// the variance and a confidence interval.
///
/// The first [`FEW`] values stay in a plain list and the histogram is built only past them:
/// a histogram costs what its range costs (~20,000 buckets, 160 KB, at 3 digits over
/// nanoseconds to seconds: allocated, zeroed and scanned per quantile), which is most of a
/// short run. From the list a quantile is the value at the histogram's rank (`ceil(q n)`,
/// at least 1) in sorted order, answered as the top of its histogram bucket: the same
/// answer as the histogram's, to the bit.
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    sigfigs: u8,
    /// Every value while there are at most [`FEW`]; else empty.
    few: Vec<u64>,
    /// Every value once there are more than [`FEW`]; `None` until then.
    hist: Option<Counts>,
    /// Exact sum of every recorded value; `u128` cannot overflow (`u64::MAX` values of `u64::MAX`).
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

/// Values a [`LatencyRecorder`] keeps in a list before it builds its histogram: 32 KB at
/// most, a fifth of a grown 3-digit histogram; sorting them for quantiles costs about what
/// one scan of the histogram does.
const FEW: usize = 4096;

/// An empty histogram of `sigfigs` digits, for its bucket boundaries only (they depend on
/// the precision, not on the range a histogram has grown to): the reference the tests hold
/// [`bucket_top`] and [`WindowLatency`]'s buckets to.
#[cfg(test)]
fn shape(sigfigs: u8) -> &'static Histogram<u64> {
    static SHAPES: [OnceLock<Histogram<u64>>; 5] = [const { OnceLock::new() }; 5];
    SHAPES[usize::from(sigfigs - 1)].get_or_init(|| new_histogram(sigfigs))
}

#[cfg(test)]
fn new_histogram(sigfigs: u8) -> Histogram<u64> {
    // Auto-resizing: starts small and grows to cover whatever is recorded, so no value is
    // ever out of range.
    Histogram::new(sigfigs).expect("1..=5 significant figures is valid")
}

/// log2 of half a bucket's sub-buckets in a histogram of `sigfigs` digits (its
/// `sub_bucket_half_count_magnitude`): as `Histogram::new_with_bounds` sizes a bucket, enough
/// sub-buckets (a power of two) for unit resolution up to 2 x 10^sigfigs.
fn half_magnitude(sigfigs: u8) -> u32 {
    (2 * 10u32.pow(u32::from(sigfigs)))
        .next_power_of_two()
        .trailing_zeros()
        - 1
}

/// A histogram's bucket arithmetic (`Histogram::index_for` and `value_for`, lowest
/// discernible value 1), shared by [`LatencyRecorder`]'s counts and [`WindowLatency`].
#[derive(Clone, Copy, Debug)]
struct Buckets {
    /// [`half_magnitude`] of the histogram's digits.
    h: u32,
}

impl Buckets {
    fn of(sigfigs: u8) -> Self {
        Buckets {
            h: half_magnitude(sigfigs),
        }
    }

    /// The bucket index of `ns`: `(bucket + 1) 2^h + sub_bucket - 2^h`; monotone in `ns`,
    /// equal for the values of one bucket.
    #[inline(always)]
    fn index(self, ns: u64) -> usize {
        let h = self.h;
        let mask = (1u64 << (h + 1)) - 1;
        let bucket = (64 - (h + 1)) - (ns | mask).leading_zeros();
        ((bucket as usize) << h) + (ns >> bucket) as usize
    }

    /// The lowest value of bucket index `i`.
    fn lowest(self, i: usize) -> u64 {
        let bucket = (i >> self.h).saturating_sub(1);
        ((i - (bucket << self.h)) as u64) << bucket
    }
}

/// The value a histogram of `sigfigs` digits reports for a bucket holding `ns`: the top of
/// the bucket (`highest_equivalent(lowest_equivalent(ns))`, as `value_at_quantile` computes
/// it), from the histogram's index arithmetic (lowest discernible value 1) rather than from a
/// histogram, which would allocate and zero 16 KB at 3 digits for its boundaries alone.
fn bucket_top(sigfigs: u8, ns: u64) -> u64 {
    let h = half_magnitude(sigfigs);
    let mask = (1u64 << (h + 1)) - 1;
    // `bucket_for`: powers of two past the values that fit bucket 0 unit by unit.
    let bucket = (64 - (h + 1)) - (ns | mask).leading_zeros();
    let lowest = (ns >> bucket) << bucket;
    lowest.saturating_add(1 << bucket) - 1
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    /// A recorder keeping `sigfigs` significant digits (1..=5); fewer digits make a smaller,
    /// faster histogram, e.g. 2 for per-window percentiles of a time series.
    pub fn with_precision(sigfigs: u8) -> Self {
        LatencyRecorder {
            sigfigs: sigfigs.clamp(1, 5),
            few: Vec::new(),
            hist: None,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }

    pub fn new() -> Self {
        Self::with_precision(LATENCY_SIGFIGS)
    }

    /// Always inlined: once per answered attempt and twice per successful request.
    #[inline(always)]
    pub fn record(&mut self, d: SimDuration) {
        let ns = d.as_nanos();
        match &mut self.hist {
            Some(hist) => hist.record(ns),
            None if self.few.len() < FEW => self.few.push(ns),
            None => self.spill().record(ns),
        }
        self.sum_ns += u128::from(ns);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Moves the list into a new histogram (once, when it is full), and returns it.
    #[cold]
    fn spill(&mut self) -> &mut Counts {
        let mut hist = Counts::new(self.sigfigs);
        for ns in self.few.drain(..) {
            hist.record(ns);
        }
        self.few = Vec::new();
        self.hist.insert(hist)
    }

    pub fn count(&self) -> u64 {
        self.few.len() as u64 + self.hist.as_ref().map_or(0, |h| h.total)
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The value at quantile `q` (`0.5` is the median), to 3 significant digits and within
    /// the exact `[min, max]`; `q <= 0` gives the exact minimum, `q >= 1` the exact maximum.
    /// `ZERO` when empty.
    pub fn quantile(&self, q: f64) -> SimDuration {
        debug_assert!(!q.is_nan(), "quantile of NaN");
        self.quantiles(&[q])[0]
    }

    /// The values at ascending quantiles `qs`, each as [`quantile`](Self::quantile) gives
    /// it, in one pass over the histogram (or one sort of the list) for all of them.
    pub fn quantiles(&self, qs: &[f64]) -> Vec<SimDuration> {
        debug_assert!(qs.is_sorted(), "quantiles in ascending order");
        if self.is_empty() {
            return vec![SimDuration::ZERO; qs.len()];
        }
        let tops: Vec<u64> = match &self.hist {
            Some(hist) => hist.value_at_quantiles(qs),
            None => {
                let mut values = self.few.clone();
                let n = values.len();
                let index = |q: f64| ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
                if qs.len() > 8 {
                    values.sort_unstable();
                    qs.iter()
                        .map(|&q| bucket_top(self.sigfigs, values[index(q)]))
                        .collect()
                } else {
                    // A few quantiles: select each in the part above the previous one
                    // (`values[..lo]` holds the `lo` smallest), linear instead of a sort.
                    let mut lo = 0;
                    qs.iter()
                        .map(|&q| {
                            let i = index(q).max(lo);
                            values[lo..].select_nth_unstable(i - lo);
                            lo = i;
                            bucket_top(self.sigfigs, values[i])
                        })
                        .collect()
                }
            }
        };
        qs.iter()
            .zip(tops)
            .map(|(&q, ns)| {
                if q <= 0.0 {
                    self.min()
                } else if q >= 1.0 {
                    self.max()
                } else {
                    // The top of a bucket may exceed the true maximum.
                    SimDuration::from_nanos(ns.clamp(self.min_ns, self.max_ns))
                }
            })
            .collect()
    }

    /// The largest recorded value, exactly; `ZERO` when empty.
    pub fn max(&self) -> SimDuration {
        SimDuration::from_nanos(self.max_ns)
    }

    /// The smallest recorded value, exactly; `ZERO` when empty.
    pub fn min(&self) -> SimDuration {
        if self.is_empty() {
            SimDuration::ZERO
        } else {
            SimDuration::from_nanos(self.min_ns)
        }
    }

    /// The mean in nanoseconds (exact sum / count, rounded once to `f64`); `0.0` when empty.
    pub fn mean(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            n => self.sum_ns as f64 / n as f64,
        }
    }

    /// Forgets every value, keeping what was allocated (so a windowed recorder does not
    /// reallocate each window).
    pub fn reset(&mut self) {
        self.few.clear();
        // Zeroing the counts is the cost (the whole grown range); an empty one has none.
        if let Some(hist) = &mut self.hist
            && hist.total > 0
        {
            hist.counts.fill(0);
            hist.total = 0;
        }
        self.sum_ns = 0;
        self.min_ns = u64::MAX;
        self.max_ns = 0;
    }

    /// Adds every value recorded in `other`, e.g. to pool windows or replicates.
    pub fn merge(&mut self, other: &LatencyRecorder) {
        for &ns in &other.few {
            match &mut self.hist {
                Some(hist) => hist.record(ns),
                None if self.few.len() < FEW => self.few.push(ns),
                None => self.spill().record(ns),
            }
        }
        if let Some(theirs) = &other.hist {
            let hist = match &mut self.hist {
                Some(hist) => hist,
                None => self.spill(),
            };
            hist.add(theirs);
        }
        self.sum_ns += other.sum_ns;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The usual percentiles in milliseconds; all zero when empty.
    pub fn summary(&self) -> LatencySummary {
        let [p50, p90, p99, p999] = self.usual_quantiles().map(SimDuration::as_millis_f64);
        LatencySummary {
            count: self.count(),
            p50_ms: p50,
            p90_ms: p90,
            p99_ms: p99,
            p999_ms: p999,
            max_ms: self.max().as_millis_f64(),
            mean_ms: self.mean() / 1e6,
        }
    }

    /// p50, p90, p99 and p999, in one pass.
    pub fn usual_quantiles(&self) -> [SimDuration; 4] {
        let v = self.quantiles(&[0.5, 0.9, 0.99, 0.999]);
        [v[0], v[1], v[2], v[3]]
    }

    /// Points `(quantile, value in ms)` of the empirical CDF for charts: quantiles 0, 0.01
    /// .. 0.89 evenly, then 1 - 10^-k for k = 1 .. 5 in twentieths, a log scale of the tail,
    /// where resilience questions live. Empty when the recorder is empty.
    pub fn cdf_points(&self) -> Vec<(f64, f64)> {
        if self.is_empty() {
            return Vec::new();
        }
        let body = (0..90).map(|i| f64::from(i) / 100.0);
        let tail = (20..=100).map(|i| 1.0 - 10f64.powf(-f64::from(i) / 20.0));
        let qs: Vec<f64> = body.chain(tail).collect();
        let values = self.quantiles(&qs);
        qs.into_iter()
            .zip(values)
            .map(|(q, v)| (q, v.as_millis_f64()))
            .collect()
    }
}

/// The counts of an auto-resizing HdrHistogram of `sigfigs` digits with a lowest
/// discernible value of 1: the same buckets, indexed as `Histogram::index_for` indexes them,
/// so quantiles are the histogram's to the bit (tested against it). Recording is an index
/// computation and an increment; the crate's `record` (range checks, resize checks, its own
/// count, min and max, which [`LatencyRecorder`] keeps itself) cost ~140 instructions a value,
/// twice per request on the hot path.
#[derive(Clone, Debug)]
struct Counts {
    sigfigs: u8,
    /// The histogram's bucket arithmetic.
    buckets: Buckets,
    /// Values per bucket index, grown to the highest index recorded.
    counts: Vec<u64>,
    total: u64,
}

impl Counts {
    fn new(sigfigs: u8) -> Self {
        Counts {
            sigfigs,
            buckets: Buckets::of(sigfigs),
            counts: Vec::new(),
            total: 0,
        }
    }

    #[inline(always)]
    fn record(&mut self, ns: u64) {
        let i = self.buckets.index(ns);
        if i >= self.counts.len() {
            self.grow(i);
        }
        self.counts[i] += 1;
        self.total += 1;
    }

    /// Room up to index `i` (rare: amortised like a `Vec`'s pushes).
    #[cold]
    fn grow(&mut self, i: usize) {
        self.counts.resize(i + 1, 0);
    }

    fn add(&mut self, other: &Counts) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// As `Histogram::value_at_quantiles` answers ascending `qs` in `(0, 1)`: the top of the
    /// first bucket whose running count reaches `ceil(q n)` (at least 1), walking the counts
    /// once.
    fn value_at_quantiles(&self, qs: &[f64]) -> Vec<u64> {
        let mut running = 0;
        let mut at = 0;
        let mut buckets = self.counts.iter().enumerate();
        qs.iter()
            .map(|&q| {
                let target = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
                while running < target {
                    let Some((i, &n)) = buckets.next() else {
                        break;
                    };
                    at = i;
                    running += n;
                }
                bucket_top(self.sigfigs, self.buckets.lowest(at))
            })
            .collect()
    }
}

/// Records `ns` in an HdrHistogram (the reference the tests hold [`Counts`] to), growing it
/// when needed.
#[cfg(test)]
fn hist_record(hist: &mut Histogram<u64>, ns: u64) {
    if hist.record(ns).is_err() {
        hist.saturating_record(ns);
    }
}

/// A latency distribution reduced to the numbers reports print, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Time average of a piecewise-constant level, such as queue depth or busy workers.
///
/// Averages over two spans: the current window (restarted by [`reset`](Self::reset), which
/// closes a time-series window) and the whole run since [`new`](Self::new). One area is
/// accumulated, exact `u128` level x nanoseconds (at most `u64::MAX` x `u64::MAX`, so it
/// cannot overflow); a span's area is the difference from its value at the span's start.
#[derive(Clone, Debug)]
pub struct TimeWeighted {
    level: u64,
    /// Time up to which `area` has been accumulated.
    last: SimTime,
    area: u128,
    window_start: SimTime,
    /// `area` at `window_start`.
    window_base: u128,
    window_max: u64,
    run_start: SimTime,
    /// `area` at `run_start`.
    run_base: u128,
    run_max: u64,
}

impl TimeWeighted {
    /// Starts at level 0 at time `start`.
    pub fn new(start: SimTime) -> Self {
        TimeWeighted {
            level: 0,
            last: start,
            area: 0,
            window_start: start,
            window_base: 0,
            window_max: 0,
            run_start: start,
            run_base: 0,
            run_max: 0,
        }
    }

    /// The level changes to `level` at `now`.
    pub fn set(&mut self, now: SimTime, level: u64) {
        self.advance(now);
        self.level = level;
        self.window_max = self.window_max.max(level);
        self.run_max = self.run_max.max(level);
    }

    pub fn level(&self) -> u64 {
        self.level
    }

    /// Average level over `[last reset, now]`; the current level if no time has elapsed.
    pub fn mean_since_reset(&self, now: SimTime) -> f64 {
        mean_of_parts(self.window_parts(now))
    }

    /// [`mean_since_reset`](Self::mean_since_reset) as exact integers, `(area, elapsed)`,
    /// or `(level, 0)` when no time has elapsed: [`mean_of_parts`] makes the mean of them,
    /// to the bit (a time series keeps the parts, which take fewer bytes than the `f64`).
    pub fn window_parts(&self, now: SimTime) -> (u128, u64) {
        match self.pending(now, self.area - self.window_base, self.window_start) {
            (_, 0) => (u128::from(self.level), 0),
            parts => parts,
        }
    }

    /// Highest level held since the last reset (including the level carried into the window).
    pub fn max_since_reset(&self) -> u64 {
        self.window_max
    }

    /// Starts a new window at `now`, keeping the current level; the run totals are untouched.
    pub fn reset(&mut self, now: SimTime) {
        self.take_window(now);
    }

    /// [`window_parts`](Self::window_parts), then a new window at `now` (what
    /// [`reset`](Self::reset) does): a window's close, accumulating to `now` once for both.
    #[inline]
    pub fn take_window(&mut self, now: SimTime) -> (u128, u64) {
        self.advance(now);
        let elapsed = self.last.saturating_since(self.window_start).as_nanos();
        let parts = match elapsed {
            0 => (u128::from(self.level), 0),
            _ => (self.area - self.window_base, elapsed),
        };
        self.window_start = self.last;
        self.window_base = self.area;
        self.window_max = self.level;
        parts
    }

    /// Average level over the whole run, `[start, now]`; the current level if no time elapsed.
    pub fn overall_mean(&self, now: SimTime) -> f64 {
        let (area, elapsed) = self.pending(now, self.area - self.run_base, self.run_start);
        average(area, elapsed, self.level)
    }

    /// Highest level held during the whole run (at least 0, the starting level).
    pub fn overall_max(&self) -> u64 {
        self.run_max
    }

    /// The level moves by `delta` at `now` (models count arrivals and departures). Always
    /// inlined, on its own rather than through `set`: up to four times per request, and with
    /// a constant `delta` a step down leaves the maxima alone without a comparison.
    #[inline(always)]
    pub fn add(&mut self, now: SimTime, delta: i64) {
        let level = self.level.checked_add_signed(delta);
        let level = level.unwrap_or_else(|| panic!("level {} + {delta} out of range", self.level));
        self.advance(now);
        self.level = level;
        if delta > 0 {
            self.window_max = self.window_max.max(level);
            self.run_max = self.run_max.max(level);
        }
    }

    /// Starts the whole-run accumulation over at `now` with the current level (end of a
    /// warm-up); the open window is untouched.
    pub fn reset_overall(&mut self, now: SimTime) {
        self.advance(now);
        self.run_start = self.last;
        self.run_base = self.area;
        self.run_max = self.level;
    }

    /// Accumulates the current level up to `now`.
    #[inline(always)]
    fn advance(&mut self, now: SimTime) {
        debug_assert!(
            now >= self.last,
            "TimeWeighted updated at {now:?}, earlier than its last update at {:?}",
            self.last
        );
        // In release builds a stale `now` adds nothing and does not move time backwards.
        self.area += self.area_until(now);
        self.last = self.last.max(now);
    }

    /// `area` extended to `now` at the current level, and the time elapsed since `start`.
    fn pending(&self, now: SimTime, area: u128, start: SimTime) -> (u128, u64) {
        debug_assert!(
            now >= self.last,
            "TimeWeighted read at {now:?}, earlier than its last update at {:?}",
            self.last
        );
        let area = area + self.area_until(now);
        (area, now.max(self.last).saturating_since(start).as_nanos())
    }

    fn area_until(&self, now: SimTime) -> u128 {
        u128::from(self.level) * u128::from(now.saturating_since(self.last).as_nanos())
    }
}

/// `area / elapsed`; correctly rounded while both are below 2^53, within 2 ulp beyond.
fn average(area: u128, elapsed: u64, level: u64) -> f64 {
    if elapsed == 0 {
        level as f64
    } else {
        // The same rounding either way; from 64 bits it is one instruction, from 128 a call.
        let area = match u64::try_from(area) {
            Ok(a) => a as f64,
            Err(_) => area as f64,
        };
        area / elapsed as f64
    }
}

/// The mean of [`TimeWeighted::window_parts`]: `area / elapsed`, or the level when no time
/// has elapsed.
pub fn mean_of_parts((area, elapsed): (u128, u64)) -> f64 {
    // With no time elapsed, `area` holds the level (a `u64`).
    average(area, elapsed, area as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    /// An area that fits 64 bits is converted from them: the same `f64` as from 128.
    #[test]
    fn mean_of_parts_rounds_as_from_128_bits() {
        let mut rng = crate::rng::stream(17, "mean-of-parts");
        for _ in 0..100_000 {
            let area = u128::from(rng.random::<u64>() >> rng.random_range(0..64))
                << rng.random_range(0..70);
            let elapsed = rng.random::<u64>() >> rng.random_range(0..64);
            let want = if elapsed == 0 {
                area as u64 as f64
            } else {
                area as f64 / elapsed as f64
            };
            assert_eq!(
                mean_of_parts((area, elapsed)).to_bits(),
                want.to_bits(),
                "{area}/{elapsed}"
            );
        }
        for area in [
            0,
            1,
            u128::from(u64::MAX),
            u128::from(u64::MAX) + 1,
            u128::MAX,
        ] {
            assert_eq!(mean_of_parts((area, 3)), area as f64 / 3.0);
        }
    }

    fn rel_err(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
    }

    /// A fixed data set with a large offset, where naive sum-of-squares would lose digits.
    fn data() -> Vec<f64> {
        (0..1000)
            .map(|i| 1e6 + ((i * 7919) % 1000) as f64 * 0.37 + (i % 13) as f64)
            .collect()
    }

    fn two_pass(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }

    #[test]
    fn bucket_top_is_the_histograms() {
        let mut rng = crate::rng::stream(5, "bucket-top");
        for sigfigs in 1..=5 {
            let h = shape(sigfigs);
            let edges = [
                0,
                1,
                2,
                255,
                256,
                257,
                2047,
                2048,
                2049,
                u64::MAX >> 1,
                u64::MAX - 1,
            ];
            let values = (0..20_000).map(|_| {
                let bits = rng.random_range(0..64);
                rng.random::<u64>() >> bits
            });
            for v in values.chain(edges).chain([u64::MAX]) {
                let want = h.highest_equivalent(h.lowest_equivalent(v));
                assert_eq!(bucket_top(sigfigs, v), want, "{v} at {sigfigs} digits");
            }
        }
    }

    #[test]
    fn counts_are_the_histograms_buckets_and_quantiles() {
        let mut rng = crate::rng::stream(6, "counts");
        let qs: Vec<f64> = (1..1000)
            .map(|i| f64::from(i) / 1000.0)
            .chain([0.99999])
            .collect();
        for sigfigs in 1..=5 {
            let (mut c, mut h) = (Counts::new(sigfigs), new_histogram(sigfigs));
            let (mut c2, mut h2) = (Counts::new(sigfigs), new_histogram(sigfigs));
            let values = (0..20_000).map(|_| {
                let bits = rng.random_range(0..64);
                rng.random::<u64>() >> bits
            });
            for (k, v) in values.chain([0, 1, u64::MAX - 1, u64::MAX]).enumerate() {
                let i = c.buckets.index(v);
                assert_eq!(
                    c.buckets.lowest(i),
                    h.lowest_equivalent(v),
                    "{v} at {sigfigs} digits"
                );
                if k % 3 == 0 {
                    c2.record(v);
                    hist_record(&mut h2, v);
                } else {
                    c.record(v);
                    hist_record(&mut h, v);
                }
            }
            c.add(&c2);
            h.add(&h2).unwrap();
            let want: Vec<u64> = h.value_at_quantiles(qs.iter().copied()).collect();
            assert_eq!(c.value_at_quantiles(&qs), want, "{sigfigs} digits");
            assert_eq!(c.total, h.len());
        }
    }

    #[test]
    fn welford_matches_two_pass() {
        let xs = data();
        let mut w = Welford::new();
        xs.iter().for_each(|&x| w.push(x));
        let (mean, var) = two_pass(&xs);
        assert_eq!(w.count(), 1000);
        assert!(rel_err(w.mean(), mean) < 1e-12, "{} vs {mean}", w.mean());
        assert!(
            rel_err(w.variance(), var) < 1e-12,
            "{} vs {var}",
            w.variance()
        );
        assert!(rel_err(w.std_dev(), var.sqrt()) < 1e-12);
    }

    #[test]
    fn welford_edge_cases() {
        let mut w = Welford::new();
        assert_eq!((w.count(), w.mean(), w.variance()), (0, 0.0, 0.0));
        assert!(w.ci(0.95).half_width.is_infinite());
        w.push(3.5);
        assert_eq!((w.count(), w.mean(), w.variance()), (1, 3.5, 0.0));
        let ci = w.ci(0.95);
        assert!(ci.half_width.is_infinite() && ci.contains(-1e300) && ci.contains(1e300));
    }

    #[test]
    fn welford_merge_equals_pushing_all() {
        let xs = data();
        let mut all = Welford::new();
        xs.iter().for_each(|&x| all.push(x));
        for split in [0, 1, 300, 999, 1000] {
            let (mut a, mut b) = (Welford::new(), Welford::new());
            xs[..split].iter().for_each(|&x| a.push(x));
            xs[split..].iter().for_each(|&x| b.push(x));
            a.merge(&b);
            assert_eq!(a.count(), all.count());
            assert!(rel_err(a.mean(), all.mean()) < 1e-12, "split {split}");
            assert!(
                rel_err(a.variance(), all.variance()) < 1e-12,
                "split {split}"
            );
        }
    }

    #[test]
    fn mean_ci_matches_hand_computed_t() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0, 3.0, 7.0];
        let (mean, var) = two_pass(&xs);
        let ci = mean_ci(&xs, 0.95);
        let t = 2.262_157_162_7; // t_{0.975, 9}
        let expected = t * (var / 10.0).sqrt();
        assert_eq!((ci.n, ci.level), (10, 0.95));
        assert!(rel_err(ci.mean, mean) < 1e-12);
        assert!(rel_err(ci.half_width, expected) < 1e-9, "{}", ci.half_width);
        assert!(rel_err(ci.low(), mean - expected) < 1e-9);
        assert!(rel_err(ci.high(), mean + expected) < 1e-9);
        assert!(ci.contains(mean) && !ci.contains(ci.high() + 1e-9));
    }

    #[test]
    fn t_quantile_is_accurate_at_any_dof() {
        // Reference values: the root of the exact t CDF (regularised incomplete beta) in mpmath
        // at 40 digits.
        let cases = [
            (0.975, 1.0, 12.706_204_736_174_693),
            (0.975, 9.0, 2.262_157_162_798_205),
            (0.975, 30.0, 2.042_272_456_301_238),
            (0.95, 100.0, 1.660_234_326_085_339),
            (0.975, 1000.0, 1.962_339_080_826_408),
            (0.975, 1001.0, 1.962_336_705_280_88),
            (0.975, 1e6, 1.959_966_356_814_107),
            (0.995, 1e9, 2.575_829_308_465_448),
        ];
        for (p, dof, t) in cases {
            let got = t_quantile(p, dof);
            assert!(rel_err(got, t) < 1e-10, "t({p}, {dof}) = {got}, want {t}");
        }
        // Huge counts take the expansion and converge on the normal quantile.
        let w = Welford {
            n: u64::MAX,
            mean: 1.0,
            m2: 4.0 * (u64::MAX - 1) as f64,
        };
        let ci = w.ci(0.95);
        let z = ci.half_width / (w.variance() / w.count() as f64).sqrt();
        assert!(rel_err(z, 1.959_963_984_540_054) < 1e-12, "{z}");
    }

    #[test]
    fn ci_covers_true_mean_about_95_percent() {
        let mut rng = crate::rng::stream(7, "ci");
        let sets = 400;
        let covered = (0..sets)
            .filter(|_| {
                let xs: Vec<f64> = (0..20).map(|_| rng.random::<f64>()).collect();
                mean_ci(&xs, 0.95).contains(0.5)
            })
            .count();
        let rate = covered as f64 / sets as f64;
        assert!((0.90..=0.99).contains(&rate), "coverage {rate}");
    }

    #[test]
    fn latency_quantiles_within_a_tenth_of_a_percent() {
        let mut r = LatencyRecorder::new();
        for ns in 1..=100_000u64 {
            r.record(SimDuration::from_nanos(ns));
        }
        assert_eq!(r.count(), 100_000);
        for q in [0.001, 0.1, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let exact = q * 100_000.0;
            let got = r.quantile(q).as_nanos() as f64;
            assert!(rel_err(got, exact) <= 1e-3, "q={q}: {got} vs {exact}");
        }
        assert_eq!(r.min(), SimDuration::from_nanos(1));
        assert_eq!(r.max(), SimDuration::from_nanos(100_000));
        assert_eq!(r.quantile(0.0), SimDuration::from_nanos(1));
        assert_eq!(r.mean(), 50_000.5);
        let s = r.summary();
        assert_eq!((s.count, s.max_ms, s.mean_ms), (100_000, 0.1, 0.0500005));
        assert!(rel_err(s.p99_ms, 0.099) <= 1e-3);
        assert!(s.p50_ms <= s.p90_ms && s.p90_ms <= s.p99_ms && s.p99_ms <= s.p999_ms);
        assert!(s.p999_ms <= s.max_ms);

        let cdf = r.cdf_points();
        assert_eq!(cdf.len(), 90 + 81);
        assert_eq!(cdf[0], (0.0, 1e-6));
        assert!(cdf.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        assert!(rel_err(cdf[50].1, 0.05) <= 1e-3);
        let (q, v) = *cdf.last().unwrap();
        assert!((q - 0.99999).abs() < 1e-12 && rel_err(v, 0.099999) <= 1e-3);
    }

    #[test]
    fn empty_latency_recorder_is_all_zero() {
        let r = LatencyRecorder::default();
        assert_eq!((r.count(), r.mean()), (0, 0.0));
        assert_eq!(r.quantile(0.5), SimDuration::ZERO);
        assert_eq!(r.quantile(1.0), SimDuration::ZERO);
        assert_eq!((r.min(), r.max()), (SimDuration::ZERO, SimDuration::ZERO));
        assert_eq!(r.summary(), LatencySummary::default());
        assert!(r.cdf_points().is_empty());
    }

    #[test]
    fn huge_latencies_do_not_panic() {
        let mut r = LatencyRecorder::new();
        r.record(SimDuration::from_nanos(5));
        r.record(SimDuration::MAX);
        r.record(SimDuration::from_secs(3600 * 24 * 365));
        assert_eq!(r.count(), 3);
        assert_eq!(r.max(), SimDuration::MAX);
        assert_eq!(r.quantile(1.0), SimDuration::MAX);
        assert_eq!(r.quantile(0.0), SimDuration::from_nanos(5));
        let year = 3600.0 * 24.0 * 365.0 * 1e9;
        assert!(rel_err(r.quantile(0.5).as_nanos() as f64, year) <= 1e-3);
        assert!(r.mean() > 6e18);
        let s = r.summary();
        assert!(s.max_ms.is_finite() && s.p999_ms <= s.max_ms);
        let mut other = LatencyRecorder::new();
        other.record(SimDuration::from_nanos(1));
        other.merge(&r);
        r.merge(&other);
        assert_eq!((other.count(), r.count()), (4, 7));
    }

    #[test]
    fn quantiles_in_one_pass_answer_as_each_quantile() {
        let qs: Vec<f64> = (0..=1000).map(|i| f64::from(i) / 1000.0).collect();
        let mut r = LatencyRecorder::new();
        assert_eq!(r.quantiles(&qs), vec![SimDuration::ZERO; qs.len()]);
        // Skewed values with gaps, repeats and empty buckets between them.
        let mut x = 12_345u64;
        for i in 0..5000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let ns = (x >> 40) * (1 + i % 7) * if i % 13 == 0 { 1000 } else { 1 };
            r.record(SimDuration::from_nanos(ns));
            if i % 997 == 0 || i == 4999 {
                let each: Vec<SimDuration> = qs.iter().map(|&q| r.quantile(q)).collect();
                assert_eq!(r.quantiles(&qs), each, "after {} values", i + 1);
            }
        }
    }

    /// What the histogram alone answers for `values` at `q`, as `quantile` did before the
    /// list: `value_at_quantile` clamped to the exact min and max.
    fn histogram_quantile(values: &[u64], q: f64) -> u64 {
        let mut h = new_histogram(LATENCY_SIGFIGS);
        values.iter().for_each(|&ns| hist_record(&mut h, ns));
        let (min, max) = (*values.iter().min().unwrap(), *values.iter().max().unwrap());
        match q {
            q if q <= 0.0 => min,
            q if q >= 1.0 => max,
            q => h.value_at_quantile(q).clamp(min, max),
        }
    }

    #[test]
    fn the_list_answers_as_the_histogram_to_the_bit_on_both_sides_of_its_capacity() {
        let mut rng = crate::rng::stream(12, "latency-list");
        let qs = [0.0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.99999, 1.0];
        for n in [1, 2, 3, 10, 100, FEW - 1, FEW, FEW + 1, FEW + 500] {
            let scale = 10f64.powi((n % 9) as i32 + 1);
            let values: Vec<u64> = (0..n)
                .map(|_| (rng.random::<f64>() * scale) as u64 + 1)
                .chain([u64::MAX])
                .collect();
            let mut r = LatencyRecorder::new();
            values
                .iter()
                .for_each(|&ns| r.record(SimDuration::from_nanos(ns)));
            // Merged halves (list into list, list into histogram, histogram into list).
            let (a, b) = values.split_at(n / 3);
            let (mut left, mut right) = (LatencyRecorder::new(), LatencyRecorder::new());
            a.iter()
                .for_each(|&ns| left.record(SimDuration::from_nanos(ns)));
            b.iter()
                .for_each(|&ns| right.record(SimDuration::from_nanos(ns)));
            let mut rl = right.clone();
            left.merge(&right);
            rl.merge(&LatencyRecorder::new());
            for q in qs {
                let want = SimDuration::from_nanos(histogram_quantile(&values, q));
                assert_eq!(r.quantile(q), want, "{n} values, q {q}");
                assert_eq!(left.quantile(q), want, "{n} values merged, q {q}");
            }
            assert_eq!(rl.quantiles(&qs), right.quantiles(&qs));
            // A few quantiles are selected, not sorted for: the same answers.
            let usual = [0.5, 0.9, 0.99, 0.999]
                .map(|q| SimDuration::from_nanos(histogram_quantile(&values, q)));
            assert_eq!(r.usual_quantiles(), usual, "{n} values");
            assert_eq!(left.usual_quantiles(), usual, "{n} values merged");
            assert_eq!((r.count(), left.count()), (n as u64 + 1, n as u64 + 1));
        }
    }

    #[test]
    fn latency_merge_and_reset() {
        let (mut a, mut b, mut all) = (
            LatencyRecorder::new(),
            LatencyRecorder::new(),
            LatencyRecorder::new(),
        );
        for ns in 1..=2000u64 {
            let d = SimDuration::from_micros(ns * 37 % 5000);
            all.record(d);
            if ns % 3 == 0 { &mut a } else { &mut b }.record(d);
        }
        a.merge(&b);
        assert_eq!(a.summary(), all.summary());
        assert_eq!((a.min(), a.max()), (all.min(), all.max()));
        a.merge(&LatencyRecorder::new());
        assert_eq!(a.summary(), all.summary());

        a.reset();
        assert_eq!(a.summary(), LatencySummary::default());
        a.record(SimDuration::from_millis(2));
        assert_eq!(
            (a.min(), a.max()),
            (SimDuration::from_millis(2), SimDuration::from_millis(2))
        );
        assert_eq!(a.quantile(0.5), SimDuration::from_millis(2));
        assert_eq!(a.mean(), 2e6);
    }

    #[test]
    fn summary_serializes_and_round_trips() {
        let mut r = LatencyRecorder::new();
        r.record(SimDuration::from_millis(3));
        let s = r.summary();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<LatencySummary>(&json).unwrap(), s);
        let ci = serde_json::to_value(mean_ci(&[1.0, 3.0], 0.9)).unwrap();
        assert_eq!(ci["mean"], 2.0);
        assert_eq!(ci["n"], 2);
        let one = serde_json::to_value(mean_ci(&[1.0], 0.95)).unwrap();
        assert!(one["half_width"].is_null());
    }

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn time_weighted_step_function() {
        // Level 0 for 1s, 4 for 1s, 2 for 2s: area 0 + 4 + 4 = 8 over 4s.
        let mut tw = TimeWeighted::new(SimTime::ZERO);
        assert_eq!(tw.mean_since_reset(SimTime::ZERO), 0.0);
        tw.set(SimTime(SEC), 4);
        tw.set(SimTime(2 * SEC), 2);
        assert_eq!(tw.level(), 2);
        assert_eq!(tw.mean_since_reset(SimTime(4 * SEC)), 2.0);
        assert_eq!(tw.overall_mean(SimTime(4 * SEC)), 2.0);
        assert_eq!((tw.max_since_reset(), tw.overall_max()), (4, 4));
        // Reading does not change state: the level holds until the next `set`.
        assert_eq!(tw.overall_mean(SimTime(6 * SEC)), 12.0 / 6.0);
    }

    #[test]
    fn time_weighted_nonzero_start_and_same_instant_updates() {
        let mut tw = TimeWeighted::new(SimTime(10 * SEC));
        assert_eq!(tw.overall_mean(SimTime(10 * SEC)), 0.0);
        tw.set(SimTime(10 * SEC), 9); // transient spike at one instant: counts for max only
        tw.set(SimTime(10 * SEC), 3);
        assert_eq!(tw.overall_mean(SimTime(10 * SEC)), 3.0);
        assert_eq!(tw.overall_mean(SimTime(12 * SEC)), 3.0);
        assert_eq!(tw.overall_max(), 9);
        tw.set(SimTime(12 * SEC) + SimDuration(1), 0);
        // 3 x (2s + 1ns) over 3s.
        let expected = (6 * SEC + 3) as f64 / (3 * SEC) as f64;
        assert_eq!(tw.overall_mean(SimTime(13 * SEC)), expected);
    }

    #[test]
    fn time_weighted_reset_starts_a_window_but_keeps_the_run() {
        let mut tw = TimeWeighted::new(SimTime::ZERO);
        tw.set(SimTime(SEC), 4);
        tw.set(SimTime(2 * SEC), 2);
        tw.reset(SimTime(4 * SEC));
        // New window: no time elapsed yet, so the mean is the level carried in.
        assert_eq!(tw.mean_since_reset(SimTime(4 * SEC)), 2.0);
        assert_eq!(tw.max_since_reset(), 2);
        assert_eq!(tw.level(), 2);
        tw.set(SimTime(5 * SEC), 1);
        // Window [4s, 6s]: 2 for 1s, 1 for 1s.
        assert_eq!(tw.mean_since_reset(SimTime(6 * SEC)), 1.5);
        assert_eq!(tw.max_since_reset(), 2);
        // Run [0, 6s]: 8 + 2 + 1 = 11.
        assert_eq!(tw.overall_mean(SimTime(6 * SEC)), 11.0 / 6.0);
        assert_eq!(tw.overall_max(), 4);
        tw.reset(SimTime(6 * SEC));
        assert_eq!(tw.max_since_reset(), 1);
        assert_eq!(tw.mean_since_reset(SimTime(8 * SEC)), 1.0);
    }

    /// `take_window` is `window_parts` then `reset`, whatever happened in the window.
    #[test]
    fn time_weighted_take_window_is_parts_then_reset() {
        let (mut a, mut b) = (TimeWeighted::new(SimTime(3)), TimeWeighted::new(SimTime(3)));
        let steps = [(5, 4), (5, 0), (9, 7), (20, 1), (20, 3), (21, 0)];
        let closes = [3, 5, 9, 9, 15, 20, 30, 30];
        let mut steps = steps.iter().peekable();
        for end in closes {
            while let Some(&&(t, level)) = steps.peek().filter(|s| s.0 <= end) {
                a.set(SimTime(t * SEC), level);
                b.set(SimTime(t * SEC), level);
                steps.next();
            }
            let now = SimTime(end * SEC);
            let want = a.window_parts(now);
            a.reset(now);
            assert_eq!(b.take_window(now), want, "at {end} s");
            assert_eq!(b.max_since_reset(), a.max_since_reset());
            assert_eq!(b.overall_mean(now), a.overall_mean(now));
        }
    }

    #[test]
    fn time_weighted_add_and_reset_overall() {
        let mut tw = TimeWeighted::new(SimTime::ZERO);
        tw.add(SimTime(SEC), 3);
        tw.add(SimTime(2 * SEC), -1);
        assert_eq!((tw.level(), tw.overall_max()), (2, 3));
        // End of warm-up at 3s: the run restarts with the level carried in, the window does not.
        tw.reset_overall(SimTime(3 * SEC));
        assert_eq!((tw.overall_max(), tw.max_since_reset()), (2, 3));
        assert_eq!(tw.overall_mean(SimTime(3 * SEC)), 2.0);
        tw.add(SimTime(4 * SEC), -2);
        assert_eq!(tw.overall_mean(SimTime(5 * SEC)), 1.0);
        // Window [0, 5s]: 3 + 2 + 2 = 7.
        assert_eq!(tw.mean_since_reset(SimTime(5 * SEC)), 7.0 / 5.0);
        let under = std::panic::catch_unwind(move || tw.add(SimTime(5 * SEC), -1));
        assert!(under.is_err(), "a negative level must not wrap");
    }

    #[test]
    fn time_weighted_area_is_exact_for_huge_levels() {
        let mut tw = TimeWeighted::new(SimTime::ZERO);
        tw.set(SimTime::ZERO, u64::MAX);
        tw.set(SimTime(u64::MAX - 1), u64::MAX);
        assert_eq!(tw.overall_mean(SimTime::MAX), u64::MAX as f64);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "earlier than its last update")]
    fn time_weighted_rejects_time_going_backwards() {
        let mut tw = TimeWeighted::new(SimTime::ZERO);
        tw.set(SimTime(2 * SEC), 1);
        tw.set(SimTime(SEC), 2);
    }
}
