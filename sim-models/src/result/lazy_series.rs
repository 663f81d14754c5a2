//! [`LazySeries`]: a run's [`Series`] kept as its compact window logs until a column is
//! read. A long run's columns are ~4x its logs (8 bytes a value against ~1.5), and
//! writing the JSON needs none of them whole: it streams each column from its logs.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Deserializer, Serialize};

use super::Series;
use super::series_store::{SeriesStore, client, service, sys};

/// The result's series: read as a [`Series`] (through `Deref`, which decodes every column
/// on first use, as `std::cell::LazyCell` would), or serialized straight from the logs
/// into exactly the bytes the [`Series`] would give.
#[derive(Clone)]
pub struct LazySeries {
    series: OnceLock<Series>,
    /// Until the series is made from it, or dropped when it is borrowed mutably.
    log: Option<Log>,
}

/// The skeleton (window, names, caches' columns, latency CDF: what the logs do not hold)
/// and the windows' logs.
#[derive(Clone)]
struct Log {
    skeleton: Series,
    store: SeriesStore,
}

impl LazySeries {
    /// `skeleton` with no windows yet, filled from `store` when read.
    pub(crate) fn new(skeleton: Series, store: SeriesStore) -> Self {
        LazySeries {
            series: OnceLock::new(),
            log: Some(Log { skeleton, store }),
        }
    }

    /// Whether the columns have been decoded (tests check that writing the JSON does not).
    pub fn is_decoded(&self) -> bool {
        self.series.get().is_some()
    }

    /// `t_s`, decoding no other column.
    pub fn t_s(&self) -> Cow<'_, [f64]> {
        match self.undecoded() {
            Some(store) => store.t_s().collect(),
            None => Cow::Borrowed(&self.t_s),
        }
    }

    /// A system column of counts, decoding no other column.
    pub fn counts(&self, col: Count) -> Cow<'_, [u64]> {
        let Some(store) = self.undecoded() else {
            let s = &**self;
            return Cow::Borrowed(match col {
                Count::Offered => &s.offered,
                Count::Succeeded => &s.succeeded,
                Count::Failed => &s.failed,
                Count::Degraded => &s.degraded,
                Count::Attempts => &s.attempts,
                Count::Slow => &s.slow,
            });
        };
        let i = match col {
            Count::Offered => sys::OFFERED,
            Count::Succeeded => sys::SUCCEEDED,
            Count::Failed => sys::FAILED,
            Count::Degraded => sys::DEGRADED,
            Count::Attempts => sys::ATTEMPTS,
            Count::Slow => sys::SLOW,
        };
        store.system(i).collect()
    }

    /// Client `c`'s column of counts, decoding no other column.
    pub fn client_counts(&self, c: usize, col: ClientCount) -> Cow<'_, [u64]> {
        let Some(store) = self.undecoded() else {
            let s = &self.clients[c];
            return Cow::Borrowed(match col {
                ClientCount::Offered => &s.offered,
                ClientCount::Succeeded => &s.succeeded,
                ClientCount::Good => &s.good,
                ClientCount::Bad => &s.bad,
            });
        };
        let i = match col {
            ClientCount::Offered => client::OFFERED,
            ClientCount::Succeeded => client::SUCCEEDED,
            ClientCount::Good => client::GOOD,
            ClientCount::Bad => client::BAD,
        };
        store.client(c, i).collect()
    }

    /// The window (`window_s`), decoding nothing.
    pub fn window_s(&self) -> f64 {
        self.series
            .get()
            .or(self.log.as_ref().map(|l| &l.skeleton))
            .map_or(0.0, |s| s.window_s)
    }

    /// The clients' names, in order, decoding nothing.
    pub fn client_names(&self) -> impl Iterator<Item = &str> {
        let s = self.series.get().or(self.log.as_ref().map(|l| &l.skeleton));
        s.into_iter()
            .flat_map(|s| &s.clients)
            .map(|c| c.name.as_str())
    }

    /// The logs, while the columns are not decoded.
    fn undecoded(&self) -> Option<&SeriesStore> {
        match (self.series.get(), &self.log) {
            (None, Some(log)) => Some(&log.store),
            _ => None,
        }
    }
}

/// A system column of counts, for [`LazySeries::counts`].
#[derive(Clone, Copy, Debug)]
pub enum Count {
    Offered,
    Succeeded,
    Failed,
    Degraded,
    Attempts,
    Slow,
}

/// A client's column of counts, for [`LazySeries::client_counts`].
#[derive(Clone, Copy, Debug)]
pub enum ClientCount {
    Offered,
    Succeeded,
    Good,
    Bad,
}

impl Default for LazySeries {
    fn default() -> Self {
        Series::default().into()
    }
}

impl From<Series> for LazySeries {
    fn from(series: Series) -> Self {
        LazySeries {
            series: OnceLock::from(series),
            log: None,
        }
    }
}

impl std::ops::Deref for LazySeries {
    type Target = Series;
    fn deref(&self) -> &Series {
        self.series.get_or_init(|| {
            let log = self.log.as_ref().expect("a series or its log");
            let mut series = log.skeleton.clone();
            log.store.fill(&mut series);
            series
        })
    }
}

impl std::ops::DerefMut for LazySeries {
    fn deref_mut(&mut self) -> &mut Series {
        let _ = &**self;
        self.log = None;
        self.series.get_mut().expect("decoded above")
    }
}

