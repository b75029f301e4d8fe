//! Recovery and leaving memory: reloading from the store after a failed
//! write, idle eviction, and stopping.

use super::*;

impl TableTask {
    /// Reloads the table from the store after a failed commit: whatever was
    /// not stored is gone, so every client is resynced with a snapshot.
    pub(super) async fn recover(&mut self) {
        if let Some(call) = self.ai_call.take() {
            call.abort();
        }
        self.last_receipt = None;
        self.next_hand_at = None;
        let mut delay = Duration::from_millis(200);
        let mut shutdown = self.deps.shutdown.clone();
        let loaded: Loaded = loop {
            // Boxed: the table's own future stays small (it lives as long as the table).
            match Box::pin(load_state(
                &self.deps,
                &self.shared.id,
                self.shared.config.clone(),
                self.shared.settings.time_bank_ms,
                self.shared.fence.as_ref(),
                true,
            ))
            .await
            {
                Ok(loaded) => break loaded,
                Err(e) => {
                    warn!(table = %self.shared.id, "reload failed, retrying: {e}");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        _ = shutdown.changed() => return,
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        };
        {
            let mut state = self.shared.state.lock();
            let watchers = state.watchers;
            let spectators = state.spectators;
            let chat = std::mem::take(&mut state.chat);
            let present = std::mem::take(&mut state.present);
            *state = loaded.state;
            state.watchers = watchers;
            state.spectators = spectators;
            state.chat = chat;
            for o in state.occupants.iter_mut().flatten() {
                if let Some(&n) = present.get(&o.id) {
                    o.connections = n;
                    o.disconnected_at = None;
                }
            }
            state.present = present;
        }
        self.hand_log = loaded.hand_log;
        self.hand_first_seq = loaded.hand_first_seq;
        self.since_snapshot = loaded.replayed;
        self.shared.publish_resync();
        info!(table = %self.shared.id, "table reloaded from its log");
        self.resume_turn();
        self.schedule_hand(Duration::from_millis(500));
    }

    /// Leaves memory when nobody plays or watches for the idle TTL.
    pub(super) async fn evict_if_idle(&mut self) -> bool {
        let ttl = self.deps.timing.idle_ttl;
        let ready = {
            let state = self.shared.state.lock();
            !state.watched()
                && state.idle_since.is_some_and(|since| since.elapsed() >= ttl)
                && !state
                    .occupants
                    .iter()
                    .flatten()
                    .any(|o| o.kind == SeatKind::Human)
        };
        if !ready {
            return false;
        }
        if let Some(call) = self.ai_call.take() {
            call.abort();
        }
        if !self.durable().await {
            return false;
        }
        if self.shared.state.lock().watched() {
            return false;
        }
        // Stored before the task ends (and, in a cluster, before its lease is
        // released): a released lease on a `running` table is an orphan that
        // a peer would adopt, only to find it idle.
        if let Err(e) = self
            .deps
            .repo
            .set_table_status(&self.shared.id, TableStatus::Open)
            .await
        {
            warn!(table = %self.shared.id, "cannot record status open; the table stays loaded: {e}");
            return false;
        }
        {
            let mut state = self.shared.state.lock();
            if state.watched() {
                // Someone joined meanwhile: the table plays on, running.
                drop(state);
                self.set_status(TableStatus::Running);
                return false;
            }
            state.closed = true;
        }
        // The registry drops the table from memory when this task ends.
        self.deps.metrics.tables_evicted.fetch_add(1, Ordering::Relaxed);
        debug!(table = %self.shared.id, "evicted from memory");
        true
    }

    /// Ends the table at once after a fenced write: nothing more is stored
    /// or acknowledged here, and the room is told to join again, which
    /// reaches the table's new owner.
    pub(super) fn stop_fenced(&mut self) {
        if let Some(call) = self.ai_call.take() {
            call.abort();
        }
        self.last_receipt = None;
        self.shared.state.lock().closed = true;
        self.shared.publish_room_error(TableError::Moved);
        self.deps.metrics.lease_fenced.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) async fn stop(&mut self) {
        if let Some(call) = self.ai_call.take() {
            call.abort();
        }
        let _ = self.durable().await;
        self.shared.state.lock().closed = true;
    }
}
