//! [`TableDeps`]: everything a table (its task, its loads) uses, and
//! nothing else. Tables are built from these, not from the whole server,
//! so a table task can be built alone (tests with paused time) and the
//! table layer imports nothing above it.

use std::sync::Arc;
use std::time::Duration;

use schema::{AnyRepo, DecisionRow, EventWriter};
use tokio::sync::{mpsc, watch};
use tracing::warn;

use super::agents::Agents;
use super::ownership::Ownership;
use crate::metrics::Metrics;

/// Clocks that are not per table.
#[derive(Clone, Debug)]
pub struct Timing {
    /// How long a disconnected player keeps the seat before being stood up.
    pub disconnect_grace: Duration,
    /// How long a table with no players and nobody watching stays in memory.
    pub idle_ttl: Duration,
    /// The pause between hands at realtime tables.
    pub between_hands: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            disconnect_grace: Duration::from_secs(120),
            idle_ttl: Duration::from_secs(300),
            between_hands: Duration::from_secs(3),
        }
    }
}

/// The limits tables enforce themselves.
#[derive(Clone, Copy, Debug)]
pub struct TableLimits {
    /// Most tables in memory at once.
    pub max_tables: usize,
    /// Longest chat line, in characters (AI table talk is cut to it).
    pub max_chat_chars: usize,
}

/// What tables use.
#[derive(Clone)]
pub struct TableDeps {
    /// The store.
    pub repo: AnyRepo,
    /// The group-committing event writer all tables share.
    pub writer: EventWriter,
    /// Builds AI seats.
    pub agents: Agents,
    /// Prometheus series.
    pub metrics: Arc<Metrics>,
    /// Clocks.
    pub timing: Timing,
    /// Limits.
    pub limits: TableLimits,
    /// Captured AI decisions, stored in batches.
    pub decisions: mpsc::Sender<DecisionRow>,
    /// Turns true when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// This node's cluster membership and leases (`None`: a single node,
    /// whose writes are not fenced).
    pub ownership: Option<Arc<Ownership>>,
    /// Cluster with Redis: the bus tables publish to for their mirrors on
    /// other nodes, and mirrors forward commands through.
    pub remote: Option<Arc<super::remote::Remote>>,
}

impl TableDeps {
    /// Queues a captured AI decision for the store (dropped with a warning if the queue is full).
    pub fn record_decision(&self, row: DecisionRow) {
        if self.decisions.try_send(row).is_err() {
            warn!("decision queue full: a decision record was dropped");
        }
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
