//! The `Database` component kind: a primary and read replicas with streaming replication
//! and automatic failover.
//!
//! It follows PostgreSQL streaming replication with Patroni:
//! - callers call it like a service: `Call(to: "pg")` (or `endpoint: "read"`) reads,
//!   `endpoint: "write"` writes. Writes go to the primary; reads go round robin to the
//!   replicas that are up (`reads: Replicas`, the primary if none is) or to the primary
//!   (`reads: Primary`). Each node has `workers` connections and a FIFO queue, and works
//!   `read_time` or `write_time` on each operation (its stream
//!   `database/NAME/service_time`);
//! - each operation reads or writes one key, drawn from `keys` (`database/NAME/keys`);
//! - a write commits on the primary after its work and gets the next log sequence number
//!   (LSN). Each replica up receives it `lag` later and replays it `replay` after that
//!   (drawn per write and replica, `database/NAME/lag`), in commit order: a write is never
//!   received or replayed before an earlier one (a short draw waits for the write before
//!   it, as WAL is received and replayed in order);
//! - `Async` acknowledges at the commit (PG without synchronous standbys); `Sync { acks }`
//!   once `acks` replicas have replayed it (PG `synchronous_commit = remote_apply` with
//!   `synchronous_standby_names = 'ANY acks (...)'`, quorum commit); `SemiSync { acks }`
//!   once `acks` replicas have received it (MySQL semi-synchronous replication,
//!   `AFTER_SYNC` with `rpl_semi_sync_master_wait_for_slave_count`; PG
//!   `synchronous_commit = on`). The connection is held while the write waits, so write
//!   latency, and throughput, pay for the replication;
//! - a read on a replica is stale if the latest acknowledged write of its key has not been
//!   replayed there; a read by a request that wrote to this database before (the same
//!   logical request: a step list that writes then reads) reads the key it wrote, and
//!   violates read-your-writes if the replica has not replayed that write (the session
//!   is the request id, remembered for 60 s);
//! - a `Crash` of the database crashes its primary of the moment: its queue and the work
//!   in progress fail (`Refuse`: an error at once; `BlackHole`: no answer), writes fail
//!   until a new primary is promoted, reads on replicas go on. Patroni's failover: the
//!   leader key expires and a replica notices after `detection` (Patroni's `ttl` and
//!   `loop_wait`), then the most up-to-date replica (the highest LSN received when the
//!   primary crashed) is promoted after `promotion`: failover time = detection +
//!   promotion (`database/NAME/failover`). Acknowledged writes it had not received are
//!   lost (`lost_writes`): by Little's law, with `Async` about write rate x mean lag per
//!   replica; with `Sync` or `SemiSync` none (each acknowledged write is on `acks`
//!   replicas, and the promoted replica has received at least as much as any other).
//!   When the crash ends, the old primary rejoins as a replica (`pg_rewind`);
//! - a `Pause` of the database hangs its primary of the moment (a stuck disk, a lock
//!   pile-up): it takes operations and finishes none; what it had in progress finishes
//!   when the pause ends. Patroni does not fail over (its agent still holds the leader
//!   key), so the remedy is an operator's `Failover` action (`database_switchover`): the
//!   hung primary is fenced like a crashed one and a replica promoted. A hung node that
//!   has been replaced serves no reads until the pause ends;
//!
//! Where it differs: WAL received by the promoted replica counts as kept, as in PG (it
//! replays it before promotion), but the other replicas and a rejoining node catch up with
//! the new primary at once (no re-sync time, no `pg_rewind` time); a primary back before
//! the crash is detected keeps its role and its replicas get the WAL they missed at once; a
//! write blocked by too few replicas up (PG with `synchronous_mode_strict`) is
//! acknowledged when a node rejoins; there is no fallback to asynchronous replication
//! (MySQL's `rpl_semi_sync_source_timeout`, 10 s by default; Patroni's non-strict
//! `synchronous_mode`) and no `maximum_lag_on_failover` (Patroni lets no replica lagging
//! more than it take over);
//! crashes of single replicas are not modelled (a Crash always hits the primary),
//! overlapping crashes of one database count as one, and the database itself makes no
//! calls. Counts of operations are after the warm-up; failovers and lost writes cover the
//! whole run.
//!
//! Sources: PostgreSQL's `synchronous_commit` and `synchronous_standby_names` (`ANY
//! num_sync (...)` is quorum commit; `remote_apply` waits for replay, `on` for the flush
//! on the standby), <https://www.postgresql.org/docs/current/runtime-config-replication.html>
//! and <https://www.postgresql.org/docs/current/warm-standby.html#SYNCHRONOUS-REPLICATION>;
//! MySQL semisynchronous replication (`AFTER_SYNC`: the source waits for receipt in the
//! replica's relay log, so a failover to it is lossless),
//! <https://dev.mysql.com/doc/refman/8.4/en/replication-semisync.html>; Patroni's `ttl`
//! (30 s: "the length of time before initiation of the automatic failover process") and
//! `loop_wait` (10 s), <https://patroni.readthedocs.io/en/latest/dynamic_configuration.html>.

