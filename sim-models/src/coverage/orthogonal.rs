//! Strength-2 orthogonal arrays: every pair of columns holds every pair of levels, equally
//! often. Which array a set of factors gets, how factors sit in its columns, and the check
//! that a design really has strength 2.
//!
//! The arrays:
//! - **Rao-Hamming over GF(q)** (Bose's construction when n = 2): the rows are the q^n
//!   vectors x of GF(q)^n, the columns the (q^n - 1)/(q - 1) non-zero vectors c whose first
//!   non-zero entry is 1, the entry c.x. Two such c are never proportional, so any two
//!   columns take each pair of values on exactly q^(n-2) rows. q is a prime up to
//!   [`gf::MAX_PRIME`] or 4, 8, 9, 16, 25, 27 ([`gf`]).
//! - Taguchi's standard tables **L4(2^3), L8(2^7), L9(3^4), L16(2^15), L16(4^5), L25(5^6),
//!   L27(3^13)** are exactly these arrays for (q, n) = (2, 2), (2, 3), (3, 2), (2, 4),
//!   (4, 2), (5, 2), (3, 3), up to the order of rows, columns and levels; so they are built
//!   rather than typed in, and named by their standard names.
//! - **L18(2^1 3^7)** is not of that family and is typed in from the standard table.
//!
//! Fitting factors to columns (Taguchi's practice): a factor of s levels takes a column of
//! s levels; or of m levels where s divides m (column level j runs as factor level
//! j mod s: still balanced); or of s + 1 levels (the *dummy level*: the column's last
//! level runs as the factor's first, so that level is run twice as often). A dummy level
//! keeps every pair of levels covered and the pair counts proportional (n_ab N = n_a n_b),
//! so main effects stay unbiased, but the design is no longer balanced; it is allowed on at
//! most half of the factors, else a larger balanced array is taken.

use serde::{Deserialize, Serialize};

use super::gf::{self, Field};

/// The largest orthogonal array considered (rows).
pub const MAX_OA_RUNS: usize = 4096;

/// A family member before it is built: its name, how it is made, and its columns' levels.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub name: String,
    pub construction: String,
    pub runs: usize,
    /// Levels of each column.
    pub columns: Vec<usize>,
    what: Build,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Build {
    RaoHamming { q: usize, n: u32 },
    L18,
}

/// Taguchi's name for the Rao-Hamming array over GF(q) with q^n runs, where it has one.
fn standard_name(q: usize, n: u32) -> Option<&'static str> {
    Some(match (q, n) {
        (2, 2) => "L4(2^3)",
        (2, 3) => "L8(2^7)",
        (3, 2) => "L9(3^4)",
        (2, 4) => "L16(2^15)",
        (4, 2) => "L16(4^5)",
        (5, 2) => "L25(5^6)",
        (3, 3) => "L27(3^13)",
        _ => return None,
    })
}

/// Every array of the family up to [`MAX_OA_RUNS`] rows, smallest first.
pub fn candidates() -> Vec<Candidate> {
    let mut out = Vec::new();
    for q in gf::orders() {
        let mut runs = q * q;
        let mut n = 2u32;
        while runs <= MAX_OA_RUNS {
            let columns = (runs - 1) / (q - 1);
            let (name, construction) = match standard_name(q, n) {
                Some(s) => (
                    s.to_string(),
                    format!(
                        "Taguchi's standard table, built as the Rao-Hamming array over GF({q})"
                    ),
                ),
                None if n == 2 => (
                    format!("L{runs}({q}^{columns})"),
                    format!("Bose's construction over GF({q})"),
                ),
                None => (
                    format!("L{runs}({q}^{columns})"),
                    format!("Rao-Hamming construction over GF({q}), {q}^{n} runs"),
                ),
            };
            out.push(Candidate {
                name,
                construction,
                runs,
                columns: vec![q; columns],
                what: Build::RaoHamming { q, n },
            });
            runs *= q;
            n += 1;
        }
    }
    let mut l18 = vec![2];
    l18.extend([3; 7]);
    out.push(Candidate {
        name: "L18(2^1 3^7)".into(),
        construction: "Taguchi's standard table".into(),
        runs: 18,
        columns: l18,
        what: Build::L18,
    });
    // Smallest first; at equal size, fewer levels per column first (L16(2^15) before
    // L16(4^5)): fewer dummy levels.
    out.sort_by_key(|c| (c.runs, c.columns.iter().max().copied()));
    out
}

impl Candidate {
    /// The array's rows, levels from 0.
    pub fn build(&self) -> Vec<Vec<usize>> {
        match self.what {
            Build::RaoHamming { q, n } => rao_hamming(
                &Field::new(q).expect("candidates only name fields that exist"),
                n,
            ),
            Build::L18 => L18
                .iter()
                .map(|row| row.iter().map(|&x| usize::from(x) - 1).collect())
                .collect(),
        }
    }
}

