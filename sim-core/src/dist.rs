//! Distributions of durations and sizes: as written in scenario files, and as sampled in a run.
//!
//! [`Dist`] is the serde form a user writes in RON (`Exponential(mean: "1ms")`), generic over
//! the value it produces ([`SimDuration`] or plain `f64`). It is checked once, at the boundary,
//! by [`Dist::problems`], which reports every problem by path rather than stopping at the first.
//!
//! [`Dist::compile`] turns a valid `Dist` into a [`Sampler`]: parameters converted once to `f64`
//! base units (nanoseconds for durations), derived parameters (log-normal `mu`/`sigma`,
//! normalised mixture weights, the analytic mean) computed once. A sampler is drawn from once
//! per simulated request, so sampling never re-validates, allocates or boxes; and because only
//! `compile` makes one, the hot path cannot be handed an unchecked distribution.

use std::fmt::Display;

use rand::RngExt;
use rand_distr::{Distribution, Exp, LogNormal, Normal, Pareto, Uniform};
use serde::{Deserialize, Serialize};
use statrs::function::erf::erfc;

use crate::path::{FieldPath, Problem};
use crate::rng::SimRng;
use crate::time::SimDuration;

/// z-score of the standard normal's 99th percentile: a log-normal's p99 is `exp(mu + Z99 * sigma)`.
const Z99: f64 = 2.326_347_874_040_840_8;

/// Draws a truncated normal makes before giving up and returning 0. With mean >= 0 each draw
/// is accepted with probability >= 1/2, so this only bounds the loop (odds of reaching it <= 2^-64).
const MAX_REJECTIONS: u32 = 64;

/// A value a distribution produces, converted to and from `f64` base units.
pub trait DistValue: Copy {
    fn to_f64(self) -> f64;
    /// Back from base units; for durations rounds to the nanosecond and clamps into range.
    fn from_f64(x: f64) -> Self;
    /// How the value reads in a problem message, e.g. `250ms` or `-2`.
    fn describe(self) -> String;
}

impl DistValue for SimDuration {
    fn to_f64(self) -> f64 {
        self.as_nanos() as f64
    }
    fn from_f64(x: f64) -> Self {
        SimDuration::from_nanos_f64(x)
    }
    fn describe(self) -> String {
        self.to_string()
    }
}

impl DistValue for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(x: f64) -> Self {
        x
    }
    fn describe(self) -> String {
        self.to_string()
    }
}

/// A distribution as written in a scenario file. Validate with [`Dist::problems`], sample
/// through [`Dist::compile`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Dist<V> {
    Constant(V),
    /// Uniform on `[min, max]`.
    Uniform {
        min: V,
        max: V,
    },
    Exponential {
        mean: V,
    },
    /// Normal truncated at 0 (the conditional distribution given x >= 0, sampled by rejection).
    Normal {
        mean: V,
        std_dev: V,
    },
    /// Log-normal set the way people describe latency: by its median and its 99th percentile.
    LogNormal {
        median: V,
        p99: V,
    },
    Pareto {
        scale: V,
        shape: f64,
    },
    /// e.g. 99% fast / 1% slow: (weight, distribution); weights need not sum to 1, they are normalised.
    Mixture(Vec<(f64, Dist<V>)>),
    /// Given by percentiles (p in [0,1], value), linear interpolation of the inverse CDF between points.
    Empirical(Vec<(f64, V)>),
}

impl<V: DistValue> Dist<V> {
    /// Every problem with this distribution, with paths relative to it; empty when valid.
    pub fn problems(&self) -> Vec<Problem> {
        let mut c = Checks(Vec::new());
        let root = FieldPath::root();
        let field = |name| root.field(name);
        match self {
            Dist::Constant(v) => {
                c.non_negative(root.clone(), "value", *v);
            }
            Dist::Uniform { min, max } => {
                // `&`, not `&&`: the second field is checked even when the first is bad.
                let both =
                    c.non_negative(field("min"), "min", *min) & c.finite(field("max"), "max", *max);
                if both && max.to_f64() < min.to_f64() {
                    c.push(
                        field("max"),
                        format!(
                            "max must be >= min ({}), got {}",
                            min.describe(),
                            max.describe()
                        ),
                    );
                }
            }
            Dist::Exponential { mean } => {
                c.positive(field("mean"), "mean", *mean);
            }
            Dist::Normal { mean, std_dev } => {
                c.non_negative(field("mean"), "mean", *mean);
                c.non_negative(field("std_dev"), "std_dev", *std_dev);
            }
            Dist::LogNormal { median, p99 } => {
                let both = c.positive(field("median"), "median", *median)
                    & c.finite(field("p99"), "p99", *p99);
                if both && p99.to_f64() < median.to_f64() {
                    c.push(
                        field("p99"),
                        format!(
                            "p99 must be >= median ({}), got {}",
                            median.describe(),
                            p99.describe()
                        ),
                    );
                }
            }
            Dist::Pareto { scale, shape } => {
                c.positive(field("scale"), "scale", *scale);
                c.positive(field("shape"), "shape", *shape);
            }
            Dist::Mixture(components) => {
                if components.is_empty() {
                    c.push(
                        root.clone(),
                        "a mixture needs at least one component, got none",
                    );
                }
                let mut weights_ok = true;
                for (i, (weight, dist)) in components.iter().enumerate() {
                    let at = root.index(i);
                    weights_ok &= c.non_negative(at.index(0), "weight", *weight) && *weight >= 0.0;
                    for p in dist.problems() {
                        c.push(at.index(1).join(&p.path), p.message);
                    }
                }
                // Only meaningful once each weight is valid; otherwise that weight was reported.
                if !components.is_empty() && weights_ok && components.iter().all(|(w, _)| *w == 0.0)
                {
                    c.push(
                        root.clone(),
                        "mixture weights are all 0: at least one must be > 0",
                    );
                }
            }
            Dist::Empirical(points) => c.empirical(points),
        }
        c.0
    }

