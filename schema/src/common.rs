//! The SQL both backends share. SQLite and Postgres both accept `$N`
//! placeholders, `RETURNING` and `ON CONFLICT`, so everything but the bulk
//! event insert is written once here and expanded for each backend.

/// Inserts one captured decision inside a transaction (`$tx`: `&mut *tx`).
macro_rules! insert_decision {
    ($tx:expr, $d:expr, $op:expr) => {{
        let d: &DecisionRow = $d;
        sqlx::query(
            "INSERT INTO decisions (at_ms, table_id, hand, seat, experiment_id, source, prompt, \
             raw_reply, parsed_action, fallback_reason, reason, model, steps) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(to_i64("at_ms", d.at_ms)?)
        .bind(d.table_id.as_deref())
        .bind(d.hand.map(|h| to_i64("hand", h)).transpose()?)
        .bind(to_i64("seat", d.seat)?)
        .bind(d.experiment_id.as_deref())
        .bind(&d.source)
        .bind(d.prompt.as_deref())
        .bind(d.raw_reply.as_deref())
        .bind(d.parsed_action.as_deref())
        .bind(d.fallback_reason.as_deref())
        .bind(d.reason.as_deref())
        .bind(d.model.as_deref())
        .bind(d.steps.as_deref())
        .execute($tx)
        .await
        .map_err(|e| StoreError::db($op, "decision", &d.source, e))?;
    }};
}

/// Checks fences inside a transaction (`$tx`: a `Transaction`): each lease
/// must still be at its fence's epoch. The no-op `UPDATE` takes the lease
/// row's lock until the transaction ends, so a claim (which bumps the
/// epoch) waits for this write to commit or roll back. Fences are checked in
/// table order, so two writers never wait on each other's rows in a circle.
macro_rules! check_fences {
    ($tx:expr, $fences:expr, $op:expr) => {{
        let mut fences: Vec<&Fence> = $fences.into_iter().collect();
        fences.sort_by(|a, b| a.table_id.cmp(&b.table_id));
        fences.dedup();
        for f in fences {
            let held =
                sqlx::query("UPDATE table_leases SET epoch = epoch WHERE table_id = $1 AND epoch = $2")
                    .bind(&f.table_id)
                    .bind(to_i64("epoch", f.epoch)?)
                    .execute(&mut *$tx)
                    .await
                    .map_err(StoreError::op($op))?;
            if held.rows_affected() == 0 {
                return Err(StoreError::Fenced {
                    table_id: f.table_id.clone(),
                    epoch: f.epoch,
                });
            }
        }
    }};
}

/// Expands `impl Repository for $repo` over a backend whose struct has a
/// `read` and a `write` pool and an inherent `insert_events` method, plus the
/// private helpers those methods share (`credit_in`).
macro_rules! impl_repository {
    ($repo:ty, $db:ty, $backend:literal) => {
        impl $crate::repository::Repository for $repo {
            fn backend(&self) -> &'static str {
                $backend
            }

            $crate::common::play::play_methods!($db);
            $crate::common::records::record_methods!($db);
            $crate::common::money::money_methods!($db);
        }

        impl $repo {
            /// Adds `amount` to a player's balance inside `tx` and returns the
            /// new balance: `NotFound` for an unknown player, `Encode` (and no
            /// change) if the sum would not fit the column.
            async fn credit_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                op: &'static str,
                player_id: &str,
                amount: u64,
            ) -> StoreResult<u64> {
                let add = to_i64("amount", amount)?;
                let credited: Option<i64> = sqlx::query_scalar(
                    "UPDATE players SET balance = balance + $1 WHERE id = $2 AND balance <= $3 RETURNING balance",
                )
                .bind(add)
                .bind(player_id)
                .bind(i64::MAX - add)
                .fetch_optional(&mut **tx)
                .await
                .map_err(StoreError::op(op))?;
                if let Some(balance) = credited {
                    return to_u64("balance", balance);
                }
                let balance: Option<i64> = sqlx::query_scalar("SELECT balance FROM players WHERE id = $1")
                    .bind(player_id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(StoreError::op(op))?;
                Err(match balance {
                    None => StoreError::NotFound { kind: $crate::RowKind::Player, id: player_id.to_owned() },
                    Some(b) => StoreError::Encode {
                        what: "balance",
                        detail: format!("{b} + {amount} does not fit a signed 64-bit column"),
                    },
                })
            }
        }
    };
}

