//! Balances, buy-ins and cash-outs. Chips move between a balance, a pending
//! buy-in and a table's log exactly once each: every check comes before the
//! first change, so an operation that fails moves nothing.

use super::{Store, fits, missing};
use crate::error::StoreError;
use crate::model::PendingBuyIn;
use crate::repository::StoreResult;

/// The largest balance a signed 64-bit column holds.
const MAX_BALANCE: u64 = i64::MAX as u64;

impl Store {
    /// The balance `player_id` would have after a credit of `amount`:
    /// `NotFound` for an unknown player, `Encode` if it would not fit.
    fn credited(&self, player_id: &str, amount: u64) -> StoreResult<u64> {
        fits("amount", amount)?;
        let balance = self.player(player_id)?.balance;
        match balance.checked_add(amount) {
            Some(sum) if sum <= MAX_BALANCE => Ok(sum),
            _ => Err(StoreError::Encode {
                what: "balance",
                detail: format!("{balance} + {amount} does not fit a signed 64-bit column"),
            }),
        }
    }

    /// Sets a balance computed by [`Store::credited`] (the player exists).
    fn set_balance(&mut self, player_id: &str, balance: u64) {
        if let Some(p) = self.players.get_mut(player_id) {
            p.balance = balance;
        }
    }

    pub(super) fn reserve_buy_in(
        &mut self,
        player_id: &str,
        table_id: &str,
        seat: u64,
        amount: u64,
        after_seq: u64,
        now_ms: u64,
    ) -> StoreResult<PendingBuyIn> {
        fits("amount", amount)?;
        let balance = self.player(player_id)?.balance;
        if balance < amount {
            return Err(StoreError::InsufficientBalance {
                player: player_id.to_owned(),
                balance,
                needed: amount,
            });
        }
        fits("seat", seat)?;
        fits("after_seq", after_seq)?;
        fits("created_at_ms", now_ms)?;
        if !self.tables.contains_key(table_id) {
            return Err(missing("buy-in", "table", table_id));
        }
        self.set_balance(player_id, balance - amount);
        self.last_buy_in_id += 1;
        let buy_in = PendingBuyIn {
            id: self.last_buy_in_id,
            player_id: player_id.to_owned(),
            table_id: table_id.to_owned(),
            seat,
            amount,
            after_seq,
            created_at_ms: now_ms,
        };
        self.buy_ins.insert(buy_in.id, buy_in.clone());
        Ok(buy_in)
    }

    pub(super) fn confirm_buy_in(&mut self, id: u64) -> StoreResult<bool> {
        fits("buy-in id", id)?;
        Ok(self.buy_ins.remove(&id).is_some())
    }

    pub(super) fn refund_buy_in(&mut self, id: u64) -> StoreResult<bool> {
        fits("buy-in id", id)?;
        let Some(buy_in) = self.buy_ins.get(&id) else {
            return Ok(false);
        };
        let player = buy_in.player_id.clone();
        let balance = self.credited(&player, buy_in.amount)?;
        self.buy_ins.remove(&id);
        self.set_balance(&player, balance);
        Ok(true)
    }

    pub(super) fn pending_buy_ins(&self, table_id: &str) -> StoreResult<Vec<PendingBuyIn>> {
        Ok(self
            .buy_ins
            .values()
            .filter(|b| b.table_id == table_id)
            .cloned()
            .collect())
    }

    pub(super) fn cash_out(
        &mut self,
        table_id: &str,
        seq: u64,
        player_id: &str,
        amount: u64,
        now_ms: u64,
    ) -> StoreResult<bool> {
        fits("seq", seq)?;
        fits("amount", amount)?;
        fits("at_ms", now_ms)?;
        // The receipt: a `SeatLeft` already paid pays nothing, whatever it claims.
        let key = (table_id.to_owned(), seq);
        if self.cash_outs.contains(&key) {
            return Ok(false);
        }
        let balance = self.credited(player_id, amount)?;
        self.cash_outs.insert(key);
        self.set_balance(player_id, balance);
        Ok(true)
    }

    pub(super) fn credit_balance(&mut self, player_id: &str, amount: u64) -> StoreResult<u64> {
        let balance = self.credited(player_id, amount)?;
        self.set_balance(player_id, balance);
        Ok(balance)
    }
}
