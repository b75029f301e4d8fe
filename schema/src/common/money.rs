//! `Repository` methods both SQL backends share: buy-ins, cash-outs and balances: every move fenced when a fence is given, each in one transaction.
//! Expanded inside `impl Repository` by [`impl_repository`](super::impl_repository),
//! where the backend's imports resolve the names used here.

/// Expands the methods; `$db` is the sqlx database type.
macro_rules! money_methods {
    ($db:ty) => {
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
            let debited =
                sqlx::query("UPDATE players SET balance = balance - $1 WHERE id = $2 AND balance >= $1")
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
                    None => StoreError::NotFound {
                        kind: $crate::RowKind::Player,
                        id: player_id.to_owned(),
                    },
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
            Self::credit_in(&mut tx, op, &player_id, to_u64("amount", amount)?).await?;
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
            .map_err(
                |e| match StoreError::db(op, "cash-out", &format!("{table_id}#{seq}"), e) {
                    // The player is the only row a cash-out refers to.
                    StoreError::MissingReference { .. } => StoreError::NotFound {
                        kind: $crate::RowKind::Player,
                        id: player_id.to_owned(),
                    },
                    other => other,
                },
            )?;
            if recorded.rows_affected() == 0 {
                return Ok(false);
            }
            Self::credit_in(&mut tx, op, player_id, amount).await?;
            tx.commit().await.map_err(StoreError::op(op))?;
            Ok(true)
        }

        async fn credit_balance(&self, player_id: &str, amount: u64) -> StoreResult<u64> {
            let op = "credit_balance";
            let mut tx = self.write.begin().await.map_err(StoreError::op(op))?;
            let balance = Self::credit_in(&mut tx, op, player_id, amount).await?;
            tx.commit().await.map_err(StoreError::op(op))?;
            Ok(balance)
        }
    };
}

pub(crate) use money_methods;