pub(crate) mod money;
pub(crate) mod play;
pub(crate) mod records;

pub(crate) use check_fences;
pub(crate) use impl_repository;
pub(crate) use insert_decision;

use game_core::DealKey;
use sqlx::{ColumnIndex, Database, Decode, Row, Type};

use crate::error::StoreError;
use crate::model::{
    ChatMessage, DecisionRow, EventRecord, ExperimentHandRow, ExperimentRecord, ExperimentStatus, HandRecord,
    PendingBuyIn, PlayerRecord, RecordQuery, TableRecord, TableStatus, UsageRow, UsageTotals, to_i64, to_u64,
};

/// The settings key holding the capture retention in milliseconds.
pub(crate) const CAPTURE_RETENTION_KEY: &str = "capture_retention_ms";

/// The row limit of a query (`None`: all rows).
pub(crate) fn query_limit(q: &RecordQuery) -> Result<i64, StoreError> {
    to_i64("limit", q.limit.unwrap_or(i64::MAX as u64).min(i64::MAX as u64))
}

/// Reads one column, naming it in the error.
fn get<'r, DB, T>(row: &'r DB::Row, column: &'static str) -> Result<T, StoreError>
where
    DB: Database,
    T: Decode<'r, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    row.try_get(column).map_err(|e| StoreError::Corrupt {
        what: column,
        detail: e.to_string(),
    })
}

/// Reads a non-negative integer column.
fn get_u64<'r, DB>(row: &'r DB::Row, column: &'static str) -> Result<u64, StoreError>
where
    DB: Database,
    i64: Decode<'r, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    to_u64(column, get::<DB, i64>(row, column)?)
}

/// Reads a nullable non-negative integer column.
fn get_opt_u64<'r, DB>(row: &'r DB::Row, column: &'static str) -> Result<Option<u64>, StoreError>
where
    DB: Database,
    Option<i64>: Decode<'r, DB> + Type<DB>,
    i64: Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    get::<DB, Option<i64>>(row, column)?
        .map(|v| to_u64(column, v))
        .transpose()
}

macro_rules! row_fn {
    ($name:ident -> $out:ty, |$row:ident| $body:block) => {
        /// Decodes one row.
        pub(crate) fn $name<DB>($row: &DB::Row) -> Result<$out, StoreError>
        where
            DB: Database,
            for<'r> i64: Decode<'r, DB> + Type<DB>,
            for<'r> Option<i64>: Decode<'r, DB> + Type<DB>,
            for<'r> String: Decode<'r, DB> + Type<DB>,
            for<'r> Option<String>: Decode<'r, DB> + Type<DB>,
            for<'r> f64: Decode<'r, DB> + Type<DB>,
            &'static str: ColumnIndex<DB::Row>,
        $body
    };
}

row_fn!(experiment_hand_row -> ExperimentHandRow, |row| {
    Ok(ExperimentHandRow {
        experiment_id: get::<DB, String>(row, "experiment_id")?,
        hand: get_u64::<DB>(row, "hand")?,
        deal: get_u64::<DB>(row, "deal")?,
        rotation: get_u64::<DB>(row, "rotation")?,
        table_index: get_u64::<DB>(row, "table_index")?,
        agents: get::<DB, String>(row, "agents")?,
        nets: get::<DB, String>(row, "nets")?,
        phh: get::<DB, Option<String>>(row, "phh")?,
    })
});

row_fn!(player_row -> PlayerRecord, |row| {
    Ok(PlayerRecord {
        id: get::<DB, String>(row, "id")?,
        display_name: get::<DB, String>(row, "display_name")?,
        token_hash: get::<DB, String>(row, "token_hash")?,
        created_at_ms: get_u64::<DB>(row, "created_at_ms")?,
        balance: get_u64::<DB>(row, "balance")?,
    })
});