    /// A sampler for this distribution, or every problem that makes it invalid.
    pub fn compile(&self) -> Result<Sampler, Vec<Problem>> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        self.build().map_err(|p| vec![p])
    }

    /// Builds the sampler of a distribution that passed `problems`. rand_distr's own checks
    /// cannot fail then; their errors are still returned, not unwrapped, so a gap in
    /// `problems` shows up as a problem rather than a panic.
    fn build(&self) -> Result<Sampler, Problem> {
        fn rejected(e: impl Display) -> Problem {
            Problem::new(
                FieldPath::root(),
                format!("invalid distribution parameters: {e}"),
            )
        }
        let (kind, mean) = match self {
            Dist::Constant(v) => (Kind::constant(v.to_f64()), v.to_f64()),
            Dist::Uniform { min, max } => {
                let (lo, hi) = (min.to_f64(), max.to_f64());
                // Inclusive so that min == max (a constant) is accepted.
                let dist = Uniform::new_inclusive(lo, hi).map_err(rejected)?;
                (Kind::Uniform(dist), lo + (hi - lo) / 2.0)
            }
            Dist::Exponential { mean } => {
                let m = mean.to_f64();
                (Kind::Exponential(Exp::new(1.0 / m).map_err(rejected)?), m)
            }
            Dist::Normal { mean, std_dev } => {
                let (mu, sigma) = (mean.to_f64(), std_dev.to_f64());
                let dist = Normal::new(mu, sigma).map_err(rejected)?;
                (
                    Kind::TruncatedNormal(dist),
                    truncated_normal_mean(mu, sigma),
                )
            }
            Dist::LogNormal { median, p99 } => {
                let mu = median.to_f64().ln();
                // max: guards p99 == median against ln rounding to a tiny negative sigma.
                let sigma = ((p99.to_f64().ln() - mu) / Z99).max(0.0);
                let dist = LogNormal::new(mu, sigma).map_err(rejected)?;
                (Kind::LogNormal(dist), (mu + sigma * sigma / 2.0).exp())
            }
            Dist::Pareto { scale, shape } => {
                let xm = scale.to_f64();
                let dist = Pareto::new(xm, *shape).map_err(rejected)?;
                let mean = if *shape > 1.0 {
                    shape * xm / (shape - 1.0)
                } else {
                    f64::INFINITY
                };
                (Kind::Pareto(dist), mean)
            }
            Dist::Mixture(parts) => {
                // Dividing by the largest weight first keeps the sum finite for any finite weights.
                let largest = parts.iter().map(|(w, _)| *w).fold(0.0, f64::max);
                let total: f64 = parts.iter().map(|(w, _)| w / largest).sum();
                // Rounding may leave the running sum just under 1; the last drawable component
                // takes the remainder so a draw always lands somewhere.
                let last = parts.iter().rposition(|(w, _)| *w > 0.0).unwrap_or(0);
                let (mut cumulative, mut components) = (Vec::new(), Vec::new());
                let (mut acc, mut mean) = (0.0, 0.0);
                for (i, (w, dist)) in parts.iter().enumerate() {
                    let sampler = dist.build().map_err(|p| {
                        Problem::new(FieldPath::root().index(i).index(1).join(&p.path), p.message)
                    })?;
                    let prob = w / largest / total;
                    if prob > 0.0 {
                        // Skipping zero weights keeps 0 * infinite mean from becoming NaN.
                        mean += prob * sampler.mean;
                    }
                    acc += prob;
                    cumulative.push(if i >= last { 1.0 } else { acc });
                    components.push(sampler);
                }
                (
                    Kind::Mixture {
                        cumulative,
                        components,
                    },
                    mean,
                )
            }
            Dist::Empirical(points) => {
                let points: Vec<(f64, f64)> =
                    points.iter().map(|&(p, v)| (p, v.to_f64())).collect();
                // The mean is the integral of the inverse CDF: trapezoids between the points.
                let mean = points
                    .windows(2)
                    .map(|w| (w[1].0 - w[0].0) * (w[0].1 / 2.0 + w[1].1 / 2.0))
                    .sum();
                (Kind::Empirical(points), mean)
            }
        };
        Ok(Sampler { kind, mean })
    }
}

