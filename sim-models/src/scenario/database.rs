//! The schema of a replicated database (`databases: [Database(..)]`). The model, the real
//! systems it follows (PostgreSQL streaming replication, MySQL semi-synchronous
//! replication, Patroni failover) and where it differs are described in
//! `world/components/database.rs`.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::dist::Dist;

/// A primary and `replicas` read replicas, called like a service: `Call(to: "pg")` reads,
/// `Call(to: "pg", endpoint: "write")` writes (`endpoint: "read"` also reads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// Named like a service: callers, links and faults refer to it by this name. A
    /// `Crash(service: NAME)` crashes its primary of the moment.
    pub name: String,
    /// Read replicas besides the primary (nodes `NAME#1` .. `NAME#N`; `NAME#0` starts as
    /// the primary).
    // Always written, so that `--set databases.NAME.FIELD=..` finds it (and the others).
    #[serde(default)]
    pub replicas: u32,
    /// Operations each node serves at once (its connections); the rest wait in its FIFO
    /// queue.
    pub workers: u32,
    /// Time a node works on a read, and on a write (its local commit).
    pub read_time: Dist<SimDuration>,
    pub write_time: Dist<SimDuration>,
    /// Where reads go.
    #[serde(default)]
    pub reads: ReadFrom,
    /// When a write is acknowledged.
    pub replication: Replication,
    /// From a write's commit on the primary until a replica has received it (WAL shipped
    /// and flushed there), drawn per write and replica; a replica receives writes in
    /// commit order. A write not received by the promoted replica is lost.
    pub lag: Dist<SimDuration>,
    /// From receipt until the write is replayed, visible to reads on that replica (PG's
    /// replay lag beyond its flush lag).
    #[serde(default = "zero")]
    pub replay: Dist<SimDuration>,
    /// Which key each operation reads or writes (stale reads are counted per key).
    pub keys: DatabaseKeys,
    /// How long a crashed primary goes unnoticed, and how long promotion takes.
    pub failover: Failover,
}

impl Database {
    /// The endpoint numbers of its two operations (`Call(.., endpoint: "write")`).
    pub const READ: u16 = 0;
    pub const WRITE: u16 = 1;

    /// The endpoint number an endpoint name stands for, if it is one of a database's.
    pub fn endpoint_of(name: Option<&str>) -> Option<u16> {
        match name {
            None | Some("read") => Some(Self::READ),
            Some("write") => Some(Self::WRITE),
            Some(_) => None,
        }
    }
}

fn zero() -> Dist<SimDuration> {
    Dist::Constant(SimDuration::ZERO)
}

/// Where reads go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadFrom {
    /// Round robin over the replicas that are up (the primary when none is): scales reads,
    /// at the price of stale reads.
    #[default]
    Replicas,
    /// Every read to the primary: never stale, and down during a failover.
    Primary,
}

/// When the primary acknowledges a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Replication {
    /// At its local commit (PG `synchronous_commit = local`, or no synchronous standbys):
    /// writes not yet received by the replica promoted in a failover are lost.
    Async,
    /// Once `acks` replicas have replayed it (PG `synchronous_commit = remote_apply` with
    /// `synchronous_standby_names = 'ANY acks (..)'`, quorum commit): no acknowledged write
    /// is lost, and a read on those replicas sees it; each write waits for the `acks`-th
    /// fastest replica.
    Sync { acks: u32 },
    /// Once `acks` replicas have received it, before replay (MySQL semi-synchronous
    /// replication `AFTER_SYNC` with `rpl_semi_sync_master_wait_for_slave_count = acks`;
    /// PG `synchronous_commit = on`): no acknowledged write is lost, but reads on replicas
    /// can still be stale for the replay lag.
    SemiSync { acks: u32 },
}

/// The keys operations ask for: `keys` keys, key k (1-based) with probability proportional
/// to 1 / k^exponent (0: uniform), as the cache's `Zipf` keys.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum DatabaseKeys {
    Zipf { keys: u64, exponent: f64 },
}

/// Patroni-style failover.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failover {
    /// From the primary's crash until the replicas act: the leader key expires (Patroni's
    /// `ttl`, 30 s by default) and a replica notices on its next loop (`loop_wait`, 10 s).
    pub detection: Dist<SimDuration>,
    /// From the decision until the chosen replica accepts writes (`pg_ctl promote`).
    pub promotion: Dist<SimDuration>,
}
