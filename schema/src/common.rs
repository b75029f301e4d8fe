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

            async fn create_player(&self, p: &$crate::model::PlayerRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO players (id, display_name, token_hash, created_at_ms, balance) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&p.id)
                .bind(&p.display_name)
                .bind(&p.token_hash)
                .bind(to_i64("created_at_ms", p.created_at_ms)?)
                .bind(to_i64("balance", p.balance)?)
                .execute(&self.write)
                .await
                .map_err(|e| StoreError::db("create_player", "player", &p.id, e))?;
                Ok(())
            }

            async fn player_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<PlayerRecord>> {
                let row = sqlx::query(
                    "SELECT id, display_name, token_hash, created_at_ms, balance FROM players WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.read)
                .await
                .map_err(StoreError::op("player_by_token_hash"))?;
                row.map(|r| player_row::<$db>(&r)).transpose()
            }

            async fn load_player(&self, id: &str) -> StoreResult<PlayerRecord> {
                let row = sqlx::query(
                    "SELECT id, display_name, token_hash, created_at_ms, balance FROM players WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.read)
                .await
                .map_err(StoreError::op("load_player"))?;
                match row {
                    Some(r) => player_row::<$db>(&r),
                    None => Err(StoreError::NotFound { kind: $crate::RowKind::Player, id: id.to_owned() }),
                }
            }

            async fn create_table(&self, t: &TableRecord) -> StoreResult<()> {
                let config = serde_json::to_string(&t.config).map_err(|e| StoreError::Encode {
                    what: "table config",
                    detail: e.to_string(),
                })?;
                sqlx::query(
                    "INSERT INTO poker_tables (id, name, config, status, created_at_ms, settings, deal_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&t.id)
                .bind(&t.name)
                .bind(config)
                .bind(t.status.name())
                .bind(to_i64("created_at_ms", t.created_at_ms)?)
                .bind(&t.settings)
                .bind(t.deal_key.to_hex())
                .execute(&self.write)
                .await
                .map_err(|e| StoreError::db("create_table", "table", &t.id, e))?;
                Ok(())
            }

            async fn load_table(&self, id: &str) -> StoreResult<TableRecord> {
                let row = sqlx::query(
                    "SELECT id, name, config, status, created_at_ms, settings, deal_key FROM poker_tables WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.read)
                .await
                .map_err(StoreError::op("load_table"))?;
                match row {
                    Some(r) => table_row::<$db>(&r),
                    None => Err(StoreError::NotFound { kind: $crate::RowKind::Table, id: id.to_owned() }),
                }
            }

            async fn list_tables(&self, status: Option<TableStatus>) -> StoreResult<Vec<TableRecord>> {
                let rows = sqlx::query(
                    "SELECT id, name, config, status, created_at_ms, settings, deal_key FROM poker_tables \
                     WHERE ($1 IS NULL OR status = $1) ORDER BY created_at_ms, id",
                )
                .bind(status.map(TableStatus::name))
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("list_tables"))?;
                rows.iter().map(|r| table_row::<$db>(r)).collect()
            }

            async fn list_tables_page(
                &self,
                after: Option<&str>,
                limit: u64,
                include_closed: bool,
            ) -> StoreResult<Vec<TableRecord>> {
                // Every id sorts after the empty string (ids are never empty),
                // so the first page is the same range query on the primary key.
                let rows = sqlx::query(
                    "SELECT id, name, config, status, created_at_ms, settings, deal_key FROM poker_tables \
                     WHERE id > $1 AND ($2 OR status <> 'closed') ORDER BY id LIMIT $3",
                )
                .bind(after.unwrap_or(""))
                .bind(include_closed)
                .bind(to_i64("limit", limit.min(i64::MAX as u64))?)
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("list_tables_page"))?;
                rows.iter().map(|r| table_row::<$db>(r)).collect()
            }

            async fn set_table_status(&self, id: &str, status: TableStatus) -> StoreResult<()> {
                let done = sqlx::query("UPDATE poker_tables SET status = $1 WHERE id = $2")
                    .bind(status.name())
                    .bind(id)
                    .execute(&self.write)
                    .await
                    .map_err(|e| StoreError::db("set_table_status", "table", id, e))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound { kind: $crate::RowKind::Table, id: id.to_owned() });
                }
                Ok(())
            }

            async fn append_fenced(
                &self,
                events: &[EventRecord],
                hands: &[HandRecord],
                fences: &[Fence],
            ) -> StoreResult<()> {
                if hands.is_empty() && fences.is_empty() {
                    if events.is_empty() {
                        return Ok(());
                    }
                    // One statement is its own transaction.
                    return self.insert_events(&self.write, events).await;
                }
                let mut tx = self.write.begin().await.map_err(StoreError::op("append_batch"))?;
                check_fences!(tx, fences, "append_batch");
                if !events.is_empty() {
                    self.insert_events(&mut *tx, events).await?;
                }
                for h in hands {
                    // A history rebuilt or written before (a resent batch) stays as it is.
                    sqlx::query(
                        "INSERT INTO hands (table_id, hand, seed, players, pots, winners, phh, first_seq, last_seq, ended_at_ms, reasons) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (table_id, hand) DO NOTHING",
                    )
                    .bind(&h.table_id)
                    .bind(to_i64("hand", h.hand)?)
                    .bind(h.seed.to_string())
                    .bind(&h.players)
                    .bind(&h.pots)
                    .bind(&h.winners)
                    .bind(&h.phh)
                    .bind(to_i64("first_seq", h.first_seq)?)
                    .bind(to_i64("last_seq", h.last_seq)?)
                    .bind(to_i64("ended_at_ms", h.ended_at_ms)?)
                    .bind(&h.reasons)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::db("append_batch", "hand", &format!("{}#{}", h.table_id, h.hand), e))?;
                }
                tx.commit().await.map_err(StoreError::op("append_batch"))?;
                Ok(())
            }

            async fn unrecorded_hands(&self, limit: u64) -> StoreResult<Vec<(String, u64)>> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT e.table_id, e.hand FROM table_events e \
                     WHERE e.kind = 'hand_ended' AND NOT EXISTS \
                       (SELECT 1 FROM hands h WHERE h.table_id = e.table_id AND h.hand = e.hand) \
                     ORDER BY e.table_id, e.hand LIMIT $1",
                )
                .bind(to_i64("limit", limit.min(i64::MAX as u64))?)
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("unrecorded_hands"))?;
                rows.into_iter()
                    .map(|(table, hand)| Ok((table, to_u64("hand", hand)?)))
                    .collect()
            }

            async fn events_since(&self, table_id: &str, after_seq: u64, limit: u64) -> StoreResult<Vec<EventRecord>> {
                let rows = sqlx::query(
                    "SELECT table_id, seq, hand, kind, visibility, payload FROM table_events \
                     WHERE table_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(table_id)
                .bind(to_i64("seq", after_seq)?)
                .bind(to_i64("limit", limit.min(i64::MAX as u64))?)
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("events_since"))?;
                rows.iter().map(|r| event_row::<$db>(r)).collect()
            }

            async fn last_seq(&self, table_id: &str) -> StoreResult<u64> {
                let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM table_events WHERE table_id = $1")
                    .bind(table_id)
                    .fetch_one(&self.write)
                    .await
                    .map_err(StoreError::op("last_seq"))?;
                to_u64("seq", seq.unwrap_or(0))
            }

            async fn save_snapshot(&self, s: &$crate::model::TableSnapshotRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO table_snapshots (table_id, seq, state, taken_at_ms) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (table_id) DO UPDATE SET seq = excluded.seq, state = excluded.state, \
                     taken_at_ms = excluded.taken_at_ms WHERE table_snapshots.seq < excluded.seq",
                )
                .bind(&s.table_id)
                .bind(to_i64("seq", s.seq)?)
                .bind(&s.state)
                .bind(to_i64("taken_at_ms", s.taken_at_ms)?)
                .execute(&self.write)
                .await
                .map_err(|e| StoreError::db("save_snapshot", "snapshot", &s.table_id, e))?;
                Ok(())
            }

            async fn latest_snapshot(&self, table_id: &str) -> StoreResult<Option<$crate::model::TableSnapshotRecord>> {
                let row = sqlx::query(
                    "SELECT table_id, seq, state, taken_at_ms FROM table_snapshots WHERE table_id = $1",
                )
                .bind(table_id)
                .fetch_optional(&self.read)
                .await
                .map_err(StoreError::op("latest_snapshot"))?;
                row.map(|r| snapshot_row::<$db>(&r)).transpose()
            }

            async fn record_hand(&self, h: &HandRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO hands (table_id, hand, seed, players, pots, winners, phh, first_seq, last_seq, ended_at_ms, reasons) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&h.table_id)
                .bind(to_i64("hand", h.hand)?)
                .bind(h.seed.to_string())
                .bind(&h.players)
                .bind(&h.pots)
                .bind(&h.winners)
                .bind(&h.phh)
                .bind(to_i64("first_seq", h.first_seq)?)
                .bind(to_i64("last_seq", h.last_seq)?)
                .bind(to_i64("ended_at_ms", h.ended_at_ms)?)
                .bind(&h.reasons)
                .execute(&self.write)
                .await
                .map_err(|e| StoreError::db("record_hand", "hand", &format!("{}#{}", h.table_id, h.hand), e))?;
                Ok(())
            }

            async fn load_hand(&self, table_id: &str, hand: u64) -> StoreResult<HandRecord> {
                let row = sqlx::query(
                    "SELECT table_id, hand, seed, players, pots, winners, phh, first_seq, last_seq, ended_at_ms, reasons \
                     FROM hands WHERE table_id = $1 AND hand = $2",
                )
                .bind(table_id)
                .bind(to_i64("hand", hand)?)
                .fetch_optional(&self.read)
                .await
                .map_err(StoreError::op("load_hand"))?;
                match row {
                    Some(r) => hand_row::<$db>(&r),
                    None => Err(StoreError::NotFound { kind: $crate::RowKind::Hand, id: format!("{table_id}#{hand}") }),
                }
            }

            async fn list_hands(&self, table_id: &str, after_hand: u64, limit: u64) -> StoreResult<Vec<HandRecord>> {
                let rows = sqlx::query(
                    "SELECT table_id, hand, seed, players, pots, winners, phh, first_seq, last_seq, ended_at_ms, reasons \
                     FROM hands WHERE table_id = $1 AND hand > $2 ORDER BY hand LIMIT $3",
                )
                .bind(table_id)
                .bind(to_i64("hand", after_hand)?)
                .bind(to_i64("limit", limit.min(i64::MAX as u64))?)
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("list_hands"))?;
                rows.iter().map(|r| hand_row::<$db>(r)).collect()
            }

            async fn add_chat(&self, m: &ChatMessage) -> StoreResult<u64> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO chat_messages (table_id, player_id, author, body, at_ms) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(&m.table_id)
                .bind(m.player_id.as_deref())
                .bind(&m.author)
                .bind(&m.body)
                .bind(to_i64("at_ms", m.at_ms)?)
                .fetch_one(&self.write)
                .await
                .map_err(|e| StoreError::db("add_chat", "chat message", &m.table_id, e))?;
                to_u64("chat id", id)
            }

            async fn recent_chat(&self, table_id: &str, limit: u64) -> StoreResult<Vec<ChatMessage>> {
                let rows = sqlx::query(
                    "SELECT id, table_id, player_id, author, body, at_ms FROM \
                     (SELECT * FROM chat_messages WHERE table_id = $1 ORDER BY id DESC LIMIT $2) AS last \
                     ORDER BY id",
                )
                .bind(table_id)
                .bind(to_i64("limit", limit.min(i64::MAX as u64))?)
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("recent_chat"))?;
                rows.iter().map(|r| chat_row::<$db>(r)).collect()
            }

            async fn record_usage(&self, rows: &[UsageRow]) -> StoreResult<()> {
                let mut tx = self.write.begin().await.map_err(StoreError::op("record_usage"))?;
                for u in rows {
                    sqlx::query(
                        "INSERT INTO llm_usage (at_ms, provider, model, lane, prompt_tokens, completion_tokens, \
                         cost_usd, latency_ms, queue_wait_ms, retries, rate_limited, outcome, http_status, \
                         table_id, hand, experiment_id) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                    )
                    .bind(to_i64("at_ms", u.at_ms)?)
                    .bind(&u.provider)
                    .bind(&u.model)
                    .bind(&u.lane)
                    .bind(to_i64("prompt_tokens", u.prompt_tokens)?)
                    .bind(to_i64("completion_tokens", u.completion_tokens)?)
                    .bind(u.cost_usd)
                    .bind(to_i64("latency_ms", u.latency_ms)?)
                    .bind(to_i64("queue_wait_ms", u.queue_wait_ms)?)
                    .bind(i64::from(u.retries))
                    .bind(i64::from(u.rate_limited))
                    .bind(&u.outcome)
                    .bind(u.http_status.map(i64::from))
                    .bind(u.table_id.as_deref())
                    .bind(u.hand.map(|h| to_i64("hand", h)).transpose()?)
                    .bind(u.experiment_id.as_deref())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::db("record_usage", "usage record", &u.model, e))?;
                }
                tx.commit().await.map_err(StoreError::op("record_usage"))
            }

            async fn list_usage(&self, q: &RecordQuery) -> StoreResult<Vec<UsageRow>> {
                let rows = sqlx::query(
                    "SELECT at_ms, provider, model, lane, prompt_tokens, completion_tokens, cost_usd, latency_ms, \
                     queue_wait_ms, retries, rate_limited, outcome, http_status, table_id, hand, experiment_id \
                     FROM llm_usage WHERE ($1 IS NULL OR table_id = $1) AND ($2 IS NULL OR experiment_id = $2) \
                     ORDER BY id LIMIT $3",
                )
                .bind(q.table_id.as_deref())
                .bind(q.experiment_id.as_deref())
                .bind(query_limit(q)?)
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("list_usage"))?;
                rows.iter().map(|r| usage_row::<$db>(r)).collect()
            }

            async fn usage_totals(&self, q: &RecordQuery) -> StoreResult<UsageTotals> {
                let row = sqlx::query(
                    "SELECT CAST(COUNT(*) AS BIGINT) AS calls, \
                     CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS prompt_tokens, \
                     CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS completion_tokens, \
                     CAST(COALESCE(SUM(cost_usd), 0.0) AS DOUBLE PRECISION) AS cost_usd \
                     FROM llm_usage WHERE ($1 IS NULL OR table_id = $1) AND ($2 IS NULL OR experiment_id = $2)",
                )
                .bind(q.table_id.as_deref())
                .bind(q.experiment_id.as_deref())
                .fetch_one(&self.read)
                .await
                .map_err(StoreError::op("usage_totals"))?;
                usage_totals_row::<$db>(&row)
            }

            async fn usage_by_model(&self, since_ms: Option<u64>) -> StoreResult<Vec<$crate::model::ModelUsage>> {
                let since = since_ms.map(|s| to_i64("since_ms", s)).transpose()?;
                let rows = sqlx::query(
                    "SELECT provider, model, CAST(COUNT(*) AS BIGINT) AS calls, \
                     CAST(COALESCE(SUM(CASE WHEN outcome IN ('ok', 'cached') THEN 0 ELSE 1 END), 0) AS BIGINT) AS failed, \
                     CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS prompt_tokens, \
                     CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS completion_tokens, \
                     CAST(COALESCE(SUM(cost_usd), 0.0) AS DOUBLE PRECISION) AS cost_usd, \
                     CAST(COALESCE(AVG(latency_ms), 0.0) AS DOUBLE PRECISION) AS mean_latency_ms, \
                     CAST(COALESCE(MAX(latency_ms), 0) AS BIGINT) AS max_latency_ms \
                     FROM llm_usage WHERE ($1 IS NULL OR at_ms >= $1) GROUP BY provider, model ORDER BY provider, model",
                )
                .bind(since)
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("usage_by_model"))?;
                rows.iter().map(|r| model_usage_row::<$db>(r)).collect()
            }

            async fn record_decisions(&self, rows: &[DecisionRow]) -> StoreResult<()> {
                let mut tx = self.write.begin().await.map_err(StoreError::op("record_decisions"))?;
                for d in rows {
                    insert_decision!(&mut *tx, d, "record_decisions");
                }
                tx.commit().await.map_err(StoreError::op("record_decisions"))
            }

            async fn list_decisions(&self, q: &RecordQuery) -> StoreResult<Vec<DecisionRow>> {
                let rows = sqlx::query(
                    "SELECT id, at_ms, table_id, hand, seat, experiment_id, source, prompt, raw_reply, \
                     parsed_action, fallback_reason, reason, model, steps FROM decisions \
                     WHERE ($1 IS NULL OR table_id = $1) AND ($2 IS NULL OR experiment_id = $2) \
                     ORDER BY id LIMIT $3",
                )
                .bind(q.table_id.as_deref())
                .bind(q.experiment_id.as_deref())
                .bind(query_limit(q)?)
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("list_decisions"))?;
                rows.iter().map(|r| decision_row::<$db>(r)).collect()
            }

            async fn set_capture_retention(&self, retention: Option<Duration>) -> StoreResult<()> {
                match retention {
                    Some(d) => {
                        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).min(i64::MAX as u64);
                        sqlx::query(
                            "INSERT INTO settings (key, value) VALUES ($1, $2) \
                             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        )
                        .bind(CAPTURE_RETENTION_KEY)
                        .bind(ms.to_string())
                        .execute(&self.write)
                        .await
                    }
                    None => {
                        sqlx::query("DELETE FROM settings WHERE key = $1")
                            .bind(CAPTURE_RETENTION_KEY)
                            .execute(&self.write)
                            .await
                    }
                }
                .map_err(StoreError::op("set_capture_retention"))?;
                Ok(())
            }

            async fn capture_retention(&self) -> StoreResult<Option<Duration>> {
                let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                    .bind(CAPTURE_RETENTION_KEY)
                    .fetch_optional(&self.read)
                    .await
                    .map_err(StoreError::op("capture_retention"))?;
                value
                    .map(|v| {
                        v.parse::<u64>().map(Duration::from_millis).map_err(|e| StoreError::Corrupt {
                            what: "capture retention",
                            detail: format!("{v:?}: {e}"),
                        })
                    })
                    .transpose()
            }

            async fn prune_captures(&self, now_ms: u64) -> StoreResult<u64> {
                let Some(retention) = self.capture_retention().await? else {
                    return Ok(0);
                };
                let keep_ms = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
                let cutoff = to_i64("cutoff", now_ms.saturating_sub(keep_ms))?;
                let done = sqlx::query(
                    "UPDATE decisions SET prompt = NULL, raw_reply = NULL \
                     WHERE at_ms < $1 AND (prompt IS NOT NULL OR raw_reply IS NOT NULL)",
                )
                .bind(cutoff)
                .execute(&self.write)
                .await
                .map_err(StoreError::op("prune_captures"))?;
                Ok(done.rows_affected())
            }

            async fn create_experiment(&self, x: &ExperimentRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO experiments (id, spec, status, hands_done, hands_total, results, created_at_ms, \
                     updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&x.id)
                .bind(&x.spec)
                .bind(x.status.name())
                .bind(to_i64("hands_done", x.hands_done)?)
                .bind(to_i64("hands_total", x.hands_total)?)
                .bind(x.results.as_deref())
                .bind(to_i64("created_at_ms", x.created_at_ms)?)
                .bind(to_i64("updated_at_ms", x.updated_at_ms)?)
                .execute(&self.write)
                .await
                .map_err(|e| StoreError::db("create_experiment", "experiment", &x.id, e))?;
                Ok(())
            }

            async fn load_experiment(&self, id: &str) -> StoreResult<ExperimentRecord> {
                let row = sqlx::query(
                    "SELECT id, spec, status, hands_done, hands_total, results, created_at_ms, updated_at_ms \
                     FROM experiments WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.read)
                .await
                .map_err(StoreError::op("load_experiment"))?;
                match row {
                    Some(r) => experiment_row::<$db>(&r),
                    None => Err(StoreError::NotFound { kind: $crate::RowKind::Experiment, id: id.to_owned() }),
                }
            }

            async fn list_experiments(&self) -> StoreResult<Vec<ExperimentRecord>> {
                let rows = sqlx::query(
                    "SELECT id, spec, status, hands_done, hands_total, results, created_at_ms, updated_at_ms \
                     FROM experiments ORDER BY created_at_ms, id",
                )
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("list_experiments"))?;
                rows.iter().map(|r| experiment_row::<$db>(r)).collect()
            }

            async fn update_experiment(
                &self,
                id: &str,
                status: ExperimentStatus,
                hands_done: u64,
                results: Option<&str>,
                now_ms: u64,
            ) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE experiments SET status = $1, hands_done = $2, results = COALESCE($3, results), \
                     updated_at_ms = $4 WHERE id = $5",
                )
                .bind(status.name())
                .bind(to_i64("hands_done", hands_done)?)
                .bind(results)
                .bind(to_i64("updated_at_ms", now_ms)?)
                .bind(id)
                .execute(&self.write)
                .await
                .map_err(|e| StoreError::db("update_experiment", "experiment", id, e))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound { kind: $crate::RowKind::Experiment, id: id.to_owned() });
                }
                Ok(())
            }

            async fn save_experiment_batch(&self, b: &ExperimentBatch) -> StoreResult<()> {
                let op = "save_experiment_batch";
                let mut tx = self.write.begin().await.map_err(StoreError::op(op))?;
                let done = sqlx::query(
                    "UPDATE experiments SET status = COALESCE($1, status), hands_done = $2, checkpoint = $3, \
                     results = COALESCE($4, results), updated_at_ms = $5 WHERE id = $6",
                )
                .bind(b.status.map(ExperimentStatus::name))
                .bind(to_i64("hands_done", b.hands_done)?)
                .bind(&b.checkpoint)
                .bind(b.results.as_deref())
                .bind(to_i64("updated_at_ms", b.now_ms)?)
                .bind(&b.id)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::db(op, "experiment", &b.id, e))?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound { kind: $crate::RowKind::Experiment, id: b.id.clone() });
                }
                // Multi-row inserts: 8 parameters a row, well under both backends' limits.
                for chunk in b.hands.chunks(500) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO experiment_hands (experiment_id, hand, deal, rotation, table_index, agents, nets, phh) ",
                    );
                    let mut rows = Vec::with_capacity(chunk.len());
                    for h in chunk {
                        rows.push((
                            h,
                            to_i64("hand", h.hand)?,
                            to_i64("deal", h.deal)?,
                            to_i64("rotation", h.rotation)?,
                            to_i64("table_index", h.table_index)?,
                        ));
                    }
                    insert.push_values(rows, |mut row, (h, hand, deal, rotation, table_index)| {
                        row.push_bind(h.experiment_id.clone())
                            .push_bind(hand)
                            .push_bind(deal)
                            .push_bind(rotation)
                            .push_bind(table_index)
                            .push_bind(h.agents.clone())
                            .push_bind(h.nets.clone())
                            .push_bind(h.phh.clone());
                    });
                    insert
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| StoreError::db(op, "experiment hand", &b.id, e))?;
                }
                for d in &b.decisions {
                    insert_decision!(&mut *tx, d, op);
                }
                tx.commit().await.map_err(StoreError::op(op))
            }

            async fn experiment_checkpoint(&self, id: &str) -> StoreResult<Option<String>> {
                let row = sqlx::query("SELECT checkpoint FROM experiments WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.read)
                    .await
                    .map_err(StoreError::op("experiment_checkpoint"))?;
                match row {
                    Some(r) => sqlx::Row::try_get::<Option<String>, _>(&r, "checkpoint").map_err(|e| StoreError::Corrupt {
                        what: "checkpoint",
                        detail: e.to_string(),
                    }),
                    None => Err(StoreError::NotFound { kind: $crate::RowKind::Experiment, id: id.to_owned() }),
                }
            }

            async fn experiment_hands(&self, id: &str, from_hand: u64, limit: u64) -> StoreResult<Vec<ExperimentHandRow>> {
                let rows = sqlx::query(
                    "SELECT experiment_id, hand, deal, rotation, table_index, agents, nets, phh \
                     FROM experiment_hands WHERE experiment_id = $1 AND hand >= $2 ORDER BY hand LIMIT $3",
                )
                .bind(id)
                .bind(to_i64("from_hand", from_hand)?)
                .bind(to_i64("limit", limit.min(i64::MAX as u64))?)
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("experiment_hands"))?;
                rows.iter().map(|r| experiment_hand_row::<$db>(r)).collect()
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
                let op = "reserve_buy_in";
                let needed = to_i64("amount", amount)?;
                let mut tx = self.write.begin().await.map_err(StoreError::op(op))?;
                check_fences!(tx, fence, op);
                // The balance check and the debit are one statement, so two
                // concurrent buy-ins can never both spend the same chips.
                let debited = sqlx::query("UPDATE players SET balance = balance - $1 WHERE id = $2 AND balance >= $1")
                    .bind(needed)
                    .bind(player_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::op(op))?;
                if debited.rows_affected() == 0 {
                    let balance: Option<i64> = sqlx::query_scalar("SELECT balance FROM players WHERE id = $1")
                        .bind(player_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(StoreError::op(op))?;
                    return Err(match balance {
                        None => StoreError::NotFound { kind: $crate::RowKind::Player, id: player_id.to_owned() },
                        Some(b) => StoreError::InsufficientBalance {
                            player: player_id.to_owned(),
                            balance: to_u64("balance", b)?,
                            needed: amount,
                        },
                    });
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO buy_ins (player_id, table_id, seat, amount, after_seq, created_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(player_id)
                .bind(table_id)
                .bind(to_i64("seat", seat)?)
                .bind(needed)
                .bind(to_i64("after_seq", after_seq)?)
                .bind(to_i64("created_at_ms", now_ms)?)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| StoreError::db(op, "buy-in", table_id, e))?;
                tx.commit().await.map_err(StoreError::op(op))?;
                Ok(PendingBuyIn {
                    id: to_u64("buy-in id", id)?,
                    player_id: player_id.to_owned(),
                    table_id: table_id.to_owned(),
                    seat,
                    amount,
                    after_seq,
                    created_at_ms: now_ms,
                })
            }

            async fn confirm_buy_in_fenced(&self, id: u64, fence: Option<&Fence>) -> StoreResult<bool> {
                let op = "confirm_buy_in";
                let mut tx = self.write.begin().await.map_err(StoreError::op(op))?;
                check_fences!(tx, fence, op);
                let done = sqlx::query("DELETE FROM buy_ins WHERE id = $1")
                    .bind(to_i64("buy-in id", id)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::op(op))?;
                tx.commit().await.map_err(StoreError::op(op))?;
                Ok(done.rows_affected() > 0)
            }

            async fn refund_buy_in_fenced(&self, id: u64, fence: Option<&Fence>) -> StoreResult<bool> {
                let op = "refund_buy_in";
                let mut tx = self.write.begin().await.map_err(StoreError::op(op))?;
                check_fences!(tx, fence, op);
                // Whoever deletes the row credits it: a second refund (or a
                // concurrent one, which waits on the row) finds nothing to delete.
                let row: Option<(String, i64)> =
                    sqlx::query_as("DELETE FROM buy_ins WHERE id = $1 RETURNING player_id, amount")
                        .bind(to_i64("buy-in id", id)?)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(StoreError::op(op))?;
                let Some((player_id, amount)) = row else {
                    return Ok(false);
                };
                <$repo>::credit_in(&mut tx, op, &player_id, to_u64("amount", amount)?).await?;
                tx.commit().await.map_err(StoreError::op(op))?;
                Ok(true)
            }

            async fn pending_buy_ins(&self, table_id: &str) -> StoreResult<Vec<PendingBuyIn>> {
                let rows = sqlx::query(
                    "SELECT id, player_id, table_id, seat, amount, after_seq, created_at_ms FROM buy_ins \
                     WHERE table_id = $1 ORDER BY id",
                )
                .bind(table_id)
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::op("pending_buy_ins"))?;
                rows.iter().map(|r| buy_in_row::<$db>(r)).collect()
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
                let op = "cash_out";
                let mut tx = self.write.begin().await.map_err(StoreError::op(op))?;
                check_fences!(tx, fence, op);
                // The row is the receipt: only the call that inserts it credits.
                let recorded = sqlx::query(
                    "INSERT INTO cash_outs (table_id, seq, player_id, amount, at_ms) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (table_id, seq) DO NOTHING",
                )
                .bind(table_id)
                .bind(to_i64("seq", seq)?)
                .bind(player_id)
                .bind(to_i64("amount", amount)?)
                .bind(to_i64("at_ms", now_ms)?)
                .execute(&mut *tx)
                .await
                .map_err(|e| match StoreError::db(op, "cash-out", &format!("{table_id}#{seq}"), e) {
                    // The player is the only row a cash-out refers to.
                    StoreError::MissingReference { .. } => {
                        StoreError::NotFound { kind: $crate::RowKind::Player, id: player_id.to_owned() }
                    }
                    other => other,
                })?;
                if recorded.rows_affected() == 0 {
                    return Ok(false);
                }
                <$repo>::credit_in(&mut tx, op, player_id, amount).await?;
                tx.commit().await.map_err(StoreError::op(op))?;
                Ok(true)
            }

            async fn credit_balance(&self, player_id: &str, amount: u64) -> StoreResult<u64> {
                let op = "credit_balance";
                let mut tx = self.write.begin().await.map_err(StoreError::op(op))?;
                let balance = <$repo>::credit_in(&mut tx, op, player_id, amount).await?;
                tx.commit().await.map_err(StoreError::op(op))?;
                Ok(balance)
            }
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
