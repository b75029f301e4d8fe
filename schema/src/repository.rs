//! The `Repository` trait: everything the server and the experiment runner
//! read from and write to the store, whatever the backend.

use std::future::Future;
use std::time::Duration;

use crate::error::StoreError;
use crate::model::Fence;
use crate::model::{
    ChatMessage, DecisionRow, EventRecord, ExperimentBatch, ExperimentHandRow, ExperimentRecord,
    ExperimentStatus, HandRecord, ModelUsage, PendingBuyIn, PlayerRecord, RecordQuery, TableRecord,
    TableSnapshotRecord, TableStatus, UsageRow, UsageTotals,
};

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// The store, as the rest of Showdown sees it. Implemented by
/// [`SqliteRepo`](crate::SqliteRepo), [`PgRepo`](crate::PgRepo) and
/// [`MemoryRepo`](crate::MemoryRepo); all pass the same conformance suite
/// (`tests/conformance.rs`). Clones share one pool (one store).
pub trait Repository: Clone + Send + Sync + 'static {
    /// `sqlite`, `postgres` or `memory`, for messages and metrics.
    fn backend(&self) -> &'static str;

    /// Registers a player; `Duplicate` if the id or token hash is taken.
    fn create_player(&self, player: &PlayerRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// The player whose token hashes to `token_hash`, if any.
    fn player_by_token_hash(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = StoreResult<Option<PlayerRecord>>> + Send;
    /// The player with this id; `NotFound` otherwise.
    fn load_player(&self, id: &str) -> impl Future<Output = StoreResult<PlayerRecord>> + Send;

    /// Creates a table; `Duplicate` if the id is taken.
    fn create_table(&self, table: &TableRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// The table with this id; `NotFound` otherwise.
    fn load_table(&self, id: &str) -> impl Future<Output = StoreResult<TableRecord>> + Send;
    /// Tables, oldest first, optionally only those with `status`.
    fn list_tables(
        &self,
        status: Option<TableStatus>,
    ) -> impl Future<Output = StoreResult<Vec<TableRecord>>> + Send;
    /// One page of tables in id order: up to `limit` tables whose id sorts
    /// after `after` (from the first when `None`), closed ones only if
    /// `include_closed`. Keyset paging (`WHERE id > ? ORDER BY id LIMIT ?`
    /// on the primary key): pass the last id of a page to get the next one;
    /// a page is stable while tables come and go, and `after` need not be
    /// the id of a stored table.
    fn list_tables_page(
        &self,
        after: Option<&str>,
        limit: u64,
        include_closed: bool,
    ) -> impl Future<Output = StoreResult<Vec<TableRecord>>> + Send;
    /// Changes a table's status; `NotFound` if there is no such table.
    fn set_table_status(&self, id: &str, status: TableStatus)
    -> impl Future<Output = StoreResult<()>> + Send;

    /// Inserts events in one transaction, all or nothing. A `(table_id, seq)`
    /// already stored fails the whole call with `Duplicate`. Gap checks and
    /// idempotent resends are the [`EventWriter`](crate::EventWriter)'s job.
    fn append_events(&self, events: &[EventRecord]) -> impl Future<Output = StoreResult<()>> + Send {
        self.append_batch(events, &[])
    }
    /// Inserts events and the histories of the hands they finish in one
    /// transaction, all or nothing: a hand's history is durable exactly when
    /// its `hand_ended` event is. A `(table_id, seq)` already stored fails
    /// the whole call with `Duplicate`; a hand already recorded is left as
    /// it is (so a resent batch is harmless).
    fn append_batch(
        &self,
        events: &[EventRecord],
        hands: &[HandRecord],
    ) -> impl Future<Output = StoreResult<()>> + Send {
        self.append_fenced(events, hands, &[])
    }
    /// [`Repository::append_batch`] for tables owned through a lease: the
    /// transaction first checks, under a row lock held until it commits,
    /// that each fence's table lease is still at the fence's epoch, and
    /// fails with `Fenced` (nothing written) if one is not. A claim (which
    /// bumps the epoch) waits for the lock, so a write either commits before
    /// the claim, and the claimer's load sees it, or fails.
    fn append_fenced(
        &self,
        events: &[EventRecord],
        hands: &[HandRecord],
        fences: &[Fence],
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Up to `limit` finished hands, as `(table_id, hand)`, whose
    /// `hand_ended` event is stored but whose history is not (the start-up
    /// consistency check rebuilds them from the log), in order.
    fn unrecorded_hands(&self, limit: u64) -> impl Future<Output = StoreResult<Vec<(String, u64)>>> + Send;
    /// Up to `limit` events of a table with seq > `after_seq`, in order.
    fn events_since(
        &self,
        table_id: &str,
        after_seq: u64,
        limit: u64,
    ) -> impl Future<Output = StoreResult<Vec<EventRecord>>> + Send;
    /// The highest stored seq of a table, 0 if it has no events.
    fn last_seq(&self, table_id: &str) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Stores a table's snapshot, replacing an older one (a snapshot with a
    /// lower seq than the stored one is ignored, so a late write cannot go
    /// back); `MissingReference` for an unknown table.
    fn save_snapshot(&self, snapshot: &TableSnapshotRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// A table's latest snapshot, if it has one.
    fn latest_snapshot(
        &self,
        table_id: &str,
    ) -> impl Future<Output = StoreResult<Option<TableSnapshotRecord>>> + Send;

    /// Stores a finished hand's summary; `Duplicate` if already recorded.
    fn record_hand(&self, hand: &HandRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// One hand's summary; `NotFound` otherwise.
    fn load_hand(&self, table_id: &str, hand: u64) -> impl Future<Output = StoreResult<HandRecord>> + Send;
    /// Up to `limit` hands of a table numbered after `after_hand`, in order.
    fn list_hands(
        &self,
        table_id: &str,
        after_hand: u64,
        limit: u64,
    ) -> impl Future<Output = StoreResult<Vec<HandRecord>>> + Send;

    /// Stores a chat line and returns its id.
    fn add_chat(&self, message: &ChatMessage) -> impl Future<Output = StoreResult<u64>> + Send;
    /// The last `limit` chat lines of a table, oldest first.
    fn recent_chat(
        &self,
        table_id: &str,
        limit: u64,
    ) -> impl Future<Output = StoreResult<Vec<ChatMessage>>> + Send;

    /// Stores LLM usage records in one transaction (the executor's sink drains in batches).
    fn record_usage(&self, rows: &[UsageRow]) -> impl Future<Output = StoreResult<()>> + Send;
    /// Usage rows matching `query`, oldest first.
    fn list_usage(&self, query: &RecordQuery) -> impl Future<Output = StoreResult<Vec<UsageRow>>> + Send;
    /// Totals (calls, tokens, cost) over the rows matching `query` (its limit is ignored).
    fn usage_totals(&self, query: &RecordQuery) -> impl Future<Output = StoreResult<UsageTotals>> + Send;

    /// Usage by provider and model since `since_ms` (all rows when `None`),
    /// ordered by provider and model.
    fn usage_by_model(
        &self,
        since_ms: Option<u64>,
    ) -> impl Future<Output = StoreResult<Vec<ModelUsage>>> + Send;
    /// Stores captured decisions in one transaction.
    fn record_decisions(&self, rows: &[DecisionRow]) -> impl Future<Output = StoreResult<()>> + Send;
    /// Decisions matching `query`, oldest first.
    fn list_decisions(
        &self,
        query: &RecordQuery,
    ) -> impl Future<Output = StoreResult<Vec<DecisionRow>>> + Send;
    /// Sets how long prompts and raw replies are kept (`None`: forever).
    fn set_capture_retention(
        &self,
        retention: Option<Duration>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// How long prompts and raw replies are kept (`None`: forever, the default).
    fn capture_retention(&self) -> impl Future<Output = StoreResult<Option<Duration>>> + Send;
    /// Erases the prompt and raw reply of decisions older than the retention
    /// at `now_ms` (the decision itself stays for statistics); returns how many.
    fn prune_captures(&self, now_ms: u64) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Creates an experiment; `Duplicate` if the id is taken.
    fn create_experiment(
        &self,
        experiment: &ExperimentRecord,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// One experiment; `NotFound` otherwise.
    fn load_experiment(&self, id: &str) -> impl Future<Output = StoreResult<ExperimentRecord>> + Send;
    /// All experiments, oldest first.
    fn list_experiments(&self) -> impl Future<Output = StoreResult<Vec<ExperimentRecord>>> + Send;
    /// Records progress (and results, when given); `NotFound` if there is no such experiment.
    fn update_experiment(
        &self,
        id: &str,
        status: ExperimentStatus,
        hands_done: u64,
        results: Option<&str>,
        now_ms: u64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Saves an experiment's checkpoint with the hands and decisions it
    /// covers, in one transaction: after a crash the stored hands are exactly
    /// those the stored checkpoint counts. Sets the status too when given.
    /// `NotFound` if there is no such experiment; `Duplicate` if a hand is
    /// already stored (nothing changes then).
    fn save_experiment_batch(&self, batch: &ExperimentBatch) -> impl Future<Output = StoreResult<()>> + Send;
    /// The runner's last saved checkpoint (JSON), if any; `NotFound` if there
    /// is no such experiment.
    fn experiment_checkpoint(&self, id: &str) -> impl Future<Output = StoreResult<Option<String>>> + Send;
    /// Up to `limit` hands of an experiment from index `from_hand` on, in order.
    fn experiment_hands(
        &self,
        id: &str,
        from_hand: u64,
        limit: u64,
    ) -> impl Future<Output = StoreResult<Vec<ExperimentHandRow>>> + Send;

    /// Takes `amount` chips from a player's balance for `seat` at a table and
    /// records the pending buy-in, in one transaction: the balance is checked
    /// and debited by one conditional statement, so it never goes negative.
    /// `NotFound` for an unknown player, `InsufficientBalance` (with the
    /// current balance) if it does not cover `amount`, `MissingReference` for
    /// an unknown table; nothing changes on error. `after_seq` is the table's
    /// last event seq, so recovery knows where to look for the seat.
    fn reserve_buy_in(
        &self,
        player_id: &str,
        table_id: &str,
        seat: u64,
        amount: u64,
        after_seq: u64,
        now_ms: u64,
    ) -> impl Future<Output = StoreResult<PendingBuyIn>> + Send {
        self.reserve_buy_in_fenced(player_id, table_id, seat, amount, after_seq, now_ms, None)
    }
    /// [`Repository::reserve_buy_in`] under a lease: with a fence, fails with `Fenced`
    /// (nothing changes) unless the table's lease is still at its epoch,
    /// checked under a row lock in the same transaction.
    #[allow(clippy::too_many_arguments)] // reserve_buy_in's arguments and the fence
    fn reserve_buy_in_fenced(
        &self,
        player_id: &str,
        table_id: &str,
        seat: u64,
        amount: u64,
        after_seq: u64,
        now_ms: u64,
        fence: Option<&Fence>,
    ) -> impl Future<Output = StoreResult<PendingBuyIn>> + Send;
    /// The seat is in the table's log: forgets the pending buy-in (its chips
    /// stay at the table). `false` if it was already gone, so retries are harmless.
    fn confirm_buy_in(&self, id: u64) -> impl Future<Output = StoreResult<bool>> + Send {
        self.confirm_buy_in_fenced(id, None)
    }
    /// [`Repository::confirm_buy_in`] under a lease: with a fence, fails with `Fenced`
    /// (nothing changes) unless the table's lease is still at its epoch,
    /// checked under a row lock in the same transaction.
    fn confirm_buy_in_fenced(
        &self,
        id: u64,
        fence: Option<&Fence>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The seat was not taken: deletes the pending buy-in and credits its
    /// chips back, in one transaction. `false` (and no credit) if it was
    /// already gone, so two refunds, even concurrent ones, credit once.
    fn refund_buy_in(&self, id: u64) -> impl Future<Output = StoreResult<bool>> + Send {
        self.refund_buy_in_fenced(id, None)
    }
    /// [`Repository::refund_buy_in`] under a lease: with a fence, fails with `Fenced`
    /// (nothing changes) unless the table's lease is still at its epoch,
    /// checked under a row lock in the same transaction.
    fn refund_buy_in_fenced(
        &self,
        id: u64,
        fence: Option<&Fence>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// A table's pending buy-ins, oldest first (what recovery must settle).
    fn pending_buy_ins(&self, table_id: &str) -> impl Future<Output = StoreResult<Vec<PendingBuyIn>>> + Send;
    /// Pays a player who left a table: records the cash-out of the `SeatLeft`
    /// event at `seq` and credits `amount` (0 is allowed) to the balance, in
    /// one transaction. Exactly once: if `(table_id, seq)` is already
    /// recorded, changes nothing and returns `false`. `NotFound` for an
    /// unknown player.
    fn cash_out(
        &self,
        table_id: &str,
        seq: u64,
        player_id: &str,
        amount: u64,
        now_ms: u64,
    ) -> impl Future<Output = StoreResult<bool>> + Send {
        self.cash_out_fenced(table_id, seq, player_id, amount, now_ms, None)
    }
    /// [`Repository::cash_out`] under a lease: with a fence, fails with `Fenced`
    /// (nothing changes) unless the table's lease is still at its epoch,
    /// checked under a row lock in the same transaction.
    fn cash_out_fenced(
        &self,
        table_id: &str,
        seq: u64,
        player_id: &str,
        amount: u64,
        now_ms: u64,
        fence: Option<&Fence>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Adds chips to a player's balance (admin grants) and returns the new
    /// balance; `NotFound` for an unknown player.
    fn credit_balance(&self, player_id: &str, amount: u64) -> impl Future<Output = StoreResult<u64>> + Send;
}
