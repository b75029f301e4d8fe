//! `MemoryRepo`: the whole store in process memory, for tests (and anything
//! that wants a store without a database).
//!
//! Every operation locks one mutex, does its work on plain maps and returns:
//! no `.await` inside, no other thread or task involved. That makes it safe
//! under tokio's paused time (`#[tokio::test(start_paused = true)]`), where a
//! database driver's worker thread is invisible to the runtime, which then
//! auto-advances the clock while a query is in flight and fires timeouts that
//! never happen in real time.
//!
//! It honours the [`Repository`] contract the SQL backends do and passes the
//! same conformance suite (`tests/conformance.rs`), including the limits of
//! their signed 64-bit columns: a number above `i64::MAX` is an `Encode`
//! error, and a balance never grows past `i64::MAX`. Each operation checks
//! everything before it changes anything, so a failed call changes nothing
//! (what a transaction rollback gives the SQL backends).
//!
//! The work is split by concern: [`play`] (players, tables, event logs,
//! snapshots, hands, chat), [`money`] (balances, buy-ins, cash-outs),
//! [`records`] (LLM usage, decisions and their retention, experiments),
//! [`cluster`] (node rows, table leases, the fence check of fenced writes).

mod cluster;
mod money;
mod play;
mod records;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::error::StoreError;
use crate::model::{
    ChatMessage, DecisionRow, EventRecord, ExperimentBatch, ExperimentHandRow, ExperimentRecord,
    ExperimentStatus, Fence, HandRecord, ModelUsage, PendingBuyIn, PlayerRecord, RecordQuery, TableRecord,
    TableSnapshotRecord, TableStatus, UsageRow, UsageTotals, to_i64,
};
use crate::repository::{Repository, StoreResult};

/// The in-memory store. Cheap to clone: clones share one store (as clones
/// of the SQL repositories share one pool), and [`MemoryRepo::close`] closes
/// it for all of them.
#[derive(Clone, Default)]
pub struct MemoryRepo {
    store: Arc<Mutex<Store>>,
}

impl std::fmt::Debug for MemoryRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = self.lock();
        f.debug_struct("MemoryRepo")
            .field("players", &store.players.len())
            .field("tables", &store.tables.len())
            .field("closed", &store.closed)
            .finish_non_exhaustive()
    }
}

impl MemoryRepo {
    /// An empty store.
    pub fn new() -> MemoryRepo {
        MemoryRepo::default()
    }

    /// Closes the store; later calls fail with a `Database` error (the
    /// driver's "pool closed"), as they do after closing a SQL repository.
    pub fn close(&self) {
        self.lock().closed = true;
    }

    /// The store, even if a thread panicked while holding it: every
    /// operation checks before it changes anything, so a panic cannot leave
    /// half an operation behind.
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs operation `op` on the store, or fails if it was closed.
    fn run<T>(&self, op: &'static str, f: impl FnOnce(&mut Store) -> StoreResult<T>) -> StoreResult<T> {
        let mut store = self.lock();
        if store.closed {
            return Err(StoreError::Database {
                op,
                source: Arc::new(sqlx::Error::PoolClosed),
            });
        }
        f(&mut store)
    }
}

/// An experiment and the runner's checkpoint.
#[derive(Clone, Debug)]
struct Experiment {
    record: ExperimentRecord,
    checkpoint: Option<String>,
}

/// Everything stored, as plain data structures. Ids assigned by the store
/// (chat lines, decisions, buy-ins) count from 1 and are never reused, like
/// the SQL backends' identity columns.
#[derive(Debug, Default)]
struct Store {
    closed: bool,
    players: HashMap<String, PlayerRecord>,
    /// Token hash to player id.
    token_hashes: HashMap<String, String>,
    /// Tables by id (the order `list_tables_page` pages in).
    tables: BTreeMap<String, TableRecord>,
    /// Registered nodes by instance.
    nodes: HashMap<String, crate::model::NodeRecord>,
    /// Table leases by table id.
    leases: HashMap<String, cluster::Lease>,
    /// Each table's log, by seq.
    events: HashMap<String, BTreeMap<u64, EventRecord>>,
    /// `(table, hand)` of every stored `hand_ended` event.
    ended: BTreeSet<(String, u64)>,
    snapshots: HashMap<String, TableSnapshotRecord>,
    /// Each table's hand histories, by hand number.
    hands: HashMap<String, BTreeMap<u64, HandRecord>>,
    /// Each table's chat, oldest first.
    chat: HashMap<String, Vec<ChatMessage>>,
    last_chat_id: u64,
    /// Usage rows in insertion order.
    usage: Vec<UsageRow>,
    /// Decisions in id order.
    decisions: Vec<DecisionRow>,
    last_decision_id: u64,
    capture_retention_ms: Option<u64>,
    experiments: HashMap<String, Experiment>,
    /// Each experiment's hands, by index.
    experiment_hands: HashMap<String, BTreeMap<u64, ExperimentHandRow>>,
    /// Pending buy-ins by id.
    buy_ins: BTreeMap<u64, PendingBuyIn>,
    last_buy_in_id: u64,
    /// `(table, seq)` of every `SeatLeft` already paid.
    cash_outs: HashSet<(String, u64)>,
}

/// Checks that `value` fits the SQL backends' signed 64-bit columns.
fn fits(what: &'static str, value: u64) -> StoreResult<()> {
    to_i64(what, value).map(|_| ())
}

