//! Turns: the turn clock and time bank, timeouts, and AI seats asked to
//! act without blocking the table.

use super::*;

impl TableTask {
    /// Sits AI seats that are empty (a new table, or a seat whose AI left).
    pub(super) async fn seat_missing_ai(&mut self) {
        let ai_seats = self.shared.settings.ai_seats.clone();
        for ai in ai_seats {
            let empty = {
                let mut state = self.shared.state.lock();
                let empty = state.engine.seats().get(ai.seat).is_some_and(Option::is_none);
                if empty {
                    state.occupants[ai.seat] = Some(Occupant {
                        id: ai.agent.as_str().into(),
                        name: self.deps.agents.display_name(&ai.agent, ai.seat),
                        kind: Agents::kind(&ai.agent),
                        connections: 0,
                        disconnected_at: None,
                        bank_ms: 0,
                        leaving: false,
                    });
                }
                empty
            };
            if empty {
                match self.apply(Command::Sit {
                    seat: ai.seat,
                    player: ai.agent.clone(),
                    stack: ai.stack,
                }) {
                    Ok(applied) => self.after(applied).await,
                    Err(e) => error!(table = %self.shared.id, seat = ai.seat, "cannot seat AI: {e}"),
                }
            }
        }
    }

    /// After a load mid-hand: restart the clock of the seat to act.
    pub(super) fn resume_turn(&mut self) {
        let seat = {
            let mut state = self.shared.state.lock();
            let Some(seat) = state.engine.to_act() else {
                return;
            };
            self.turn += 1;
            let now = Instant::now();
            let ai = self.agents.get(seat).is_some_and(Option::is_some);
            let bank = if ai {
                0
            } else {
                state.occupants[seat].as_ref().map_or(0, |o| o.bank_ms)
            };
            let clock_end = now + Duration::from_millis(self.shared.settings.turn_clock_ms);
            state.clock = Some(Clock {
                seat,
                turn: self.turn,
                turn_seq: state.last_turn_seq,
                started: now,
                clock_end,
                deadline: clock_end + Duration::from_millis(bank),
            });
            seat
        };
        self.start_turn(seat);
    }

    pub(super) fn lane(&self, state: &TableState) -> Lane {
        if state
            .occupants
            .iter()
            .flatten()
            .any(|o| o.kind == SeatKind::Human)
        {
            Lane::Live
        } else if state.watched() {
            Lane::Watched
        } else {
            Lane::Bulk
        }
    }

    /// Asks an AI seat to act (in its own task), or makes a leaving player's move due now.
    pub(super) fn start_turn(&mut self, seat: usize) {
        if let Some(call) = self.ai_call.take() {
            call.abort();
        }
        let Some(agent) = self.agents.get(seat).cloned().flatten() else {
            let mut state = self.shared.state.lock();
            let leaving = state.occupants[seat].as_ref().is_some_and(|o| o.leaving);
            if leaving && let Some(clock) = state.clock.as_mut() {
                clock.deadline = Instant::now();
            }
            return;
        };
        let (turn, not_before) = {
            let state = self.shared.state.lock();
            let Some(clock) = state.clock else {
                return;
            };
            let turn = Turn {
                seat,
                view: state.engine.view(Viewer::Seat(seat)),
                deadline: clock.deadline,
                lane: self.lane(&state),
                context: CallContext {
                    table_id: Some(self.shared.id.to_string()),
                    hand: Some(state.engine.hand_number()),
                    experiment_id: None,
                    seat: Some(seat as u64),
                },
            };
            let not_before = if self.settings_pace_auto() {
                clock.started.max(self.last_action_at) + self.throttle()
            } else {
                clock.started + AI_THINK_REALTIME
            };
            (turn, not_before)
        };
        let turn_no = self.turn;
        let commands = self.shared.commands.clone();
        let handle = tokio::spawn(async move {
            let decision = agent.decide(&turn).await;
            sleep_until(not_before).await;
            let _ = commands
                .send(TableCommand::AiDecision {
                    turn: turn_no,
                    seat,
                    decision: Box::new(decision),
                })
                .await;
        });
        self.ai_call = Some(handle.abort_handle());
    }