use std::collections::{BTreeMap, VecDeque};

use rand_distr::{Distribution, Zipf};
use sim_core::dist::Sampler;
use sim_core::queue::{EventKey, EventQueue};
use sim_core::rng::{self, SimRng};
use sim_core::stats::{LatencyRecorder, Welford};
use sim_core::{SimDuration, SimTime};

use super::super::effects::EffectKind;
use super::super::{AttemptKey, Event, Failure, Outcome, Phase, World};
use crate::result::{DatabaseResult, FailoverReport, Latency};
use crate::scenario::{self, CrashMode, Database, DatabaseKeys, ReadFrom, Replication};

/// Keys a database may have (a row of 8 bytes each).
pub const MAX_KEYS: u64 = 10_000_000;
/// Read replicas a database may have.
pub const MAX_REPLICAS: u32 = 64;
/// How long a request's write is remembered for its reads (read-your-writes).
const SESSION_TTL: SimDuration = SimDuration::from_secs(60);

/// The endpoint number of a write (`Call(.., endpoint: "write")`); anything else reads.
const WRITE: u16 = Database::WRITE;

/// The database's own events.
#[derive(Clone, Copy, Debug)]
pub enum DatabaseEvent {
    /// An operation's work on its node is over.
    Done(AttemptKey),
    /// A synchronous write has its acknowledgements.
    Acked(AttemptKey),
    /// Database `d`'s primary crash is noticed: a replica is chosen.
    Detected(u32),
    /// Database `d`'s chosen replica accepts writes.
    Promoted(u32),
}

/// A write on its way to one replica.
struct Shipped {
    lsn: u64,
    received: SimTime,
    replayed: SimTime,
}

struct Node {
    down: bool,
    /// Hung (a Pause): it takes operations and finishes none until the pause ends.
    hung: bool,
    busy: u32,
    queue: VecDeque<AttemptKey>,
    /// Operations holding a connection (each attempt's `active_idx` is its place).
    active: Vec<AttemptKey>,
    /// Writes shipped and not yet replayed, in LSN order.
    pending: VecDeque<Shipped>,
    /// Every write up to this LSN is replayed here.
    replayed: u64,
}

impl Node {
    fn new() -> Node {
        Node {
            down: false,
            hung: false,
            busy: 0,
            queue: VecDeque::new(),
            active: Vec::new(),
            pending: VecDeque::new(),
            replayed: 0,
        }
    }

    /// Replays what is due by `now` (lazily: no event per write and replica).
    fn advance(&mut self, now: SimTime) {
        while let Some(s) = self.pending.front().filter(|s| s.replayed <= now) {
            self.replayed = s.lsn;
            self.pending.pop_front();
        }
    }

    /// The highest LSN received by `t` (received in order, so a prefix).
    fn received_by(&self, t: SimTime) -> u64 {
        let last = self.pending.iter().rev().find(|s| s.received <= t);
        last.map_or(self.replayed, |s| s.lsn.max(self.replayed))
    }

    /// It has every write up to `lsn` now, and nothing on its way.
    fn catch_up(&mut self, lsn: u64) {
        self.pending.clear();
        self.replayed = lsn;
    }
}

/// A synchronous write waiting for its acknowledgements (its connection held).
struct Awaiting {
    attempt: AttemptKey,
    lsn: u64,
    key: u32,
    /// The acknowledgement event; none while too few replicas are up.
    ack: Option<EventKey>,
}

enum FailoverState {
    Idle,
    Detecting {
        crashed_at: SimTime,
        key: EventKey,
    },
    Promoting {
        crashed_at: SimTime,
        detected_at: SimTime,
        node: usize,
        lsn: u64,
        lost: u64,
    },
}

#[derive(Default)]
struct DatabaseStats {
    reads: u64,
    failed_reads: u64,
    writes: u64,
    failed_writes: u64,
    stale_reads: u64,
    session_reads: u64,
    ryw_violations: u64,
    lost_writes: u64,
    read_latency: LatencyRecorder,
    read_exact: Welford,
    write_latency: LatencyRecorder,
    write_exact: Welford,
    /// Replay lag of each (write, replica): from commit until replayed there.
    lag: Welford,
    lag_max: SimDuration,
}