row_fn!(table_row -> TableRecord, |row| {
    let config: String = get::<DB, String>(row, "config")?;
    Ok(TableRecord {
        id: get::<DB, String>(row, "id")?,
        name: get::<DB, String>(row, "name")?,
        config: serde_json::from_str(&config).map_err(|e| StoreError::Corrupt {
            what: "table config",
            detail: e.to_string(),
        })?,
        status: TableStatus::parse(&get::<DB, String>(row, "status")?)?,
        created_at_ms: get_u64::<DB>(row, "created_at_ms")?,
        settings: get::<DB, String>(row, "settings")?,
        deal_key: {
            let hex = get::<DB, String>(row, "deal_key")?;
            DealKey::from_hex(&hex).ok_or_else(|| StoreError::Corrupt {
                what: "table deal key",
                detail: format!("{} hex characters, not 64 hex digits", hex.len()),
            })?
        },
    })
});

row_fn!(buy_in_row -> PendingBuyIn, |row| {
    Ok(PendingBuyIn {
        id: get_u64::<DB>(row, "id")?,
        player_id: get::<DB, String>(row, "player_id")?,
        table_id: get::<DB, String>(row, "table_id")?,
        seat: get_u64::<DB>(row, "seat")?,
        amount: get_u64::<DB>(row, "amount")?,
        after_seq: get_u64::<DB>(row, "after_seq")?,
        created_at_ms: get_u64::<DB>(row, "created_at_ms")?,
    })
});

row_fn!(event_row -> EventRecord, |row| {
    Ok(EventRecord {
        table_id: get::<DB, String>(row, "table_id")?,
        seq: get_u64::<DB>(row, "seq")?,
        hand: get_u64::<DB>(row, "hand")?,
        kind: get::<DB, String>(row, "kind")?,
        visibility: get::<DB, String>(row, "visibility")?,
        payload: get::<DB, String>(row, "payload")?,
    })
});

row_fn!(hand_row -> HandRecord, |row| {
    let seed: String = get::<DB, String>(row, "seed")?;
    Ok(HandRecord {
        table_id: get::<DB, String>(row, "table_id")?,
        hand: get_u64::<DB>(row, "hand")?,
        seed: seed.parse().map_err(|e| StoreError::Corrupt {
            what: "hand seed",
            detail: format!("{seed:?}: {e}"),
        })?,
        players: get::<DB, String>(row, "players")?,
        pots: get::<DB, String>(row, "pots")?,
        winners: get::<DB, String>(row, "winners")?,
        phh: get::<DB, String>(row, "phh")?,
        first_seq: get_u64::<DB>(row, "first_seq")?,
        last_seq: get_u64::<DB>(row, "last_seq")?,
        ended_at_ms: get_u64::<DB>(row, "ended_at_ms")?,
        reasons: get::<DB, String>(row, "reasons")?,
    })
});

row_fn!(chat_row -> ChatMessage, |row| {
    Ok(ChatMessage {
        id: get_u64::<DB>(row, "id")?,
        table_id: get::<DB, String>(row, "table_id")?,
        player_id: get::<DB, Option<String>>(row, "player_id")?,
        author: get::<DB, String>(row, "author")?,
        body: get::<DB, String>(row, "body")?,
        at_ms: get_u64::<DB>(row, "at_ms")?,
    })
});

