//! The table task: applies commands to the engine, numbers and publishes
//! the resulting events, persists them through the event writer, runs the
//! turn clock, asks AI seats to act without blocking, and starts hands.
//!
//! The lock is taken only for synchronous work (apply, number, serialise,
//! broadcast); every `.await` (the store, replies) happens outside it.
//!
//! This file holds the task's state and its loop; the work is split by
//! concern: [`publish`] (apply, publish, persist, room messages), [`turns`]
//! (clock, timeouts, AI turns), [`hands`] (starting and ending hands,
//! snapshots), [`seating`] (seats, money, actions), [`recovery`] (reload
//! after a store failure, eviction, stop).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ai_players::SeatKind;
use ai_players::{Agent, CallContext, DecisionSource, Lane, Turn};
use game_core::{Action, Command, Event, RuleError, Viewer};
use schema::{DecisionRow, EventRecord, HandRecord, Receipt, Repository, StoreError, TableStatus};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, error, info, warn};

use super::{
    CHAT_CAPACITY, ChatLine, Clock, Delta, Occupant, Presence, StandResult, TableCommand, TableError,
    TableShared, TableState, millis,
};
use crate::auth::random_u64;
use crate::protocol::ServerMessage;
use crate::table::TableDeps;
use crate::table::agents::Agents;
use crate::table::history;
use crate::table::load::{Loaded, load_state};

mod hands;
mod publish;
mod recovery;
mod seating;
mod turns;

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
    deps: Arc<TableDeps>,
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
    /// A write was fenced: another node owns the table; this task ends
    /// without writing anything more.
    fenced: bool,
}

impl TableTask {
    pub(crate) fn new(
        shared: Arc<TableShared>,
        deps: Arc<TableDeps>,
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
            fenced: false,
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
            let wake_at = self.next_wake();
            tokio::select! {
                command = self.rx.recv() => match command {
                    Some(TableCommand::Shutdown) | None => break,
                    Some(command) => Box::pin(self.handle(command)).await,
                },
                () = sleep_until(wake_at) => Box::pin(self.on_timer()).await,
                // Only to plan the next wake-up again.
                () = self.shared.wake.notified() => {}
            }
            if self.fenced {
                self.stop_fenced();
                return;
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
        if let Some(until) = state.remote_watch_until
            && until > Instant::now()
        {
            wake = wake.min(until);
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
                let fence = self.shared.fence.clone();
                settling.fetch_add(1, Ordering::AcqRel);
                tokio::spawn(async move {
                    let settled = if ok {
                        repo.confirm_buy_in_fenced(id, fence.as_ref()).await
                    } else {
                        repo.refund_buy_in_fenced(id, fence.as_ref()).await
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
                turn,
                reply,
            } => {
                let result = self.act(&player_id, action, turn).await;
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
            TableCommand::RemoteWatch => {
                let mut state = self.shared.state.lock();
                let now = Instant::now();
                state.remote_watch_until = Some(now + super::REMOTE_WATCH_TTL);
                // The idle TTL counts from the last remote watcher too.
                if state.idle_since.is_some() {
                    state.idle_since = Some(now);
                }
            }
            TableCommand::SitAtOwner { reply, .. } => {
                // Only mirrors take it; a table that runs here seats through `seat::sit`.
                let _ = reply.send(Err(TableError::Restarting));
            }
            TableCommand::Shutdown => {}
        }
    }
}