/// A row limit as a count of items (every limit fits, however large).
fn take(limit: u64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

/// `MissingReference` for a row of kind `what` naming a missing `target`.
fn missing(what: &'static str, target: &str, id: &str) -> StoreError {
    StoreError::MissingReference {
        what,
        detail: format!("no {target} {id:?}"),
    }
}

/// `Duplicate` for a row of kind `what` with key `id`.
fn duplicate(what: &'static str, id: impl Into<String>) -> StoreError {
    StoreError::Duplicate { what, id: id.into() }
}

/// Implements each listed `Repository` method by running the store method
/// of the same name under the lock (the operation's name is the method's).
macro_rules! locked {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $out:ty;)*) => {
        $(
            async fn $name(&self $(, $arg: $ty)*) -> StoreResult<$out> {
                self.run(stringify!($name), |store| store.$name($($arg),*))
            }
        )*
    };
}

impl Repository for MemoryRepo {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn append_fenced(
        &self,
        events: &[EventRecord],
        hands: &[HandRecord],
        fences: &[Fence],
    ) -> StoreResult<()> {
        // The SQL backends name a plain append `append_events` (in errors too).
        let op = if hands.is_empty() {
            "append_events"
        } else {
            "append_batch"
        };
        self.run(op, |store| {
            store.check_fences(fences)?;
            store.append_batch(events, hands)
        })
    }

    async fn reserve_buy_in_fenced(
        &self,
        player_id: &str,
        table_id: &str,
        seat: u64,
        amount: u64,
        after_seq: u64,
        now_ms: u64,
        fence: Option<&Fence>,
    ) -> StoreResult<PendingBuyIn> {
        self.run("reserve_buy_in", |store| {
            store.check_fences(fence)?;
            store.reserve_buy_in(player_id, table_id, seat, amount, after_seq, now_ms)
        })
    }

    async fn confirm_buy_in_fenced(&self, id: u64, fence: Option<&Fence>) -> StoreResult<bool> {
        self.run("confirm_buy_in", |store| {
            store.check_fences(fence)?;
            store.confirm_buy_in(id)
        })
    }

    async fn refund_buy_in_fenced(&self, id: u64, fence: Option<&Fence>) -> StoreResult<bool> {
        self.run("refund_buy_in", |store| {
            store.check_fences(fence)?;
            store.refund_buy_in(id)
        })
    }

    async fn cash_out_fenced(
        &self,
        table_id: &str,
        seq: u64,
        player_id: &str,
        amount: u64,
        now_ms: u64,
        fence: Option<&Fence>,
    ) -> StoreResult<bool> {
        self.run("cash_out", |store| {
            store.check_fences(fence)?;
            store.cash_out(table_id, seq, player_id, amount, now_ms)
        })
    }

    locked! {
        fn create_player(&self, player: &PlayerRecord) -> ();
        fn player_by_token_hash(&self, token_hash: &str) -> Option<PlayerRecord>;
        fn load_player(&self, id: &str) -> PlayerRecord;
        fn create_table(&self, table: &TableRecord) -> ();
        fn load_table(&self, id: &str) -> TableRecord;
        fn list_tables(&self, status: Option<TableStatus>) -> Vec<TableRecord>;
        fn list_tables_page(&self, after: Option<&str>, limit: u64, include_closed: bool) -> Vec<TableRecord>;
        fn set_table_status(&self, id: &str, status: TableStatus) -> ();
        fn unrecorded_hands(&self, limit: u64) -> Vec<(String, u64)>;
        fn events_since(&self, table_id: &str, after_seq: u64, limit: u64) -> Vec<EventRecord>;
        fn last_seq(&self, table_id: &str) -> u64;
        fn save_snapshot(&self, snapshot: &TableSnapshotRecord) -> ();
        fn latest_snapshot(&self, table_id: &str) -> Option<TableSnapshotRecord>;
        fn record_hand(&self, hand: &HandRecord) -> ();
        fn load_hand(&self, table_id: &str, hand: u64) -> HandRecord;
        fn list_hands(&self, table_id: &str, after_hand: u64, limit: u64) -> Vec<HandRecord>;
        fn add_chat(&self, message: &ChatMessage) -> u64;
        fn recent_chat(&self, table_id: &str, limit: u64) -> Vec<ChatMessage>;
        fn record_usage(&self, rows: &[UsageRow]) -> ();
        fn list_usage(&self, query: &RecordQuery) -> Vec<UsageRow>;
        fn usage_totals(&self, query: &RecordQuery) -> UsageTotals;
        fn usage_by_model(&self, since_ms: Option<u64>) -> Vec<ModelUsage>;
        fn record_decisions(&self, rows: &[DecisionRow]) -> ();
        fn list_decisions(&self, query: &RecordQuery) -> Vec<DecisionRow>;
        fn set_capture_retention(&self, retention: Option<Duration>) -> ();
        fn capture_retention(&self) -> Option<Duration>;
        fn prune_captures(&self, now_ms: u64) -> u64;
        fn create_experiment(&self, experiment: &ExperimentRecord) -> ();
        fn load_experiment(&self, id: &str) -> ExperimentRecord;
        fn list_experiments(&self) -> Vec<ExperimentRecord>;
        fn update_experiment(
            &self,
            id: &str,
            status: ExperimentStatus,
            hands_done: u64,
            results: Option<&str>,
            now_ms: u64
        ) -> ();
        fn save_experiment_batch(&self, batch: &ExperimentBatch) -> ();
        fn experiment_checkpoint(&self, id: &str) -> Option<String>;
        fn experiment_hands(&self, id: &str, from_hand: u64, limit: u64) -> Vec<ExperimentHandRow>;
        fn pending_buy_ins(&self, table_id: &str) -> Vec<PendingBuyIn>;
        fn credit_balance(&self, player_id: &str, amount: u64) -> u64;
    }
}

#[cfg(test)]
mod tests;
