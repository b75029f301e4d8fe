//! Applying commands and publishing what they produce: numbering events,
//! the room's deltas, persisting through the event writer (and waiting for
//! durability), and room messages outside the log (chat, presence, reasons).

use super::*;
use crate::table::remote::TableFeed;

impl TableTask {
    /// Applies an engine command and publishes its events (under the lock).
    pub(super) fn apply(&mut self, command: Command) -> Result<Applied, RuleError> {
        let shared = self.shared.clone();
        let mut state = shared.state.lock();
        let events = state.engine.apply(command)?;
        Ok(self.publish_locked(&mut state, events))
    }

    pub(super) fn publish_locked(&mut self, state: &mut TableState, events: Vec<Event>) -> Applied {
        let mut applied = Applied::default();
        let now = Instant::now();
        let at_ms = schema::now_ms();
        let hand = state.engine.hand_number();
        let room_empty = state.watchers == 0 && self.shared.events.receiver_count() == 0;
        for event in events {
            state.seq += 1;
            let seq = state.seq;
            let mut seat_info = None;
            match &event {
                Event::DeckShuffled { .. } | Event::DeckStacked { .. } => {
                    self.hand_log.clear();
                    self.hand_reasons.clear();
                }
                Event::HandStarted { .. } => {
                    self.hand_first_seq = seq;
                    applied.hand_started = true;
                }
                Event::TurnStarted { seat } => {
                    self.turn += 1;
                    let ai = self.agents.get(*seat).is_some_and(Option::is_some);
                    state.begin_turn(*seat, seq, self.turn, ai, self.shared.settings.turn_clock_ms, now);
                    applied.turn = Some(*seat);
                }
                Event::ActionTaken { .. } => state.clock = None,
                Event::HandEnded { .. } => {
                    state.clock = None;
                    applied.hand_ended = true;
                    applied.history = Some(HandEnd {
                        names: state
                            .engine
                            .seats()
                            .iter()
                            .map(|s| s.as_ref().map(|s| s.player.clone()))
                            .collect(),
                        last_seq: seq,
                    });
                }
                Event::SeatTaken { seat, .. } => {
                    seat_info = state.seat_infos().into_iter().find(|i| i.seat == *seat);
                }
                _ => {}
            }
            // Nobody can receive the event when the room is empty
            // (subscribing takes this lock): no message is built then, and a
            // client resuming later reads it from the store.
            let delta = if room_empty {
                None
            } else {
                self.shared
                    .event_delta(state, seq, at_ms, &event, seat_info.as_ref())
            };
            match EventRecord::new(&self.shared.id, seq, hand, &event) {
                Ok(record) => applied.records.push(record),
                Err(e) => error!(table = %self.shared.id, seq, "cannot encode event for the store: {e}"),
            }
            if let Event::SeatLeft { seat, stack } = &event
                && let Some(o) = state.occupants[*seat].take()
            {
                if o.kind == SeatKind::Human {
                    applied.left.push((seq, o.id, *stack));
                }
                self.auto_sat_out[*seat] = false;
            }
            match delta {
                Some(delta) => self.shared.broadcast_locked(state, delta),
                None => {
                    state.ring.clear();
                    state.ring_from = seq + 1;
                }
            }
            self.hand_log.push(event);
            if applied.first_seq == 0 {
                applied.first_seq = seq;
            }
            applied.last_seq = seq;
        }
        self.deps
            .metrics
            .events
            .fetch_add(applied.records.len() as u64, Ordering::Relaxed);
        self.since_snapshot += applied.records.len() as u64;
        self.last_action_at = now;
        applied
    }

    /// Queues events (and the history of the hand they finish, for the same
    /// transaction) for the store and keeps the receipt for the next
    /// durability wait.
    pub(super) async fn persist(&mut self, records: Vec<EventRecord>, hands: Vec<HandRecord>) {
        if records.is_empty() && hands.is_empty() {
            return;
        }
        match self
            .deps
            .writer
            .append_fenced(records, hands, self.shared.fence.clone())
            .await
        {
            Ok(receipt) => {
                // A later receipt covers every earlier seq of this table.
                self.last_receipt = Some(receipt);
            }
            Err(e) => error!(table = %self.shared.id, "event writer unavailable: {e}"),
        }
    }

    /// Waits until everything published so far is durable. On a store
    /// failure the table reloads from its log (losing what was not stored)
    /// and returns false.
    pub(super) async fn durable(&mut self) -> bool {
        let Some(receipt) = self.last_receipt.take() else {
            return true;
        };
        let started = Instant::now();
        let result = receipt.durable().await;
        self.deps.metrics.store_durable_wait.observe(started.elapsed());
        match result {
            Ok(()) => true,
            Err(e @ StoreError::Fenced { .. }) => {
                // Another node owns the table now: act no more, write and
                // acknowledge nothing; the room joins again (at the owner).
                error!(table = %self.shared.id, "{e}; this node stops running the table");
                self.fenced = true;
                false
            }
            Err(e) => {
                error!(table = %self.shared.id, "events not stored: {e}; reloading the table from its log");
                self.recover().await;
                false
            }
        }
    }

