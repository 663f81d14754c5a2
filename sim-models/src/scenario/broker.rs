//! The schema of a message broker (`brokers: [Broker(..)]`) and of the `Publish` step. The
//! model and the real systems it follows are described in
//! `world/components/broker.rs`.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

use super::CallPolicy;

/// A message broker: publishers put messages on it, consumer groups take them off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broker {
    /// Named like a service (publishers and faults refer to it by this name).
    pub name: String,
    /// Ready messages each group's queue holds at most (in flight ones do not count, as
    /// with RabbitMQ's `max-length`); none: unbounded. Always serialised, so that `--set
    /// brokers.NAME.capacity=..` finds it.
    #[serde(default)]
    pub capacity: Option<u64>,
    /// What a publish to a full queue does.
    #[serde(default)]
    pub overflow: Overflow,
    /// A delivery not answered within this time makes its message visible again (SQS's
    /// visibility timeout): a slow or crashed consumer gets its messages redelivered.
    pub visibility_timeout: SimDuration,
    /// Deliveries of one message at most; the last one failing sends it to the
    /// dead-letter queue (SQS's `maxReceiveCount`, RabbitMQ's `delivery-limit`).
    pub max_deliveries: u32,
    /// Every group gets every message (fanout, or Kafka consumer groups); within a group
    /// each message goes to one consumer. One group is a plain work queue.
    pub groups: Vec<ConsumerGroup>,
}

/// What a publish to a full queue does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Overflow {
    /// The publish is refused (`Rejected`, RabbitMQ's `reject-publish`): the publisher's
    /// policy decides whether to retry.
    #[default]
    RejectPublish,
    /// The head of the queue (the next message to be delivered) is dropped to make room
    /// (RabbitMQ's `drop-head`), counted as `dropped`.
    DropOldest,
}

/// Consumers of one service taking messages from the broker (`Group(..)` in a file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename = "Group")]
pub struct ConsumerGroup {
    /// The service whose endpoint handles each message (balanced over its replicas).
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Consumer connections of each instance of the service in service (scaling the
    /// service out adds consumers, as KEDA-style autoscaling does).
    pub consumers: u32,
    /// Unacknowledged deliveries per consumer at most (RabbitMQ's `basic.qos` prefetch):
    /// the group has at most `consumers * prefetch` messages in flight per instance.
    pub prefetch: u32,
}

/// A `Publish` step: put a message on broker `to` and wait for its confirm (a call to the
/// broker under `policy`, so timeouts and retries apply as to any call).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishSpec {
    pub to: String,
    #[serde(default)]
    pub policy: CallPolicy,
}