pub(crate) struct DatabaseState {
    pub name: String,
    nodes: Vec<Node>,
    primary: usize,
    workers: u32,
    reads: ReadFrom,
    replication: Replication,
    read_time: Sampler,
    write_time: Sampler,
    lag: Sampler,
    replay: Sampler,
    detection: Sampler,
    promotion: Sampler,
    popularity: Zipf<f64>,
    last_key: u32,
    /// Per key, the LSN of its latest acknowledged write (0: none).
    key_lsn: Vec<u64>,
    /// The last LSN given to a write.
    lsn: u64,
    /// Acknowledged LSNs not yet replayed by every replica up: what a failover may lose.
    acked: VecDeque<u64>,
    awaiting: Vec<Awaiting>,
    /// Per request id, the key and LSN of its last write here, and when.
    sessions: BTreeMap<u64, (u32, u64, SimTime)>,
    session_order: VecDeque<(SimTime, u64)>,
    next_read: usize,
    /// The Crash effect on it now (with its mode), and the node it crashed.
    pub(crate) down: Option<CrashMode>,
    /// The node a Pause hung (its primary when the pause began), and the events of its
    /// operations that came while it hung (handled when it ends).
    hung: Option<usize>,
    deferred: Vec<DatabaseEvent>,
    crashed: Option<usize>,
    failover: FailoverState,
    failovers: Vec<FailoverReport>,
    time_rng: SimRng,
    key_rng: SimRng,
    lag_rng: SimRng,
    failover_rng: SimRng,
    stats: DatabaseStats,
}

impl DatabaseState {
    pub(crate) fn new(spec: &scenario::Database, seed: u64) -> DatabaseState {
        let DatabaseKeys::Zipf { keys, exponent } = spec.keys;
        let compile = |d: &sim_core::dist::Dist<SimDuration>| d.compile().expect("validated");
        let stream = |what: &str| rng::stream(seed, &format!("database/{}/{what}", spec.name));
        DatabaseState {
            name: spec.name.clone(),
            nodes: (0..=spec.replicas).map(|_| Node::new()).collect(),
            primary: 0,
            workers: spec.workers,
            reads: spec.reads,
            replication: spec.replication,
            read_time: compile(&spec.read_time),
            write_time: compile(&spec.write_time),
            lag: compile(&spec.lag),
            replay: compile(&spec.replay),
            detection: compile(&spec.failover.detection),
            promotion: compile(&spec.failover.promotion),
            popularity: Zipf::new(keys as f64, exponent).expect("validated keys"),
            last_key: keys as u32 - 1,
            key_lsn: vec![0; keys as usize],
            lsn: 0,
            acked: VecDeque::new(),
            awaiting: Vec::new(),
            sessions: BTreeMap::new(),
            session_order: VecDeque::new(),
            next_read: 0,
            down: None,
            hung: None,
            deferred: Vec::new(),
            crashed: None,
            failover: FailoverState::Idle,
            failovers: Vec::new(),
            time_rng: stream("service_time"),
            key_rng: stream("keys"),
            lag_rng: stream("lag"),
            failover_rng: stream("failover"),
            stats: DatabaseStats::default(),
        }
    }

    /// Operations here now (queued or holding a connection).
    pub(crate) fn present(&self) -> u64 {
        (self.nodes.iter())
            .map(|n| n.queue.len() as u64 + u64::from(n.busy))
            .sum()
    }

    fn node_name(&self, n: usize) -> String {
        format!("{}#{n}", self.name)
    }

