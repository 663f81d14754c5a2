//! [`Balancer`]: which healthy replica gets the next request.
//!
//! Every policy chooses among the replicas marked healthy only, and returns `None` when none
//! is. Only [`Balance::Random`] and [`Balance::PowerOfTwoChoices`] draw from the rng, and only
//! when there is a choice (two or more healthy replicas), so switching between the
//! deterministic policies, or a run where one replica is left, changes no other draw.
//!
//! - **RoundRobin** follows gRPC's `round_robin` picker: each pick takes the next healthy
//!   replica in index order after the previous pick, wrapping around. gRPC starts each new
//!   picker at a random position in its ready list; here the cursor starts at replica 0 (so
//!   no randomness is used) and is kept by replica index, so a replica leaving or rejoining
//!   the healthy set does not shift the turn of the others.
//! - **Random** is uniform over the healthy replicas (one draw).
//! - **LeastOutstanding** scans every healthy replica and takes the one with the fewest
//!   outstanding requests (join-the-shortest-queue); ties go to the **lowest index**, so it
//!   draws nothing. Envoy's `LEAST_REQUEST` samples `choice_count` (default 2) hosts instead,
//!   which is `PowerOfTwoChoices` here; this is its full-scan limit.
//! - **PowerOfTwoChoices** follows finagle's `P2CPick` (the "power of two choices",
//!   Mitzenmacher 2001): draw `a` uniformly from the `k` healthy replicas, then `b` from the
//!   other `k - 1` (draw from `0..k-1`, and step over `a`), and take the one with fewer
//!   outstanding requests; ties go to the **first drawn** (finagle's `<=`). With one healthy
//!   replica it is taken without a draw, as finagle does. Unlike finagle, which draws from all
//!   nodes and prefers the one with the better status, unhealthy replicas are never drawn.

use rand::RngExt;
use serde::{Deserialize, Serialize};
use sim_core::rng::SimRng;

/// How a [`Balancer`] chooses among the healthy replicas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Balance {
    /// Each healthy replica in turn, in index order (gRPC `round_robin`).
    #[default]
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// The fewest outstanding requests; ties to the lowest index.
    LeastOutstanding,
    /// The less loaded of two distinct random replicas; ties to the first drawn (finagle P2C).
    PowerOfTwoChoices,
}

/// Chooses a replica for each request. See the module docs above for each policy.
#[derive(Clone, Debug)]
pub struct Balancer {
    kind: Balance,
    n: usize,
    /// RoundRobin: the replica index the next scan starts from.
    next: usize,
}

impl Balancer {
    /// A balancer over replicas `0..n`.
    pub fn new(kind: Balance, n: usize) -> Self {
        Balancer { kind, n, next: 0 }
    }

    pub fn kind(&self) -> Balance {
        self.kind
    }

    /// The replica for the next request, among those with `healthy[i]`; `None` if none is.
    /// `outstanding[i]` is replica `i`'s in-flight requests (read by `LeastOutstanding` and
    /// `PowerOfTwoChoices` only). Draws from `rng` only for `Random` and
    /// `PowerOfTwoChoices`, and only when two or more replicas are healthy.
    ///
    /// Panics if either slice's length is not the `n` the balancer was made with.
    pub fn pick(
        &mut self,
        outstanding: &[u32],
        healthy: &[bool],
        rng: &mut SimRng,
    ) -> Option<usize> {
        assert_eq!(
            outstanding.len(),
            self.n,
            "outstanding: one entry per replica"
        );
        assert_eq!(healthy.len(), self.n, "healthy: one entry per replica");
        match self.kind {
            Balance::RoundRobin => {
                let i = (0..self.n)
                    .map(|off| (self.next + off) % self.n)
                    .find(|&i| healthy[i])?;
                self.next = (i + 1) % self.n;
                Some(i)
            }
            Balance::Random => match healthy_count(healthy) {
                0 => None,
                1 => nth_healthy(healthy, 0),
                k => nth_healthy(healthy, rng.random_range(0..k)),
            },
            Balance::LeastOutstanding => (0..self.n)
                .filter(|&i| healthy[i])
                // `min_by_key` keeps the first of equal keys: the lowest index.
                .min_by_key(|&i| outstanding[i]),
            Balance::PowerOfTwoChoices => match healthy_count(healthy) {
                0 => None,
                1 => nth_healthy(healthy, 0),
                k => {
                    let (a, b) = draw_two(k, rng);
                    let a = nth_healthy(healthy, a)?;
                    let b = nth_healthy(healthy, b)?;
                    Some(if outstanding[a] <= outstanding[b] {
                        a
                    } else {
                        b
                    })
                }
            },
        }
    }
}

