//! The table task: applies commands to the engine, numbers and publishes
//! the resulting events, persists them through the event writer, runs the
//! turn clock, asks AI seats to act without blocking, and starts hands.
//!
//! The lock is taken only for synchronous work (apply, number, serialise,
//! broadcast); every `.await` (the store, replies) happens outside it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ai_players::SeatKind;
use ai_players::{Agent, CallContext, DecisionSource, Lane, Turn};
use game_core::{Action, Command, Event, RuleError, Viewer};
use schema::{DecisionRow, EventRecord, HandRecord, Receipt, Repository, TableStatus};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, error, info, warn};

use super::{
    Audience, CHAT_CAPACITY, ChatLine, Clock, Delta, Occupant, Presence, RING_CAPACITY, SeatInfo,
    StandResult, TableCommand, TableShared, TableState, millis,
};
use crate::auth::random_u64;
use crate::protocol::{ErrorCode, Failure, ServerMessage};
use crate::table::TableDeps;
use crate::table::agents::Agents;
use crate::table::history;
use crate::table::load::{Loaded, load_state};

/// AI answers are applied no sooner than this after the turn starts at
/// realtime tables, so people can follow the action.
const AI_THINK_REALTIME: Duration = Duration::from_millis(600);
/// A table stores a snapshot at the first hand boundary after this many
/// events since the last one: a load then replays at most about this many
/// events (plus a hand), however long the table has played.
const SNAPSHOT_EVERY_EVENTS: u64 = 1_000;

/// How often a table paused for want of watchers looks again.
const UNWATCHED_RECHECK: Duration = Duration::from_secs(1);

/// Longest reason kept per decision, in characters.
const MAX_REASON_CHARS: usize = 300;

/// An AI seat that has not answered this long after its deadline times out.
const AI_GRACE: Duration = Duration::from_secs(2);

/// What one applied command produced.
#[derive(Default)]
struct Applied {
    records: Vec<EventRecord>,
    turn: Option<usize>,
    hand_started: bool,
    hand_ended: bool,
    /// (seq, player, chips) of every `SeatLeft`.
    left: Vec<(u64, Arc<str>, u64)>,
    /// The hand that ended, to record its history with its last events.
    history: Option<HandEnd>,
    first_seq: u64,
    last_seq: u64,
}

/// What a finished hand's history needs beyond the hand's events.
struct HandEnd {
    /// The player at each seat during the hand.
    names: Vec<Option<String>>,
    /// The seq of its `hand_ended`.
    last_seq: u64,
}

/// The task's own state (the shared part is behind the lock).
pub(crate) struct TableTask {
    shared: Arc<TableShared>,
    /// What the table uses.
    deps: TableDeps,
    rx: mpsc::Receiver<TableCommand>,
    agents: Vec<Option<Arc<dyn Agent>>>,
    ai_call: Option<AbortHandle>,
    turn: u64,
    last_receipt: Option<Receipt>,
    next_hand_at: Option<Instant>,
    /// The current (or last) hand's events from its deck event on.
    hand_log: Vec<Event>,
    /// Reasons LLM seats gave in the current hand (public once it ends).
    hand_reasons: Vec<history::HandReason>,
    hand_first_seq: u64,
    last_action_at: Instant,
    marked_running: bool,
    /// Seats sat out by the server after timing out while disconnected.
    auto_sat_out: Vec<bool>,
    /// Hands are not started: LLM seats and nobody watching (money guard).
    paused_unwatched: bool,
    /// Buy-ins and cash-outs this task started and the store has not yet
    /// settled: no snapshot is taken while any is, so that a load from a
    /// snapshot never has to settle money for seats taken or left before it.
    /// A settlement that fails stays counted (the next load reconciles it).
    settling: Arc<AtomicUsize>,
    /// Events stored since the last snapshot (or since the load point).
    since_snapshot: u64,
}