/// Mean of N(mu, sigma) conditioned on x >= 0: mu + sigma * phi(a) / (1 - Phi(a)), a = -mu / sigma.
fn truncated_normal_mean(mu: f64, sigma: f64) -> f64 {
    if sigma == 0.0 {
        return mu;
    }
    let a = -mu / sigma;
    let pdf = (-a * a / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    // 1 - Phi(a) = Phi(-a), written with erfc so it stays accurate; it is >= 1/2 since mu >= 0.
    let survival = 0.5 * erfc(a / std::f64::consts::SQRT_2);
    mu + sigma * pdf / survival
}

/// Collects problems. Each check returns whether the number was finite, so callers can still
/// compare it with another field (and report that too) when only its range was wrong.
struct Checks(Vec<Problem>);

impl Checks {
    fn push(&mut self, path: FieldPath, message: impl Into<String>) {
        self.0.push(Problem::new(path, message));
    }

    fn finite<V: DistValue>(&mut self, path: FieldPath, name: &str, v: V) -> bool {
        let ok = v.to_f64().is_finite();
        if !ok {
            self.push(
                path,
                format!("{name} must be a finite number, got {}", v.describe()),
            );
        }
        ok
    }

    fn non_negative<V: DistValue>(&mut self, path: FieldPath, name: &str, v: V) -> bool {
        self.at_least(path, name, v, false)
    }

    fn positive<V: DistValue>(&mut self, path: FieldPath, name: &str, v: V) -> bool {
        self.at_least(path, name, v, true)
    }

    fn at_least<V: DistValue>(&mut self, path: FieldPath, name: &str, v: V, strict: bool) -> bool {
        if !self.finite(path.clone(), name, v) {
            return false;
        }
        let x = v.to_f64();
        let (ok, rule) = if strict {
            (x > 0.0, "> 0")
        } else {
            (x >= 0.0, ">= 0")
        };
        if !ok {
            self.push(path, format!("{name} must be {rule}, got {}", v.describe()));
        }
        true
    }

    fn empirical<V: DistValue>(&mut self, points: &[(f64, V)]) {
        let root = FieldPath::root();
        let n = points.len();
        if n < 2 {
            self.push(
                root.clone(),
                format!("an empirical distribution needs at least 2 points (at p = 0 and p = 1), got {n}"),
            );
        }
        let (mut prev_p, mut prev_v): (Option<f64>, Option<V>) = (None, None);
        for (i, &(p, v)) in points.iter().enumerate() {
            let at = root.index(i);
            if self.finite(at.index(0), "p", p) {
                if !(0.0..=1.0).contains(&p) {
                    self.push(at.index(0), format!("p must be within [0, 1], got {p}"));
                } else if n >= 2 && i == 0 && p != 0.0 {
                    self.push(
                        at.index(0),
                        format!("the first point's p must be 0, got {p}"),
                    );
                } else if n >= 2 && i == n - 1 && p != 1.0 {
                    self.push(
                        at.index(0),
                        format!("the last point's p must be 1, got {p}"),
                    );
                }
                if let Some(q) = prev_p
                    && p <= q
                {
                    self.push(
                        at.index(0),
                        format!("p must be greater than the previous point's p ({q}), got {p}"),
                    );
                }
                prev_p = Some(p);
            }
            if self.non_negative(at.index(1), "value", v) {
                if let Some(u) = prev_v
                    && v.to_f64() < u.to_f64()
                {
                    self.push(
                        at.index(1),
                        format!(
                            "value must be >= the previous point's value ({}), got {}",
                            u.describe(),
                            v.describe()
                        ),
                    );
                }
                prev_v = Some(v);
            }
        }
    }
}

/// A validated distribution ready to sample, in `f64` base units (nanoseconds for durations).
/// Made only by [`Dist::compile`].
#[derive(Clone, Debug)]
pub struct Sampler {
    kind: Kind,
    mean: f64,
}

#[derive(Clone, Debug)]
enum Kind {
    /// The value, and the value as a duration (for `sample_duration`), converted once: the
    /// default link's latency is a constant 0, and a draw and its conversion cost ~25
    /// instructions a message.
    Constant(f64, SimDuration),
    Uniform(Uniform<f64>),
    Exponential(Exp<f64>),
    /// Untruncated normal with mean >= 0; negative draws are rejected.
    TruncatedNormal(Normal<f64>),
    LogNormal(LogNormal<f64>),
    Pareto(Pareto<f64>),
    /// `cumulative[i]`: probability of drawing component `0..=i`; the last drawable one is 1.
    Mixture {
        cumulative: Vec<f64>,
        components: Vec<Sampler>,
    },
    /// (p, value) with p strictly increasing from 0 to 1 and values non-decreasing.
    Empirical(Vec<(f64, f64)>),
}

impl Kind {
    fn constant(v: f64) -> Kind {
        // As `sample` and `sample_duration` would give it.
        Kind::Constant(v, SimDuration::from_nanos_f64(v.min(f64::MAX)))
    }
}

impl Sampler {
    /// One draw in base units: never negative, never NaN, always finite (heavy tails with
    /// extreme parameters that overflow are clamped to `f64::MAX`).
    #[inline(always)]
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        // The usual service-time and link-latency kinds inline (a draw per attempt and per
        // message: the default link is a constant 0, drawn twice per M/M/1 request); the
        // rest through the full match, out of line.
        match &self.kind {
            Kind::Exponential(d) => d.sample(rng).min(f64::MAX),
            Kind::LogNormal(d) => d.sample(rng).min(f64::MAX),
            Kind::Constant(v, _) => v.min(f64::MAX),
            _ => self.sample_any(rng),
        }
    }

    /// [`sample`](Self::sample) for any kind.
    fn sample_any(&self, rng: &mut SimRng) -> f64 {
        let x = match &self.kind {
            Kind::Constant(v, _) => *v,
            Kind::Uniform(d) => d.sample(rng),
            Kind::Exponential(d) => d.sample(rng),
            Kind::TruncatedNormal(d) => sample_truncated(d, rng),
            Kind::LogNormal(d) => d.sample(rng),
            Kind::Pareto(d) => d.sample(rng),
            Kind::Mixture {
                cumulative,
                components,
            } => {
                let u: f64 = rng.random();
                // The first component whose cumulative probability exceeds u; the last drawable
                // one has exactly 1.0 > u, and zero-weight ones never exceed u first.
                components[cumulative.partition_point(|&c| c <= u)].sample(rng)
            }
            Kind::Empirical(points) => {
                let u: f64 = rng.random();
                // The first point with p > u: points[0].0 == 0 <= u and the last p == 1 > u,
                // so 1 <= i < len and (p0, p1) is a segment with p0 < p1.
                let i = points.partition_point(|&(p, _)| p <= u);
                let ((p0, v0), (p1, v1)) = (points[i - 1], points[i]);
                v0 + (u - p0) / (p1 - p0) * (v1 - v0)
            }
        };
        x.min(f64::MAX)
    }

    /// One draw as a duration, for samplers compiled from a `Dist<SimDuration>`.
    #[inline]
    pub fn sample_duration(&self, rng: &mut SimRng) -> SimDuration {
        match self.kind {
            Kind::Constant(_, d) => d,
            _ => SimDuration::from_nanos_f64(self.sample(rng)),
        }
    }

    /// The analytic mean in base units; `f64::INFINITY` for a Pareto with shape <= 1.
    pub fn mean(&self) -> f64 {
        self.mean
    }
}