fn healthy_count(healthy: &[bool]) -> usize {
    healthy.iter().filter(|&&h| h).count()
}

/// The index of the `r`-th healthy replica (0-based).
fn nth_healthy(healthy: &[bool], r: usize) -> Option<usize> {
    healthy
        .iter()
        .enumerate()
        .filter(|&(_, &h)| h)
        .nth(r)
        .map(|(i, _)| i)
}

/// Two distinct positions in `0..k` (`k >= 2`), uniform over ordered pairs, in two draws:
/// finagle's "hole" trick, where the second draw skips the first without biasing `a + 1`.
fn draw_two(k: usize, rng: &mut SimRng) -> (usize, usize) {
    let a = rng.random_range(0..k);
    let mut b = rng.random_range(0..k - 1);
    if b >= a {
        b += 1;
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    use crate::balancer::test_support::rng;

    /// `"1.0"` as `[true, false, true]`: `1` healthy, anything else not.
    fn health(s: &str) -> Vec<bool> {
        s.chars().map(|c| c == '1').collect()
    }
    fn picks(
        b: &mut Balancer,
        out: &[u32],
        healthy: &[bool],
        rng: &mut SimRng,
        n: usize,
    ) -> Vec<Option<usize>> {
        (0..n).map(|_| b.pick(out, healthy, rng)).collect()
    }

    #[test]
    fn no_healthy_replica_gives_none_for_every_policy() {
        use Balance::*;
        for kind in [RoundRobin, Random, LeastOutstanding, PowerOfTwoChoices] {
            for healthy in ["", "0", "000"] {
                let h = health(healthy);
                let mut b = Balancer::new(kind, h.len());
                let mut r = rng();
                assert_eq!(
                    b.pick(&vec![0; h.len()], &h, &mut r),
                    None,
                    "{kind:?} {healthy:?}"
                );
            }
        }
    }

    #[test]
    fn round_robin_cycles_over_the_healthy_in_order() {
        // (healthy, the first 7 picks)
        let cases: [(&str, [usize; 7]); 5] = [
            ("111", [0, 1, 2, 0, 1, 2, 0]),
            ("101", [0, 2, 0, 2, 0, 2, 0]),
            ("0110", [1, 2, 1, 2, 1, 2, 1]),
            ("0001", [3, 3, 3, 3, 3, 3, 3]),
            ("10011", [0, 3, 4, 0, 3, 4, 0]),
        ];
        for (healthy, want) in cases {
            let h = health(healthy);
            let mut b = Balancer::new(Balance::RoundRobin, h.len());
            let got = picks(&mut b, &vec![0; h.len()], &h, &mut rng(), 7);
            assert_eq!(got, want.map(Some), "{healthy}");
        }
    }

    #[test]
    fn round_robin_keeps_its_place_when_health_changes() {
        let mut b = Balancer::new(Balance::RoundRobin, 4);
        let mut r = rng();
        let out = [0; 4];
        assert_eq!(b.pick(&out, &health("1111"), &mut r), Some(0));
        assert_eq!(b.pick(&out, &health("1111"), &mut r), Some(1));
        // 2 leaves: skipped, the turn goes on to 3.
        assert_eq!(b.pick(&out, &health("1101"), &mut r), Some(3));
        assert_eq!(b.pick(&out, &health("1101"), &mut r), Some(0));
        // 2 rejoins: it gets its turn after 1 again.
        assert_eq!(b.pick(&out, &health("1111"), &mut r), Some(1));
        assert_eq!(b.pick(&out, &health("1111"), &mut r), Some(2));
    }

    #[test]
    fn least_outstanding_takes_the_fewest_ties_to_the_lowest_index() {
        // (outstanding, healthy, pick)
        let cases: [(&[u32], &str, Option<usize>); 6] = [
            (&[3, 1, 2], "111", Some(1)),
            (&[3, 1, 2], "101", Some(2)),
            (&[2, 2, 2], "111", Some(0)),
            (&[5, 2, 2], "111", Some(1)),
            (&[0, 9, 9], "011", Some(1)),
            (&[0, 0, 0], "000", None),
        ];
        for (out, healthy, want) in cases {
            let mut b = Balancer::new(Balance::LeastOutstanding, out.len());
            assert_eq!(
                b.pick(out, &health(healthy), &mut rng()),
                want,
                "{out:?} {healthy}"
            );
        }
    }

    #[test]
    fn only_random_and_p2c_draw_and_only_when_there_is_a_choice() {
        use Balance::*;
        // (policy, healthy, draws expected)
        let cases = [
            (RoundRobin, "1111", false),
            (LeastOutstanding, "1111", false),
            (Random, "0100", false),
            (PowerOfTwoChoices, "0010", false),
            (Random, "0110", true),
            (PowerOfTwoChoices, "1001", true),
        ];
        for (kind, healthy, draws) in cases {
            let h = health(healthy);
            let mut b = Balancer::new(kind, h.len());
            let mut r = rng();
            for _ in 0..10 {
                b.pick(&[1, 2, 3, 4], &h, &mut r);
            }
            let untouched = r.next_u64() == rng().next_u64();
            assert_eq!(!untouched, draws, "{kind:?} {healthy}");
        }
    }

    #[test]
    fn random_is_uniform_over_the_healthy() {
        // 5 of 8 healthy, 60k picks: each healthy replica expects 12k. Pearson's chi-square
        // over the 5 has 4 degrees of freedom (mean 4, sd sqrt(8)); allow 4 sigma.
        let h = health("10110110");
        let mut b = Balancer::new(Balance::Random, h.len());
        let mut r = rng();
        let mut counts = [0u64; 8];
        let draws = 60_000;
        for _ in 0..draws {
            counts[b.pick(&[0; 8], &h, &mut r).unwrap()] += 1;
        }
        for (i, &c) in counts.iter().enumerate() {
            assert_eq!(c == 0, !h[i], "replica {i}: {c} picks");
        }
        let expected = draws as f64 / 5.0;
        let chi2: f64 = counts
            .iter()
            .zip(&h)
            .filter(|&(_, &ok)| ok)
            .map(|(&c, _)| (c as f64 - expected).powi(2) / expected)
            .sum();
        let dof = 4.0_f64;
        assert!(
            chi2 < dof + 4.0 * (2.0 * dof).sqrt(),
            "chi2 {chi2}, counts {counts:?}"
        );
    }

    #[test]
    fn p2c_takes_the_less_loaded_of_the_two_drawn() {
        // With outstanding [0, 5, 10]: 2 is never taken (it loses to either other), and 0 is
        // taken exactly when it is drawn, i.e. 2 of the 3 unordered pairs.
        let out = [0, 5, 10];
        let h = health("111");
        let mut b = Balancer::new(Balance::PowerOfTwoChoices, 3);
        let mut r = rng();
        let mut counts = [0u32; 3];
        let draws = 30_000;
        for _ in 0..draws {
            // Replay the same two draws on a copy of the stream to know which were drawn.
            let (x, y) = draw_two(3, &mut r.clone());
            let got = b.pick(&out, &h, &mut r).unwrap();
            let want = if x == 0 || y == 0 { 0 } else { 1 };
            assert_eq!(got, want, "drew {x} and {y}");
            counts[got] += 1;
        }
        assert_eq!(counts[2], 0);
        let share0 = f64::from(counts[0]) / f64::from(draws);
        // Binomial(30k, 2/3): sd = sqrt(2/9 / 30k) ~ 0.0027; 4 sigma.
        assert!((share0 - 2.0 / 3.0).abs() < 0.011, "share of 0: {share0}");
    }

    #[test]
    fn p2c_draws_two_distinct_healthy_and_breaks_ties_to_the_first_drawn() {
        let out = [4, 4, 4, 4, 4, 4];
        let h = health("110101");
        let mut b = Balancer::new(Balance::PowerOfTwoChoices, 6);
        let mut r = rng();
        let healthy_idx = [0, 1, 3, 5];
        let mut counts = [0u32; 6];
        for _ in 0..4_000 {
            let (x, y) = draw_two(4, &mut r.clone());
            assert_ne!(x, y);
            let got = b.pick(&out, &h, &mut r).unwrap();
            assert_eq!(got, healthy_idx[x], "a tie goes to the first drawn");
            counts[got] += 1;
        }
        assert!(
            healthy_idx.iter().all(|&i| counts[i] > 800) && counts[2] == 0 && counts[4] == 0,
            "{counts:?}"
        );
        // Two healthy: both are always drawn, so the less loaded always wins.
        let mut b = Balancer::new(Balance::PowerOfTwoChoices, 3);
        for _ in 0..100 {
            assert_eq!(b.pick(&[7, 0, 3], &health("101"), &mut r), Some(2));
        }
    }

    /// Balls into bins: `m` picks over `n` replicas, each adding one outstanding request that
    /// never leaves; returns max load minus mean load.
    fn max_minus_mean(kind: Balance, n: usize, m: u32, rng: &mut SimRng) -> f64 {
        let mut out = vec![0u32; n];
        let healthy = vec![true; n];
        let mut b = Balancer::new(kind, n);
        for _ in 0..m {
            let i = b.pick(&out, &healthy, rng).unwrap();
            out[i] += 1;
        }
        assert_eq!(out.iter().sum::<u32>(), m);
        f64::from(*out.iter().max().unwrap()) - f64::from(m) / n as f64
    }

    #[test]
    fn p2c_keeps_the_max_load_near_the_mean_where_random_does_not() {
        // n = 100 bins, m = 10k balls, mean 100. One random choice: each bin is ~Binomial(m,
        // 1/n), and the max is about mean + sqrt(2 · mean · ln n) = 100 + sqrt(200 · 4.6) ~
        // 130; it is below 110 only if all 100 bins are below mean + 1 sd, p ~ 0.84^100 ~ 3e-8.
        // Two choices (Berenbrink et al. 2000, heavily loaded case): max - mean is
        // ln ln n / ln 2 + O(1) ~ 2.2 + O(1), independent of m.
        let mut r = rng();
        let random = max_minus_mean(Balance::Random, 100, 10_000, &mut r);
        let p2c = max_minus_mean(Balance::PowerOfTwoChoices, 100, 10_000, &mut r);
        assert!(random >= 10.0, "random: max - mean = {random}");
        assert!(p2c <= 3.0, "p2c: max - mean = {p2c}");
        // Round robin and least-outstanding are perfectly even here.
        assert_eq!(
            max_minus_mean(Balance::RoundRobin, 100, 10_000, &mut r),
            0.0
        );
        assert_eq!(
            max_minus_mean(Balance::LeastOutstanding, 100, 10_000, &mut r),
            0.0
        );
    }
}
