//! [`OutlierDetector`]: Envoy's consecutive-failure ejection.
//!
//! Semantics follow **Envoy**'s outlier detection (`envoy.config.cluster.v3.OutlierDetection`,
//! `DetectorImpl`) for `consecutive_5xx`, with its defaults:
//!
//! - Each replica counts its consecutive failures; a success resets the count to 0.
//! - When the count reaches `consecutive_failures` (default 5) the replica is ejected at once.
//!   This is what Envoy does for consecutive errors ("ejection runs inline"); its `interval`
//!   sweep (default 10 s) only drives success-rate ejection, which is not modelled, and
//!   un-ejection (see below). The count is reset whether or not the ejection happened, as
//!   Envoy resets it after `ejectHost`, so a refused replica needs a fresh run of failures.
//! - The ejection is refused if it would take the share of ejected replicas above
//!   `max_ejection_percent` (default 10): it goes ahead iff `100 · (ejected + 1) / n <=
//!   max_ejection_percent`, or no replica is ejected at all, so at least one replica may
//!   always be ejected (Envoy's `always_eject_one_host` set; recent Envoy releases make that
//!   opt-in, and without it 10 % of fewer than 10 hosts ejects none). Refusals are counted
//!   (Envoy's `ejections_overflow`).
//! - An ejection lasts `base_ejection × (times ejected before + 1)`, capped at `max_ejection`
//!   (defaults 30 s and 300 s): 30 s, 60 s, 90 s, ... 300 s, 300 s.
//! - An ejected replica comes back when its ejection expires, with its consecutive count
//!   reset (Envoy's `unejectHost`) and its ejection count kept.
//! - Results reported for an ejected replica (calls that were in flight when it was ejected)
//!   are ignored: Envoy counts them, but resets the count on un-ejection, so nothing
//!   observable differs.
//!
//! Where it differs from Envoy:
//! - Un-ejection happens exactly at expiry (lazily, on the next call at or after it), not at
//!   the first `interval` sweep after it, so Envoy keeps a host out up to `interval` longer.
//!   There is no ejection jitter (Envoy's `max_ejection_time_jitter`, default 0).
//! - The ejection count is never decremented. Envoy lowers its multiplier by one at each
//!   sweep at least `interval` after the host returned, so a host that stays healthy long
//!   enough starts again from `base_ejection`; here a flapping replica and one that failed
//!   long ago are treated alike.
//! - No success-rate or failure-percentage ejection, no `enforcing_*` probabilities (all
//!   100 %), no gateway/local-origin split: the caller says what a failure is.

use serde::{Deserialize, Serialize, Serializer};
use sim_core::path::{FieldPath, Problem};
use sim_core::{SimDuration, SimTime};

/// At most this many ejections are kept by [`OutlierDetector::ejections`] (the first ones);
/// [`OutlierDetector::ejection_count`] keeps counting.
pub const MAX_STORED_EJECTIONS: usize = 10_000;

/// Outlier detection's configuration, as written in a scenario file. Every field may be left
/// out and then takes Envoy's default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EjectionSpec {
    /// Eject a replica after this many failures in a row. Default 5 (Envoy `consecutive_5xx`).
    pub consecutive_failures: u32,
    /// The first ejection's length; the k-th lasts k times this. Default 30s (Envoy
    /// `base_ejection_time`).
    pub base_ejection: SimDuration,
    /// No ejection lasts longer than this. Default 300s (Envoy `max_ejection_time`).
    pub max_ejection: SimDuration,
    /// At most this percentage of the replicas is ejected at once, but one replica always may
    /// be. Default 10 (Envoy `max_ejection_percent`).
    pub max_ejection_percent: f64,
}

impl Default for EjectionSpec {
    /// Envoy's `OutlierDetection` defaults.
    fn default() -> Self {
        EjectionSpec {
            consecutive_failures: 5,
            base_ejection: SimDuration::from_secs(30),
            max_ejection: SimDuration::from_secs(300),
            max_ejection_percent: 10.0,
        }
    }
}

