//! Hands: scheduling and starting them, what happens when one ends
//! (top-ups, busted seats, the next hand) and snapshots at hand boundaries.

use super::*;

impl TableTask {
    pub(super) fn schedule_hand(&mut self, delay: Duration) {
        if self.next_hand_at.is_none() {
            self.next_hand_at = Some(Instant::now() + delay);
        }
    }

    pub(super) async fn start_hand(&mut self) {
        if self.shared.state.lock().engine.hand_in_progress() {
            return;
        }
        // Money guard: a table of AI seats with LLM players that nobody plays
        // at or watches does not keep paying for model calls. It waits
        // (checking again every second) until someone joins.
        let unwatched = self.lane(&self.shared.state.lock()) == Lane::Bulk;
        if unwatched
            && self
                .shared
                .settings
                .ai_seats
                .iter()
                .any(|ai| Agents::kind(&ai.agent) == SeatKind::Llm)
        {
            if !self.paused_unwatched {
                self.paused_unwatched = true;
                info!(table = %self.shared.id, "paused: LLM seats and nobody playing or watching");
            }
            self.schedule_hand(UNWATCHED_RECHECK);
            return;
        }
        if std::mem::take(&mut self.paused_unwatched) {
            info!(table = %self.shared.id, "resumed: someone is watching");
        }
        if !self.durable().await {
            return;
        }
        // The seed follows from the table's secret key and the hand number:
        // a hand dealt again after a crash gets the cards it had.
        let hand = self.shared.state.lock().engine.hand_number() + 1;
        let seed = self.shared.deal_key.hand_seed(hand);
        match self.apply(Command::StartHand { seed }) {
            Ok(applied) => self.after(applied).await,
            Err(RuleError::NotEnoughPlayers) => {}
            Err(e) => warn!(table = %self.shared.id, "cannot start a hand: {e}"),
        }
    }

    pub(super) async fn end_hand(&mut self) {
        self.deps.metrics.hands.fetch_add(1, Ordering::Relaxed);
        if !self.durable().await {
            return;
        }
        {
            let mut state = self.shared.state.lock();
            state.ring.clear();
            state.ring_from = state.seq + 1;
        }
        self.snapshot();
        // Between hands: leaving and busted players stand, AI seats re-buy.
        let (leave, rebuy): (Vec<Arc<str>>, Vec<(usize, u64)>) = {
            let state = self.shared.state.lock();
            let mut leave = Vec::new();
            let mut rebuy = Vec::new();
            for (seat, occupant) in state.occupants.iter().enumerate() {
                let Some(o) = occupant else { continue };
                let stack = state.engine.stack(seat).unwrap_or(0);
                if o.kind == SeatKind::Human {
                    if o.leaving || stack == 0 {
                        leave.push(o.id.clone());
                    }
                } else if stack == 0
                    && let Some(ai) = self.shared.settings.ai_seats.iter().find(|a| a.seat == seat)
                {
                    rebuy.push((seat, ai.stack));
                }
            }
            (leave, rebuy)
        };
        for player in leave {
            let _ = self.stand(&player).await;
        }
        for (seat, amount) in rebuy {
            if let Ok(applied) = self.apply(Command::AddChips { seat, amount }) {
                self.after(applied).await;
            }
        }
        let pause = if self.settings_pace_auto() {
            self.throttle()
        } else {
            self.deps.timing.between_hands
        };
        self.schedule_hand(pause);
    }

    /// Stores a snapshot of the table (between hands, everything stored)
    /// once enough events have passed since the last, unless a buy-in or
    /// cash-out is still being settled. In the background: a snapshot only
    /// makes loads faster, and a failed one is simply taken later.
    pub(super) fn snapshot(&mut self) {
        if self.since_snapshot < SNAPSHOT_EVERY_EVENTS || self.settling.load(Ordering::Acquire) > 0 {
            return;
        }
        let (snapshot, seq) = {
            let state = self.shared.state.lock();
            (state.engine.snapshot(), state.seq)
        };
        let Some(snapshot) = snapshot else { return };
        let state = match serde_json::to_string(&snapshot) {
            Ok(state) => state,
            Err(e) => {
                error!(table = %self.shared.id, "cannot encode a snapshot: {e}");
                return;
            }
        };
        self.since_snapshot = 0;
        let record = schema::TableSnapshotRecord {
            table_id: self.shared.id.to_string(),
            seq,
            state,
            taken_at_ms: schema::now_ms(),
        };
        let repo = self.deps.repo.clone();
        tokio::spawn(async move {
            if let Err(e) = repo.save_snapshot(&record).await {
                warn!(table = %record.table_id, seq, "cannot store a snapshot (loads replay more events): {e}");
            }
        });
    }
}
