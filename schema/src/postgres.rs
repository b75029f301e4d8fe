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
}

impl PgConfig {
    /// Defaults for `url`: default schema, 8 connections, 10 s acquire timeout.
    pub fn new(url: &str) -> PgConfig {
        PgConfig {
            url: url.to_owned(),
            schema: None,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
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