impl EjectionSpec {
    /// Every problem with this spec, with paths relative to it.
    pub fn problems(&self) -> Vec<Problem> {
        let root = FieldPath::root();
        let mut out = Vec::new();
        if self.consecutive_failures == 0 {
            out.push(Problem::new(
                root.field("consecutive_failures"),
                "must be at least 1, got 0",
            ));
        }
        if self.base_ejection.is_zero() {
            out.push(Problem::new(
                root.field("base_ejection"),
                "must be longer than 0s: an ejection of 0s ejects nothing",
            ));
        }
        if self.max_ejection < self.base_ejection {
            // Envoy rejects this configuration too.
            out.push(Problem::new(
                root.field("max_ejection"),
                format!(
                    "must be at least base_ejection ({}), got {}",
                    self.base_ejection, self.max_ejection
                ),
            ));
        }
        // Written as a positive range check so that NaN fails it.
        if !((0.0..=100.0).contains(&self.max_ejection_percent)) {
            out.push(Problem::new(
                root.field("max_ejection_percent"),
                format!(
                    "must be a percentage between 0 and 100, got {}",
                    self.max_ejection_percent
                ),
            ));
        }
        out
    }
}

/// One ejection: `replica` was out of the healthy set from `at` until `until`. Serialized
/// with the times as `at_s` and `until_s`, in seconds, like the run results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Ejection {
    pub replica: usize,
    #[serde(rename = "at_s", serialize_with = "secs")]
    pub at: SimTime,
    #[serde(rename = "until_s", serialize_with = "secs")]
    pub until: SimTime,
}

fn secs<S: Serializer>(t: &SimTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(t.as_secs_f64())
}

/// Envoy-style consecutive-failure outlier detection over replicas `0..n`. See the
/// module docs above.
#[derive(Clone, Debug)]
pub struct OutlierDetector {
    threshold: u32,
    base: SimDuration,
    cap: SimDuration,
    max_percent: f64,
    consecutive: Vec<u32>,
    times_ejected: Vec<u32>,
    /// `Some(until)` while ejected.
    until: Vec<Option<SimTime>>,
    healthy: Vec<bool>,
    ejected_now: usize,
    /// The earliest `until` of the ejected replicas, `SimTime::MAX` if none is ejected: below
    /// it, nothing can expire and no scan is needed.
    next_expiry: SimTime,
    ejections: Vec<Ejection>,
    ejection_count: u64,
    overflows: u64,
}

impl OutlierDetector {
    /// A detector over replicas `0..n`, all healthy.
    pub fn new(spec: &EjectionSpec, n: usize) -> Self {
        OutlierDetector {
            threshold: spec.consecutive_failures.max(1),
            base: spec.base_ejection,
            // As Envoy: the cap is never below the base.
            cap: spec.max_ejection.max(spec.base_ejection),
            max_percent: spec.max_ejection_percent,
            consecutive: vec![0; n],
            times_ejected: vec![0; n],
            until: vec![None; n],
            healthy: vec![true; n],
            ejected_now: 0,
            next_expiry: SimTime::MAX,
            ejections: Vec::new(),
            ejection_count: 0,
            overflows: 0,
        }
    }

    /// Records the outcome of a call to `replica` that finished at `now`. Ignored while the
    /// replica is ejected. `now` must not go backwards between calls.
    pub fn on_result(&mut self, replica: usize, success: bool, now: SimTime) {
        self.expire(now);
        if self.until[replica].is_some() {
            return;
        }
        if success {
            self.consecutive[replica] = 0;
            return;
        }
        self.consecutive[replica] += 1;
        if self.consecutive[replica] < self.threshold {
            return;
        }
        self.consecutive[replica] = 0;
        if self.may_eject_one_more() {
            self.eject(replica, now);
        } else {
            self.overflows += 1;
        }
    }

    /// Which replicas are in the healthy set at `now`, first returning those whose ejection
    /// has expired (`until <= now`).
    pub fn healthy(&mut self, now: SimTime) -> &[bool] {
        self.expire(now);
        &self.healthy
    }

    /// Every ejection so far, in order, up to the first [`MAX_STORED_EJECTIONS`].
    pub fn ejections(&self) -> &[Ejection] {
        &self.ejections
    }

    /// How many ejections happened, including any not stored.
    pub fn ejection_count(&self) -> u64 {
        self.ejection_count
    }

    /// How many ejections were refused by `max_ejection_percent` (Envoy's
    /// `ejections_overflow`).
    pub fn overflows(&self) -> u64 {
        self.overflows
    }

    /// How many times `replica` has been ejected.
    pub fn times_ejected(&self, replica: usize) -> u32 {
        self.times_ejected[replica]
    }

