//! `PgRepo`: the Postgres store, for several processes or larger loads. One
//! pool serves reads and writes; the group commit still goes through one
//! [`EventWriter`](crate::EventWriter) per process.

use std::sync::Arc;

use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

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
use std::time::Duration;

/// How to open a Postgres store.
#[derive(Clone, Debug)]
pub struct PgConfig {
    /// `postgres://user@host:port/database`.
    pub url: String,
    /// Put every table in this schema (created if missing) instead of the
    /// default search path (connections also take it as `application_name`);
    /// tests use one fresh schema each.
    pub schema: Option<String>,
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long to wait for a free connection before failing.
    pub acquire_timeout: Duration,
    /// Postgres ends a session that sits inside a transaction, waiting for
    /// its client, longer than this (`idle_in_transaction_session_timeout`):
    /// a node that froze (or whose process stopped) mid-transaction then
    /// releases its row locks (a table lease among them) instead of holding
    /// them until it wakes, and the transaction fails rather than commit
    /// late. `None` leaves the server's setting.
    pub idle_in_transaction_timeout: Option<Duration>,
}

impl PgConfig {
    /// Defaults for `url`: default schema, 8 connections, 10 s acquire
    /// timeout, transactions idle for 2 s ended by the server.
    pub fn new(url: &str) -> PgConfig {
        PgConfig {
            url: url.to_owned(),
            schema: None,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            idle_in_transaction_timeout: Some(Duration::from_secs(2)),
        }
    }
}

/// The Postgres store. Cheap to clone: clones share the pool.
#[derive(Clone, Debug)]
pub struct PgRepo {
    write: PgPool,
    read: PgPool,
}

impl PgRepo {
    /// Connects to `url` with default settings and migrates.
    pub async fn connect(url: &str) -> StoreResult<PgRepo> {
        PgRepo::connect_with(&PgConfig::new(url)).await
    }

    /// Connects, creates the schema if one is configured (and points every
    /// connection's `search_path` at it), then applies pending migrations.
    pub async fn connect_with(config: &PgConfig) -> StoreResult<PgRepo> {
        let connect = |e| StoreError::Connect {
            backend: "postgres",
            source: Arc::new(e),
        };
        let mut options: PgConnectOptions = config.url.parse().map_err(connect)?;
        if let Some(idle) = config.idle_in_transaction_timeout {
            let ms = idle.as_millis().max(1).to_string();
            options = options.options([("idle_in_transaction_session_timeout", ms.as_str())]);
        }
        if let Some(schema) = &config.schema {
            if !is_plain_identifier(schema) {
                return Err(StoreError::Encode {
                    what: "schema name",
                    detail: format!("{schema:?} must be [a-z0-9_], starting with a letter"),
                });
            }
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await
                .map_err(connect)?;
            // The name was checked above: lowercase letters, digits and `_` only.
            let sql = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&admin)
                .await
                .map_err(StoreError::op("create_schema"))?;
            admin.close().await;
            options = options
                .options([("search_path", schema.as_str())])
                .application_name(schema);
        }
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(connect)?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration {
                backend: "postgres",
                source: Arc::new(e),
            })?;
        Ok(PgRepo {
            write: pool.clone(),
            read: pool,
        })
    }

    /// Drops `schema` and everything in it (test clean-up).
    pub async fn drop_schema(url: &str, schema: &str) -> StoreResult<()> {
        if !is_plain_identifier(schema) {
            return Err(StoreError::Encode {
                what: "schema name",
                detail: format!("{schema:?} must be [a-z0-9_], starting with a letter"),
            });
        }
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .map_err(|e| StoreError::Connect {
                backend: "postgres",
                source: Arc::new(e),
            })?;
        let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .map_err(StoreError::op("drop_schema"))?;
        pool.close().await;
        Ok(())
    }

    /// Closes the pool; later calls fail with a `Database` error.
    pub async fn close(&self) {
        self.write.close().await;
    }

    /// Inserts events in one statement: one array per column, `UNNEST`ed.
    async fn insert_events<'e, E>(&self, executor: E, events: &[EventRecord]) -> StoreResult<()>
    where
        E: sqlx::Executor<'e, Database = Postgres>,
    {
        let op = "append_events";
        let mut seqs = Vec::with_capacity(events.len());
        let mut hands = Vec::with_capacity(events.len());
        for e in events {
            seqs.push(to_i64("seq", e.seq)?);
            hands.push(to_i64("hand", e.hand)?);
        }
        let tables: Vec<&str> = events.iter().map(|e| e.table_id.as_str()).collect();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        let visibilities: Vec<&str> = events.iter().map(|e| e.visibility.as_str()).collect();
        let payloads: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
        sqlx::query(
            "INSERT INTO table_events (table_id, seq, hand, kind, visibility, payload) \
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[])",
        )
        .bind(tables)
        .bind(seqs)
        .bind(hands)
        .bind(kinds)
        .bind(visibilities)
        .bind(payloads)
        .execute(executor)
        .await
        .map_err(|err| {
            let id = format!("{}#{}", events[0].table_id, events[0].seq);
            StoreError::db(op, "event", &id, err)
        })?;
        Ok(())
    }
}

