//! [`WindowLatency`]: the latencies of one time-series window.

use super::Buckets;
use crate::time::SimDuration;

/// The latencies of one time-series window: the same quantiles as a
/// [`LatencyRecorder`](super::LatencyRecorder) of the same precision, to the bit, at a cost
/// that follows what the window holds, not the range its histogram has grown to.
///
/// It counts values in the HdrHistogram's own buckets (same index, same boundaries), in
/// blocks of 64 buckets that also count their values: a quantile passes whole blocks by
/// their count and searches only the block holding it (by halves, [`find_in_block`]), and
/// emptying the window zeroes only the blocks that hold values. A plain histogram zeroed
/// and scanned its whole grown range per window (about 17,700 instructions a window for a
/// window's ~500 latencies at 2 digits, nanoseconds to seconds); a sorted list costs
/// O(n log n); a bitmap of the used buckets cost 5 instructions a value to keep, and a
/// block's values had to be summed to be passed.
///
/// A block is allocated when a value first lands in it: latencies crowd a few blocks, and
/// the whole range up to seconds (~3,300 buckets, 26 KB at 2 digits) would be zeroed and
/// touched up front, most of a short run's memory.
#[derive(Clone, Debug)]
pub struct WindowLatency {
    /// The histogram's bucket arithmetic.
    buckets: Buckets,
    /// Per block `w` of 64 bucket indices (`64 w .. 64 w + 64`): its values. Grown to the
    /// highest block recorded.
    slots: Vec<Slot>,
    n: u64,
    min_ns: u64,
    max_ns: u64,
}

/// A block of 64 buckets: how many values it holds (a quantile passes it by that), and
/// the values per bucket, allocated when the first lands in it (a box, not a place in a
/// shared vector: recording then checks no index).
#[derive(Clone, Debug, Default)]
struct Slot {
    n: u64,
    counts: Option<Box<[u64; 64]>>,
}

