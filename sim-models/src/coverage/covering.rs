//! A strength-2 covering array by IPOG (Lei and Tai's in-parameter-order greedy): every
//! pair of levels of every pair of factors appears in some row, not equally often. Used
//! when no orthogonal array fits the factors. Deterministic: ties go round the levels and
//! to the earliest row.
//!
//! Factors are taken most levels first. The first two give their full product; each next
//! factor is added to every row with the level that covers the most pairs still missing
//! (horizontal growth), then rows are added, or free cells of added rows filled, for the
//! pairs still missing (vertical growth). Cells left free are set to level 0.

/// Rows of levels (from 0), one entry per factor in the order given.
pub fn ipog(levels: &[usize]) -> Vec<Vec<usize>> {
    let k = levels.len();
    if k == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by_key(|&f| std::cmp::Reverse(levels[f]));
    let lv: Vec<usize> = order.iter().map(|&f| levels[f]).collect();
    // Rows over the factors in `order`; None is a free cell.
    let mut rows: Vec<Vec<Option<usize>>> = if k == 1 {
        (0..lv[0]).map(|a| vec![Some(a)]).collect()
    } else {
        let mut r = Vec::new();
        for a in 0..lv[0] {
            for b in 0..lv[1] {
                r.push(vec![Some(a), Some(b)]);
            }
        }
        r
    };
    for t in 2..k {
        let st = lv[t];
        // missing[j][a * st + b]: level a of factor j with level b of factor t not yet run.
        let mut missing: Vec<Vec<bool>> = (0..t).map(|j| vec![true; lv[j] * st]).collect();
        for (i, row) in rows.iter_mut().enumerate() {
            let gain = |b: usize| {
                (0..t)
                    .filter(|&j| row[j].is_some_and(|a| missing[j][a * st + b]))
                    .count()
            };
            // Ties go round the levels (row i starts at level i mod s), so that a
            // factor's levels spread over the rows instead of piling on level 0.
            let mut best = i % st;
            let mut best_gain = gain(best);
            for b in (0..st).map(|d| (i + d) % st) {
                let g = gain(b);
                if g > best_gain {
                    best = b;
                    best_gain = g;
                }
            }
            for j in 0..t {
                if let Some(a) = row[j] {
                    missing[j][a * st + best] = false;
                }
            }
            row.push(Some(best));
        }
        for j in 0..t {
            for a in 0..lv[j] {
                for b in 0..st {
                    if !missing[j][a * st + b] {
                        continue;
                    }
                    // A row with factor t at b and factor j free (left free by an earlier
                    // vertical growth, or added by this one).
                    let slot = rows.iter().position(|r| r[t] == Some(b) && r[j].is_none());
                    match slot {
                        Some(i) => rows[i][j] = Some(a),
                        None => {
                            let mut r = vec![None; t + 1];
                            r[j] = Some(a);
                            r[t] = Some(b);
                            rows.push(r);
                        }
                    }
                    missing[j][a * st + b] = false;
                }
            }
        }
    }
    rows.into_iter()
        .map(|r| {
            let mut out = vec![0; k];
            for (i, &f) in order.iter().enumerate() {
                out[f] = r[i].unwrap_or(0);
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::orthogonal::check;
    use super::*;

    #[test]
    fn covers_every_pair_in_fewer_rows_than_the_full_factorial() {
        for levels in [
            vec![2, 5, 5, 5, 2, 2],
            vec![3; 13],
            vec![2; 10],
            vec![6, 5, 4, 3, 2],
            vec![7, 2],
            vec![4, 4, 4, 4, 4, 4, 4],
        ] {
            let rows = ipog(&levels);
            let s = check(&rows, &levels);
            assert!(s.covered(), "{levels:?}: missing {:?}", s.missing);
            let full: usize = levels.iter().product();
            assert!(rows.len() <= full, "{levels:?}");
            // At least the product of the two largest level counts: no pair is skipped.
            let mut sorted = levels.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            assert!(rows.len() >= sorted[0] * sorted[1]);
            assert!(
                rows.iter()
                    .all(|r| r.iter().zip(&levels).all(|(x, s)| x < s))
            );
        }
        // Greedy, not optimal, but near the known sizes: 2^10 needs 6 rows at best, 3^13
        // 15 (an optimal covering array); 3^4 and 2x5^3x2^2 reach their lower bounds.
        assert_eq!(ipog(&[2; 10]).len(), 10);
        assert_eq!(ipog(&[3; 13]).len(), 21);
        assert_eq!(ipog(&[3; 4]).len(), 9);
        assert_eq!(ipog(&[2, 5, 5, 5, 2, 2]).len(), 25);
        assert_eq!(ipog(&[7, 2]).len(), 14);
    }

    #[test]
    fn same_input_same_rows() {
        assert_eq!(ipog(&[3, 4, 2, 5, 3]), ipog(&[3, 4, 2, 5, 3]));
    }
}