/// Whether `name` is safe to splice into SQL as an identifier.
fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

impl_repository!(PgRepo, Postgres, "postgres");
crate::cluster::impl_cluster!(
    PgRepo,
    Postgres,
    clock_ms = "(extract(epoch from clock_timestamp()) * 1000)::bigint",
    skip_locked = "FOR UPDATE OF l SKIP LOCKED"
);

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::cluster::{Claim, Cluster};
    use crate::model::{NodeRecord, TableRecord, TableStatus};
    use crate::repository::Repository;

    fn node(instance: &str) -> NodeRecord {
        NodeRecord {
            instance: instance.to_owned(),
            name: instance.to_owned(),
            address: format!("http://{instance}"),
            started_at_ms: 0,
            expires_at_ms: 0,
        }
    }

    /// A node that froze inside a fenced write (holding its lease row's
    /// lock) does not block a survivor's claim past the idle limit: the
    /// server ends the frozen session, the claim goes through, and the
    /// frozen write can no longer commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_frozen_transaction_releases_its_lease_lock() {
        let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
            let line = "a_frozen_transaction_releases_its_lease_lock: skipped: TEST_DATABASE_URL not set\n";
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
            return;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let schema = format!("frozen_{}_{nanos}", std::process::id());
        let mut config = PgConfig::new(&url);
        config.schema = Some(schema.clone());
        config.idle_in_transaction_timeout = Some(Duration::from_millis(500));
        let repo = PgRepo::connect_with(&config).await.expect("connect");
        let table = TableRecord {
            id: "t1".to_owned(),
            name: "t1".to_owned(),
            config: game_core::TableConfig::new(6, 1, 2),
            status: TableStatus::Running,
            created_at_ms: 0,
            settings: "{}".to_owned(),
            deal_key: game_core::DealKey::from_bytes([7; 32]),
        };
        repo.create_table(&table).await.expect("table");
        repo.register_node(&node("a1"), 60_000).await.expect("a1");
        assert_eq!(
            repo.claim_table("t1", "a1").await.expect("claim"),
            Claim::Claimed { epoch: 1 }
        );

        // a1 checks its fence (locking the lease row) and freezes.
        let mut frozen = repo.write.begin().await.expect("begin");
        sqlx::query("UPDATE table_leases SET epoch = epoch WHERE table_id = 't1' AND epoch = 1")
            .execute(&mut *frozen)
            .await
            .expect("fence check");
        // Its registration goes (as a lapse would), and b1 claims.
        repo.remove_node("a1").await.expect("remove a1");
        repo.register_node(&node("b1"), 60_000).await.expect("b1");
        let claim = tokio::time::timeout(Duration::from_secs(20), repo.claim_table("t1", "b1"))
            .await
            .expect("the claim does not wait for the frozen writer")
            .expect("claim");
        assert_eq!(claim, Claim::Claimed { epoch: 2 });
        assert!(frozen.commit().await.is_err(), "the frozen write cannot commit");
        repo.write.close().await;
        PgRepo::drop_schema(&url, &schema).await.expect("drop schema");
    }
}