/// The Rao-Hamming array over `f` with q^n rows and (q^n - 1)/(q - 1) columns.
pub fn rao_hamming(f: &Field, n: u32) -> Vec<Vec<usize>> {
    let q = f.order();
    let runs = q.pow(n);
    let vector = |mut x: usize| -> Vec<usize> {
        let mut v = vec![0; n as usize];
        for d in v.iter_mut().rev() {
            *d = x % q;
            x /= q;
        }
        v
    };
    // Columns: non-zero vectors whose first non-zero entry is 1, in counting order.
    let columns: Vec<Vec<usize>> = (1..runs)
        .map(vector)
        .filter(|c| c.iter().find(|&&d| d != 0) == Some(&1))
        .collect();
    (0..runs)
        .map(|r| {
            let x = vector(r);
            columns
                .iter()
                .map(|c| {
                    c.iter()
                        .zip(&x)
                        .fold(0, |acc, (&ci, &xi)| f.add(acc, f.mul(ci, xi)))
                })
                .collect()
        })
        .collect()
}

/// Taguchi's L18(2^1 3^7), levels from 1 as published.
const L18: [[u8; 8]; 18] = [
    [1, 1, 1, 1, 1, 1, 1, 1],
    [1, 1, 2, 2, 2, 2, 2, 2],
    [1, 1, 3, 3, 3, 3, 3, 3],
    [1, 2, 1, 1, 2, 2, 3, 3],
    [1, 2, 2, 2, 3, 3, 1, 1],
    [1, 2, 3, 3, 1, 1, 2, 2],
    [1, 3, 1, 2, 1, 3, 2, 3],
    [1, 3, 2, 3, 2, 1, 3, 1],
    [1, 3, 3, 1, 3, 2, 1, 2],
    [2, 1, 1, 3, 3, 2, 2, 1],
    [2, 1, 2, 1, 1, 3, 3, 2],
    [2, 1, 3, 2, 2, 1, 1, 3],
    [2, 2, 1, 2, 3, 1, 3, 2],
    [2, 2, 2, 3, 1, 2, 1, 3],
    [2, 2, 3, 1, 2, 3, 2, 1],
    [2, 3, 1, 3, 2, 3, 1, 2],
    [2, 3, 2, 1, 3, 1, 2, 3],
    [2, 3, 3, 2, 1, 2, 3, 1],
];

/// How a factor of `s` levels may sit in a column of `m` levels, if it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Fit {
    /// m = s.
    Exact,
    /// s divides m: column level j runs as factor level j mod s, each equally often.
    Folded,
    /// m = s + 1: the column's last level runs as the factor's first level.
    Dummy,
}

pub fn fit(s: usize, m: usize) -> Option<Fit> {
    if m == s {
        Some(Fit::Exact)
    } else if m.is_multiple_of(s) {
        Some(Fit::Folded)
    } else if m == s + 1 {
        Some(Fit::Dummy)
    } else {
        None
    }
}

/// Which column each factor takes and how, or `None` when the factors do not all fit
/// (including when more than half would need a dummy level).
pub fn assign(factors: &[usize], columns: &[usize]) -> Option<Vec<(usize, Fit)>> {
    if factors.len() > columns.len() {
        return None;
    }
    // Bipartite matching (Kuhn's augmenting paths), most levels first, each factor trying
    // exact columns before folded before dummy ones.
    let mut order: Vec<usize> = (0..factors.len()).collect();
    order.sort_by_key(|&f| std::cmp::Reverse(factors[f]));
    let options: Vec<Vec<usize>> = factors
        .iter()
        .map(|&s| {
            let mut cs: Vec<usize> = (0..columns.len())
                .filter(|&c| fit(s, columns[c]).is_some())
                .collect();
            cs.sort_by_key(|&c| fit(s, columns[c]));
            cs
        })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; columns.len()];
    fn augment(
        f: usize,
        options: &[Vec<usize>],
        owner: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for &c in &options[f] {
            if seen[c] {
                continue;
            }
            seen[c] = true;
            if owner[c].is_none_or(|g| augment(g, options, owner, seen)) {
                owner[c] = Some(f);
                return true;
            }
        }
        false
    }
    for &f in &order {
        let mut seen = vec![false; columns.len()];
        if !augment(f, &options, &mut owner, &mut seen) {
            return None;
        }
    }
    let mut out = vec![(0, Fit::Exact); factors.len()];
    for (c, f) in owner.iter().enumerate() {
        if let Some(f) = *f {
            out[f] = (
                c,
                fit(factors[f], columns[c]).expect("matched on fitting columns"),
            );
        }
    }
    let dummies = out.iter().filter(|(_, fit)| *fit == Fit::Dummy).count();
    (dummies * 2 <= factors.len()).then_some(out)
}

