//! The run's time series while it runs: each window's values as the integers they are
//! made of, in a compact log ([`Varints`]), turned into the result's columns
//! ([`Series`]) when the run ends.
//!
//! A window of `f64` and `u64` columns took 8 bytes a value (436 bytes for v0.4's 2 clients
//! and 5 services). Here a count takes the bytes it needs (one below 128, two below 16,384),
//! a time average is kept as its exact parts (level x nanoseconds, and nanoseconds) and
//! made into the same `f64` at the end, and what follows from other values (window ends,
//! goodput, retry amplification) is computed again from them: the same bits, in fewer bytes.

mod varints;

use sim_core::stats::mean_of_parts;
use sim_core::{SimDuration, SimTime};

use crate::result::{Failed, Series};
use varints::{Row, Varints};

/// One window's system-wide values.
pub(crate) struct SystemRow {
    pub end: SimTime,
    pub width: SimDuration,
    pub offered: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub failed_by: Failed,
    pub degraded: u64,
    /// p50, p99, p999 of the window's successes.
    pub latency: [SimDuration; 3],
    pub attempts: u64,
    pub faults_active: u32,
    pub slow: u64,
    /// Attempts expected from the brokers' first deliveries (with brokers only).
    pub deliveries: f64,
}

/// One window of a client.
pub(crate) struct ClientRow {
    pub offered: u64,
    pub succeeded: u64,
    pub good: u64,
    pub bad: u64,
}

/// One window of a service (instance).
pub(crate) struct ServiceRow {
    pub attempts: u64,
    /// `TimeWeighted::take_window` of the queue and of the busy workers.
    pub queue: (u128, u64),
    pub queue_max: u64,
    pub busy: (u128, u64),
    pub workers: u32,
    pub rejected: u64,
    pub dropped: u64,
}

/// The windows closed so far. Each is written as its system row, then one row per client,
/// then one per service; [`SeriesStore::fill`] reads them back in that order.
pub(crate) struct SeriesStore {
    window: SimDuration,
    /// Per client: attempts one request makes when nothing fails and nobody retries.
    client_visits: Vec<f64>,
    brokers: bool,
    log: Varints,
    windows: usize,
    last_end: Option<SimTime>,
    /// The last window's offered requests per client (signals read them during the run).
    pub last_offered: Vec<u64>,
}

impl SeriesStore {
    pub fn new(window: SimDuration, client_visits: Vec<f64>, brokers: bool) -> Self {
        SeriesStore {
            window,
            last_offered: vec![0; client_visits.len()],
            client_visits,
            brokers,
            log: Varints::default(),
            windows: 0,
            last_end: None,
        }
    }

    /// The end of the last window closed, in seconds (0 before the first).
    pub fn last_end_s(&self) -> f64 {
        self.last_end.map_or(0.0, SimTime::as_secs_f64)
    }

    pub fn push_system(&mut self, r: &SystemRow) {
        let window = self.window.as_nanos();
        let previous = self.last_end.unwrap_or(SimTime::ZERO);
        let mut row = self.log.row();
        push_gap(
            &mut row,
            r.end.saturating_since(previous).as_nanos(),
            window,
        );
        push_gap(&mut row, r.width.as_nanos(), window);
        let f = &r.failed_by;
        for n in [
            r.offered,
            r.succeeded,
            r.failed,
            f.timeout,
            f.rejected,
            f.error,
            f.circuit_open,
            r.degraded,
        ] {
            row.push(n);
        }
        for d in r.latency {
            row.push(d.as_nanos());
        }
        for n in [r.attempts, r.faults_active.into(), r.slow] {
            row.push(n);
        }
        if self.brokers {
            row.push(r.deliveries.to_bits());
        }
        drop(row);
        self.last_end = Some(r.end);
        self.windows += 1;
    }

    pub fn push_client(&mut self, c: usize, r: &ClientRow) {
        let mut row = self.log.row();
        for n in [r.offered, r.succeeded, r.good, r.bad] {
            row.push(n);
        }
        drop(row);
        self.last_offered[c] = r.offered;
    }

    pub fn push_service(&mut self, r: &ServiceRow) {
        let width = self.window.as_nanos();
        let mut row = self.log.row();
        for (area, elapsed) in [r.queue, r.busy] {
            row.push_wide(area);
            push_gap(&mut row, elapsed, width);
        }
        for n in [
            r.attempts,
            r.queue_max,
            r.workers.into(),
            r.rejected,
            r.dropped,
        ] {
            row.push(n);
        }
        drop(row);
    }

    /// The windows closed so far, leaving none.
    pub fn take(&mut self) -> SeriesStore {
        let empty = SeriesStore::new(self.window, Vec::new(), self.brokers);
        std::mem::replace(self, empty)
    }

