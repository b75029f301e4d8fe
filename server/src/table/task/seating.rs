//! Seats and money: sitting down with a reserved buy-in, standing up with
//! a cash-out, sitting out, and a player's actions.

use super::*;

impl TableTask {
    /// Credits a leaving player's chips, exactly once (keyed by the event's seq), retrying while the store is down.
    pub(super) fn cash_out(&self, seq: u64, player: Arc<str>, amount: u64) {
        let repo = self.deps.repo.clone();
        let table = self.shared.id.clone();
        let mut shutdown = self.deps.shutdown.clone();
        let settling = self.settling.clone();
        let fence = self.shared.fence.clone();
        settling.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(100);
            loop {
                match repo
                    .cash_out_fenced(&table, seq, &player, amount, schema::now_ms(), fence.as_ref())
                    .await
                {
                    Ok(_) => {
                        settling.fetch_sub(1, Ordering::AcqRel);
                        return;
                    }
                    Err(e @ schema::StoreError::Fenced { .. }) => {
                        // The table's new owner pays it out from the log when it loads.
                        warn!(%table, seq, "cash-out left to the table's new owner: {e}");
                        return;
                    }
                    Err(e) => {
                        warn!(%table, seq, "cash-out failed, retrying (also reconciled at next load): {e}");
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => return,
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        });
    }

    pub(super) async fn sit(
        &mut self,
        player_id: String,
        name: String,
        seat: usize,
        buy_in: &schema::PendingBuyIn,
    ) -> Result<u64, TableError> {
        {
            let mut state = self.shared.state.lock();
            if seat >= self.shared.config.seats {
                return Err(TableError::NoSuchSeat {
                    seat,
                    last: self.shared.config.seats - 1,
                });
            }
            if state.seat_of(&player_id).is_some() {
                return Err(TableError::AlreadySeated);
            }
            if state.occupants[seat].is_some() || state.engine.seats()[seat].is_some() {
                return Err(TableError::SeatTaken { seat });
            }
            let connections = state.present.get(player_id.as_str()).copied().unwrap_or(0);
            state.occupants[seat] = Some(Occupant {
                id: player_id.as_str().into(),
                name,
                kind: SeatKind::Human,
                connections,
                disconnected_at: (connections == 0).then(Instant::now),
                bank_ms: self.shared.settings.time_bank_ms,
                leaving: false,
            });
        }
        let applied = match self.apply(Command::Sit {
            seat,
            player: player_id,
            stack: buy_in.amount,
        }) {
            Ok(applied) => applied,
            Err(e) => {
                self.shared.state.lock().occupants[seat] = None;
                return Err(TableError::SeatRefused(e));
            }
        };
        self.persist(applied.records, Vec::new()).await;
        if !self.durable().await {
            return Err(TableError::SeatNotStored);
        }
        self.schedule_hand(Duration::from_millis(if self.settings_pace_auto() {
            0
        } else {
            1_000
        }));
        Ok(buy_in.amount)
    }

    pub(super) async fn stand(&mut self, player: &str) -> Result<StandResult, TableError> {
        let seat = self.shared.seat_of(player).ok_or(TableError::NotSeated)?;
        let stack = self.shared.state.lock().engine.stack(seat).unwrap_or(0);
        match self.apply(Command::Stand { seat }) {
            Ok(applied) => {
                self.after(applied).await;
                Ok(StandResult {
                    cashed_out: stack,
                    after_hand: false,
                })
            }
            Err(RuleError::SeatInHand { .. }) => {
                let to_act = {
                    let mut state = self.shared.state.lock();
                    if let Some(o) = state.occupants[seat].as_mut() {
                        o.leaving = true;
                    }
                    state.engine.to_act() == Some(seat)
                };
                if to_act {
                    self.timeout(seat).await;
                }
                Ok(StandResult {
                    cashed_out: 0,
                    after_hand: true,
                })
            }
            Err(e) => Err(TableError::SeatRefused(e)),
        }
    }

    pub(super) async fn sit_out(&mut self, player: &str, out: bool) -> Result<(), TableError> {
        let seat = self.shared.seat_of(player).ok_or(TableError::NotSeated)?;
        let command = if out {
            Command::SitOut { seat }
        } else {
            Command::SitIn { seat }
        };
        let applied = self.apply(command).map_err(TableError::SeatRefused)?;
        self.auto_sat_out[seat] = false;
        self.after(applied).await;
        if !out {
            self.schedule_hand(Duration::from_millis(if self.settings_pace_auto() {
                0
            } else {
                1_000
            }));
        }
        Ok(())
    }

    pub(super) async fn act(
        &mut self,
        player: &str,
        action: Action,
        turn: Option<u64>,
    ) -> Result<u64, TableError> {
        let seat = self.shared.seat_of(player).ok_or(TableError::NotSeated)?;
        let clock = self.shared.state.lock().clock;
        if let Some(turn) = turn {
            // The turn named must be this seat's, and still running: a
            // resend of an action already taken, or one that arrives after
            // its turn timed out, never lands on a later turn.
            let current = clock.filter(|c| c.seat == seat).map(|c| c.turn_seq);
            if current != Some(turn) {
                return Err(TableError::StaleTurn { turn, current });
            }
        }
        let applied = self
            .apply(Command::Act { seat, action })
            .map_err(TableError::ActionRefused)?;
        if let Some(clock) = clock.filter(|c| c.seat == seat) {
            let over = millis(Instant::now().saturating_duration_since(clock.clock_end));
            let mut state = self.shared.state.lock();
            if let Some(o) = state.occupants[seat].as_mut() {
                o.bank_ms = o.bank_ms.saturating_sub(over);
            }
        }
        let seq = applied.last_seq;
        let epoch = self.shared.state.lock().epoch;
        self.after(applied).await;
        // The ack means the action is stored: wait for its commit (group
        // commit, a few ms). If the store failed (here or at the hand's end
        // above), the table has reloaded from its log without it (a new
        // epoch) and the player is told so.
        if !self.durable().await || self.shared.state.lock().epoch != epoch {
            return Err(TableError::ActionLost);
        }
        Ok(seq)
    }
}
