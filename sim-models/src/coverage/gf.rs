//! Finite fields GF(q) for the orthogonal-array constructions: q prime (arithmetic mod q),
//! or q = p^k for the prime powers below (polynomials over GF(p) modulo an irreducible
//! polynomial of degree k). Addition and multiplication are tables, built once per field;
//! an element is the number whose base-p digits are its polynomial's coefficients
//! (lowest power first), so 0 and 1 are the field's 0 and 1.

/// Prime powers that are not prime, with the low coefficients of a monic irreducible
/// polynomial of degree k over GF(p): `(q, p, [m0, m1, ..])` for x^k + .. + m1 x + m0.
/// Each is checked by the tests (every non-zero element has an inverse).
const EXTENSIONS: &[(usize, usize, &[usize])] = &[
    (4, 2, &[1, 1]),        // x^2 + x + 1
    (8, 2, &[1, 1, 0]),     // x^3 + x + 1
    (9, 3, &[1, 0]),        // x^2 + 1
    (16, 2, &[1, 1, 0, 0]), // x^4 + x + 1
    (25, 5, &[2, 1]),       // x^2 + x + 2
    (27, 3, &[1, 2, 0]),    // x^3 + 2x + 1
];

/// Largest prime field offered: its smallest array, q^2 runs, is already past any budget.
pub const MAX_PRIME: usize = 61;

/// GF(q), as addition and multiplication tables.
#[derive(Clone, Debug)]
pub struct Field {
    q: usize,
    add: Vec<u16>,
    mul: Vec<u16>,
}

/// Whether `n` is prime.
pub fn is_prime(n: usize) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// The orders q for which [`Field::new`] builds a field, ascending.
pub fn orders() -> Vec<usize> {
    let mut qs: Vec<usize> = (2..=MAX_PRIME).filter(|&n| is_prime(n)).collect();
    qs.extend(EXTENSIONS.iter().map(|e| e.0));
    qs.sort_unstable();
    qs
}

impl Field {
    /// GF(q), or `None` when q is neither a prime up to [`MAX_PRIME`] nor one of the prime
    /// powers this module knows an irreducible polynomial for.
    pub fn new(q: usize) -> Option<Field> {
        let (p, modulus): (usize, &[usize]) = if is_prime(q) && q <= MAX_PRIME {
            (q, &[])
        } else {
            let e = EXTENSIONS.iter().find(|e| e.0 == q)?;
            (e.1, e.2)
        };
        let k = modulus.len().max(1);
        let digits = |mut x: usize| -> Vec<usize> {
            (0..k)
                .map(|_| {
                    let d = x % p;
                    x /= p;
                    d
                })
                .collect()
        };
        let number = |ds: &[usize]| ds.iter().rev().fold(0, |acc, &d| acc * p + d);
        let mut add = vec![0u16; q * q];
        let mut mul = vec![0u16; q * q];
        for a in 0..q {
            let da = digits(a);
            for b in 0..q {
                let db = digits(b);
                let sum: Vec<usize> = da.iter().zip(&db).map(|(x, y)| (x + y) % p).collect();
                add[a * q + b] = number(&sum) as u16;
                // Polynomial product, then reduced: x^k = -(m0 + m1 x + ..).
                let mut prod = vec![0usize; 2 * k - 1];
                for (i, x) in da.iter().enumerate() {
                    for (j, y) in db.iter().enumerate() {
                        prod[i + j] = (prod[i + j] + x * y) % p;
                    }
                }
                for d in (k..prod.len()).rev() {
                    let c = prod[d];
                    if c == 0 {
                        continue;
                    }
                    prod[d] = 0;
                    for (i, m) in modulus.iter().enumerate() {
                        let at = d - k + i;
                        prod[at] = (prod[at] + p - (c * m) % p) % p;
                    }
                }
                mul[a * q + b] = number(&prod[..k]) as u16;
            }
        }
        Some(Field { q, add, mul })
    }

    /// The number of elements.
    pub fn order(&self) -> usize {
        self.q
    }

    pub fn add(&self, a: usize, b: usize) -> usize {
        usize::from(self.add[a * self.q + b])
    }

    pub fn mul(&self, a: usize, b: usize) -> usize {
        usize::from(self.mul[a * self.q + b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field axioms that the array construction relies on, checked exhaustively:
    /// (GF, +) and (GF \ 0, x) are commutative groups, and x distributes over +. A
    /// reducible modulus fails the inverse check (it has zero divisors).
    fn check_field(f: &Field) {
        let q = f.order();
        for a in 0..q {
            assert_eq!(f.add(a, 0), a, "0 is the additive identity in GF({q})");
            assert_eq!(
                f.mul(a, 1),
                a,
                "1 is the multiplicative identity in GF({q})"
            );
            assert_eq!(f.mul(a, 0), 0);
            assert_eq!(
                (0..q).filter(|&b| f.add(a, b) == 0).count(),
                1,
                "{a} has one negative in GF({q})"
            );
            if a != 0 {
                assert_eq!(
                    (0..q).filter(|&b| f.mul(a, b) == 1).count(),
                    1,
                    "{a} has one inverse in GF({q})"
                );
            }
            for b in 0..q {
                assert_eq!(f.add(a, b), f.add(b, a));
                assert_eq!(f.mul(a, b), f.mul(b, a));
                for c in 0..q {
                    assert_eq!(f.add(f.add(a, b), c), f.add(a, f.add(b, c)));
                    assert_eq!(f.mul(f.mul(a, b), c), f.mul(a, f.mul(b, c)));
                    assert_eq!(f.mul(a, f.add(b, c)), f.add(f.mul(a, b), f.mul(a, c)));
                }
            }
        }
    }

    #[test]
    fn every_offered_order_is_a_field() {
        for q in orders() {
            if q <= 27 {
                check_field(&Field::new(q).expect("an offered order"));
            }
        }
        // The large primes: inverses only (the cubic checks would be slow for nothing).
        let f = Field::new(61).unwrap();
        assert!((1..61).all(|a| (1..61).any(|b| f.mul(a, b) == 1)));
    }

    #[test]
    fn gf4_and_gf9_by_hand() {
        // GF(4) = {0, 1, x, x+1} as 0, 1, 2, 3 with x^2 = x + 1.
        let f = Field::new(4).unwrap();
        assert_eq!(f.mul(2, 2), 3);
        assert_eq!(f.mul(2, 3), 1);
        assert_eq!(f.add(2, 3), 1);
        // GF(9) with x^2 = -1: x is 3, x * x = 2 (= -1 mod 3).
        let f = Field::new(9).unwrap();
        assert_eq!(f.mul(3, 3), 2);
        assert_eq!(f.add(4, 5), 6); // (1 + x) + (2 + x) = 0 + 2x
    }

    #[test]
    fn non_prime_powers_and_unknown_orders_are_refused() {
        for q in [0, 1, 6, 10, 12, 32, 67] {
            assert!(Field::new(q).is_none(), "GF({q})");
        }
        assert_eq!(&orders()[..8], &[2, 3, 4, 5, 7, 8, 9, 11]);
    }
}