    /// The replicas up now (every node up and not hung but the primary).
    fn replicas_up(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len())
            .filter(move |&j| j != self.primary && !self.nodes[j].down && !self.nodes[j].hung)
    }

    /// The node a new operation goes to, if any is up for it.
    fn route(&mut self, op: u16) -> Option<usize> {
        let primary = (!self.nodes[self.primary].down).then_some(self.primary);
        if op == WRITE || self.reads == ReadFrom::Primary {
            return primary;
        }
        let n = self.nodes.len();
        for k in 0..n {
            let j = (self.next_read + k) % n;
            if j != self.primary && !self.nodes[j].down && !self.nodes[j].hung {
                self.next_read = (j + 1) % n;
                return Some(j);
            }
        }
        primary
    }

    fn draw_key(&mut self) -> u32 {
        // Zipf draws 1..=K (kept in range should rounding ever say K + 1).
        (self.popularity.sample(&mut self.key_rng) as u32)
            .saturating_sub(1)
            .min(self.last_key)
    }

    /// Forgets acknowledged writes every replica up has replayed (none can be lost now).
    fn trim_acked(&mut self, now: SimTime) {
        let primary = self.primary;
        let mut floor = u64::MAX;
        for (j, node) in self.nodes.iter_mut().enumerate() {
            if j != primary && !node.down {
                node.advance(now);
                floor = floor.min(node.replayed);
            }
        }
        while self.acked.front().is_some_and(|&l| l <= floor) {
            self.acked.pop_front();
        }
    }

    /// Remembers that request `request` wrote `key` at `lsn`, forgetting old sessions.
    fn note_session(&mut self, request: u64, key: u32, lsn: u64, now: SimTime) {
        while let Some(&(at, r)) = self.session_order.front() {
            if now.saturating_since(at) < SESSION_TTL {
                break;
            }
            self.session_order.pop_front();
            if self.sessions.get(&r).is_some_and(|s| s.2 == at) {
                self.sessions.remove(&r);
            }
        }
        self.sessions.insert(request, (key, lsn, now));
        self.session_order.push_back((now, request));
    }

    /// The result of a finished run.
    pub(crate) fn result(&self) -> DatabaseResult {
        let st = &self.stats;
        let done: Vec<f64> = self.failovers.iter().map(|f| f.failover_s).collect();
        DatabaseResult {
            name: self.name.clone(),
            replicas: self.nodes.len() as u32 - 1,
            replication: match self.replication {
                Replication::Async => "Async".into(),
                Replication::Sync { acks } => format!("Sync(acks: {acks})"),
                Replication::SemiSync { acks } => format!("SemiSync(acks: {acks})"),
            },
            reads: st.reads,
            writes: st.writes,
            failed_reads: st.failed_reads,
            failed_writes: st.failed_writes,
            stale_reads: st.stale_reads,
            stale_read_ratio: if st.reads > 0 {
                st.stale_reads as f64 / st.reads as f64
            } else {
                0.0
            },
            session_reads: st.session_reads,
            ryw_violations: st.ryw_violations,
            lost_writes: st.lost_writes,
            failover_s: (!done.is_empty()).then(|| done.iter().sum::<f64>() / done.len() as f64),
            failovers: self.failovers.clone(),
            replication_lag_ms: st.lag.mean() / 1e6,
            replication_lag_max_ms: st.lag_max.as_millis_f64(),
            read_latency_ms: Latency::of(&st.read_latency, &st.read_exact),
            write_latency_ms: Latency::of(&st.write_latency, &st.write_exact),
            primary_at_end: self.node_name(self.primary),
        }
    }
}

impl World {
    /// An operation arrives at database `att.local`.
    pub(in crate::world) fn on_database_arrives(
        &mut self,
        a: AttemptKey,
        q: &mut EventQueue<Event>,
    ) {
        let now = q.now();
        if self.arrive(a, now).is_none() {
            return;
        }
        let att = &mut self.attempts[a];
        let (d, op) = (att.local as usize, att.endpoint);
        let db = &mut self.databases[d];
        let Some(node) = db.route(op) else {
            return self.database_unavailable(d, a, op, q);
        };
        att.step = node as u16;
        let n = &mut db.nodes[node];
        if n.busy < db.workers && !n.hung {
            self.database_start(d, a, q);
        } else {
            n.queue.push_back(a);
            att.phase = Phase::Queued;
        }
    }

    /// Operation `a` finds no node up for it: an error, or no answer (`BlackHole`).
    fn database_unavailable(
        &mut self,
        d: usize,
        a: AttemptKey,
        op: u16,
        q: &mut EventQueue<Event>,
    ) {
        let db = &mut self.databases[d];
        let counted = u64::from(self.attempts[a].counted);
        if op == WRITE {
            db.stats.failed_writes += counted;
        } else {
            db.stats.failed_reads += counted;
        }
        match db.down.unwrap_or(CrashMode::Refuse) {
            CrashMode::Refuse => self.reply(a, Outcome::Failed(Failure::Error), q),
            CrashMode::BlackHole => {
                self.remove_attempt(a);
            }
        }
    }

