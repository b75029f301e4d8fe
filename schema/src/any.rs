//! `AnyRepo`: any backend, chosen at run time from a database URL (the
//! server's `--database-url`) or wrapping an in-memory store (tests), so code
//! above the store is written once against one concrete type instead of
//! being generic over [`Repository`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::error::StoreError;
use crate::memory::MemoryRepo;
use crate::model::{
    ChatMessage, DecisionRow, EventRecord, ExperimentBatch, ExperimentHandRow, ExperimentRecord,
    ExperimentStatus, Fence, HandRecord, LeaseRecord, ModelUsage, NodeRecord, PendingBuyIn, PlayerRecord,
    RecordQuery, TableRecord, TableSnapshotRecord, TableStatus, UsageRow, UsageTotals,
};
use crate::postgres::PgRepo;
use crate::repository::{Repository, StoreResult};
use crate::sqlite::SqliteRepo;

/// A store of any backend. Cheap to clone, like the repository inside.
#[derive(Clone, Debug)]
pub enum AnyRepo {
    /// The embedded SQLite store.
    Sqlite(SqliteRepo),
    /// The Postgres store.
    Postgres(PgRepo),
    /// The in-memory store (never opened from a URL: wrap one with `From`).
    Memory(MemoryRepo),
}

impl AnyRepo {
    /// Opens the store `url` names and migrates it:
    /// `postgres://…` or `postgresql://…` connects to Postgres;
    /// `sqlite://PATH`, `sqlite:PATH` or a plain file path opens (creating if
    /// needed) a SQLite file. Any other `scheme://` is `UnsupportedUrl`.
    pub async fn open(url: &str) -> StoreResult<AnyRepo> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(AnyRepo::Postgres(PgRepo::connect(url).await?));
        }
        let path = match url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Some(path) => path,
            None => {
                if let Some((scheme, _)) = url.split_once("://") {
                    return Err(StoreError::UnsupportedUrl {
                        scheme: scheme.to_owned(),
                    });
                }
                url
            }
        };
        if path.is_empty() {
            return Err(StoreError::Connect {
                backend: "sqlite",
                source: Arc::new(sqlx::Error::Configuration(
                    format!("{url:?} names no database file").into(),
                )),
            });
        }
        Ok(AnyRepo::Sqlite(SqliteRepo::open(Path::new(path)).await?))
    }

    /// Closes the store's connections; later calls fail with a `Database` error.
    pub async fn close(&self) {
        match self {
            AnyRepo::Sqlite(repo) => repo.close().await,
            AnyRepo::Postgres(repo) => repo.close().await,
            AnyRepo::Memory(repo) => repo.close(),
        }
    }
}

impl From<SqliteRepo> for AnyRepo {
    fn from(repo: SqliteRepo) -> AnyRepo {
        AnyRepo::Sqlite(repo)
    }
}

impl From<PgRepo> for AnyRepo {
    fn from(repo: PgRepo) -> AnyRepo {
        AnyRepo::Postgres(repo)
    }
}

impl From<MemoryRepo> for AnyRepo {
    fn from(repo: MemoryRepo) -> AnyRepo {
        AnyRepo::Memory(repo)
    }
}

/// Implements each listed `Repository` method by forwarding it to the inner repository.
macro_rules! delegate {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $out:ty;)*) => {
        $(
            async fn $name(&self $(, $arg: $ty)*) -> StoreResult<$out> {
                match self {
                    AnyRepo::Sqlite(repo) => repo.$name($($arg),*).await,
                    AnyRepo::Postgres(repo) => repo.$name($($arg),*).await,
                    AnyRepo::Memory(repo) => repo.$name($($arg),*).await,
                }
            }
        )*
    };
}

impl Repository for AnyRepo {
    fn backend(&self) -> &'static str {
        match self {
            AnyRepo::Sqlite(repo) => repo.backend(),
            AnyRepo::Postgres(repo) => repo.backend(),
            AnyRepo::Memory(repo) => repo.backend(),
        }
    }

    delegate! {
        fn create_player(&self, player: &PlayerRecord) -> ();
        fn player_by_token_hash(&self, token_hash: &str) -> Option<PlayerRecord>;
        fn load_player(&self, id: &str) -> PlayerRecord;
        fn create_table(&self, table: &TableRecord) -> ();
        fn load_table(&self, id: &str) -> TableRecord;
        fn list_tables(&self, status: Option<TableStatus>) -> Vec<TableRecord>;
        fn list_tables_page(&self, after: Option<&str>, limit: u64, include_closed: bool) -> Vec<TableRecord>;
        fn set_table_status(&self, id: &str, status: TableStatus) -> ();
        fn append_fenced(&self, events: &[EventRecord], hands: &[HandRecord], fences: &[Fence]) -> ();
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
        fn reserve_buy_in_fenced(
            &self,
            player_id: &str,
            table_id: &str,
            seat: u64,
            amount: u64,
            after_seq: u64,
            now_ms: u64,
            fence: Option<&Fence>
        ) -> PendingBuyIn;
        fn confirm_buy_in_fenced(&self, id: u64, fence: Option<&Fence>) -> bool;
        fn refund_buy_in_fenced(&self, id: u64, fence: Option<&Fence>) -> bool;
        fn pending_buy_ins(&self, table_id: &str) -> Vec<PendingBuyIn>;
        fn cash_out_fenced(
            &self,
            table_id: &str,
            seq: u64,
            player_id: &str,
            amount: u64,
            now_ms: u64,
            fence: Option<&Fence>
        ) -> bool;
        fn credit_balance(&self, player_id: &str, amount: u64) -> u64;
    }
}

impl crate::cluster::Cluster for AnyRepo {
    delegate! {
        fn register_node(&self, node: &NodeRecord, ttl_ms: u64) -> u64;
        fn renew_node(&self, instance: &str, ttl_ms: u64) -> Option<u64>;
        fn remove_node(&self, instance: &str) -> ();
        fn live_nodes(&self) -> Vec<NodeRecord>;
        fn claim_table(&self, table_id: &str, instance: &str) -> crate::cluster::Claim;
        fn claim_orphans(&self, instance: &str, limit: u64) -> Vec<(String, u64)>;
        fn reclaim_tables(&self, previous: &str, instance: &str) -> Vec<(String, u64)>;
        fn release_table(&self, fence: &Fence) -> bool;
        fn lease(&self, table_id: &str) -> Option<LeaseRecord>;
        fn db_now_ms(&self) -> u64;
    }
}