impl std::fmt::Debug for LazySeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Series::fmt(self, f)
    }
}

impl PartialEq for LazySeries {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<'de> Deserialize<'de> for LazySeries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Series::deserialize(d).map(LazySeries::from)
    }
}

impl Serialize for LazySeries {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self.series.get(), &self.log) {
            (Some(series), _) => series.serialize(s),
            (None, Some(log)) => log.serialize(s),
            (None, None) => unreachable!("a series or its log"),
        }
    }
}

/// A column, serialized as `Vec` does (`collect_seq`), from a fresh iterator.
struct Column<F>(F);

impl<F, I> Serialize for Column<F>
where
    F: Fn() -> I,
    I: ExactSizeIterator<Item: Serialize>,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

/// A sequence of items made by `F` from their index.
struct Items<F>(usize, F);

impl<F, T> Serialize for Items<F>
where
    F: Fn(usize) -> T,
    T: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..self.0).map(&self.1))
    }
}

/// The same fields, in the same order, under the same names as `Series`' derived
/// `Serialize` (and `FailedSeries`', `ClientSeries`', `ServiceSeries`'), with the same
/// `skip_serializing_if`: the JSON of a decoded series, byte for byte (tested).
impl Serialize for Log {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (base, store) = (&self.skeleton, &self.store);
        let caches = !base.caches.is_empty();
        let mut out = s.serialize_struct("Series", 18 + usize::from(caches))?;
        out.serialize_field("window_s", &base.window_s)?;
        out.serialize_field("t_s", &Column(|| store.t_s()))?;
        out.serialize_field("offered", &Column(|| store.system(sys::OFFERED)))?;
        out.serialize_field("succeeded", &Column(|| store.system(sys::SUCCEEDED)))?;
        out.serialize_field("failed", &Column(|| store.system(sys::FAILED)))?;
        out.serialize_field("failed_by_reason", &FailedColumns(store))?;
        out.serialize_field("degraded", &Column(|| store.system(sys::DEGRADED)))?;
        out.serialize_field("goodput_rps", &Column(|| store.goodput_rps()))?;
        out.serialize_field("latency_p50_ms", &Column(|| store.latency_ms(0)))?;
        out.serialize_field("latency_p99_ms", &Column(|| store.latency_ms(1)))?;
        out.serialize_field("latency_p999_ms", &Column(|| store.latency_ms(2)))?;
        out.serialize_field("attempts", &Column(|| store.system(sys::ATTEMPTS)))?;
        out.serialize_field(
            "retry_amplification",
            &Column(|| store.retry_amplification()),
        )?;
        out.serialize_field("faults_active", &Column(|| store.faults_active()))?;
        out.serialize_field("slow", &Column(|| store.system(sys::SLOW)))?;
        let clients = &base.clients;
        out.serialize_field(
            "clients",
            &Items(clients.len(), |c| ClientColumns(store, c, &clients[c].name)),
        )?;
        let services = &base.services;
        out.serialize_field(
            "services",
            &Items(services.len(), |k| {
                ServiceColumns(store, k, &services[k].name)
            }),
        )?;
        if caches {
            out.serialize_field("caches", &base.caches)?;
        } else {
            out.skip_field("caches")?;
        }
        out.serialize_field("latency_cdf", &base.latency_cdf)?;
        out.end()
    }
}

struct FailedColumns<'a>(&'a SeriesStore);

impl Serialize for FailedColumns<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let store = self.0;
        let mut out = s.serialize_struct("FailedSeries", 4)?;
        for (k, name) in ["timeout", "rejected", "error", "circuit_open"]
            .into_iter()
            .enumerate()
        {
            out.serialize_field(name, &Column(|| store.system(sys::TIMEOUT + k)))?;
        }
        out.end()
    }
}

/// Client `.1`, named `.2`.
struct ClientColumns<'a>(&'a SeriesStore, usize, &'a str);

impl Serialize for ClientColumns<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (store, c) = (self.0, self.1);
        let mut out = s.serialize_struct("ClientSeries", 5)?;
        out.serialize_field("name", self.2)?;
        for (name, i) in [
            ("offered", client::OFFERED),
            ("succeeded", client::SUCCEEDED),
            ("good", client::GOOD),
            ("bad", client::BAD),
        ] {
            out.serialize_field(name, &Column(|| store.client(c, i)))?;
        }
        out.end()
    }
}

/// Service `.1`, named `.2`.
struct ServiceColumns<'a>(&'a SeriesStore, usize, &'a str);

impl Serialize for ServiceColumns<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (store, k) = (self.0, self.1);
        let counts = |i| Column(move || store.service(k, i));
        let mut out = s.serialize_struct("ServiceSeries", 7)?;
        out.serialize_field("name", self.2)?;
        out.serialize_field("attempts", &counts(service::ATTEMPTS))?;
        out.serialize_field("dropped", &counts(service::DROPPED))?;
        out.serialize_field("queue_depth_mean", &Column(|| store.queue_depth_mean(k)))?;
        out.serialize_field("queue_depth_max", &counts(service::QUEUE_MAX))?;
        out.serialize_field("utilization", &Column(|| store.utilization(k)))?;
        out.serialize_field("rejected", &counts(service::REJECTED))?;
        out.end()
    }
}