    /// Appends every window to `series`'s columns (which it sizes first), as the run's
    /// `f64` and `u64` values: t_s, the system columns, each client's and each service's.
    pub fn fill(&self, series: &mut Series) {
        let n = self.windows;
        reserve(series, n);
        let mut r = self.log.reader();
        let window = self.window.as_nanos();
        let gap = |r: &mut varints::Reader, usual: u64| match r.u64() {
            0 => usual,
            g => g - 1,
        };
        let mut end = SimTime::ZERO;
        // A window's offered requests per client (one buffer for all windows).
        let mut requests = Vec::with_capacity(self.client_visits.len());
        for _ in 0..n {
            end += SimDuration::from_nanos(gap(&mut r, window));
            let width = SimDuration::from_nanos(gap(&mut r, window));
            let [
                offered,
                succeeded,
                failed,
                timeout,
                rejected,
                error,
                circuit_open,
                degraded,
            ] = std::array::from_fn(|_| r.u64());
            let latency: [u64; 3] = std::array::from_fn(|_| r.u64());
            let [attempts, faults_active, slow] = std::array::from_fn(|_| r.u64());
            let deliveries = if self.brokers {
                f64::from_bits(r.u64())
            } else {
                0.0
            };
            series.t_s.push(end.as_secs_f64());
            series.offered.push(offered);
            series.succeeded.push(succeeded);
            series.failed.push(failed);
            let by = &mut series.failed_by_reason;
            by.timeout.push(timeout);
            by.rejected.push(rejected);
            by.error.push(error);
            by.circuit_open.push(circuit_open);
            series.degraded.push(degraded);
            let secs = width.as_secs_f64().max(1e-12);
            series.goodput_rps.push(succeeded as f64 / secs);
            let ms = |ns| SimDuration::from_nanos(ns).as_millis_f64();
            series.latency_p50_ms.push(ms(latency[0]));
            series.latency_p99_ms.push(ms(latency[1]));
            series.latency_p999_ms.push(ms(latency[2]));
            series.attempts.push(attempts);
            series
                .faults_active
                .push(u32::try_from(faults_active).expect("pushed as a u32"));
            series.slow.push(slow);
            requests.clear();
            for out in &mut series.clients {
                let [offered, succeeded, good, bad] = std::array::from_fn(|_| r.u64());
                requests.push(offered);
                out.offered.push(offered);
                out.succeeded.push(succeeded);
                out.good.push(good);
                out.bad.push(bad);
            }
            let mut expected = expected_attempts(&requests, &self.client_visits);
            if self.brokers {
                expected += deliveries;
            }
            series.retry_amplification.push(if expected > 0.0 {
                attempts as f64 / expected
            } else {
                0.0
            });
            for out in &mut series.services {
                let queue = (r.next(), gap(&mut r, window));
                let busy = (r.next(), gap(&mut r, window));
                let [attempts, queue_max, workers, rejected, dropped] =
                    std::array::from_fn(|_| r.u64());
                out.attempts.push(attempts);
                out.queue_depth_mean.push(mean_of_parts(queue));
                out.queue_depth_max.push(queue_max);
                out.utilization.push(mean_of_parts(busy) / workers as f64);
                out.rejected.push(rejected);
                out.dropped.push(dropped);
            }
        }
        debug_assert!(r.at_end(), "every value read back");
    }
}

/// A duration as the gap from `usual`: 0 when equal, so a regular window's takes a byte.
#[inline]
fn push_gap(row: &mut Row, d: u64, usual: u64) {
    row.push(if d == usual {
        0
    } else {
        d.checked_add(1).expect("a span shorter than 584 years")
    });
}

/// Attempts a window's requests (`offered` per client) make when nothing fails and nobody
/// retries: the base of its retry amplification (with brokers, their deliveries' attempts
/// are added to it).
pub(crate) fn expected_attempts(offered: &[u64], client_visits: &[f64]) -> f64 {
    (offered.iter().zip(client_visits))
        .map(|(&n, &visits)| n as f64 * visits)
        .sum()
}

