//! The run's time series while it runs: each window's values as the integers they are
//! made of, one compact log ([`Varints`]) per column, decoded into the result's columns
//! ([`Series`]) one column at a time when they are read (`LazySeries`).
//!
//! A window of `f64` and `u64` columns took 8 bytes a value (436 bytes for v0.4's 2 clients
//! and 5 services). Here a count takes the bytes it needs (one below 128, two below 16,384),
//! a time average is kept as its exact parts (level x nanoseconds, and nanoseconds) and
//! made into the same `f64` when read, and what follows from other values (window ends,
//! goodput, retry amplification) is computed again from them: the same bits, in fewer bytes.
//!
//! Column-major rather than row-major: a column is decoded from its own log (and those it
//! is computed from), not by a pass over every window's whole row per column, so that
//! writing the JSON decodes each value once.

mod varints;

use sim_core::stats::mean_of_parts;
use sim_core::{SimDuration, SimTime};

use crate::result::{Failed, Series};
use varints::{Reader, Varints};

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

/// The system's logs, in the order `push_system` writes them; the gaps are of the window's
/// end from the previous one's, and of its width, from the usual window (see [`push_gap`]).
pub(crate) mod sys {
    pub const END: usize = 0;
    pub const WIDTH: usize = 1;
    pub const OFFERED: usize = 2;
    pub const SUCCEEDED: usize = 3;
    pub const FAILED: usize = 4;
    /// Then rejected, error, circuit_open.
    pub const TIMEOUT: usize = 5;
    pub const DEGRADED: usize = 9;
    /// Then p99, p999, in nanoseconds.
    pub const P50: usize = 10;
    pub const ATTEMPTS: usize = 13;
    pub const FAULTS: usize = 14;
    pub const SLOW: usize = 15;
    /// The bits of `SystemRow::deliveries` (empty without brokers).
    pub const DELIVERIES: usize = 16;
    pub const LOGS: usize = 17;
}

/// A client's logs, from its first.
pub(crate) mod client {
    pub const OFFERED: usize = 0;
    pub const SUCCEEDED: usize = 1;
    pub const GOOD: usize = 2;
    pub const BAD: usize = 3;
    pub const LOGS: usize = 4;
}

/// A service's logs, from its first.
pub(crate) mod service {
    pub const QUEUE_AREA: usize = 0;
    pub const QUEUE_GAP: usize = 1;
    pub const BUSY_AREA: usize = 2;
    pub const BUSY_GAP: usize = 3;
    pub const ATTEMPTS: usize = 4;
    pub const QUEUE_MAX: usize = 5;
    pub const WORKERS: usize = 6;
    pub const REJECTED: usize = 7;
    pub const DROPPED: usize = 8;
    pub const LOGS: usize = 9;
}

/// The windows closed so far: the system's logs, then each client's, then each service's.
#[derive(Clone, Debug)]
pub(crate) struct SeriesStore {
    window: SimDuration,
    /// Per client: attempts one request makes when nothing fails and nobody retries.
    client_visits: Vec<f64>,
    brokers: bool,
    logs: Vec<Varints>,
    windows: usize,
    last_end: Option<SimTime>,
    /// The last window's offered requests per client (signals read them during the run).
    pub last_offered: Vec<u64>,
}

impl SeriesStore {
    /// For clients making `client_visits` attempts a request and `services` instances.
    pub fn new(
        window: SimDuration,
        client_visits: Vec<f64>,
        services: usize,
        brokers: bool,
    ) -> Self {
        let logs = sys::LOGS + client::LOGS * client_visits.len() + service::LOGS * services;
        SeriesStore {
            window,
            last_offered: vec![0; client_visits.len()],
            client_visits,
            brokers,
            logs: vec![Varints::default(); logs],
            windows: 0,
            last_end: None,
        }
    }

    /// The end of the last window closed, in seconds (0 before the first).
    pub fn last_end_s(&self) -> f64 {
        self.last_end.map_or(0.0, SimTime::as_secs_f64)
    }

    /// Windows closed.
    pub fn windows(&self) -> usize {
        self.windows
    }

