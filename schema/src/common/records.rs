//! `Repository` methods both SQL backends share: lLM usage, captured decisions and their retention, experiments.
//! Expanded inside `impl Repository` by [`impl_repository`](super::impl_repository),
//! where the backend's imports resolve the names used here.

/// Expands the methods; `$db` is the sqlx database type.
macro_rules! record_methods {
    ($db:ty) => {
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
    };
}

pub(crate) use record_methods;