impl TableTask {
    pub(crate) fn new(
        shared: Arc<TableShared>,
        deps: TableDeps,
        rx: mpsc::Receiver<TableCommand>,
        loaded_log: Vec<Event>,
        hand_first_seq: u64,
        replayed: u64,
    ) -> TableTask {
        let seats = shared.config.seats;
        let mut agents: Vec<Option<Arc<dyn Agent>>> = vec![None; seats];
        for ai in &shared.settings.ai_seats {
            match deps.agents.build(&ai.agent, random_u64()) {
                Ok(agent) => agents[ai.seat] = Some(agent),
                Err(e) => error!(table = %shared.id, seat = ai.seat, "cannot build agent: {e}"),
            }
        }
        TableTask {
            shared,
            deps,
            rx,
            agents,
            ai_call: None,
            turn: 0,
            last_receipt: None,
            next_hand_at: None,
            hand_log: loaded_log,
            hand_reasons: Vec::new(),
            hand_first_seq,
            last_action_at: Instant::now(),
            marked_running: false,
            auto_sat_out: vec![false; seats],
            paused_unwatched: false,
            settling: Arc::new(AtomicUsize::new(0)),
            since_snapshot: replayed,
        }
    }

    /// Runs until shutdown or eviction.
    /// The task's loop. Every handler's future is boxed: the task itself
    /// (allocated once per table for its whole life) then holds only the
    /// waiting state, not the largest handler's state machine.
    pub(crate) async fn run(mut self) {
        Box::pin(self.seat_missing_ai()).await;
        self.resume_turn();
        if !self.shared.state.lock().engine.hand_in_progress() {
            self.schedule_hand(Duration::from_millis(500));
        }
        loop {
            let wake = self.next_wake();
            tokio::select! {
                command = self.rx.recv() => match command {
                    Some(TableCommand::Shutdown) | None => break,
                    Some(command) => Box::pin(self.handle(command)).await,
                },
                () = sleep_until(wake) => Box::pin(self.on_timer()).await,
            }
            if Box::pin(self.evict_if_idle()).await {
                return;
            }
        }
        Box::pin(self.stop()).await;
    }

    fn settings_pace_auto(&self) -> bool {
        self.shared.settings.pace == super::Pace::Auto
    }

    /// The minimum gap between actions at a throttled auto table.
    fn throttle(&self) -> Duration {
        match self.shared.settings.actions_per_sec {
            Some(aps) if self.settings_pace_auto() => Duration::from_secs_f64(1.0 / aps),
            _ => Duration::ZERO,
        }
    }

    fn next_wake(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let state = self.shared.state.lock();
        let mut wake = far;
        if let Some(clock) = state.clock {
            let ai = self.agents.get(clock.seat).is_some_and(Option::is_some);
            wake = wake.min(if ai {
                clock.deadline + AI_GRACE
            } else {
                clock.deadline
            });
        }
        if let Some(at) = self.next_hand_at {
            wake = wake.min(at);
        }
        let grace = self.deps.timing.disconnect_grace;
        for o in state.occupants.iter().flatten() {
            if let Some(since) = o.disconnected_at {
                wake = wake.min(since + grace);
            }
        }
        if let Some(since) = state.idle_since
            && !state
                .occupants
                .iter()
                .flatten()
                .any(|o| o.kind == SeatKind::Human)
        {
            wake = wake.min(since + self.deps.timing.idle_ttl);
        }
        wake
    }

    async fn handle(&mut self, command: TableCommand) {
        match command {
            TableCommand::Sit {
                player_id,
                name,
                seat,
                buy_in,
                reply,
            } => {
                let result = self.sit(player_id, name, seat, &buy_in).await;
                let repo = self.deps.repo.clone();
                let id = buy_in.id;
                let ok = result.is_ok();
                let settling = self.settling.clone();
                settling.fetch_add(1, Ordering::AcqRel);
                tokio::spawn(async move {
                    let settled = if ok {
                        repo.confirm_buy_in(id).await
                    } else {
                        repo.refund_buy_in(id).await
                    };
                    match settled {
                        // Only a settled buy-in lets a snapshot be taken again.
                        Ok(_) => {
                            settling.fetch_sub(1, Ordering::AcqRel);
                        }
                        // The table reconciles pending buy-ins from its log when it next loads.
                        Err(e) => warn!("settling buy-in {id} failed (reconciled at next load): {e}"),
                    }
                });
                let _ = reply.send(result);
            }
            TableCommand::Stand { player_id, reply } => {
                let result = self.stand(&player_id).await;
                let _ = reply.send(result);
            }
            TableCommand::SitOut {
                player_id,
                out,
                reply,
            } => {
                let result = self.sit_out(&player_id, out).await;
                let _ = reply.send(result);
            }
            TableCommand::Act {
                player_id,
                action,
                reply,
            } => {
                let result = self.act(&player_id, action).await;
                let _ = reply.send(result);
            }
            TableCommand::Chat { line, reply } => {
                self.chat(*line);
                let _ = reply.send(Ok(()));
            }
            TableCommand::Presence { player_id, change } => self.presence(&player_id, change).await,
            TableCommand::AiDecision { turn, seat, decision } => {
                self.ai_decision(turn, seat, *decision).await
            }
            TableCommand::Shutdown => {}
        }
    }