    /// Operation `a` takes a connection of its node and works.
    fn database_start(&mut self, d: usize, a: AttemptKey, q: &mut EventQueue<Event>) {
        let now = q.now();
        let db = &mut self.databases[d];
        let att = &mut self.attempts[a];
        let node = &mut db.nodes[att.step as usize];
        node.busy += 1;
        att.active_idx = node.active.len() as u32;
        node.active.push(a);
        att.phase = Phase::Working;
        att.started = now;
        let time = if att.endpoint == WRITE {
            &db.write_time
        } else {
            &db.read_time
        };
        let work = time.sample_duration(&mut db.time_rng);
        att.done_key = Some(q.schedule(now + work, Event::Database(DatabaseEvent::Done(a))));
    }

    pub(in crate::world) fn on_database_event(
        &mut self,
        e: DatabaseEvent,
        q: &mut EventQueue<Event>,
    ) {
        if let DatabaseEvent::Done(a) | DatabaseEvent::Acked(a) = e {
            let att = &mut self.attempts[a];
            let db = &mut self.databases[att.local as usize];
            if db.nodes[att.step as usize].hung {
                // A hung node answers nothing: its operation is over when the hang is.
                att.done_key = None;
                db.deferred.push(e);
                return;
            }
        }
        match e {
            DatabaseEvent::Done(a) => {
                let att = &mut self.attempts[a];
                att.done_key = None;
                if att.endpoint == WRITE {
                    self.database_commit(a, q);
                } else {
                    self.database_read(a, q);
                }
            }
            DatabaseEvent::Acked(a) => {
                let d = self.attempts[a].local as usize;
                let db = &mut self.databases[d];
                let k = (db.awaiting.iter())
                    .position(|w| w.attempt == a)
                    .expect("an acknowledged write is awaiting");
                let w = db.awaiting.swap_remove(k);
                self.database_ack(d, a, w.lsn, w.key, q);
            }
            DatabaseEvent::Detected(d) => self.database_detected(d as usize, q),
            DatabaseEvent::Promoted(d) => self.database_promoted(d as usize, q),
        }
    }

    /// Read `a` is done: stale if its node has not replayed its key's latest write.
    fn database_read(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let now = q.now();
        let att = &self.attempts[a];
        let (d, node, counted) = (att.local as usize, att.step as usize, att.counted);
        let request = att.request_id;
        let db = &mut self.databases[d];
        let session = db.sessions.get(&request).map(|&(key, lsn, _)| (key, lsn));
        let key = match session {
            Some((key, _)) => key,
            None => db.draw_key(),
        };
        let replayed = if node == db.primary {
            u64::MAX
        } else {
            db.nodes[node].advance(now);
            db.nodes[node].replayed
        };
        if counted {
            let st = &mut db.stats;
            st.reads += 1;
            st.stale_reads += u64::from(db.key_lsn[key as usize] > replayed);
            if let Some((_, lsn)) = session {
                st.session_reads += 1;
                st.ryw_violations += u64::from(lsn > replayed);
            }
            let latency = now - att.arrived;
            st.read_latency.record(latency);
            st.read_exact.push(latency.as_nanos() as f64);
        }
        self.database_answer(d, a, q);
    }

    /// Write `a` commits on the primary and ships to the replicas up; it is acknowledged
    /// now (`Async`) or once enough replicas have it.
    fn database_commit(&mut self, a: AttemptKey, q: &mut EventQueue<Event>) {
        let now = q.now();
        let att = &self.attempts[a];
        let (d, counted, request) = (att.local as usize, att.counted, att.request_id);
        let db = &mut self.databases[d];
        db.lsn += 1;
        let lsn = db.lsn;
        let key = db.draw_key();
        let mut times: Vec<SimTime> = Vec::new();
        for j in 0..db.nodes.len() {
            if j == db.primary || db.nodes[j].down {
                continue;
            }
            let received = now + db.lag.sample_duration(&mut db.lag_rng);
            let replay = db.replay.sample_duration(&mut db.lag_rng);
            let node = &mut db.nodes[j];
            let last = node.pending.back();
            let received = last.map_or(received, |s| s.received.max(received));
            let replayed = received + replay;
            let replayed = last.map_or(replayed, |s| s.replayed.max(replayed));
            node.pending.push_back(Shipped {
                lsn,
                received,
                replayed,
            });
            if counted {
                let lag = replayed - now;
                db.stats.lag.push(lag.as_nanos() as f64);
                db.stats.lag_max = db.stats.lag_max.max(lag);
            }
            match db.replication {
                Replication::Async => {}
                Replication::Sync { .. } => times.push(replayed),
                Replication::SemiSync { .. } => times.push(received),
            }
        }
        db.note_session(request, key, lsn, now);
        let acks = match db.replication {
            Replication::Async => return self.database_ack(d, a, lsn, key, q),
            Replication::Sync { acks } | Replication::SemiSync { acks } => acks as usize,
        };
        times.sort_unstable();
        let ack = times
            .get(acks - 1)
            .map(|&t| q.schedule(t, Event::Database(DatabaseEvent::Acked(a))));
        db.awaiting.push(Awaiting {
            attempt: a,
            lsn,
            key,
            ack,
        });
    }

