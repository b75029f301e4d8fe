//! `SqliteRepo`: the embedded store. One SQLite file in WAL mode, exactly one
//! writer connection (SQLite admits one writer at a time, so a second one
//! would only wait on the lock), a pool of read-only connections, and one
//! connection that only checkpoints the WAL in the background.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::common::{
    CAPTURE_RETENTION_KEY, buy_in_row, chat_row, check_fences, decision_row, event_row, experiment_hand_row,
    experiment_row, hand_row, impl_repository, insert_decision, model_usage_row, player_row, query_limit,
    snapshot_row, table_row, usage_row, usage_totals_row,
};
use crate::error::StoreError;
use crate::model::{
    ChatMessage, DecisionRow, EventRecord, ExperimentBatch, ExperimentHandRow, ExperimentRecord,
    ExperimentStatus, Fence, HandRecord, PendingBuyIn, PlayerRecord, RecordQuery, TableRecord, TableStatus,
    UsageRow, UsageTotals, to_i64, to_u64,
};
use crate::repository::StoreResult;

/// How to open a SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteConfig {
    /// The database file (created if missing).
    pub path: PathBuf,
    /// Read-only connections in the read pool.
    pub read_connections: u32,
    /// How long a connection waits for a lock before failing with `SQLITE_BUSY`.
    pub busy_timeout: Duration,
}

impl SqliteConfig {
    /// Defaults for `path`: 4 readers, 5 s busy timeout.
    pub fn new(path: impl AsRef<Path>) -> SqliteConfig {
        SqliteConfig {
            path: path.as_ref().to_path_buf(),
            read_connections: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The SQLite store. Cheap to clone: clones share the writer and the read pool.
#[derive(Clone, Debug)]
pub struct SqliteRepo {
    write: SqlitePool,
    read: SqlitePool,
    /// Only runs WAL checkpoints; never writes rows.
    checkpointer: SqlitePool,
    /// The checkpoint task stops once every clone is dropped.
    _alive: Arc<()>,
}

impl SqliteRepo {
    /// Opens (creating if needed) the file at `path` with default settings and migrates it.
    pub async fn open(path: impl AsRef<Path>) -> StoreResult<SqliteRepo> {
        SqliteRepo::open_with(&SqliteConfig::new(path)).await
    }

    /// Opens the store: WAL, `synchronous=NORMAL` (durable across process
    /// crashes; an OS crash may lose the last commits), foreign keys on, busy
    /// timeout; then applies pending migrations and starts the checkpoint
    /// task (so it must be called inside a tokio runtime).
    pub async fn open_with(config: &SqliteConfig) -> StoreResult<SqliteRepo> {
        let connect = |e| StoreError::Connect {
            backend: "sqlite",
            source: Arc::new(e),
        };
        let base = SqliteConnectOptions::new()
            .filename(&config.path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(config.busy_timeout);
        // The writer gets a 64 MiB page cache and does not checkpoint: a
        // checkpoint run by the committing connection stalls every table for
        // as long as it takes (300 ms at 64 MiB of WAL). A background task
        // checkpoints instead (PASSIVE, concurrent with the writer); the
        // writer's own autocheckpoint at 65,536 pages (256 MiB) is only a
        // backstop should that task not run.
        let writer = base
            .clone()
            .create_if_missing(true)
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "65536");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(writer)
            .await
            .map_err(connect)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&write)
            .await
            .map_err(|e| StoreError::Migration {
                backend: "sqlite",
                source: Arc::new(e),
            })?;
        let read = SqlitePoolOptions::new()
            .max_connections(config.read_connections.max(1))
            .connect_with(base.clone().read_only(true))
            .await
            .map_err(connect)?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(base)
            .await
            .map_err(connect)?;
        let alive = Arc::new(());
        tokio::spawn(checkpoint_loop(checkpointer.clone(), Arc::downgrade(&alive)));
        Ok(SqliteRepo {
            write,
            read,
            checkpointer,
            _alive: alive,
        })
    }

    /// Closes both pools; later calls fail with a `Database` error.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
        self.checkpointer.close().await;
    }

    /// Inserts events in one statement: the batch goes in as one JSON array
    /// that SQLite unpacks with `json_each` (one bind instead of six per row;
    /// 2x faster than multi-row `VALUES` through the driver).
    async fn insert_events<'e, E>(&self, executor: E, events: &[EventRecord]) -> StoreResult<()>
    where
        E: sqlx::Executor<'e, Database = Sqlite>,
    {
        let op = "append_events";
        let rows: Vec<(&str, u64, u64, &str, &str, &str)> = events
            .iter()
            .map(|e| {
                (
                    e.table_id.as_str(),
                    e.seq,
                    e.hand,
                    e.kind.as_str(),
                    e.visibility.as_str(),
                    e.payload.as_str(),
                )
            })
            .collect();
        for e in events {
            to_i64("seq", e.seq)?;
            to_i64("hand", e.hand)?;
        }
        let batch = serde_json::to_string(&rows).map_err(|e| StoreError::Encode {
            what: "event batch",
            detail: e.to_string(),
        })?;
        sqlx::query::<Sqlite>(
            "INSERT INTO table_events (table_id, seq, hand, kind, visibility, payload) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
             FROM json_each($1) ORDER BY key",
        )
        .bind(batch)
        .execute(executor)
        .await
        .map_err(|err| {
            let id = format!("{}#{}", events[0].table_id, events[0].seq);
            StoreError::db(op, "event", &id, err)
        })?;
        Ok(())
    }
}

/// How often the background task checkpoints the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Copies committed WAL pages into the database file off the writer's path,
/// until the repository is dropped or closed.
async fn checkpoint_loop(pool: SqlitePool, alive: Weak<()>) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if alive.upgrade().is_none() || pool.is_closed() {
            break;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::debug!(error = %e, "WAL checkpoint failed; the next one will retry");
        }
    }
    pool.close().await;
}

impl_repository!(SqliteRepo, Sqlite, "sqlite");
crate::cluster::impl_cluster!(
    SqliteRepo,
    Sqlite,
    clock_ms = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    skip_locked = ""
);