    /// Applies an engine command and publishes its events (under the lock).
    fn apply(&mut self, command: Command) -> Result<Applied, RuleError> {
        let shared = self.shared.clone();
        let mut state = shared.state.lock();
        let events = state.engine.apply(command)?;
        Ok(self.publish_locked(&mut state, events))
    }

    fn publish_locked(&mut self, state: &mut TableState, events: Vec<Event>) -> Applied {
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
                    let turn_clock = Duration::from_millis(self.shared.settings.turn_clock_ms);
                    let bank = if ai {
                        0
                    } else {
                        state.occupants[*seat].as_ref().map_or(0, |o| o.bank_ms)
                    };
                    let clock_end = now + turn_clock;
                    state.clock = Some(Clock {
                        seat: *seat,
                        turn: self.turn,
                        started: now,
                        clock_end,
                        deadline: clock_end + Duration::from_millis(bank),
                    });
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
                self.delta_locked(state, seq, at_ms, &event, seat_info.as_ref())
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
                Some(delta) => {
                    if state.ring.len() >= RING_CAPACITY
                        && let Some(old) = state.ring.pop_front()
                    {
                        state.ring_from = old.seq.map_or(state.ring_from, |s| s + 1);
                    }
                    state.ring.push_back(delta.clone());
                    // No receivers is fine: nobody is watching.
                    let _ = self.shared.events.send(delta);
                }
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

    /// The published message for one event: its audience and its JSON
    /// (`None`, logged, if it cannot be encoded; the event is still stored).
    fn delta_locked(
        &self,
        state: &TableState,
        seq: u64,
        at_ms: u64,
        event: &Event,
        seat_info: Option<&SeatInfo>,
    ) -> Option<Arc<Delta>> {
        let audience = match event.visibility() {
            game_core::Visibility::Public => Audience::All,
            game_core::Visibility::Server => Audience::Nobody,
            game_core::Visibility::Seat(s) => match state.occupants.get(s).and_then(Option::as_ref) {
                Some(o) if o.kind == SeatKind::Human => Audience::Player(o.id.clone()),
                _ => Audience::Nobody,
            },
        };
        let (clock, legal) = match event {
            Event::TurnStarted { seat } => (state.clock_info(), Some(state.engine.legal_actions(*seat))),
            _ => (None, None),
        };
        let message = ServerMessage::Event {
            table: &self.shared.id,
            seq,
            at_ms: Some(at_ms),
            event,
            clock,
            legal,
            player: seat_info,
        };
        let json: Arc<str> = match message.encode() {
            Ok(json) => json,
            Err(e) => {
                error!(table = %self.shared.id, seq, "cannot encode event: {e}");
                return None;
            }
        };
        let seat_change = match event {
            Event::SeatTaken { seat, .. } | Event::SeatLeft { seat, .. } => Some(*seat),
            _ => None,
        };
        Some(Arc::new(Delta {
            seq: Some(seq),
            audience,
            json,
            resync: false,
            seat_change,
        }))
    }

    /// Queues events (and the history of the hand they finish, for the same
    /// transaction) for the store and keeps the receipt for the next
    /// durability wait.
    async fn persist(&mut self, records: Vec<EventRecord>, hands: Vec<HandRecord>) {
        if records.is_empty() && hands.is_empty() {
            return;
        }
        match self.deps.writer.append_with_hands(records, hands).await {
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
    async fn durable(&mut self) -> bool {
        let Some(receipt) = self.last_receipt.take() else {
            return true;
        };
        let started = Instant::now();
        let result = receipt.durable().await;
        self.deps.metrics.store_durable_wait.observe(started.elapsed());
        match result {
            Ok(()) => true,
            Err(e) => {
                error!(table = %self.shared.id, "events not stored: {e}; reloading the table from its log");
                self.recover().await;
                false
            }
        }
    }

    /// Persists, then reacts to what the events mean (turns, hand end, cash-outs).
    fn after(&mut self, applied: Applied) -> ai_players::BoxFuture<'_, ()> {
        Box::pin(self.after_inner(applied))
    }

    async fn after_inner(&mut self, applied: Applied) {
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

    fn set_status(&self, status: TableStatus) {
        let repo = self.deps.repo.clone();
        let id = self.shared.id.to_string();
        tokio::spawn(async move {
            if let Err(e) = repo.set_table_status(&id, status).await {
                warn!(table = %id, "cannot record status {}: {e}", status.name());
            }
        });
    }

    /// Credits a leaving player's chips, exactly once (keyed by the event's seq), retrying while the store is down.
    fn cash_out(&self, seq: u64, player: Arc<str>, amount: u64) {
        let repo = self.deps.repo.clone();
        let table = self.shared.id.clone();
        let mut shutdown = self.deps.shutdown.clone();
        let settling = self.settling.clone();
        settling.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(100);
            loop {
                match repo
                    .cash_out(&table, seq, &player, amount, schema::now_ms())
                    .await
                {
                    Ok(_) => {
                        settling.fetch_sub(1, Ordering::AcqRel);
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

    /// Sits AI seats that are empty (a new table, or a seat whose AI left).
    async fn seat_missing_ai(&mut self) {
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
    fn resume_turn(&mut self) {
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
                started: now,
                clock_end,
                deadline: clock_end + Duration::from_millis(bank),
            });
            seat
        };
        self.start_turn(seat);
    }

    fn lane(&self, state: &TableState) -> Lane {
        if state
            .occupants
            .iter()
            .flatten()
            .any(|o| o.kind == SeatKind::Human)
        {
            Lane::Live
        } else if state.watchers > 0 {
            Lane::Watched
        } else {
            Lane::Bulk
        }
    }

    /// Asks an AI seat to act (in its own task), or makes a leaving player's move due now.
    fn start_turn(&mut self, seat: usize) {
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

    async fn ai_decision(&mut self, turn: u64, seat: usize, decision: ai_players::Decision) {
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

    /// Tells the room the reasons LLM seats gave in the hand that just
    /// ended (nothing before: a reason may name hole cards).
    fn publish_reasons(&mut self, hand: u64) {
        if self.hand_reasons.is_empty() {
            return;
        }
        let reasons = std::mem::take(&mut self.hand_reasons);
        self.shared.publish_room(&ServerMessage::Reasons {
            table: &self.shared.id,
            hand,
            reasons: &reasons,
        });
    }

    async fn on_timer(&mut self) {
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

    fn occupant_mut<T>(&self, player: &str, f: impl FnOnce(&mut Occupant) -> T) -> Option<T> {
        let mut state = self.shared.state.lock();
        let seat = state.seat_of(player)?;
        state.occupants[seat].as_mut().map(f)
    }

    async fn timeout(&mut self, seat: usize) {
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

    fn schedule_hand(&mut self, delay: Duration) {
        if self.next_hand_at.is_none() {
            self.next_hand_at = Some(Instant::now() + delay);
        }
    }

    async fn start_hand(&mut self) {
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

    async fn end_hand(&mut self) {
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
    fn snapshot(&mut self) {
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

    async fn sit(
        &mut self,
        player_id: String,
        name: String,
        seat: usize,
        buy_in: &schema::PendingBuyIn,
    ) -> Result<u64, Failure> {
        {
            let mut state = self.shared.state.lock();
            if seat >= self.shared.config.seats {
                return Err(Failure::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "seat {seat} does not exist (seats 0 to {})",
                        self.shared.config.seats - 1
                    ),
                ));
            }
            if state.seat_of(&player_id).is_some() {
                return Err(Failure::new(
                    ErrorCode::AlreadySeated,
                    "you already sit at this table",
                ));
            }
            if state.occupants[seat].is_some() || state.engine.seats()[seat].is_some() {
                return Err(Failure::new(
                    ErrorCode::SeatTaken,
                    format!("seat {seat} is taken"),
                ));
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
                return Err(Failure::new(ErrorCode::InvalidRequest, e.to_string()));
            }
        };
        self.persist(applied.records, Vec::new()).await;
        if !self.durable().await {
            return Err(Failure::new(
                ErrorCode::Unavailable,
                "the store is unavailable; try again",
            ));
        }
        self.schedule_hand(Duration::from_millis(if self.settings_pace_auto() {
            0
        } else {
            1_000
        }));
        Ok(buy_in.amount)
    }

    async fn stand(&mut self, player: &str) -> Result<StandResult, Failure> {
        let seat = self
            .shared
            .seat_of(player)
            .ok_or_else(|| Failure::new(ErrorCode::NotSeated, "you do not sit at this table"))?;
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
            Err(e) => Err(Failure::new(ErrorCode::InvalidRequest, e.to_string())),
        }
    }

    async fn sit_out(&mut self, player: &str, out: bool) -> Result<(), Failure> {
        let seat = self
            .shared
            .seat_of(player)
            .ok_or_else(|| Failure::new(ErrorCode::NotSeated, "you do not sit at this table"))?;
        let command = if out {
            Command::SitOut { seat }
        } else {
            Command::SitIn { seat }
        };
        let applied = self
            .apply(command)
            .map_err(|e| Failure::new(ErrorCode::InvalidRequest, e.to_string()))?;
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

    async fn act(&mut self, player: &str, action: Action) -> Result<u64, Failure> {
        let seat = self
            .shared
            .seat_of(player)
            .ok_or_else(|| Failure::new(ErrorCode::NotSeated, "you do not sit at this table"))?;
        let clock = self.shared.state.lock().clock;
        let applied = match self.apply(Command::Act { seat, action }) {
            Ok(applied) => applied,
            Err(RuleError::NotYourTurn { .. }) => {
                return Err(Failure::new(ErrorCode::NotYourTurn, "it is not your turn"));
            }
            Err(RuleError::NoHandInProgress) => {
                return Err(Failure::new(ErrorCode::NotYourTurn, "no hand is being played"));
            }
            Err(e) => return Err(Failure::new(ErrorCode::IllegalAction, e.to_string())),
        };
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
            return Err(Failure::new(
                ErrorCode::Unavailable,
                "the store failed before your action was saved; the table reloaded without it, act again",
            ));
        }
        Ok(seq)
    }

    fn chat(&mut self, line: ChatLine) {
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

    async fn presence(&mut self, player: &str, change: Presence) {
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

    /// Reloads the table from the store after a failed commit: whatever was
    /// not stored is gone, so every client is resynced with a snapshot.
    async fn recover(&mut self) {
        if let Some(call) = self.ai_call.take() {
            call.abort();
        }
        self.last_receipt = None;
        self.next_hand_at = None;
        let mut delay = Duration::from_millis(200);
        let mut shutdown = self.deps.shutdown.clone();
        let loaded: Loaded = loop {
            match load_state(
                &self.deps,
                &self.shared.id,
                self.shared.config.clone(),
                self.shared.settings.time_bank_ms,
            )
            .await
            {
                Ok(loaded) => break loaded,
                Err(e) => {
                    warn!(table = %self.shared.id, "reload failed, retrying: {}", e.message);
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
        let json = ServerMessage::Resync {
            table: &self.shared.id,
        }
        .text();
        let _ = self.shared.events.send(Arc::new(Delta {
            seq: None,
            audience: Audience::All,
            json,
            resync: true,
            seat_change: None,
        }));
        info!(table = %self.shared.id, "table reloaded from its log");
        self.resume_turn();
        self.schedule_hand(Duration::from_millis(500));
    }

    /// Leaves memory when nobody plays or watches for the idle TTL.
    async fn evict_if_idle(&mut self) -> bool {
        let ttl = self.deps.timing.idle_ttl;
        let ready = {
            let state = self.shared.state.lock();
            state.watchers == 0
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
        {
            let mut state = self.shared.state.lock();
            if state.watchers > 0 {
                return false;
            }
            state.closed = true;
        }
        self.set_status(TableStatus::Open);
        // The registry drops the table from memory when this task ends.
        self.deps.metrics.tables_evicted.fetch_add(1, Ordering::Relaxed);
        debug!(table = %self.shared.id, "evicted from memory");
        true
    }

    async fn stop(&mut self) {
        if let Some(call) = self.ai_call.take() {
            call.abort();
        }
        let _ = self.durable().await;
        self.shared.state.lock().closed = true;
    }
}
