//! Players, tables, event logs, snapshots, hand histories and chat.

use std::collections::HashSet;
use std::ops::Bound;

use super::{Store, duplicate, fits, missing, take};
use crate::error::{RowKind, StoreError};
use crate::model::{
    ChatMessage, EventRecord, HandRecord, PlayerRecord, TableRecord, TableSnapshotRecord, TableStatus,
};
use crate::repository::StoreResult;

/// The `kind` of the event that ends a hand.
const HAND_ENDED: &str = "hand_ended";

impl Store {
    pub(super) fn create_player(&mut self, p: &PlayerRecord) -> StoreResult<()> {
        fits("created_at_ms", p.created_at_ms)?;
        fits("balance", p.balance)?;
        if self.players.contains_key(&p.id) || self.token_hashes.contains_key(&p.token_hash) {
            return Err(duplicate("player", &p.id));
        }
        self.token_hashes.insert(p.token_hash.clone(), p.id.clone());
        self.players.insert(p.id.clone(), p.clone());
        Ok(())
    }

    pub(super) fn player_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<PlayerRecord>> {
        Ok(self
            .token_hashes
            .get(token_hash)
            .and_then(|id| self.players.get(id))
            .cloned())
    }

    pub(super) fn load_player(&self, id: &str) -> StoreResult<PlayerRecord> {
        self.player(id).cloned()
    }

    /// A player, or `NotFound`.
    pub(super) fn player(&self, id: &str) -> StoreResult<&PlayerRecord> {
        self.players.get(id).ok_or_else(|| StoreError::NotFound {
            kind: RowKind::Player,
            id: id.to_owned(),
        })
    }

    pub(super) fn create_table(&mut self, t: &TableRecord) -> StoreResult<()> {
        fits("created_at_ms", t.created_at_ms)?;
        if self.tables.contains_key(&t.id) {
            return Err(duplicate("table", &t.id));
        }
        self.tables.insert(t.id.clone(), t.clone());
        Ok(())
    }

    pub(super) fn load_table(&self, id: &str) -> StoreResult<TableRecord> {
        self.tables.get(id).cloned().ok_or_else(|| StoreError::NotFound {
            kind: RowKind::Table,
            id: id.to_owned(),
        })
    }

    pub(super) fn list_tables(&self, status: Option<TableStatus>) -> StoreResult<Vec<TableRecord>> {
        let mut tables: Vec<TableRecord> = self
            .tables
            .values()
            .filter(|t| status.is_none_or(|s| t.status == s))
            .cloned()
            .collect();
        tables.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(tables)
    }

    pub(super) fn list_tables_page(
        &self,
        after: Option<&str>,
        limit: u64,
        include_closed: bool,
    ) -> StoreResult<Vec<TableRecord>> {
        // Like the SQL: every id sorts after the empty string.
        let after = after.unwrap_or("");
        Ok(self
            .tables
            .range::<str, _>((Bound::Excluded(after), Bound::Unbounded))
            .map(|(_, t)| t)
            .filter(|t| include_closed || t.status != TableStatus::Closed)
            .take(take(limit))
            .cloned()
            .collect())
    }

    pub(super) fn set_table_status(&mut self, id: &str, status: TableStatus) -> StoreResult<()> {
        let table = self.tables.get_mut(id).ok_or_else(|| StoreError::NotFound {
            kind: RowKind::Table,
            id: id.to_owned(),
        })?;
        table.status = status;
        Ok(())
    }

    /// Checks a hand history for storage: its numbers fit, its table exists.
    fn check_hand(&self, h: &HandRecord) -> StoreResult<()> {
        fits("hand", h.hand)?;
        fits("first_seq", h.first_seq)?;
        fits("last_seq", h.last_seq)?;
        fits("ended_at_ms", h.ended_at_ms)?;
        if !self.tables.contains_key(&h.table_id) {
            return Err(missing("hand", "table", &h.table_id));
        }
        Ok(())
    }

    fn is_recorded(&self, table_id: &str, hand: u64) -> bool {
        self.hands.get(table_id).is_some_and(|h| h.contains_key(&hand))
    }

    pub(super) fn append_batch(&mut self, events: &[EventRecord], hands: &[HandRecord]) -> StoreResult<()> {
        // Everything is checked first: a batch is stored whole or not at all.
        let mut batch = HashSet::with_capacity(events.len());
        for e in events {
            fits("seq", e.seq)?;
            fits("hand", e.hand)?;
            if e.seq == 0 {
                return Err(StoreError::Encode {
                    what: "event",
                    detail: format!("table {:?}: seqs start at 1, got 0", e.table_id),
                });
            }
            if !self.tables.contains_key(&e.table_id) {
                return Err(missing("event", "table", &e.table_id));
            }
            let stored = self
                .events
                .get(&e.table_id)
                .is_some_and(|log| log.contains_key(&e.seq));
            if stored || !batch.insert((e.table_id.as_str(), e.seq)) {
                return Err(duplicate("event", format!("{}#{}", e.table_id, e.seq)));
            }
        }
        for h in hands {
            self.check_hand(h)?;
        }
        for e in events {
            if e.kind == HAND_ENDED {
                self.ended.insert((e.table_id.clone(), e.hand));
            }
            self.events
                .entry(e.table_id.clone())
                .or_default()
                .insert(e.seq, e.clone());
        }
        for h in hands {
            // A history recorded before (a resent batch) stays as it is.
            self.hands
                .entry(h.table_id.clone())
                .or_default()
                .entry(h.hand)
                .or_insert_with(|| h.clone());
        }
        Ok(())
    }