/// Room for `n` more windows in every column `fill` writes.
fn reserve(series: &mut Series, n: usize) {
    for v in [
        &mut series.offered,
        &mut series.succeeded,
        &mut series.failed,
        &mut series.failed_by_reason.timeout,
        &mut series.failed_by_reason.rejected,
        &mut series.failed_by_reason.error,
        &mut series.failed_by_reason.circuit_open,
        &mut series.degraded,
        &mut series.attempts,
        &mut series.slow,
    ] {
        v.reserve_exact(n);
    }
    for v in [
        &mut series.t_s,
        &mut series.goodput_rps,
        &mut series.latency_p50_ms,
        &mut series.latency_p99_ms,
        &mut series.latency_p999_ms,
        &mut series.retry_amplification,
    ] {
        v.reserve_exact(n);
    }
    series.faults_active.reserve_exact(n);
    for c in &mut series.clients {
        for v in [&mut c.offered, &mut c.succeeded, &mut c.good, &mut c.bad] {
            v.reserve_exact(n);
        }
    }
    for s in &mut series.services {
        for v in [
            &mut s.attempts,
            &mut s.queue_depth_max,
            &mut s.rejected,
            &mut s.dropped,
        ] {
            v.reserve_exact(n);
        }
        s.queue_depth_mean.reserve_exact(n);
        s.utilization.reserve_exact(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{ClientSeries, ServiceSeries};
    use rand::RngExt;

    /// Rows written, then read back into columns: every value as the old columns held it,
    /// for small and huge counts, zero-length spans and a partial last window.
    #[test]
    fn fill_gives_back_what_was_pushed() {
        let mut rng = sim_core::rng::stream(5, "series-store");
        let window = SimDuration::from_millis(1500);
        let visits = vec![3.5, 0.25];
        for brokers in [false, true] {
            let mut store = SeriesStore::new(window, visits.clone(), brokers);
            let mut series = Series {
                clients: vec![ClientSeries::default(); 2],
                services: vec![ServiceSeries::default(); 3],
                ..Series::default()
            };
            let mut want = series.clone();
            let mut end = SimTime::ZERO;
            let count = |rng: &mut sim_core::rng::SimRng| match rng.random_range(0..4) {
                0 => 0,
                1 => rng.random_range(0..200),
                2 => rng.random_range(0..100_000),
                _ => u64::MAX - rng.random_range(0..3),
            };
            for i in 0..500 {
                let width = if i == 499 {
                    SimDuration::from_nanos(123_456_789)
                } else {
                    window
                };
                end += width;
                let sys = SystemRow {
                    end,
                    width,
                    offered: count(&mut rng),
                    succeeded: count(&mut rng),
                    failed: count(&mut rng),
                    failed_by: Failed {
                        timeout: count(&mut rng),
                        rejected: count(&mut rng),
                        error: count(&mut rng),
                        circuit_open: count(&mut rng),
                    },
                    degraded: count(&mut rng),
                    latency: std::array::from_fn(|_| SimDuration::from_nanos(count(&mut rng))),
                    attempts: count(&mut rng),
                    faults_active: rng.random(),
                    slow: count(&mut rng),
                    deliveries: if brokers {
                        rng.random::<f64>() * 1e4
                    } else {
                        0.0
                    },
                };
                store.push_system(&sys);
                want.t_s.push(end.as_secs_f64());
                want.offered.push(sys.offered);
                want.succeeded.push(sys.succeeded);
                want.failed.push(sys.failed);
                want.failed_by_reason.timeout.push(sys.failed_by.timeout);
                want.failed_by_reason.rejected.push(sys.failed_by.rejected);
                want.failed_by_reason.error.push(sys.failed_by.error);
                want.failed_by_reason
                    .circuit_open
                    .push(sys.failed_by.circuit_open);
                want.degraded.push(sys.degraded);
                want.goodput_rps
                    .push(sys.succeeded as f64 / width.as_secs_f64().max(1e-12));
                want.latency_p50_ms.push(sys.latency[0].as_millis_f64());
                want.latency_p99_ms.push(sys.latency[1].as_millis_f64());
                want.latency_p999_ms.push(sys.latency[2].as_millis_f64());
                want.attempts.push(sys.attempts);
                want.faults_active.push(sys.faults_active);
                want.slow.push(sys.slow);
                let mut offered = Vec::new();
                for (c, out) in want.clients.iter_mut().enumerate() {
                    let row = ClientRow {
                        offered: rng.random_range(0..1000),
                        succeeded: count(&mut rng),
                        good: count(&mut rng),
                        bad: count(&mut rng),
                    };
                    store.push_client(c, &row);
                    assert_eq!(store.last_offered[c], row.offered);
                    offered.push(row.offered);
                    out.offered.push(row.offered);
                    out.succeeded.push(row.succeeded);
                    out.good.push(row.good);
                    out.bad.push(row.bad);
                }
                let expected = expected_attempts(&offered, &visits) + sys.deliveries;
                want.retry_amplification.push(if expected > 0.0 {
                    sys.attempts as f64 / expected
                } else {
                    0.0
                });
                for out in &mut want.services {
                    let parts = |rng: &mut sim_core::rng::SimRng| {
                        if rng.random_range(0..5) == 0 {
                            (u128::from(count(rng)), 0)
                        } else {
                            (u128::from(count(rng)) * 1_000_000_007, width.as_nanos())
                        }
                    };
                    let row = ServiceRow {
                        attempts: count(&mut rng),
                        queue: parts(&mut rng),
                        queue_max: count(&mut rng),
                        busy: parts(&mut rng),
                        workers: rng.random_range(1..100),
                        rejected: count(&mut rng),
                        dropped: count(&mut rng),
                    };
                    store.push_service(&row);
                    out.attempts.push(row.attempts);
                    out.queue_depth_mean.push(mean_of_parts(row.queue));
                    out.queue_depth_max.push(row.queue_max);
                    out.utilization
                        .push(mean_of_parts(row.busy) / f64::from(row.workers));
                    out.rejected.push(row.rejected);
                    out.dropped.push(row.dropped);
                }
            }
            assert!((store.last_end_s() - end.as_secs_f64()).abs() == 0.0);
            store.fill(&mut series);
            // Bit for bit, NaN-free: `PartialEq` on the f64 columns is exact here.
            assert_eq!(series, want, "brokers {brokers}");
        }
    }
}