    /// Bytes the values take.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.logs.iter().map(Varints::bytes).sum()
    }

    pub fn push_system(&mut self, r: &SystemRow) {
        let window = self.window.as_nanos();
        let previous = self.last_end.unwrap_or(SimTime::ZERO);
        let f = &r.failed_by;
        let values = [
            gap(r.end.saturating_since(previous).as_nanos(), window),
            gap(r.width.as_nanos(), window),
            r.offered,
            r.succeeded,
            r.failed,
            f.timeout,
            f.rejected,
            f.error,
            f.circuit_open,
            r.degraded,
            r.latency[0].as_nanos(),
            r.latency[1].as_nanos(),
            r.latency[2].as_nanos(),
            r.attempts,
            r.faults_active.into(),
            r.slow,
        ];
        let (logs, rest) = self.logs.split_at_mut(values.len());
        for (log, v) in logs.iter_mut().zip(values) {
            log.push(v);
        }
        if self.brokers {
            rest[0].push(r.deliveries.to_bits());
        }
        self.last_end = Some(r.end);
        self.windows += 1;
    }

    pub fn push_client(&mut self, c: usize, r: &ClientRow) {
        let at = sys::LOGS + client::LOGS * c;
        let logs = &mut self.logs[at..at + client::LOGS];
        for (log, v) in logs.iter_mut().zip([r.offered, r.succeeded, r.good, r.bad]) {
            log.push(v);
        }
        self.last_offered[c] = r.offered;
    }

    /// Service `k`'s window.
    pub fn push_service(&mut self, k: usize, r: &ServiceRow) {
        let width = self.window.as_nanos();
        let at = self.service_at(k);
        let logs: &mut [Varints; service::LOGS] = (&mut self.logs[at..at + service::LOGS])
            .try_into()
            .expect("a service's logs");
        let [queue_area, queue_gap, busy_area, busy_gap, rest @ ..] = logs;
        queue_area.push_wide(r.queue.0);
        queue_gap.push(gap(r.queue.1, width));
        busy_area.push_wide(r.busy.0);
        busy_gap.push(gap(r.busy.1, width));
        let values = [
            r.attempts,
            r.queue_max,
            r.workers.into(),
            r.rejected,
            r.dropped,
        ];
        for (log, v) in rest.iter_mut().zip(values) {
            log.push(v);
        }
    }

    fn service_at(&self, k: usize) -> usize {
        sys::LOGS + client::LOGS * self.client_visits.len() + service::LOGS * k
    }

    /// The windows closed so far, leaving none.
    pub fn take(&mut self) -> SeriesStore {
        let empty = SeriesStore::new(self.window, Vec::new(), 0, self.brokers);
        std::mem::replace(self, empty)
    }

    /// Log `i` from its first value.
    fn reader(&self, i: usize) -> Reader<'_> {
        self.logs[i].reader()
    }

    /// Log `i`'s values, one per window.
    fn u64s(&self, i: usize) -> impl ExactSizeIterator<Item = u64> + '_ {
        let mut r = self.reader(i);
        (0..self.windows).map(move |_| r.u64())
    }

    /// Log `i`'s gaps as spans in nanoseconds (see [`gap`]).
    fn spans(&self, i: usize) -> impl ExactSizeIterator<Item = u64> + '_ {
        let usual = self.window.as_nanos();
        self.u64s(i).map(move |g| match g {
            0 => usual,
            g => g - 1,
        })
    }

    /// Time averages from an area log and its gaps.
    fn means(&self, area: usize, gaps: usize) -> impl ExactSizeIterator<Item = f64> + '_ {
        let mut r = self.reader(area);
        self.spans(gaps)
            .map(move |elapsed| mean_of_parts((r.next(), elapsed)))
    }

    /// A system column of counts: offered, succeeded, ... (`sys::OFFERED` to `sys::SLOW`).
    pub fn system(&self, i: usize) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.u64s(i)
    }

    /// End of each window, virtual seconds.
    pub fn t_s(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        let mut end = SimTime::ZERO;
        self.spans(sys::END).map(move |gap| {
            end += SimDuration::from_nanos(gap);
            end.as_secs_f64()
        })
    }

    pub fn goodput_rps(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        let widths = self.spans(sys::WIDTH);
        self.u64s(sys::SUCCEEDED).zip(widths).map(|(n, width)| {
            let secs = SimDuration::from_nanos(width).as_secs_f64().max(1e-12);
            n as f64 / secs
        })
    }

    /// The `k`th latency percentile (p50, p99, p999) in milliseconds.
    pub fn latency_ms(&self, k: usize) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.u64s(sys::P50 + k)
            .map(|ns| SimDuration::from_nanos(ns).as_millis_f64())
    }

    pub fn faults_active(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.u64s(sys::FAULTS)
            .map(|n| u32::try_from(n).expect("pushed as a u32"))
    }

    pub fn retry_amplification(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        let mut offered: Vec<_> = (0..self.client_visits.len())
            .map(|c| self.client(c, client::OFFERED))
            .collect();
        let mut deliveries = self.brokers.then(|| self.u64s(sys::DELIVERIES));
        // A window's offered requests per client (one buffer for all windows).
        let mut requests = Vec::with_capacity(offered.len());
        self.u64s(sys::ATTEMPTS).map(move |attempts| {
            requests.clear();
            requests.extend(offered.iter_mut().map(|c| c.next().expect("a window")));
            let mut expected = expected_attempts(&requests, &self.client_visits);
            if let Some(d) = &mut deliveries {
                expected += f64::from_bits(d.next().expect("a window"));
            }
            if expected > 0.0 {
                attempts as f64 / expected
            } else {
                0.0
            }
        })
    }

    /// Client `c`'s column `i` (`client::OFFERED` ...).
    pub fn client(&self, c: usize, i: usize) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.u64s(sys::LOGS + client::LOGS * c + i)
    }

    /// Service `k`'s column of counts `i` (`service::ATTEMPTS` ...).
    pub fn service(&self, k: usize, i: usize) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.u64s(self.service_at(k) + i)
    }

    pub fn queue_depth_mean(&self, k: usize) -> impl ExactSizeIterator<Item = f64> + '_ {
        let at = self.service_at(k);
        self.means(at + service::QUEUE_AREA, at + service::QUEUE_GAP)
    }

    pub fn utilization(&self, k: usize) -> impl ExactSizeIterator<Item = f64> + '_ {
        let at = self.service_at(k);
        let workers = self.u64s(at + service::WORKERS);
        (self.means(at + service::BUSY_AREA, at + service::BUSY_GAP))
            .zip(workers)
            .map(|(busy, workers)| busy / workers as f64)
    }

    /// `series` (a skeleton: names, no windows) with every window's columns.
    pub fn fill(&self, series: &mut Series) {
        series.t_s = self.t_s().collect();
        series.offered = self.system(sys::OFFERED).collect();
        series.succeeded = self.system(sys::SUCCEEDED).collect();
        series.failed = self.system(sys::FAILED).collect();
        let by = &mut series.failed_by_reason;
        for (k, out) in [
            &mut by.timeout,
            &mut by.rejected,
            &mut by.error,
            &mut by.circuit_open,
        ]
        .into_iter()
        .enumerate()
        {
            *out = self.system(sys::TIMEOUT + k).collect();
        }
        series.degraded = self.system(sys::DEGRADED).collect();
        series.goodput_rps = self.goodput_rps().collect();
        series.latency_p50_ms = self.latency_ms(0).collect();
        series.latency_p99_ms = self.latency_ms(1).collect();
        series.latency_p999_ms = self.latency_ms(2).collect();
        series.attempts = self.system(sys::ATTEMPTS).collect();
        series.retry_amplification = self.retry_amplification().collect();
        series.faults_active = self.faults_active().collect();
        series.slow = self.system(sys::SLOW).collect();
        for (c, out) in series.clients.iter_mut().enumerate() {
            out.offered = self.client(c, client::OFFERED).collect();
            out.succeeded = self.client(c, client::SUCCEEDED).collect();
            out.good = self.client(c, client::GOOD).collect();
            out.bad = self.client(c, client::BAD).collect();
        }
        for (k, out) in series.services.iter_mut().enumerate() {
            out.attempts = self.service(k, service::ATTEMPTS).collect();
            out.dropped = self.service(k, service::DROPPED).collect();
            out.queue_depth_mean = self.queue_depth_mean(k).collect();
            out.queue_depth_max = self.service(k, service::QUEUE_MAX).collect();
            out.utilization = self.utilization(k).collect();
            out.rejected = self.service(k, service::REJECTED).collect();
        }
    }
}