    pub(super) fn unrecorded_hands(&self, limit: u64) -> StoreResult<Vec<(String, u64)>> {
        Ok(self
            .ended
            .iter()
            .filter(|(table, hand)| !self.is_recorded(table, *hand))
            .take(take(limit))
            .cloned()
            .collect())
    }

    pub(super) fn events_since(
        &self,
        table_id: &str,
        after_seq: u64,
        limit: u64,
    ) -> StoreResult<Vec<EventRecord>> {
        fits("seq", after_seq)?;
        let Some(log) = self.events.get(table_id) else {
            return Ok(Vec::new());
        };
        Ok(log
            .range((Bound::Excluded(after_seq), Bound::Unbounded))
            .take(take(limit))
            .map(|(_, e)| e.clone())
            .collect())
    }

    pub(super) fn last_seq(&self, table_id: &str) -> StoreResult<u64> {
        Ok(self
            .events
            .get(table_id)
            .and_then(|log| log.last_key_value())
            .map_or(0, |(seq, _)| *seq))
    }

    pub(super) fn save_snapshot(&mut self, s: &TableSnapshotRecord) -> StoreResult<()> {
        fits("seq", s.seq)?;
        fits("taken_at_ms", s.taken_at_ms)?;
        if !self.tables.contains_key(&s.table_id) {
            return Err(missing("snapshot", "table", &s.table_id));
        }
        match self.snapshots.get_mut(&s.table_id) {
            // A late, older snapshot never replaces a newer one.
            Some(stored) if stored.seq >= s.seq => {}
            Some(stored) => *stored = s.clone(),
            None => {
                self.snapshots.insert(s.table_id.clone(), s.clone());
            }
        }
        Ok(())
    }

    pub(super) fn latest_snapshot(&self, table_id: &str) -> StoreResult<Option<TableSnapshotRecord>> {
        Ok(self.snapshots.get(table_id).cloned())
    }

    pub(super) fn record_hand(&mut self, h: &HandRecord) -> StoreResult<()> {
        self.check_hand(h)?;
        if self.is_recorded(&h.table_id, h.hand) {
            return Err(duplicate("hand", format!("{}#{}", h.table_id, h.hand)));
        }
        self.hands
            .entry(h.table_id.clone())
            .or_default()
            .insert(h.hand, h.clone());
        Ok(())
    }

    pub(super) fn load_hand(&self, table_id: &str, hand: u64) -> StoreResult<HandRecord> {
        fits("hand", hand)?;
        self.hands
            .get(table_id)
            .and_then(|h| h.get(&hand))
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                kind: RowKind::Hand,
                id: format!("{table_id}#{hand}"),
            })
    }

    pub(super) fn list_hands(
        &self,
        table_id: &str,
        after_hand: u64,
        limit: u64,
    ) -> StoreResult<Vec<HandRecord>> {
        fits("hand", after_hand)?;
        let Some(hands) = self.hands.get(table_id) else {
            return Ok(Vec::new());
        };
        Ok(hands
            .range((Bound::Excluded(after_hand), Bound::Unbounded))
            .take(take(limit))
            .map(|(_, h)| h.clone())
            .collect())
    }

    pub(super) fn add_chat(&mut self, m: &ChatMessage) -> StoreResult<u64> {
        fits("at_ms", m.at_ms)?;
        if !self.tables.contains_key(&m.table_id) {
            return Err(missing("chat message", "table", &m.table_id));
        }
        if let Some(player) = &m.player_id
            && !self.players.contains_key(player)
        {
            return Err(missing("chat message", "player", player));
        }
        self.last_chat_id += 1;
        let id = self.last_chat_id;
        self.chat
            .entry(m.table_id.clone())
            .or_default()
            .push(ChatMessage { id, ..m.clone() });
        Ok(id)
    }

    pub(super) fn recent_chat(&self, table_id: &str, limit: u64) -> StoreResult<Vec<ChatMessage>> {
        let Some(lines) = self.chat.get(table_id) else {
            return Ok(Vec::new());
        };
        let skip = lines.len().saturating_sub(take(limit));
        Ok(lines[skip..].to_vec())
    }
}
