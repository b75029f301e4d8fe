//! Tables across nodes (design: `docs/cluster.md`): what a node publishes
//! for the mirrors of its tables on other nodes, and the commands mirrors
//! forward to the owner (the owner's side that serves them is
//! `crate::cluster::served`).
//!
//! All of it rides on the Redis [`Bus`] and may be lost: a mirror that
//! misses events reads them from the store (the log is the truth), and a
//! forwarded command that gets no answer in time is reported as such (its
//! outcome shows in the table's events). Commands are answered by the owner
//! exactly as it answers its own clients, through the same table task, so
//! an `act` naming a turn is refused there when late or repeated.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use game_core::Action;
use parking_lot::Mutex;
use schema::EventRecord;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::warn;

use super::{ChatLine, TableError};
use crate::bus::Bus;
use crate::metrics::Metrics;
use crate::protocol::ErrorCode;

/// How long a forwarded command waits for the owner's answer.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// What a table's channel carries (externally tagged: the events' raw JSON
/// cannot go through the buffering an internally tagged enum needs).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TableFeed {
    /// Events just committed (durable), in seq order.
    Events {
        /// When the owner's commit finished (its clock, ms).
        at_ms: u64,
        /// The events.
        events: Vec<FeedEvent>,
    },
    /// A chat line.
    Chat {
        /// The line.
        line: ChatLine,
    },
    /// A seated player's connection changed.
    Presence {
        /// The seat.
        seat: usize,
        /// Connected now.
        connected: bool,
    },
    /// Another room message, as the owner's clients got it (reasons).
    Room {
        /// The message.
        json: String,
    },
}

/// One committed event.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct FeedEvent {
    /// Its seq.
    pub seq: u64,
    /// The event as stored.
    pub payload: Box<RawValue>,
}

/// What nodes send each other on their node channels.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub(crate) enum NodeMessage {
    /// A command for a table the receiver owns (`id` 0: no answer wanted).
    Request {
        /// The request id (0: no answer wanted).
        id: u64,
        /// The sender's address (its node channel).
        reply_to: String,
        /// The table.
        table: String,
        /// What to do.
        command: RemoteCommand,
    },
    /// The answer to a request.
    Reply {
        /// The request id.
        id: u64,
        /// The answer.
        result: Result<serde_json::Value, RemoteError>,
    },
}

/// A refusal, as the owner would tell its own client.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RemoteError {
    /// The owner's error code.
    pub code: ErrorCode,
    /// The owner's message.
    pub message: String,
}

/// A command forwarded to a table's owner.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "c", rename_all = "snake_case")]
pub(crate) enum RemoteCommand {
    /// Take a seat (the owner reserves the buy-in).
    Sit {
        player_id: String,
        name: String,
        seat: usize,
        buy_in: u64,
    },
    /// Leave the seat.
    Stand { player_id: String },
    /// Sit out or back in.
    SitOut { player_id: String, out: bool },
    /// Act, naming the turn if the client did.
    Act {
        player_id: String,
        action: Action,
        turn: Option<u64>,
    },
    /// A chat line.
    Chat { line: ChatLine },
    /// A player's connection to the mirror joined or left.
    Presence { player_id: String, joined: bool },
    /// The mirror has clients: keep the table watched.
    Watch,
}

/// This node's side of the bus for tables.
pub struct Remote {
    /// The bus.
    pub bus: Bus,
    /// This node's advertised address (its node channel's name).
    pub address: String,
    pub(crate) metrics: Arc<Metrics>,
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Result<serde_json::Value, RemoteError>>>>,
}

impl Remote {
    /// This node's side of `bus`, reachable at `address`.
    pub fn new(bus: Bus, address: String, metrics: Arc<Metrics>) -> Arc<Remote> {
        Arc::new(Remote {
            bus,
            address,
            metrics,
            next_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// Publishes committed events to their tables' channels (the event
    /// writer's commit hook: called in commit order, must not block).
    pub fn publish_committed(&self, events: &[EventRecord]) {
        let at_ms = schema::now_ms();
        let mut start = 0;
        while start < events.len() {
            let table = &events[start].table_id;
            let end = events[start..]
                .iter()
                .position(|e| &e.table_id != table)
                .map_or(events.len(), |n| start + n);
            let feed: Vec<FeedEvent> = events[start..end]
                .iter()
                .filter_map(|e| {
                    RawValue::from_string(e.payload.clone())
                        .ok()
                        .map(|payload| FeedEvent { seq: e.seq, payload })
                })
                .collect();
            self.publish(table, &TableFeed::Events { at_ms, events: feed });
            start = end;
        }
    }

    /// Publishes one message on table `table`'s channel.
    pub(crate) fn publish(&self, table: &str, feed: &TableFeed) {
        match serde_json::to_vec(feed) {
            Ok(bytes) => self.bus.publish(self.bus.table_channel(table), bytes),
            Err(e) => warn!(table, "cannot encode a message for mirrors: {e}"),
        }
    }

    /// Sends `command` for `table` to the node at `owner` and waits for its
    /// answer (at most [`FORWARD_TIMEOUT`]).
    pub(crate) async fn request(
        &self,
        owner: &str,
        table: &str,
        command: RemoteCommand,
    ) -> Result<serde_json::Value, TableError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, tx);
        let started = Instant::now();
        self.send(
            owner,
            &NodeMessage::Request {
                id,
                reply_to: self.address.clone(),
                table: table.to_owned(),
                command,
            },
        );
        let answer = tokio::time::timeout(FORWARD_TIMEOUT, rx).await;
        self.pending.lock().remove(&id);
        self.metrics.forward_latency.observe(started.elapsed());
        let result = match answer {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(e))) => Err(TableError::Remote {
                code: e.code,
                message: e.message,
            }),
            Ok(Err(_)) | Err(_) => Err(TableError::NoAnswer),
        };
        let counter = if result.is_ok() {
            &self.metrics.forwarded_ok
        } else {
            &self.metrics.forwarded_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// Sends `command` for `table` to the node at `owner`, wanting no answer.
    pub(crate) fn notify(&self, owner: &str, table: &str, command: RemoteCommand) {
        self.send(
            owner,
            &NodeMessage::Request {
                id: 0,
                reply_to: self.address.clone(),
                table: table.to_owned(),
                command,
            },
        );
    }

    pub(crate) fn send(&self, address: &str, message: &NodeMessage) {
        match serde_json::to_vec(message) {
            Ok(bytes) => self.bus.publish(self.bus.node_channel(address), bytes),
            Err(e) => warn!("cannot encode a message for {address}: {e}"),
        }
    }

    pub(crate) fn on_reply(&self, id: u64, result: Result<serde_json::Value, RemoteError>) {
        if let Some(tx) = self.pending.lock().remove(&id) {
            let _ = tx.send(result);
        }
    }
}