/// The strength-2 check of a design: for every pair of factors, every pair of their levels
/// is run (covered), and how often.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Strength {
    /// Pairs of factors checked.
    pub factor_pairs: usize,
    /// Pairs of levels (summed over the pairs of factors) that must be covered.
    pub level_pairs: usize,
    /// Pairs of levels never run together: (factor, level, factor, level), the first few.
    pub missing: Vec<(usize, usize, usize, usize)>,
    pub missing_count: usize,
    /// Within every pair of factors, every pair of levels runs equally often (an OA).
    pub balanced: bool,
    /// Every pair count is n_a n_b / N (main effects unbiased by the other factors).
    pub proportional: bool,
}

impl Strength {
    /// Strength 2 holds: every pair of levels of every pair of factors is run.
    pub fn covered(&self) -> bool {
        self.missing_count == 0
    }
}

/// Checks `rows` (a level per factor, from 0) against factors of `levels` levels.
pub fn check(rows: &[Vec<usize>], levels: &[usize]) -> Strength {
    let n = rows.len();
    let k = levels.len();
    let mut out = Strength {
        factor_pairs: k * k.saturating_sub(1) / 2,
        level_pairs: 0,
        missing: Vec::new(),
        missing_count: 0,
        balanced: true,
        proportional: true,
    };
    let single: Vec<Vec<usize>> = (0..k)
        .map(|f| {
            let mut c = vec![0; levels[f]];
            for r in rows {
                c[r[f]] += 1;
            }
            c
        })
        .collect();
    for i in 0..k {
        for j in i + 1..k {
            let (si, sj) = (levels[i], levels[j]);
            out.level_pairs += si * sj;
            let mut count = vec![0usize; si * sj];
            for r in rows {
                count[r[i] * sj + r[j]] += 1;
            }
            if count.iter().any(|&c| c != count[0]) {
                out.balanced = false;
            }
            for a in 0..si {
                for b in 0..sj {
                    let c = count[a * sj + b];
                    if c == 0 {
                        out.missing_count += 1;
                        if out.missing.len() < 10 {
                            out.missing.push((i, a, j, b));
                        }
                    }
                    if c * n != single[i][a] * single[j][b] {
                        out.proportional = false;
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels_of(c: &Candidate) -> Vec<usize> {
        c.columns.clone()
    }

    #[test]
    fn every_candidate_is_a_balanced_strength_2_array() {
        let all = candidates();
        // The standard tables are all there, by name.
        for name in [
            "L4(2^3)",
            "L8(2^7)",
            "L9(3^4)",
            "L16(2^15)",
            "L16(4^5)",
            "L18(2^1 3^7)",
            "L25(5^6)",
            "L27(3^13)",
        ] {
            assert!(all.iter().any(|c| c.name == name), "{name}");
        }
        for c in all.iter().filter(|c| c.runs <= 256) {
            let rows = c.build();
            assert_eq!(rows.len(), c.runs, "{}", c.name);
            assert!(rows.iter().all(|r| r.len() == c.columns.len()));
            let s = check(&rows, &levels_of(c));
            assert!(s.covered(), "{}: {:?}", c.name, s.missing);
            assert!(s.balanced, "{} is balanced", c.name);
            assert!(s.proportional);
        }
    }

    #[test]
    fn bose_over_gf4_gf8_gf9_has_q_plus_1_columns() {
        for q in [4, 8, 9] {
            let rows = rao_hamming(&Field::new(q).unwrap(), 2);
            assert_eq!(rows.len(), q * q);
            assert_eq!(rows[0].len(), q + 1);
            let s = check(&rows, &vec![q; q + 1]);
            assert!(s.covered() && s.balanced, "GF({q})");
        }
    }

    #[test]
    fn a_broken_array_fails_the_check() {
        let c = candidates()
            .into_iter()
            .find(|c| c.name == "L9(3^4)")
            .unwrap();
        let mut rows = c.build();
        rows[4][2] = (rows[4][2] + 1) % 3;
        let s = check(&rows, &c.columns);
        assert!(!s.covered() && !s.balanced);
        assert!(s.missing_count >= 1);
    }

    #[test]
    fn factors_fit_exactly_folded_or_with_a_dummy_level() {
        let l9 = vec![3; 4];
        assert_eq!(
            assign(&[3, 3, 3, 2], &l9).map(|a| a.iter().map(|x| x.1).collect::<Vec<_>>()),
            Some(vec![Fit::Exact, Fit::Exact, Fit::Exact, Fit::Dummy])
        );
        // Three of four with a dummy level: more than half, refused.
        assert_eq!(assign(&[3, 2, 2, 2], &l9), None);
        // 2 levels fold into 4 evenly.
        assert_eq!(assign(&[2, 4], &[4, 4]).unwrap()[0].1, Fit::Folded);
        assert_eq!(fit(2, 5), None);
        assert_eq!(assign(&[3; 5], &l9), None);
        // L18: the two-level factor takes the two-level column.
        let l18 = candidates().into_iter().find(|c| c.runs == 18).unwrap();
        let a = assign(&[3, 3, 2, 3], &l18.columns).unwrap();
        assert_eq!(a[2], (0, Fit::Exact));
    }
}