    /// Persists, then reacts to what the events mean (turns, hand end, cash-outs).
    pub(super) fn after(&mut self, applied: Applied) -> ai_players::BoxFuture<'_, ()> {
        Box::pin(self.after_inner(applied))
    }

    pub(super) async fn after_inner(&mut self, applied: Applied) {
        let hands: Vec<HandRecord> = applied
            .history
            .and_then(|end| {
                history::hand_record(
                    &self.shared.id,
                    &self.shared.config,
                    &self.hand_log,
                    &end.names,
                    history::HandSpan {
                        first_seq: self.hand_first_seq,
                        last_seq: end.last_seq,
                        ended_at_ms: schema::now_ms(),
                    },
                    &self.hand_reasons,
                )
            })
            .into_iter()
            .collect();
        let ended = hands.first().map(|h| h.hand);
        self.persist(applied.records, hands).await;
        if let Some(hand) = ended {
            self.publish_reasons(hand);
        }
        if !applied.left.is_empty() {
            if !self.durable().await {
                return;
            }
            for (seq, player, amount) in applied.left {
                self.cash_out(seq, player, amount);
            }
        }
        if applied.hand_started && !self.marked_running {
            self.marked_running = true;
            self.set_status(TableStatus::Running);
        }
        if applied.hand_ended {
            self.end_hand().await;
        } else if let Some(seat) = applied.turn {
            self.start_turn(seat);
        }
    }

    pub(super) fn set_status(&self, status: TableStatus) {
        let repo = self.deps.repo.clone();
        let id = self.shared.id.to_string();
        tokio::spawn(async move {
            if let Err(e) = repo.set_table_status(&id, status).await {
                warn!(table = %id, "cannot record status {}: {e}", status.name());
            }
        });
    }

    /// Tells the room the reasons LLM seats gave in the hand that just
    /// ended (nothing before: a reason may name hole cards).
    pub(super) fn publish_reasons(&mut self, hand: u64) {
        if self.hand_reasons.is_empty() {
            return;
        }
        let reasons = std::mem::take(&mut self.hand_reasons);
        let message = ServerMessage::Reasons {
            table: &self.shared.id,
            hand,
            reasons: &reasons,
        };
        let json = message.text();
        if let Some(remote) = &self.deps.remote {
            let feed = TableFeed::Room {
                json: json.to_string(),
            };
            remote.publish(&self.shared.id, &feed);
        }
        let _ = self.shared.events.send(Delta::room(json));
    }

    pub(super) fn chat(&mut self, line: ChatLine) {
        let json = ServerMessage::Chat {
            table: &self.shared.id,
            line: &line,
        }
        .text();
        {
            let mut state = self.shared.state.lock();
            if state.chat.len() >= CHAT_CAPACITY {
                state.chat.pop_front();
            }
            state.chat.push_back(line.clone());
        }
        let _ = self.shared.events.send(Delta::room(json));
        if let Some(remote) = &self.deps.remote {
            remote.publish(&self.shared.id, &TableFeed::Chat { line: line.clone() });
        }
        let repo = self.deps.repo.clone();
        let message = schema::ChatMessage {
            id: 0,
            table_id: self.shared.id.to_string(),
            player_id: line.player_id,
            author: line.from,
            body: line.text,
            at_ms: line.at_ms,
        };
        tokio::spawn(async move {
            if let Err(e) = repo.add_chat(&message).await {
                warn!(table = %message.table_id, "cannot store chat: {e}");
            }
        });
    }

    pub(super) async fn presence(&mut self, player: &str, change: Presence) {
        let update = {
            let mut state = self.shared.state.lock();
            // Counted whether or not the player sits: a player who joins, then sits, is connected.
            let count = state.present.entry(Arc::from(player)).or_insert(0);
            *count = match change {
                Presence::Joined => count.saturating_add(1),
                Presence::Left => count.saturating_sub(1),
            };
            let connections = *count;
            if connections == 0 {
                state.present.remove(player);
            }
            let Some(seat) = state.seat_of(player) else {
                return;
            };
            let Some(o) = state.occupants[seat].as_mut() else {
                return;
            };
            let before = o.connections;
            o.connections = connections;
            if o.connections == 0 {
                o.disconnected_at.get_or_insert_with(Instant::now);
            } else {
                o.disconnected_at = None;
            }
            ((before == 0) != (o.connections == 0)).then_some((seat, o.connections > 0))
        };
        let Some((seat, connected)) = update else {
            return;
        };
        self.shared.publish_room(&ServerMessage::Presence {
            table: &self.shared.id,
            seat,
            connected,
        });
        if let Some(remote) = &self.deps.remote {
            remote.publish(&self.shared.id, &TableFeed::Presence { seat, connected });
        }
        if connected && self.auto_sat_out[seat] {
            self.auto_sat_out[seat] = false;
            if let Ok(applied) = self.apply(Command::SitIn { seat }) {
                self.after(applied).await;
                self.schedule_hand(Duration::from_millis(if self.settings_pace_auto() {
                    0
                } else {
                    1_000
                }));
            }
        }
    }
}