    /// Write `a` (at `lsn`, of `key`) is acknowledged.
    fn database_ack(
        &mut self,
        d: usize,
        a: AttemptKey,
        lsn: u64,
        key: u32,
        q: &mut EventQueue<Event>,
    ) {
        let now = q.now();
        let att = &self.attempts[a];
        let db = &mut self.databases[d];
        let k = &mut db.key_lsn[key as usize];
        *k = (*k).max(lsn);
        if db.nodes.len() > 1 {
            db.acked.push_back(lsn);
            db.trim_acked(now);
        }
        if att.counted {
            let st = &mut db.stats;
            st.writes += 1;
            let latency = now - att.arrived;
            st.write_latency.record(latency);
            st.write_exact.push(latency.as_nanos() as f64);
        }
        self.database_answer(d, a, q);
    }

    /// Operation `a` leaves its connection with Ok; the node takes the next in its queue.
    fn database_answer(&mut self, d: usize, a: AttemptKey, q: &mut EventQueue<Event>) {
        let att = &self.attempts[a];
        let (node, idx) = (att.step as usize, att.active_idx as usize);
        let n = &mut self.databases[d].nodes[node];
        n.busy -= 1;
        n.active.swap_remove(idx);
        if let Some(&moved) = n.active.get(idx) {
            self.attempts[moved].active_idx = idx as u32;
        }
        self.reply(a, Outcome::Ok, q);
        let db = &mut self.databases[d];
        let n = &mut db.nodes[node];
        if !n.down
            && !n.hung
            && n.busy < db.workers
            && let Some(next) = n.queue.pop_front()
        {
            self.database_start(d, next, q);
        }
    }

    /// Recomputes database `d` (instance `i`) from the Crash and Pause effects on it now.
    pub(in crate::world) fn refresh_database(
        &mut self,
        d: usize,
        i: u32,
        q: &mut EventQueue<Event>,
    ) {
        let down = self.active_effects().find_map(|def| match def.kind {
            EffectKind::Crash { instance, mode } if instance == i => Some(mode),
            _ => None,
        });
        let paused = (self.active_effects())
            .any(|def| matches!(def.kind, EffectKind::Pause { instance } if instance == i));
        let db = &mut self.databases[d];
        match (db.hung, paused) {
            (None, true) => {
                let p = db.primary;
                db.hung = Some(p);
                db.nodes[p].hung = true;
            }
            (Some(n), false) => {
                db.hung = None;
                db.nodes[n].hung = false;
                self.database_thaw(d, n, q);
            }
            _ => {}
        }
        let was = self.databases[d].down;
        self.databases[d].down = down;
        match (was, down) {
            (None, Some(_)) => self.database_crash(d, q),
            (Some(_), None) => self.database_restart(d, q),
            _ => {}
        }
    }

    /// The primary of database `d` crashes: what it was doing fails, the WAL on its way is
    /// lost, and the failover starts (if there is a replica to promote).
    fn database_crash(&mut self, d: usize, q: &mut EventQueue<Event>) {
        let now = q.now();
        self.database_fence(d, q);
        let db = &mut self.databases[d];
        if db.replicas_up().next().is_some() {
            let after = db.detection.sample_duration(&mut db.failover_rng);
            let key = q.schedule(
                now + after,
                Event::Database(DatabaseEvent::Detected(d as u32)),
            );
            db.failover = FailoverState::Detecting {
                crashed_at: now,
                key,
            };
        }
    }