row_fn!(usage_row -> UsageRow, |row| {
    let small = |column: &'static str, v: u64| {
        u32::try_from(v).map_err(|_| StoreError::Corrupt { what: column, detail: format!("{v} too large") })
    };
    let status = get_opt_u64::<DB>(row, "http_status")?
        .map(|s| u16::try_from(s).map_err(|_| StoreError::Corrupt { what: "http_status", detail: s.to_string() }))
        .transpose()?;
    Ok(UsageRow {
        at_ms: get_u64::<DB>(row, "at_ms")?,
        provider: get::<DB, String>(row, "provider")?,
        model: get::<DB, String>(row, "model")?,
        lane: get::<DB, String>(row, "lane")?,
        prompt_tokens: get_u64::<DB>(row, "prompt_tokens")?,
        completion_tokens: get_u64::<DB>(row, "completion_tokens")?,
        cost_usd: get::<DB, f64>(row, "cost_usd")?,
        latency_ms: get_u64::<DB>(row, "latency_ms")?,
        queue_wait_ms: get_u64::<DB>(row, "queue_wait_ms")?,
        retries: small("retries", get_u64::<DB>(row, "retries")?)?,
        rate_limited: small("rate_limited", get_u64::<DB>(row, "rate_limited")?)?,
        outcome: get::<DB, String>(row, "outcome")?,
        http_status: status,
        table_id: get::<DB, Option<String>>(row, "table_id")?,
        hand: get_opt_u64::<DB>(row, "hand")?,
        experiment_id: get::<DB, Option<String>>(row, "experiment_id")?,
    })
});

row_fn!(snapshot_row -> crate::model::TableSnapshotRecord, |row| {
    Ok(crate::model::TableSnapshotRecord {
        table_id: get::<DB, String>(row, "table_id")?,
        seq: get_u64::<DB>(row, "seq")?,
        state: get::<DB, String>(row, "state")?,
        taken_at_ms: get_u64::<DB>(row, "taken_at_ms")?,
    })
});

row_fn!(model_usage_row -> crate::model::ModelUsage, |row| {
    Ok(crate::model::ModelUsage {
        provider: get::<DB, String>(row, "provider")?,
        model: get::<DB, String>(row, "model")?,
        calls: get_u64::<DB>(row, "calls")?,
        failed: get_u64::<DB>(row, "failed")?,
        prompt_tokens: get_u64::<DB>(row, "prompt_tokens")?,
        completion_tokens: get_u64::<DB>(row, "completion_tokens")?,
        cost_usd: get::<DB, f64>(row, "cost_usd")?,
        mean_latency_ms: get::<DB, f64>(row, "mean_latency_ms")?,
        max_latency_ms: get_u64::<DB>(row, "max_latency_ms")?,
    })
});

row_fn!(usage_totals_row -> UsageTotals, |row| {
    Ok(UsageTotals {
        calls: get_u64::<DB>(row, "calls")?,
        prompt_tokens: get_u64::<DB>(row, "prompt_tokens")?,
        completion_tokens: get_u64::<DB>(row, "completion_tokens")?,
        cost_usd: get::<DB, f64>(row, "cost_usd")?,
    })
});

row_fn!(decision_row -> DecisionRow, |row| {
    Ok(DecisionRow {
        id: get_u64::<DB>(row, "id")?,
        at_ms: get_u64::<DB>(row, "at_ms")?,
        table_id: get::<DB, Option<String>>(row, "table_id")?,
        hand: get_opt_u64::<DB>(row, "hand")?,
        seat: get_u64::<DB>(row, "seat")?,
        experiment_id: get::<DB, Option<String>>(row, "experiment_id")?,
        source: get::<DB, String>(row, "source")?,
        prompt: get::<DB, Option<String>>(row, "prompt")?,
        raw_reply: get::<DB, Option<String>>(row, "raw_reply")?,
        parsed_action: get::<DB, Option<String>>(row, "parsed_action")?,
        fallback_reason: get::<DB, Option<String>>(row, "fallback_reason")?,
        reason: get::<DB, Option<String>>(row, "reason")?,
        model: get::<DB, Option<String>>(row, "model")?,
        steps: get::<DB, Option<String>>(row, "steps")?,
    })
});

row_fn!(experiment_row -> ExperimentRecord, |row| {
    Ok(ExperimentRecord {
        id: get::<DB, String>(row, "id")?,
        spec: get::<DB, String>(row, "spec")?,
        status: ExperimentStatus::parse(&get::<DB, String>(row, "status")?)?,
        hands_done: get_u64::<DB>(row, "hands_done")?,
        hands_total: get_u64::<DB>(row, "hands_total")?,
        results: get::<DB, Option<String>>(row, "results")?,
        created_at_ms: get_u64::<DB>(row, "created_at_ms")?,
        updated_at_ms: get_u64::<DB>(row, "updated_at_ms")?,
    })
});