impl WindowLatency {
    pub fn with_precision(sigfigs: u8) -> Self {
        let sigfigs = sigfigs.clamp(1, 5);
        WindowLatency {
            buckets: Buckets::of(sigfigs),
            slots: Vec::new(),
            n: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }

    #[inline(always)]
    pub fn record(&mut self, d: SimDuration) {
        let ns = d.as_nanos();
        let i = self.buckets.index(ns);
        let w = i / 64;
        if w >= self.slots.len() {
            self.grow(w);
        }
        let slot = &mut self.slots[w];
        slot.n += 1;
        slot.counts.get_or_insert_with(new_block)[i % 64] += 1;
        self.n += 1;
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Slots up to block `w` (rare: a run's latencies reach a new high block a few times).
    #[cold]
    fn grow(&mut self, w: usize) {
        self.slots.resize(w + 1, Slot::default());
    }

    /// The highest value of bucket index `i`: what the histogram reports for a value in it
    /// (`bucket_top` of its lowest, without recomputing the shape from the digits).
    fn top(&self, i: usize) -> u64 {
        let h = self.buckets.h;
        let bucket = if i < 2 << h { 0 } else { (i >> h) - 1 };
        self.buckets.lowest(i).saturating_add(1 << bucket) - 1
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    /// As [`LatencyRecorder::quantile`](super::LatencyRecorder::quantile).
    pub fn quantile(&self, q: f64) -> SimDuration {
        self.quantiles([q])[0]
    }

    /// As [`LatencyRecorder::quantiles`](super::LatencyRecorder::quantiles): for each `q`,
    /// the top of the bucket holding the value of rank `ceil(q n)` (at least 1), within the
    /// exact `[min, max]`; `q <= 0` the exact minimum, `q >= 1` the exact maximum.
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> [SimDuration; N] {
        let mut out = [SimDuration::ZERO; N];
        if self.n == 0 {
            return out;
        }
        let blocks = self.blocks_held();
        let n = self.n as f64;
        for (out, q) in out.iter_mut().zip(qs) {
            let ns = if q <= 0.0 {
                self.min_ns
            } else if q >= 1.0 {
                self.max_ns
            } else {
                match ceil(q * n).clamp(1, self.n) {
                    // The largest value: its bucket's top, within `max`, is `max` (a window
                    // of fewer than 1,000 values has its p999 there).
                    rank if rank == self.n => self.max_ns,
                    // From the nearer end: a tail quantile is a block or two from the top.
                    rank => {
                        let at = if rank <= self.n / 2 {
                            self.bucket_walk::<false>(blocks.clone(), rank)
                        } else {
                            self.bucket_walk::<true>(blocks.clone(), self.n - rank + 1)
                        };
                        self.top(at).clamp(self.min_ns, self.max_ns)
                    }
                }
            };
            *out = SimDuration::from_nanos(ns);
        }
        out
    }

    /// The bucket holding the `k`-th smallest value (`1 <= k <= n`), or with `FROM_TOP` the
    /// `k`-th largest: blocks are passed by their counts until the one holding it, searched
    /// by halves ([`find_in_block`]). `blocks` is [`blocks_held`](Self::blocks_held), found
    /// once for all quantiles.
    fn bucket_walk<const FROM_TOP: bool>(&self, blocks: std::ops::Range<usize>, k: u64) -> usize {
        let mut seen = 0;
        for i in 0..blocks.len() {
            let w = if FROM_TOP {
                blocks.end - 1 - i
            } else {
                blocks.start + i
            };
            let Slot { n, ref counts } = self.slots[w];
            if seen + n < k {
                seen += n;
                continue;
            }
            let rank = if FROM_TOP {
                n - (k - seen) + 1
            } else {
                k - seen
            };
            let counts = counts.as_ref().expect("a block holding values has counts");
            return w * 64 + find_in_block(counts, rank);
        }
        unreachable!("the blocks hold all n values")
    }

    /// The blocks from the minimum's to the maximum's: the only ones that can hold values
    /// (empty when the window is), so a short window walks a few words, not the whole range.
    fn blocks_held(&self) -> std::ops::Range<usize> {
        if self.n == 0 {
            return 0..0;
        }
        self.buckets.index(self.min_ns) / 64..self.buckets.index(self.max_ns) / 64 + 1
    }

    /// Forgets every value, keeping what was allocated; zeroes only the blocks holding
    /// values, looking only between the minimum's and the maximum's.
    pub fn reset(&mut self) {
        let blocks = self.blocks_held();
        for slot in &mut self.slots[blocks] {
            if let (1.., Some(counts)) = (std::mem::take(&mut slot.n), &mut slot.counts) {
                counts.fill(0);
            }
        }
        self.n = 0;
        self.min_ns = u64::MAX;
        self.max_ns = 0;
    }
}

/// The counts of a block first used (rare: once per block a run's latencies ever reach).
#[cold]
fn new_block() -> Box<[u64; 64]> {
    Box::new([0; 64])
}

/// `x.ceil() as u64` for `x >= 0` (exactly: an `f64` at or past 2^52 is a whole number),
/// without a call to `ceil` (the baseline x86-64 has no instruction for it).
#[inline]
fn ceil(x: f64) -> u64 {
    let whole = x as u64;
    whole + u64::from((whole as f64) < x)
}

/// The bucket of `counts` at which the running count from its start reaches `k`
/// (`1 <= k <=` their sum): the lower half's sum decides which half holds it, six times,
/// each sum of a fixed length (a bucket-by-bucket walk to a window's median cost ~8
/// instructions a used bucket, dozens of them).
fn find_in_block(counts: &[u64; 64], k: u64) -> usize {
    /// Moves `at` past the next `HALF` buckets if they hold fewer than `k` values.
    #[inline(always)]
    fn step<const HALF: usize>(counts: &[u64; 64], at: &mut usize, k: &mut u64) {
        let lower: u64 = counts[*at..][..HALF].iter().sum();
        if lower < *k {
            *k -= lower;
            *at += HALF;
        }
    }
    let (mut at, mut k) = (0, k);
    step::<32>(counts, &mut at, &mut k);
    step::<16>(counts, &mut at, &mut k);
    step::<8>(counts, &mut at, &mut k);
    step::<4>(counts, &mut at, &mut k);
    step::<2>(counts, &mut at, &mut k);
    step::<1>(counts, &mut at, &mut k);
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{LatencyRecorder, shape};
    use rand::RngExt;

    #[test]
    fn buckets_are_the_histograms() {
        let mut rng = crate::rng::stream(3, "window-buckets");
        for sigfigs in 1..=3 {
            let w = WindowLatency::with_precision(sigfigs);
            let h = shape(sigfigs);
            let mut values: Vec<u64> = (0..20_000)
                .map(|_| {
                    let bits = rng.random_range(0..64);
                    rng.random::<u64>() >> bits
                })
                .chain([0, 1, 2, 255, 256, 257, u64::MAX >> 1, u64::MAX])
                .collect();
            values.sort_unstable();
            for pair in values.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                assert!(
                    w.buckets.index(a) <= w.buckets.index(b),
                    "monotone at {a}, {b}"
                );
                assert_eq!(
                    w.buckets.index(a) == w.buckets.index(b),
                    h.lowest_equivalent(a) == h.lowest_equivalent(b),
                    "same bucket as the histogram's: {a}, {b} at {sigfigs} digits"
                );
            }
            for &v in &values {
                assert_eq!(
                    w.buckets.lowest(w.buckets.index(v)),
                    h.lowest_equivalent(v),
                    "{v}"
                );
                let top = h.highest_equivalent(h.lowest_equivalent(v));
                assert_eq!(w.top(w.buckets.index(v)), top, "top of {v}'s bucket");
            }
        }
    }

    #[test]
    fn find_in_block_is_a_running_count() {
        let mut rng = crate::rng::stream(7, "window-find");
        for round in 0..200 {
            let counts: [u64; 64] = std::array::from_fn(|_| match rng.random_range(0..4) {
                0 if round % 2 == 0 => rng.random_range(0..1000),
                0 | 1 => rng.random_range(0..3),
                _ => 0,
            });
            let total: u64 = counts.iter().sum();
            for k in 1..=total.min(3000) {
                let mut seen = 0;
                let want = counts.iter().position(|&c| {
                    seen += c;
                    seen >= k
                });
                assert_eq!(Some(find_in_block(&counts, k)), want, "k {k}");
            }
        }
    }

    #[test]
    fn ceil_is_f64_ceil() {
        let mut rng = crate::rng::stream(13, "window-ceil");
        let edges = [
            0.0,
            0.5,
            1.0,
            1.5,
            2f64.powi(52) - 0.5,
            2f64.powi(52),
            2f64.powi(53) + 2.0,
        ];
        let random =
            (0..100_000).map(|_| rng.random::<f64>() * 10f64.powi(rng.random_range(0..19)));
        for x in edges.into_iter().chain(random) {
            assert_eq!(ceil(x), x.ceil() as u64, "{x}");
            assert_eq!(
                ceil(0.999 * x.floor()),
                (0.999 * x.floor()).ceil() as u64,
                "{x}"
            );
        }
    }

    #[test]
    fn answers_as_its_histogram_to_the_bit() {
        let mut rng = crate::rng::stream(11, "window-latency");
        let qs = [0.0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0];
        let mut w = WindowLatency::with_precision(2);
        for round in 0..300 {
            // Empty to a few thousand values (past the recorder's list, into its histogram),
            // spreads from ns to seconds, reusing one window as a run does.
            let n = if round % 7 == 0 { 5000 } else { round % 90 };
            let scale = 10f64.powi(round % 10);
            let mut h = LatencyRecorder::with_precision(2);
            w.reset();
            for _ in 0..n {
                let d = SimDuration::from_nanos((rng.random::<f64>() * scale) as u64 + 1);
                h.record(d);
                w.record(d);
            }
            assert_eq!(w.count(), h.count());
            for q in qs {
                assert_eq!(w.quantile(q), h.quantile(q), "{n} values, q {q}");
            }
            assert_eq!(w.quantiles(qs).to_vec(), h.quantiles(&qs), "{n} values");
        }
    }
}