    /// A switchover forced on database `d`'s primary (a `Failover` action, Patroni's
    /// `patronictl failover --force`): the primary is stopped as a crash stops it, and the
    /// replica that received the most is promoted after a draw of `promotion`, losing the
    /// acknowledged writes it lacks; the old primary rejoins as a replica then. A crash not
    /// yet detected is failed over at once (the operator does not wait for the leader key
    /// to expire). Where it differs from Patroni: its `switchover` of a healthy primary
    /// shuts it down cleanly and waits for the candidate to catch up, losing nothing; here
    /// the primary is taken to be hung (the case automatic failover misses), so what it had
    /// not shipped is gone. Refused while a replica is being promoted, while a crashed
    /// primary is still down, or with no replica up.
    pub(in crate::world) fn database_switchover(
        &mut self,
        d: usize,
        q: &mut EventQueue<Event>,
    ) -> Result<(), String> {
        let now = q.now();
        let db = &mut self.databases[d];
        let none_up = || format!("database {} has no replica up to promote", db.name);
        match db.failover {
            FailoverState::Promoting { .. } => Err(format!(
                "database {} is already promoting a replica",
                db.name
            )),
            FailoverState::Detecting { crashed_at, key } => {
                q.cancel(key);
                let chosen = self.database_choose(d, crashed_at, q);
                chosen.then_some(()).ok_or_else(|| {
                    format!(
                        "database {} has no replica up to promote",
                        self.databases[d].name
                    )
                })
            }
            FailoverState::Idle if db.crashed.is_some() => Err(format!(
                "database {}'s crashed primary has been replaced and is still down",
                db.name
            )),
            FailoverState::Idle if db.replicas_up().next().is_none() => Err(none_up()),
            FailoverState::Idle => {
                self.database_fence(d, q);
                self.database_choose(d, now, q);
                Ok(())
            }
        }
    }

    /// Node `n` of database `d` is no longer hung: what it finished meanwhile is answered
    /// now, in the order it finished, and it takes from its queue again.
    fn database_thaw(&mut self, d: usize, n: usize, q: &mut EventQueue<Event>) {
        let now = q.now();
        for e in std::mem::take(&mut self.databases[d].deferred) {
            q.schedule(now, Event::Database(e));
        }
        loop {
            let db = &mut self.databases[d];
            let node = &mut db.nodes[n];
            if node.down || node.busy >= db.workers {
                break;
            }
            let Some(next) = node.queue.pop_front() else {
                break;
            };
            self.database_start(d, next, q);
        }
    }

    /// The primary of database `d` stops (crashed, or fenced by a switchover): what it was
    /// doing fails, and the WAL on its way to the replicas is lost.
    fn database_fence(&mut self, d: usize, q: &mut EventQueue<Event>) {
        let now = q.now();
        let db = &mut self.databases[d];
        if db.hung == Some(db.primary) {
            // Its operations fail below; the events they left waiting mean nothing now.
            db.deferred.clear();
        }
        let p = db.primary;
        db.crashed = Some(p);
        db.nodes[p].down = true;
        for w in std::mem::take(&mut db.awaiting) {
            if let Some(k) = w.ack {
                q.cancel(k);
            }
        }
        let node = &mut db.nodes[p];
        node.busy = 0;
        let lost: Vec<AttemptKey> = node.queue.drain(..).chain(node.active.drain(..)).collect();
        for a in lost {
            if let Some(k) = self.attempts[a].done_key.take() {
                q.cancel(k);
            }
            let op = self.attempts[a].endpoint;
            self.database_unavailable(d, a, op, q);
        }
        let db = &mut self.databases[d];
        for node in &mut db.nodes {
            while node.pending.back().is_some_and(|s| s.received > now) {
                node.pending.pop_back();
            }
        }
    }

    /// The crash is noticed: a replica is chosen.
    fn database_detected(&mut self, d: usize, q: &mut EventQueue<Event>) {
        let FailoverState::Detecting { crashed_at, .. } = self.databases[d].failover else {
            return;
        };
        self.database_choose(d, crashed_at, q);
    }

    /// The replica that received the most by `crashed_at` (when the primary stopped) is
    /// chosen and promoted after a draw of `promotion`; the acknowledged writes it lacks are
    /// lost. Returns whether there was one.
    fn database_choose(
        &mut self,
        d: usize,
        crashed_at: SimTime,
        q: &mut EventQueue<Event>,
    ) -> bool {
        let now = q.now();
        let db = &mut self.databases[d];
        let best = db
            .replicas_up()
            .map(|j| (db.nodes[j].received_by(crashed_at), j))
            // The highest LSN, the lowest node number among equals.
            .max_by_key(|&(lsn, j)| (lsn, std::cmp::Reverse(j)));
        let Some((lsn, node)) = best else {
            db.failover = FailoverState::Idle;
            return false;
        };
        let lost = db.acked.iter().filter(|&&l| l > lsn).count() as u64;
        let after = db.promotion.sample_duration(&mut db.failover_rng);
        q.schedule(
            now + after,
            Event::Database(DatabaseEvent::Promoted(d as u32)),
        );
        db.failover = FailoverState::Promoting {
            crashed_at,
            detected_at: now,
            node,
            lsn,
            lost,
        };
        true
    }