/// A duration as the gap from `usual`: 0 when equal, so a regular window's takes a byte.
#[inline]
fn gap(d: u64, usual: u64) -> u64 {
    if d == usual {
        0
    } else {
        d.checked_add(1).expect("a span shorter than 584 years")
    }
}

/// Attempts a window's requests (`offered` per client) make when nothing fails and nobody
/// retries: the base of its retry amplification (with brokers, their deliveries' attempts
/// are added to it).
pub(crate) fn expected_attempts(offered: &[u64], client_visits: &[f64]) -> f64 {
    (offered.iter().zip(client_visits))
        .map(|(&n, &visits)| n as f64 * visits)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{ClientSeries, ServiceSeries};
    use rand::RngExt;

    /// `windows` random windows of 2 clients and 3 services pushed into a store: the store,
    /// the skeleton of its series (names, no windows) and the series they must give, as the
    /// old columns held it, for small and huge counts, zero-length spans and a partial last
    /// window.
    fn random_store(
        rng: &mut sim_core::rng::SimRng,
        brokers: bool,
        windows: usize,
    ) -> (SeriesStore, Series, Series) {
        let window = SimDuration::from_millis(1500);
        let visits = vec![3.5, 0.25];
        {
            let mut store = SeriesStore::new(window, visits.clone(), 3, brokers);
            let named = |n: usize, what: &'static str| (0..n).map(move |i| format!("{what}-{i}"));
            let series = Series {
                window_s: window.as_secs_f64(),
                clients: (named(2, "client"))
                    .map(|name| ClientSeries {
                        name,
                        ..ClientSeries::default()
                    })
                    .collect(),
                services: (named(3, "service"))
                    .map(|name| ServiceSeries {
                        name,
                        ..ServiceSeries::default()
                    })
                    .collect(),
                latency_cdf: vec![(0.5, 1.25), (0.99, 1e9)],
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
            for i in 0..windows {
                let width = if i + 1 == windows {
                    SimDuration::from_nanos(123_456_789)
                } else {
                    window
                };
                end += width;
                let sys = SystemRow {
                    end,
                    width,
                    offered: count(rng),
                    succeeded: count(rng),
                    failed: count(rng),
                    failed_by: Failed {
                        timeout: count(rng),
                        rejected: count(rng),
                        error: count(rng),
                        circuit_open: count(rng),
                    },
                    degraded: count(rng),
                    latency: std::array::from_fn(|_| SimDuration::from_nanos(count(rng))),
                    attempts: count(rng),
                    faults_active: rng.random(),
                    slow: count(rng),
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
                        succeeded: count(rng),
                        good: count(rng),
                        bad: count(rng),
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
                for (k, out) in want.services.iter_mut().enumerate() {
                    let parts = |rng: &mut sim_core::rng::SimRng| {
                        if rng.random_range(0..5) == 0 {
                            (u128::from(count(rng)), 0)
                        } else {
                            (u128::from(count(rng)) * 1_000_000_007, width.as_nanos())
                        }
                    };
                    let row = ServiceRow {
                        attempts: count(rng),
                        queue: parts(rng),
                        queue_max: count(rng),
                        busy: parts(rng),
                        workers: rng.random_range(1..100),
                        rejected: count(rng),
                        dropped: count(rng),
                    };
                    store.push_service(k, &row);
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
            assert_eq!(store.windows(), windows);
            (store, series, want)
        }
    }

    /// Windows written, then read back into columns: every value as the old columns held it.
    #[test]
    fn fill_gives_back_what_was_pushed() {
        let mut rng = sim_core::rng::stream(5, "series-store");
        for brokers in [false, true] {
            let (store, mut series, want) = random_store(&mut rng, brokers, 500);
            // ~40 logs of 500 values, most of one or two bytes (a third are huge here).
            assert!(store.bytes() < 500 * 40 * 5, "{} bytes", store.bytes());
            store.fill(&mut series);
            // Bit for bit, NaN-free: `PartialEq` on the f64 columns is exact here.
            assert_eq!(series, want, "brokers {brokers}");
        }
    }

    /// The JSON streamed from the logs is the JSON of the decoded series, byte for byte,
    /// compact and pretty, with and without brokers and caches, for 0 to 300 windows; and
    /// writing it decodes nothing.
    #[test]
    fn streamed_json_is_the_decoded_series_json() {
        use crate::result::{CacheSeries, LazySeries};
        assert_eq!(*LazySeries::default(), Series::default());
        let mut rng = sim_core::rng::stream(6, "series-json");
        for (case, windows) in [0, 1, 2, 17, 300].into_iter().enumerate() {
            for brokers in [false, true] {
                let (store, mut skeleton, want) = random_store(&mut rng, brokers, windows);
                let mut want = want;
                if case % 2 == 1 {
                    let cache = CacheSeries {
                        name: "c".into(),
                        lookups: vec![3; windows],
                        hit_ratio: vec![0.5; windows],
                        ..CacheSeries::default()
                    };
                    skeleton.caches = vec![cache.clone()];
                    want.caches = vec![cache];
                }
                let lazy = LazySeries::new(skeleton, store);
                let streamed = serde_json::to_string(&lazy).expect("json");
                let pretty = serde_json::to_string_pretty(&lazy).expect("json");
                assert!(!lazy.is_decoded());
                assert_eq!(streamed, serde_json::to_string(&want).expect("json"));
                assert_eq!(pretty, serde_json::to_string_pretty(&want).expect("json"));
                // Read column by column, then decoded whole: the same values.
                assert_eq!(*lazy.t_s(), want.t_s[..]);
                assert_eq!(
                    *lazy.client_counts(1, crate::result::ClientCount::Bad),
                    want.clients[1].bad[..]
                );
                assert_eq!(*lazy.counts(crate::result::Count::Slow), want.slow[..]);
                assert!(!lazy.is_decoded());
                assert_eq!(*lazy, want);
                assert!(lazy.is_decoded());
                assert_eq!(serde_json::to_string(&lazy).expect("json"), streamed);
            }
        }
    }
}
