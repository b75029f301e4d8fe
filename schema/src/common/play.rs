//! `Repository` methods both SQL backends share: players, tables, event logs, snapshots, hand histories and chat.
//! Expanded inside `impl Repository` by [`impl_repository`](super::impl_repository),
//! where the backend's imports resolve the names used here.

/// Expands the methods; `$db` is the sqlx database type.
macro_rules! play_methods {
    ($db:ty) => {
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
    };
}

pub(crate) use play_methods;