    /// The chosen replica is the primary now: writes resume; what it lacks is gone.
    fn database_promoted(&mut self, d: usize, q: &mut EventQueue<Event>) {
        let now = q.now();
        let db = &mut self.databases[d];
        let FailoverState::Promoting {
            crashed_at,
            detected_at,
            node,
            lsn,
            lost,
        } = std::mem::replace(&mut db.failover, FailoverState::Idle)
        else {
            return;
        };
        let old = db.primary;
        // It replays all it received; the others follow it from there.
        for (j, n) in db.nodes.iter_mut().enumerate() {
            if j != old && !n.down {
                n.catch_up(lsn);
            }
        }
        for k in &mut db.key_lsn {
            if *k > lsn {
                *k = 0; // its acknowledged write is gone
            }
        }
        db.acked.clear();
        db.stats.lost_writes += lost;
        db.primary = node;
        db.failovers.push(FailoverReport {
            from: db.node_name(old),
            to: db.node_name(node),
            crashed_s: crashed_at.as_secs_f64(),
            detected_s: detected_at.as_secs_f64(),
            promoted_s: now.as_secs_f64(),
            failover_s: (now - crashed_at).as_secs_f64(),
            lost_writes: lost,
        });
        if db.down.is_none() {
            self.database_restart(d, q);
        }
    }

    /// The crash is over: a primary not yet replaced resumes; a replaced one rejoins as a
    /// replica, caught up; writes waiting for too few replicas are acknowledged.
    fn database_restart(&mut self, d: usize, q: &mut EventQueue<Event>) {
        let now = q.now();
        let db = &mut self.databases[d];
        let Some(c) = db.crashed else { return };
        match db.failover {
            // Patroni will promote the chosen replica; the old primary rejoins then.
            FailoverState::Promoting { .. } => return,
            FailoverState::Detecting { key, .. } => {
                q.cancel(key);
                db.failover = FailoverState::Idle;
            }
            FailoverState::Idle => {}
        }
        db.crashed = None;
        let lsn = db.lsn;
        db.nodes[c].down = false;
        // Back before a failover, it streams what its replicas missed; replaced, it is
        // rewound and follows the new primary. Either way every node has it all.
        for n in &mut db.nodes {
            if !n.down {
                n.catch_up(lsn);
            }
        }
        db.acked.clear();
        let acks = match db.replication {
            Replication::Async => 0,
            Replication::Sync { acks } | Replication::SemiSync { acks } => acks as usize,
        };
        if db.replicas_up().count() < acks {
            return;
        }
        for w in db.awaiting.iter_mut().filter(|w| w.ack.is_none()) {
            w.ack = Some(q.schedule(now, Event::Database(DatabaseEvent::Acked(w.attempt))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    fn node(shipped: &[(u64, u64, u64)]) -> Node {
        let mut n = Node::new();
        for &(lsn, received, replayed) in shipped {
            n.pending.push_back(Shipped {
                lsn,
                received: at(received),
                replayed: at(replayed),
            });
        }
        n
    }

    /// A replica replays lazily: by `now`, every write due by then, in LSN order.
    #[test]
    fn a_replica_replays_what_is_due() {
        let mut n = node(&[(1, 10, 20), (2, 15, 30), (3, 40, 40)]);
        n.advance(at(5));
        assert_eq!(n.replayed, 0);
        n.advance(at(29));
        assert_eq!((n.replayed, n.pending.len()), (1, 2));
        n.advance(at(40));
        assert_eq!((n.replayed, n.pending.len()), (3, 0));
    }

    /// What a replica had received at an instant is the longest prefix received by then,
    /// replayed or not.
    #[test]
    fn received_by_is_a_prefix() {
        let mut n = node(&[(1, 10, 20), (2, 15, 30), (3, 40, 40)]);
        assert_eq!(n.received_by(at(9)), 0);
        assert_eq!(n.received_by(at(16)), 2);
        n.advance(at(25)); // lsn 1 replayed and popped
        assert_eq!(n.received_by(at(12)), 1);
        assert_eq!(n.received_by(at(39)), 2);
        n.catch_up(7);
        assert_eq!((n.received_by(at(0)), n.pending.len()), (7, 0));
    }

    #[test]
    fn operations_are_read_and_write() {
        assert_eq!(Database::endpoint_of(None), Some(Database::READ));
        assert_eq!(Database::endpoint_of(Some("read")), Some(Database::READ));
        assert_eq!(Database::endpoint_of(Some("write")), Some(WRITE));
        assert_eq!(Database::endpoint_of(Some("delete")), None);
    }
}