    /// Envoy's check: `100 · (ejected + 1) / n <= max%`, or nothing is ejected yet. Compared
    /// multiplied out, so that it is exact at the boundary for whole percentages.
    fn may_eject_one_more(&self) -> bool {
        let n = self.healthy.len() as f64;
        self.ejected_now == 0 || 100.0 * (self.ejected_now + 1) as f64 <= self.max_percent * n
    }

    fn eject(&mut self, replica: usize, now: SimTime) {
        let times = self.times_ejected[replica].saturating_add(1);
        self.times_ejected[replica] = times;
        let length =
            SimDuration(self.base.as_nanos().saturating_mul(u64::from(times))).min(self.cap);
        let until = now.saturating_add(length);
        self.until[replica] = Some(until);
        self.healthy[replica] = false;
        self.ejected_now += 1;
        self.next_expiry = self.next_expiry.min(until);
        self.ejection_count += 1;
        if self.ejections.len() < MAX_STORED_EJECTIONS {
            self.ejections.push(Ejection {
                replica,
                at: now,
                until,
            });
        }
    }

    fn expire(&mut self, now: SimTime) {
        if now < self.next_expiry {
            return;
        }
        let mut next = SimTime::MAX;
        for i in 0..self.until.len() {
            match self.until[i] {
                Some(u) if u <= now => {
                    self.until[i] = None;
                    self.healthy[i] = true;
                    self.consecutive[i] = 0;
                    self.ejected_now -= 1;
                }
                Some(u) => next = next.min(u),
                None => {}
            }
        }
        self.next_expiry = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::test_support::rng;
    use crate::balancer::{Balance, Balancer};

    fn secs(s: u64) -> SimTime {
        SimTime(SimDuration::from_secs(s).as_nanos())
    }
    fn ms(m: u64) -> SimTime {
        SimTime(SimDuration::from_millis(m).as_nanos())
    }

    /// Reports one result per character at `now` for `replica`: `o` success, `x` failure.
    fn results(d: &mut OutlierDetector, replica: usize, now: SimTime, pattern: &str) {
        for c in pattern.chars() {
            let success = match c {
                'o' => true,
                'x' => false,
                _ => panic!("bad pattern char {c:?}"),
            };
            d.on_result(replica, success, now);
        }
    }

    #[test]
    fn spec_defaults_are_envoys_and_parse_from_ron() {
        let spec: EjectionSpec = ron::from_str("()").unwrap();
        assert_eq!(spec, EjectionSpec::default());
        assert_eq!(spec.consecutive_failures, 5);
        assert_eq!(spec.base_ejection, SimDuration::from_secs(30));
        assert_eq!(spec.max_ejection, SimDuration::from_secs(300));
        assert_eq!(spec.max_ejection_percent, 10.0);
        assert!(spec.problems().is_empty());

        let spec: EjectionSpec = ron::from_str(
            r#"(consecutive_failures: 3, base_ejection: "10s", max_ejection_percent: 50)"#,
        )
        .unwrap();
        assert_eq!(spec.consecutive_failures, 3);
        assert_eq!(spec.base_ejection, SimDuration::from_secs(10));
        assert_eq!(spec.max_ejection, SimDuration::from_secs(300));
        assert!(ron::from_str::<EjectionSpec>("(interval: \"10s\")").is_err());
    }

    #[test]
    fn problems_name_the_field() {
        let d = EjectionSpec::default();
        // (spec, fields with problems)
        let cases = [
            (
                EjectionSpec {
                    consecutive_failures: 0,
                    ..d.clone()
                },
                vec!["consecutive_failures"],
            ),
            (
                EjectionSpec {
                    base_ejection: SimDuration::ZERO,
                    ..d.clone()
                },
                vec!["base_ejection"],
            ),
            (
                EjectionSpec {
                    max_ejection: SimDuration::from_secs(29),
                    ..d.clone()
                },
                vec!["max_ejection"],
            ),
            (
                EjectionSpec {
                    max_ejection_percent: 100.5,
                    ..d.clone()
                },
                vec!["max_ejection_percent"],
            ),
            (
                EjectionSpec {
                    max_ejection_percent: -1.0,
                    ..d.clone()
                },
                vec!["max_ejection_percent"],
            ),
            (
                EjectionSpec {
                    max_ejection_percent: f64::NAN,
                    ..d.clone()
                },
                vec!["max_ejection_percent"],
            ),
            (
                EjectionSpec {
                    max_ejection_percent: 0.0,
                    ..d.clone()
                },
                vec![],
            ),
            (
                EjectionSpec {
                    max_ejection: SimDuration::from_secs(30),
                    ..d.clone()
                },
                vec![],
            ),
        ];
        for (spec, want) in cases {
            let got: Vec<String> = spec.problems().iter().map(|p| p.path.to_string()).collect();
            assert_eq!(got, want, "{spec:?}");
        }
        let msg = &EjectionSpec {
            max_ejection: SimDuration::from_secs(29),
            ..d
        }
        .problems()[0]
            .message;
        assert!(msg.contains("30s") && msg.contains("29s"), "{msg}");
    }

    #[test]
    fn ejects_after_exactly_the_threshold_of_consecutive_failures() {
        // (results for replica 0, ejected afterwards)
        let cases = [
            ("xxxx", false),
            ("xxxxx", true),
            ("xxxxoxxxx", false), // a success in between resets the count
            ("xxxxoxxxxx", true),
            ("oooooxxxxx", true),
            ("xoxoxoxoxoxox", false),
            ("", false),
        ];
        for (pattern, ejected) in cases {
            let mut d = OutlierDetector::new(&EjectionSpec::default(), 10);
            results(&mut d, 0, secs(1), pattern);
            assert_eq!(d.healthy(secs(1))[0], !ejected, "{pattern}");
            assert_eq!(d.ejection_count(), u64::from(ejected), "{pattern}");
            assert!(
                d.healthy(secs(1))[1..].iter().all(|&h| h),
                "others untouched"
            );
        }
    }

    #[test]
    fn ejection_time_grows_with_each_ejection_up_to_the_cap() {
        let mut d = OutlierDetector::new(&EjectionSpec::default(), 10);
        let mut now = secs(0);
        let mut lengths = Vec::new();
        for _ in 0..13 {
            results(&mut d, 3, now, "xxxxx");
            let e = *d.ejections().last().unwrap();
            assert_eq!((e.replica, e.at), (3, now));
            lengths.push((e.until - e.at).as_nanos() / 1_000_000_000);
            now = e.until;
            assert!(d.healthy(now)[3], "back at {now}");
        }
        assert_eq!(
            lengths,
            [30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300, 300]
        );
        assert_eq!(d.times_ejected(3), 13);
    }

    #[test]
    fn unejects_at_expiry_with_a_fresh_count_but_the_ejection_count_kept() {
        let mut d = OutlierDetector::new(&EjectionSpec::default(), 10);
        results(&mut d, 2, secs(10), "xxxxx");
        assert_eq!(
            d.ejections(),
            [Ejection {
                replica: 2,
                at: secs(10),
                until: secs(40)
            }]
        );
        // (time, healthy)
        for (t, want) in [
            (secs(10), false),
            (ms(39_999), false),
            (secs(40), true),
            (secs(41), true),
        ] {
            assert_eq!(d.healthy(t)[2], want, "at {t}");
        }
        // Returned with its count reset: 4 more failures do not eject...
        results(&mut d, 2, secs(41), "xxxx");
        assert!(d.healthy(secs(41))[2]);
        // ...the fifth does, for twice as long.
        results(&mut d, 2, secs(42), "x");
        assert_eq!(
            d.ejections()[1],
            Ejection {
                replica: 2,
                at: secs(42),
                until: secs(102)
            }
        );
        assert_eq!(d.times_ejected(2), 2);
    }

    #[test]
    fn expiry_is_seen_by_on_result_too() {
        // One replica of 10 may be out. 0's ejection has expired at 40s although nobody asked
        // for `healthy`, so 1 may be ejected then.
        let mut d = OutlierDetector::new(&EjectionSpec::default(), 10);
        results(&mut d, 0, secs(10), "xxxxx");
        results(&mut d, 1, secs(40), "xxxxx");
        assert_eq!(d.ejection_count(), 2);
        assert_eq!(d.overflows(), 0);
        assert_eq!(d.healthy(secs(40))[..2], [true, false]);
    }

    #[test]
    fn max_ejection_percent_limits_how_many_are_out_at_once() {
        // (replicas, max %, most ejected at once): one is always allowed.
        let cases = [
            (10, 10.0, 1),
            (3, 10.0, 1),
            (20, 10.0, 2),
            (19, 10.0, 1),
            (4, 50.0, 2),
            (4, 100.0, 4),
            (5, 0.0, 1),
            (1, 10.0, 1),
        ];
        for (n, pct, want) in cases {
            let spec = EjectionSpec {
                max_ejection_percent: pct,
                ..EjectionSpec::default()
            };
            let mut d = OutlierDetector::new(&spec, n);
            for i in 0..n {
                results(&mut d, i, secs(1), "xxxxx");
            }
            let out = d.healthy(secs(1)).iter().filter(|&&h| !h).count();
            assert_eq!(out, want, "{n} replicas at {pct}%");
            assert_eq!(d.overflows(), (n - want) as u64, "{n} replicas at {pct}%");
        }
    }

    #[test]
    fn a_refused_ejection_needs_a_fresh_run_of_failures() {
        let mut d = OutlierDetector::new(&EjectionSpec::default(), 10);
        results(&mut d, 0, secs(0), "xxxxx");
        results(&mut d, 1, secs(0), "xxxxx"); // refused: 2 of 10 > 10 %
        assert_eq!(d.overflows(), 1);
        // 0 is back at 30s; 1's count was reset at the refusal (as Envoy does).
        assert_eq!(d.healthy(secs(30)), [true; 10]);
        results(&mut d, 1, secs(30), "xxxx");
        assert!(d.healthy(secs(30))[1]);
        results(&mut d, 1, secs(30), "x");
        assert!(!d.healthy(secs(30))[1]);
        assert_eq!(d.times_ejected(1), 1, "the refusal did not count");
    }

    #[test]
    fn results_for_an_ejected_replica_are_ignored() {
        let mut d = OutlierDetector::new(&EjectionSpec::default(), 10);
        results(&mut d, 0, secs(0), "xxxxx");
        results(&mut d, 0, secs(1), "xxxxxxxxxxoxxxx"); // in flight when it was ejected
        assert_eq!(d.ejection_count(), 1);
        results(&mut d, 0, secs(30), "xxxx");
        assert!(d.healthy(secs(30))[0], "the count started again at 30s");
    }

    #[test]
    fn stored_ejections_are_capped_but_counted() {
        let spec = EjectionSpec {
            consecutive_failures: 1,
            base_ejection: SimDuration(1),
            max_ejection: SimDuration(1),
            max_ejection_percent: 100.0,
        };
        let mut d = OutlierDetector::new(&spec, 1);
        for t in 0..12_000u64 {
            results(&mut d, 0, SimTime(2 * t), "x");
        }
        assert_eq!(d.ejection_count(), 12_000);
        assert_eq!(d.ejections().len(), MAX_STORED_EJECTIONS);
        let json = serde_json::to_string(&Ejection {
            replica: 1,
            at: secs(3),
            until: secs(33),
        })
        .unwrap();
        assert_eq!(json, r#"{"replica":1,"at_s":3.0,"until_s":33.0}"#);
    }

    #[test]
    fn balancer_routes_around_an_ejected_replica() {
        // Replica 1 fails every call; round robin with outlier detection stops sending to it
        // after its fifth failure and tries it again when the ejection ends.
        let mut d = OutlierDetector::new(&EjectionSpec::default(), 3);
        let mut b = Balancer::new(Balance::RoundRobin, 3);
        let mut r = rng();
        let mut sent_to_1 = Vec::new();
        for step in 0..200u64 {
            let now = secs(step); // one call a second
            let i = b.pick(&[0; 3], d.healthy(now), &mut r).unwrap();
            if i == 1 {
                sent_to_1.push(step);
            }
            d.on_result(i, i != 1, now);
        }
        // Calls at 1, 4, 7, 10 and 13s fail and eject 1 from 13s until 43s. Meanwhile the
        // turn alternates 2 (even seconds) and 0 (odd): at 43s it is 0's, so 1 is back at 44s,
        // fails 5 more times (44, 47, 50, 53, 56s) and is ejected for 60s.
        assert_eq!(sent_to_1[..10], [1, 4, 7, 10, 13, 44, 47, 50, 53, 56]);
        assert_eq!(
            d.ejections()[..2],
            [
                Ejection {
                    replica: 1,
                    at: secs(13),
                    until: secs(43)
                },
                Ejection {
                    replica: 1,
                    at: secs(56),
                    until: secs(116)
                },
            ]
        );
        assert_eq!(
            sent_to_1[10], 117,
            "back at 116s, when the turn is 0's again"
        );
    }
}