#[inline]
fn sample_truncated(normal: &Normal<f64>, rng: &mut SimRng) -> f64 {
    for _ in 0..MAX_REJECTIONS {
        let x = normal.sample(rng);
        if x >= 0.0 {
            return x;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;
    use statrs::distribution::{self as sd, ContinuousCDF};

    const N: usize = 20_000;

    fn ms(x: u64) -> SimDuration {
        SimDuration::from_millis(x)
    }

    fn draws<V: DistValue>(dist: &Dist<V>, seed: u64, n: usize) -> Vec<f64> {
        let sampler = dist.compile().expect("test distribution is valid");
        let mut rng = stream(seed, "test");
        (0..n).map(|_| sampler.sample(&mut rng)).collect()
    }

    /// One-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical CDF of
    /// `xs` and `cdf`.
    fn ks_statistic(mut xs: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
        xs.sort_by(f64::total_cmp);
        let n = xs.len() as f64;
        xs.iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = cdf(x);
                (f - i as f64 / n).max((i + 1) as f64 / n - f)
            })
            .fold(0.0, f64::max)
    }

    /// The tolerance is the KS critical value at alpha = 0.001: D < 1.95 / sqrt(n) (asymptotic
    /// constant 1.9495). Seeds are fixed, so a pass is reproducible, not a coin flip per run.
    fn assert_ks<V: DistValue>(name: &str, dist: &Dist<V>, cdf: impl Fn(f64) -> f64) {
        let xs = draws(dist, 7, N);
        assert!(
            xs.iter().all(|x| *x >= 0.0 && x.is_finite()),
            "{name}: bad sample"
        );
        let d = ks_statistic(xs, cdf);
        let critical = 1.95 / (N as f64).sqrt();
        assert!(
            d < critical,
            "{name}: KS D = {d:.5}, critical value {critical:.5}"
        );
    }

    fn std_normal_cdf(x: f64) -> f64 {
        sd::Normal::new(0.0, 1.0).unwrap().cdf(x)
    }

    /// CDF of the piecewise-linear inverse CDF through (p, value) points with increasing values.
    fn piecewise_cdf(points: &[(f64, f64)], x: f64) -> f64 {
        if x <= points[0].1 {
            return 0.0;
        }
        for w in points.windows(2) {
            let ((p0, v0), (p1, v1)) = (w[0], w[1]);
            if x <= v1 {
                return p0 + (x - v0) / (v1 - v0) * (p1 - p0);
            }
        }
        1.0
    }

    #[test]
    fn ks_uniform() {
        let cdf = sd::Uniform::new(2e6, 10e6).unwrap();
        assert_ks(
            "uniform",
            &Dist::Uniform {
                min: ms(2),
                max: ms(10),
            },
            |x| cdf.cdf(x),
        );
    }

    #[test]
    fn ks_exponential() {
        let cdf = sd::Exp::new(1.0 / 1e6).unwrap();
        assert_ks("exponential", &Dist::Exponential { mean: ms(1) }, |x| {
            cdf.cdf(x)
        });
    }

    #[test]
    fn ks_normal_far_from_zero() {
        // Mean 10 standard deviations above 0: truncation removes ~1e-23 of the mass.
        let cdf = sd::Normal::new(100e6, 10e6).unwrap();
        assert_ks(
            "normal",
            &Dist::Normal {
                mean: ms(100),
                std_dev: ms(10),
            },
            |x| cdf.cdf(x),
        );
    }

    #[test]
    fn ks_normal_truncated_at_mean_zero_is_half_normal() {
        let sigma = 5e6;
        let dist = Dist::Normal {
            mean: SimDuration::ZERO,
            std_dev: ms(5),
        };
        assert_ks("half-normal", &dist, |x| {
            2.0 * std_normal_cdf(x / sigma) - 1.0
        });
    }

    #[test]
    fn ks_lognormal() {
        let (mu, sigma) = ((20e6f64).ln(), 3f64.ln() / Z99);
        let cdf = sd::LogNormal::new(mu, sigma).unwrap();
        assert_ks(
            "lognormal",
            &Dist::LogNormal {
                median: ms(20),
                p99: ms(60),
            },
            |x| cdf.cdf(x),
        );
    }

    #[test]
    fn lognormal_hits_the_median_and_p99_asked_for() {
        // p99 / median = 3 keeps the sample p99's standard error near 0.6%, so 2% is ~3.5 SE.
        let mut xs = draws(
            &Dist::LogNormal {
                median: ms(20),
                p99: ms(60),
            },
            11,
            100_000,
        );
        xs.sort_by(f64::total_cmp);
        let quantile = |p: f64| xs[(p * xs.len() as f64) as usize];
        for (p, want) in [(0.5, 20e6), (0.99, 60e6)] {
            let got = quantile(p);
            assert!(
                (got / want - 1.0).abs() < 0.02,
                "p{}: got {got}, want {want}",
                p * 100.0
            );
        }
    }

    #[test]
    fn ks_pareto() {
        let cdf = sd::Pareto::new(1e6, 2.5).unwrap();
        assert_ks(
            "pareto",
            &Dist::Pareto {
                scale: ms(1),
                shape: 2.5,
            },
            |x| cdf.cdf(x),
        );
    }

    #[test]
    fn ks_empirical() {
        let points = [(0.0, ms(1)), (0.5, ms(4)), (0.99, ms(40)), (1.0, ms(90))];
        let base: Vec<(f64, f64)> = points.iter().map(|&(p, v)| (p, v.to_f64())).collect();
        assert_ks("empirical", &Dist::Empirical(points.to_vec()), |x| {
            piecewise_cdf(&base, x)
        });
    }

    #[test]
    fn mixture_draws_each_component_in_proportion() {
        let n = 100_000;
        let cases = [(0.99, 0.01, 0.01), (3.0, 1.0, 0.25)];
        for (fast, slow, p_slow) in cases {
            let dist = Dist::Mixture(vec![
                (fast, Dist::Constant(ms(1))),
                (0.0, Dist::Constant(ms(500))),
                (slow, Dist::Constant(ms(1000))),
            ]);
            let xs = draws(&dist, 3, n);
            let slow_count = xs.iter().filter(|&&x| x == 1e9).count() as f64;
            assert!(!xs.contains(&500e6), "a zero-weight component was drawn");
            let expected = n as f64 * p_slow;
            let sd = (n as f64 * p_slow * (1.0 - p_slow)).sqrt();
            assert!(
                (slow_count - expected).abs() < 4.0 * sd,
                "slow fraction {slow_count} of {n}, expected {expected} +- {}",
                4.0 * sd
            );
        }
    }

    #[test]
    fn mean_matches_sample_mean() {
        let n = 100_000;
        let dists: Vec<Dist<SimDuration>> = vec![
            Dist::Constant(ms(3)),
            Dist::Uniform {
                min: ms(2),
                max: ms(10),
            },
            Dist::Exponential { mean: ms(1) },
            Dist::Normal {
                mean: ms(100),
                std_dev: ms(10),
            },
            // Truncation matters here: the mean is well above 2ms.
            Dist::Normal {
                mean: ms(2),
                std_dev: ms(5),
            },
            Dist::Normal {
                mean: SimDuration::ZERO,
                std_dev: ms(5),
            },
            Dist::LogNormal {
                median: ms(20),
                p99: ms(200),
            },
            Dist::Pareto {
                scale: ms(1),
                shape: 2.5,
            },
            Dist::Mixture(vec![
                (0.9, Dist::Exponential { mean: ms(1) }),
                (
                    0.1,
                    Dist::Uniform {
                        min: ms(50),
                        max: ms(100),
                    },
                ),
            ]),
            Dist::Empirical(vec![
                (0.0, ms(1)),
                (0.5, ms(4)),
                (0.99, ms(40)),
                (1.0, ms(90)),
            ]),
        ];
        for (i, dist) in dists.iter().enumerate() {
            let want = dist.compile().unwrap().mean();
            let xs = draws(dist, 100 + i as u64, n);
            let m = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
            let se = (var / n as f64).sqrt();
            assert!(
                (m - want).abs() <= 4.0 * se,
                "{dist:?}: sample mean {m}, mean() {want}, se {se}"
            );
        }
    }

    #[test]
    fn mean_closed_forms() {
        let mean = |d: Dist<f64>| d.compile().unwrap().mean();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.abs().max(1.0);
        assert!(close(mean(Dist::Uniform { min: 2.0, max: 6.0 }), 4.0));
        assert!(close(
            mean(Dist::Normal {
                mean: 0.0,
                std_dev: 3.0
            }),
            3.0 * (2.0 / std::f64::consts::PI).sqrt()
        ));
        assert!(close(
            mean(Dist::Normal {
                mean: 5.0,
                std_dev: 0.0
            }),
            5.0
        ));
        assert!(close(
            mean(Dist::Pareto {
                scale: 2.0,
                shape: 3.0
            }),
            3.0
        ));
        assert_eq!(
            mean(Dist::Pareto {
                scale: 2.0,
                shape: 1.0
            }),
            f64::INFINITY
        );
        assert!(close(
            mean(Dist::Empirical(vec![(0.0, 0.0), (1.0, 10.0)])),
            5.0
        ));
        assert!(close(
            mean(Dist::Empirical(vec![(0.0, 0.0), (0.5, 0.0), (1.0, 10.0)])),
            2.5
        ));
        // A zero-weight component with an infinite mean must not make the mixture's NaN.
        let mix = Dist::Mixture(vec![
            (1.0, Dist::Constant(2.0)),
            (
                0.0,
                Dist::Pareto {
                    scale: 1.0,
                    shape: 0.5,
                },
            ),
        ]);
        assert!(close(mean(mix), 2.0));
    }

    fn found<V: DistValue>(dist: &Dist<V>) -> Vec<(String, String)> {
        dist.problems()
            .into_iter()
            .map(|p| (p.path.to_string(), p.message))
            .collect()
    }

    /// `dist` has exactly one problem, at `path`, whose message contains `message`.
    fn assert_problem<V: DistValue>(dist: &Dist<V>, path: &str, message: &str) {
        let got = found(dist);
        assert!(
            got.len() == 1 && got[0].0 == path && got[0].1.contains(message),
            "expected one problem at `{path}` containing {message:?}, got {got:?}"
        );
    }

    #[test]
    fn problems_are_found_at_their_paths() {
        let d = |x: u64| ms(x);
        assert_problem(
            &Dist::Uniform {
                min: d(5),
                max: d(3),
            },
            "max",
            "max must be >= min (5ms), got 3ms",
        );
        assert_problem(
            &Dist::Uniform {
                min: -1.0,
                max: 3.0,
            },
            "min",
            "min must be >= 0, got -1",
        );
        assert_problem(
            &Dist::Exponential { mean: d(0) },
            "mean",
            "mean must be > 0, got 0s",
        );
        assert_problem(
            &Dist::Exponential { mean: f64::NAN },
            "mean",
            "mean must be a finite number, got NaN",
        );
        assert_problem(
            &Dist::Normal {
                mean: -1.0,
                std_dev: 1.0,
            },
            "mean",
            "mean must be >= 0, got -1",
        );
        assert_problem(
            &Dist::Normal {
                mean: 1.0,
                std_dev: -2.0,
            },
            "std_dev",
            "std_dev must be >= 0, got -2",
        );
        assert_problem(
            &Dist::Normal {
                mean: 1.0,
                std_dev: f64::INFINITY,
            },
            "std_dev",
            "finite",
        );
        assert_problem(
            &Dist::LogNormal {
                median: d(0),
                p99: d(1),
            },
            "median",
            "median must be > 0, got 0s",
        );
        assert_problem(
            &Dist::LogNormal {
                median: d(20),
                p99: d(10),
            },
            "p99",
            "p99 must be >= median (20ms), got 10ms",
        );
        assert_problem(
            &Dist::Pareto {
                scale: d(0),
                shape: 2.0,
            },
            "scale",
            "scale must be > 0",
        );
        assert_problem(
            &Dist::Pareto {
                scale: d(1),
                shape: 0.0,
            },
            "shape",
            "shape must be > 0, got 0",
        );
        assert_problem(
            &Dist::Pareto {
                scale: d(1),
                shape: f64::NAN,
            },
            "shape",
            "finite",
        );
        assert_problem(&Dist::Constant(-3.0), "", "value must be >= 0, got -3");

        assert_problem(
            &Dist::<SimDuration>::Mixture(vec![]),
            "",
            "at least one component",
        );
        let weighted =
            |w: f64| Dist::Mixture(vec![(1.0, Dist::Constant(d(1))), (w, Dist::Constant(d(2)))]);
        assert_problem(&weighted(-1.0), "[1][0]", "weight must be >= 0, got -1");
        assert_problem(
            &weighted(f64::INFINITY),
            "[1][0]",
            "weight must be a finite number",
        );
        let zeros = Dist::Mixture(vec![
            (0.0, Dist::Constant(d(1))),
            (0.0, Dist::Constant(d(2))),
        ]);
        assert_problem(&zeros, "", "weights are all 0");
        let nested = Dist::Mixture(vec![
            (1.0, Dist::Constant(d(1))),
            (
                1.0,
                Dist::Mixture(vec![(1.0, Dist::Exponential { mean: d(0) })]),
            ),
        ]);
        assert_problem(&nested, "[1][1][0][1].mean", "mean must be > 0");

        let emp = |points: Vec<(f64, u64)>| {
            Dist::Empirical(points.into_iter().map(|(p, v)| (p, d(v))).collect())
        };
        assert_problem(&emp(vec![(0.0, 1)]), "", "at least 2 points");
        assert_problem(
            &emp(vec![(0.0, 1), (1.5, 2)]),
            "[1][0]",
            "p must be within [0, 1], got 1.5",
        );
        assert_problem(
            &emp(vec![(0.1, 1), (1.0, 2)]),
            "[0][0]",
            "the first point's p must be 0, got 0.1",
        );
        assert_problem(
            &emp(vec![(0.0, 1), (0.9, 2)]),
            "[1][0]",
            "the last point's p must be 1, got 0.9",
        );
        assert_problem(
            &emp(vec![(0.0, 1), (0.5, 2), (0.5, 3), (1.0, 4)]),
            "[2][0]",
            "p must be greater than the previous point's p (0.5), got 0.5",
        );
        assert_problem(
            &emp(vec![(0.0, 1), (0.5, 4), (1.0, 2)]),
            "[2][1]",
            "value must be >= the previous point's value (4ms), got 2ms",
        );
        assert_problem(
            &Dist::Empirical(vec![(0.0, -1.0), (1.0, 2.0)]),
            "[0][1]",
            "value must be >= 0, got -1",
        );
        assert_problem(
            &Dist::Empirical(vec![(f64::NAN, 1.0), (1.0, 2.0)]),
            "[0][0]",
            "p must be a finite number",
        );
    }

    #[test]
    fn problems_are_all_collected() {
        let paths = |d: &Dist<f64>| found(d).into_iter().map(|(p, _)| p).collect::<Vec<_>>();
        assert_eq!(
            paths(&Dist::Normal {
                mean: -1.0,
                std_dev: -2.0
            }),
            ["mean", "std_dev"]
        );
        // Both out of range and out of order: each rule is reported.
        assert_eq!(
            paths(&Dist::Uniform {
                min: -1.0,
                max: -5.0
            }),
            ["min", "max"]
        );
        let mix = Dist::Mixture(vec![
            (-1.0, Dist::Exponential { mean: 0.0 }),
            (1.0, Dist::Constant(f64::NAN)),
        ]);
        assert_eq!(paths(&mix), ["[0][0]", "[0][1].mean", "[1][1]"]);
        let emp = Dist::Empirical(vec![(0.2, 5.0), (0.1, 4.0), (0.9, -1.0)]);
        // The last value breaks two rules (negative, and below the previous value): both reported.
        assert_eq!(
            paths(&emp),
            ["[0][0]", "[1][0]", "[1][1]", "[2][0]", "[2][1]", "[2][1]"]
        );
    }

    #[test]
    fn valid_distributions_have_no_problems() {
        let valid: Vec<Dist<SimDuration>> = vec![
            Dist::Constant(SimDuration::ZERO),
            Dist::Uniform {
                min: ms(1),
                max: ms(1),
            },
            Dist::Exponential {
                mean: SimDuration::from_nanos(1),
            },
            Dist::Normal {
                mean: SimDuration::ZERO,
                std_dev: SimDuration::ZERO,
            },
            Dist::LogNormal {
                median: ms(20),
                p99: ms(20),
            },
            Dist::Pareto {
                scale: ms(1),
                shape: 0.5,
            },
            Dist::Mixture(vec![
                (0.0, Dist::Constant(ms(1))),
                (2.0, Dist::Constant(ms(2))),
            ]),
            Dist::Empirical(vec![(0.0, ms(1)), (0.5, ms(1)), (1.0, ms(3))]),
        ];
        for dist in &valid {
            assert_eq!(found(dist), [], "{dist:?}");
            let sampler = dist.compile().unwrap();
            let mut rng = stream(1, "test");
            for _ in 0..1000 {
                let x = sampler.sample(&mut rng);
                assert!(x >= 0.0 && x.is_finite(), "{dist:?} sampled {x}");
            }
        }
    }

    #[test]
    fn compile_returns_the_problems() {
        let dist = Dist::Normal {
            mean: -1.0,
            std_dev: -2.0,
        };
        assert_eq!(dist.compile().unwrap_err(), dist.problems());
    }

    #[test]
    fn extreme_parameters_stay_finite() {
        let dist = Dist::Pareto {
            scale: 1.0,
            shape: 0.01,
        };
        assert!(
            draws(&dist, 5, 10_000)
                .iter()
                .all(|x| x.is_finite() && *x >= 1.0)
        );
    }

    #[test]
    fn same_seed_same_sequence() {
        let dist = Dist::Mixture(vec![
            (
                1.0,
                Dist::Normal {
                    mean: ms(2),
                    std_dev: ms(5),
                },
            ),
            (
                1.0,
                Dist::LogNormal {
                    median: ms(20),
                    p99: ms(200),
                },
            ),
            (1.0, Dist::Empirical(vec![(0.0, ms(1)), (1.0, ms(9))])),
        ]);
        let sampler = dist.compile().unwrap();
        let run = |seed| {
            let mut rng = stream(seed, "test");
            (0..1000)
                .map(|_| sampler.sample_duration(&mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn deserializes_from_ron() {
        let parse =
            |s: &str| ron::from_str::<Dist<SimDuration>>(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(
            parse(r#"Exponential(mean: "1ms")"#),
            Dist::Exponential { mean: ms(1) }
        );
        assert_eq!(
            parse(r#"LogNormal(median: "20ms", p99: "200ms")"#),
            Dist::LogNormal {
                median: ms(20),
                p99: ms(200)
            }
        );
        assert_eq!(
            parse(r#"Mixture([(0.99, Constant("1ms")), (0.01, Constant("1s"))])"#),
            Dist::Mixture(vec![
                (0.99, Dist::Constant(ms(1))),
                (0.01, Dist::Constant(ms(1000)))
            ])
        );
        let emp = Dist::Empirical(vec![
            (0.0, ms(1)),
            (0.5, ms(4)),
            (0.99, ms(40)),
            (1.0, ms(90)),
        ]);
        assert_eq!(
            parse(r#"Empirical([(0.0, "1ms"), (0.5, "4ms"), (0.99, "40ms"), (1.0, "90ms")])"#),
            emp
        );
        assert_eq!(parse(&ron::to_string(&emp).unwrap()), emp);
        assert!(
            ron::from_str::<Dist<SimDuration>>(r#"Exponential(mean: "1ms", rate: 2.0)"#).is_err()
        );
        assert!(ron::from_str::<Dist<SimDuration>>(r#"Exponential(mean: 1.0)"#).is_err());

        let plain = |s: &str| ron::from_str::<Dist<f64>>(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(
            plain("Pareto(scale: 1.5, shape: 2.0)"),
            Dist::Pareto {
                scale: 1.5,
                shape: 2.0
            }
        );
        assert_eq!(
            plain("Uniform(min: 0, max: 4096)"),
            Dist::Uniform {
                min: 0.0,
                max: 4096.0
            }
        );
        assert_eq!(plain("Constant(512.0)"), Dist::Constant(512.0));
    }
}