    pub(super) async fn ai_decision(&mut self, turn: u64, seat: usize, decision: ai_players::Decision) {
        let current = self
            .shared
            .state
            .lock()
            .clock
            .is_some_and(|c| c.turn == turn && c.seat == seat);
        if !current || turn != self.turn {
            return;
        }
        self.ai_call = None;
        let hand = self.shared.state.lock().engine.hand_number();
        if let Some(reason) = decision.fallback_reason() {
            self.deps.metrics.fallback(reason.name());
        }
        if !matches!(decision.source, DecisionSource::Bot { .. }) {
            self.deps.record_decision(DecisionRow {
                id: 0,
                at_ms: schema::now_ms(),
                table_id: Some(self.shared.id.to_string()),
                hand: Some(hand),
                seat: seat as u64,
                experiment_id: None,
                source: decision.source_name().to_owned(),
                prompt: None,
                raw_reply: None,
                parsed_action: serde_json::to_string(&decision.action).ok(),
                fallback_reason: decision.fallback_reason().map(|r| r.name().to_owned()),
                reason: decision.reason.clone(),
                model: decision.model(),
                steps: (!decision.steps.is_empty())
                    .then(|| serde_json::to_string(&decision.steps).ok())
                    .flatten(),
            });
        }
        let applied = match self.apply(Command::Act {
            seat,
            action: decision.action,
        }) {
            Ok(applied) => applied,
            Err(e) => {
                warn!(table = %self.shared.id, seat, "AI answered an illegal action ({e}); timing it out");
                match self.apply(Command::Timeout { seat }) {
                    Ok(applied) => applied,
                    Err(e) => {
                        error!(table = %self.shared.id, seat, "cannot time out AI seat: {e}");
                        return;
                    }
                }
            }
        };
        if let Some(reason) = decision
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            // Kept until the hand is over: a reason may name the seat's cards.
            self.hand_reasons.push(history::HandReason {
                seat,
                seq: applied.first_seq,
                reason: reason.chars().take(MAX_REASON_CHARS).collect(),
            });
        }
        if let Some(talk) = decision.table_talk.filter(|t| !t.trim().is_empty()) {
            let name = self.shared.state.lock().occupants[seat]
                .as_ref()
                .map_or_else(|| "AI".to_owned(), |o| o.name.clone());
            let text: String = talk.chars().take(self.deps.limits.max_chat_chars).collect();
            self.chat(ChatLine {
                from: name,
                player_id: None,
                text,
                at_ms: schema::now_ms(),
            });
        }
        self.after(applied).await;
    }

    pub(super) async fn on_timer(&mut self) {
        let now = Instant::now();
        let expired = {
            let state = self.shared.state.lock();
            state.clock.filter(|c| {
                let ai = self.agents.get(c.seat).is_some_and(Option::is_some);
                now >= if ai { c.deadline + AI_GRACE } else { c.deadline }
            })
        };
        if let Some(clock) = expired {
            self.timeout(clock.seat).await;
        }
        if self.next_hand_at.is_some_and(|at| at <= now) {
            self.next_hand_at = None;
            self.start_hand().await;
        }
        let grace = self.deps.timing.disconnect_grace;
        let gone: Vec<Arc<str>> = {
            let state = self.shared.state.lock();
            state
                .occupants
                .iter()
                .flatten()
                .filter(|o| o.disconnected_at.is_some_and(|since| since + grace <= now))
                .map(|o| o.id.clone())
                .collect()
        };
        for player in gone {
            info!(table = %self.shared.id, %player, "disconnected past the grace period: standing up");
            self.occupant_mut(&player, |o| {
                o.disconnected_at = None;
                o.leaving = true;
            });
            let _ = self.stand(&player).await;
        }
    }

    pub(super) fn occupant_mut<T>(&self, player: &str, f: impl FnOnce(&mut Occupant) -> T) -> Option<T> {
        let mut state = self.shared.state.lock();
        let seat = state.seat_of(player)?;
        state.occupants[seat].as_mut().map(f)
    }

    pub(super) async fn timeout(&mut self, seat: usize) {
        if let Some(call) = self.ai_call.take() {
            call.abort();
        }
        let (leaving, disconnected) = {
            let mut state = self.shared.state.lock();
            match state.occupants[seat].as_mut() {
                Some(o) => {
                    if o.kind == SeatKind::Human && !o.leaving {
                        o.bank_ms = 0;
                    }
                    (o.leaving, o.kind == SeatKind::Human && o.connections == 0)
                }
                None => (false, false),
            }
        };
        let command = if leaving {
            let legal = self.shared.state.lock().engine.legal_actions(seat);
            let action = if legal.fold { Action::Fold } else { Action::Check };
            Command::Act { seat, action }
        } else {
            self.deps.metrics.timeouts.fetch_add(1, Ordering::Relaxed);
            Command::Timeout { seat }
        };
        match self.apply(command) {
            Ok(applied) => self.after(applied).await,
            Err(e) => {
                error!(table = %self.shared.id, seat, "cannot time out: {e}");
                self.shared.state.lock().clock = None;
            }
        }
        if disconnected && !leaving {
            let sitting_out = self.shared.state.lock().engine.seats()[seat]
                .as_ref()
                .is_some_and(|s| s.sitting_out);
            if !sitting_out && let Ok(applied) = self.apply(Command::SitOut { seat }) {
                self.auto_sat_out[seat] = true;
                self.after(applied).await;
            }
        }
    }
}
