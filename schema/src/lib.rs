//! `schema`: Showdown's storage. SQL migrations for SQLite and Postgres, the
//! [`Repository`] trait, its implementations (two databases and one in
//! memory), and the [`EventWriter`] that group-commits the event logs of all
//! tables.
//!
//! # Layout
//! - [`error`]: [`StoreError`], what failed and why.
//! - [`model`]: the stored rows (players and their balances, tables, buy-ins, events, hands,
//!   chat, usage, decisions, experiments).
//! - [`repository`]: the [`Repository`] trait both backends implement.
//! - [`sqlite`]: [`SqliteRepo`], WAL, one writer connection plus a read pool.
//! - [`postgres`]: [`PgRepo`], one pool, optional per-schema isolation.
//! - [`memory`]: [`MemoryRepo`], plain data behind a mutex (tests; safe under tokio's paused time).
//! - [`any`]: [`AnyRepo`], any backend, picked at run time from a database URL (or wrapping a `MemoryRepo`).
//! - [`cluster`]: [`Cluster`], node rows and table leases for several nodes on one store.
//! - [`writer`]: [`EventWriter`], one task batching appends from every table into one transaction.
//! - `common` (private): the SQL both backends share (`common/play.rs`, `records.rs`, `money.rs`: the `Repository` methods by concern; row decoding).
//!
//! Migrations live in `migrations/sqlite/` and `migrations/postgres/` and run
//! when a repository is opened.

#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod any;
pub mod cluster;
mod common;
pub mod error;
pub mod memory;
pub mod model;
pub mod postgres;
pub mod repository;
pub mod sqlite;
pub mod writer;

pub use any::AnyRepo;
pub use cluster::{Claim, Cluster};
pub use error::{RowKind, StoreError};
pub use memory::MemoryRepo;
pub use model::{
    ChatMessage, DecisionRow, EventRecord, ExperimentBatch, ExperimentHandRow, ExperimentRecord,
    ExperimentStatus, Fence, HandRecord, LeaseRecord, ModelUsage, NodeRecord, PendingBuyIn, PlayerRecord,
    RecordQuery, TableRecord, TableSnapshotRecord, TableStatus, UsageRow, UsageTotals, now_ms,
};
pub use postgres::{PgConfig, PgRepo};
pub use repository::{Repository, StoreResult};
pub use sqlite::{SqliteConfig, SqliteRepo};
pub use writer::{CommitHook, EventWriter, Receipt, WriterConfig, WriterStats, WriterTask};
