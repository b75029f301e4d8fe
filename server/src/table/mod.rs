//! Live tables. Each table is one tokio task ([`task`]) that owns the
//! authoritative engine state behind a per-table `parking_lot::Mutex`, takes
//! commands on a bounded channel, runs the turn clock and publishes sequenced
//! deltas on a broadcast channel. Joining clients read a snapshot and
//! subscribe under the same lock, so no delta falls between the two.
//!
//! - [`settings`]: what a table is (buy-ins, clocks, pace, AI seats).
//! - [`agents`]: agent specs (`bot:NAME`, `llm:provider/model`) to agents.
//! - [`task`]: the table task and its clock.
//! - [`history`]: hand histories, written with a hand's last events; the start-up repair.
//! - [`registry`]: the live tables, loading from the store on demand, restore at start.
//! - [`error`]: what goes wrong, in the table's terms ([`TableError`], [`AgentError`]).

pub mod agents;
pub mod deps;
pub mod error;
pub mod history;
pub mod load;
pub mod mirror;
pub mod ownership;
pub mod registry;
pub mod remote;
pub mod seat;
pub mod settings;
pub mod task;

use std::collections::VecDeque;
use std::sync::Arc;

use ai_players::SeatKind;
use game_core::{Event, Table, Viewer};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::{Notify, broadcast, mpsc, oneshot};
use tokio::time::Instant;

use crate::protocol::ServerMessage;
pub use deps::{TableDeps, TableLimits, Timing};
pub use error::{AgentError, TableError};
pub use settings::{AiSeat, Pace, TableSettings};

pub use crate::protocol::{ChatLine, ClockInfo, SeatInfo};

/// Who may receive a delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Everyone in the room.
    All,
    /// Only this player's connections (their hole cards).
    Player(Arc<str>),
    /// No client (server-only events: the seed, a stacked deck).
    Nobody,
}

/// One message published to a table's room, serialised once for all receivers.
#[derive(Debug)]
pub struct Delta {
    /// The event's seq; `None` for room messages outside the log (chat, presence).
    pub seq: Option<u64>,
    /// Who may receive it.
    pub audience: Audience,
    /// The whole server message, ready to send.
    pub json: Arc<str>,
    /// Receivers must drop their state and take a fresh snapshot (the table was reloaded).
    pub resync: bool,
    /// The seat this event seats or unseats (`seat_taken`, `seat_left`).
    pub seat_change: Option<usize>,
}

impl Audience {
    /// Who may see `event`: the one place this is decided, for live deltas
    /// and for events replayed to a resuming client alike. `holder` names
    /// the person who held the event's seat when it happened (`None` for an
    /// AI seat, an empty seat, or when that cannot be known for sure).
    pub fn of(event: &Event, holder: impl FnOnce(usize) -> Option<Arc<str>>) -> Audience {
        match event.visibility() {
            game_core::Visibility::Public => Audience::All,
            game_core::Visibility::Server => Audience::Nobody,
            game_core::Visibility::Seat(seat) => holder(seat).map_or(Audience::Nobody, Audience::Player),
        }
    }

    /// Whether a connection acting as `player` (if any) may receive it.
    pub fn admits(&self, player: Option<&str>) -> bool {
        match self {
            Audience::All => true,
            Audience::Player(id) => player == Some(&**id),
            Audience::Nobody => false,
        }
    }
}

impl Delta {
    /// A room message outside the log (chat, presence, reasons, ...), for everyone.
    pub fn room(json: Arc<str>) -> Arc<Delta> {
        Arc::new(Delta {
            seq: None,
            audience: Audience::All,
            json,
            resync: false,
            seat_change: None,
        })
    }

    /// Whether a connection acting as `player` (if any) may receive this.
    pub fn visible_to(&self, player: Option<&str>) -> bool {
        self.audience.admits(player)
    }
}

/// How a join starts.
pub enum JoinStart {
    /// A full snapshot (JSON text), then live deltas.
    Snapshot(Arc<str>),
    /// Missed events: first those in the store after `store_after` up to
    /// `ring_from` (exclusive; none if equal), then `ring`, then live deltas.
    Replay {
        /// The client's last seq.
        store_after: u64,
        /// First seq held in `ring`.
        ring_from: u64,
        /// Recent deltas the client missed.
        ring: Vec<Arc<Delta>>,
        /// The table's seq now.
        seq: u64,
        /// The table's epoch.
        epoch: u64,
        /// The player's current seat (for filtering store events).
        seat: Option<usize>,
    },
}

/// A subscription to a table's room. Dropping it leaves the room.
pub struct Subscription {
    /// Live deltas after the start.
    pub rx: broadcast::Receiver<Arc<Delta>>,
    /// What to send first.
    pub start: JoinStart,
    pub(crate) guard: WatcherGuard,
}

/// Counts a room member while it lives.
pub(crate) struct WatcherGuard {
    shared: Arc<TableShared>,
    spectator: bool,
}

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.watchers = state.watchers.saturating_sub(1);
        if self.spectator {
            state.spectators = state.spectators.saturating_sub(1);
        }
        if state.watchers == 0 {
            state.idle_since = Some(Instant::now());
            drop(state);
            // The idle TTL starts now: the task must plan its wake-up again
            // (no command may come to make it look).
            self.shared.wake.notify_one();
        }
    }
}

/// Why a join was refused.
#[derive(Debug)]
pub enum JoinError {
    /// The table was evicted in the meantime: look it up again.
    Closed,
    /// A limit or rule said no.
    Refused(TableError),
}

/// A reply channel for commands.
pub type Reply<T> = oneshot::Sender<Result<T, TableError>>;

/// What a seated player did with `stand`.
#[derive(Clone, Copy, Debug, Serialize, serde::Deserialize)]
pub struct StandResult {
    /// Chips returned to the balance now (0 if leaving after the hand).
    pub cashed_out: u64,
    /// True when the seat is in a hand: it folds and leaves when the hand ends.
    pub after_hand: bool,
}

/// Commands a table task takes.
pub enum TableCommand {
    /// Seat a player whose buy-in is already reserved in the store.
    Sit {
        /// Player id.
        player_id: String,
        /// Display name.
        name: String,
        /// Seat.
        seat: usize,
        /// The reserved buy-in (confirmed or refunded by the table); boxed,
        /// like the chat line, to keep every queued command small.
        buy_in: Box<schema::PendingBuyIn>,
        /// Answer.
        reply: Reply<u64>,
    },
    /// At a mirror: seat a player, the owner reserving the buy-in (see
    /// [`seat::sit`]); a table that runs here never gets it.
    SitAtOwner {
        /// Player id.
        player_id: String,
        /// Display name.
        name: String,
        /// Seat.
        seat: usize,
        /// Chips to buy in with.
        buy_in: u64,
        /// Answer (the stack).
        reply: Reply<u64>,
    },
    /// A player leaves the table.
    Stand {
        /// Player id.
        player_id: String,
        /// Answer.
        reply: Reply<StandResult>,
    },
    /// A player skips (true) or rejoins (false) the next hands.
    SitOut {
        /// Player id.
        player_id: String,
        /// Out or in.
        out: bool,
        /// Answer.
        reply: Reply<()>,
    },
    /// A player acts.
    Act {
        /// Player id.
        player_id: String,
        /// The action.
        action: game_core::Action,
        /// The turn it answers, if the client named one.
        turn: Option<u64>,
        /// Answer (the resulting seq).
        reply: Reply<u64>,
    },
    /// A chat line.
    Chat {
        /// The line.
        line: Box<ChatLine>,
        /// Answer.
        reply: Reply<()>,
    },
    /// One of a player's connections joined or left the room.
    Presence {
        /// Player id.
        player_id: String,
        /// Joined or left.
        change: Presence,
    },
    /// An AI seat's answer.
    AiDecision {
        /// The turn it answers.
        turn: u64,
        /// The seat.
        seat: usize,
        /// The decision.
        decision: Box<ai_players::Decision>,
    },
    /// Another node has clients watching this table through its mirror:
    /// the table counts as watched for a while (the mirror renews it).
    RemoteWatch,
    /// Persist and stop.
    Shutdown,
}

/// Per-seat bookkeeping beside the engine.
#[derive(Clone, Debug)]
pub(crate) struct Occupant {
    pub id: Arc<str>,
    pub name: String,
    pub kind: SeatKind,
    pub connections: u32,
    pub disconnected_at: Option<Instant>,
    pub bank_ms: u64,
    pub leaving: bool,
}

/// The turn clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    pub seat: usize,
    pub turn: u64,
    /// The seq of the `turn_started` event that began this turn: the turn's
    /// identity on the wire (an `act` may name it), the same on every node
    /// and across reloads.
    pub turn_seq: u64,
    pub started: Instant,
    /// Turn clock only.
    pub clock_end: Instant,
    /// Turn clock plus time bank: the seat times out here.
    pub deadline: Instant,
}

/// Everything behind the table lock.
pub(crate) struct TableState {
    pub engine: Table,
    pub seq: u64,
    pub epoch: u64,
    /// The seq of the last `turn_started` event (0: none yet).
    pub last_turn_seq: u64,
    /// The seq the table was loaded (or reloaded) at: events up to it are durable.
    pub loaded_seq: u64,
    /// Deltas with seq >= `ring_from`; everything before `ring_from` is durable.
    pub ring: VecDeque<Arc<Delta>>,
    pub ring_from: u64,
    pub occupants: Vec<Option<Occupant>>,
    pub chat: VecDeque<ChatLine>,
    pub clock: Option<Clock>,
    pub watchers: usize,
    pub spectators: usize,
    /// Open connections per player id in the room (seated or not).
    pub present: std::collections::HashMap<Arc<str>, u32>,
    pub idle_since: Option<Instant>,
    /// Clients on other nodes watch the table (through mirrors) until then.
    pub remote_watch_until: Option<Instant>,
    pub closed: bool,
}

/// Most deltas kept for resuming clients (a hand rarely has more; beyond, a snapshot).
pub(crate) const RING_CAPACITY: usize = 512;
/// Chat lines kept in memory per table.
pub(crate) const CHAT_CAPACITY: usize = 200;
/// Chat lines in a snapshot.
const SNAPSHOT_CHAT: usize = 50;
/// Broadcast buffer per table: a receiver further behind is resynced.
pub(crate) const BROADCAST_CAPACITY: usize = 128;

/// A table's shared part: the handle sessions and the API hold.
pub struct TableShared {
    /// Table id.
    pub id: Arc<str>,
    /// Name shown in the lobby.
    pub name: String,
    /// Stakes and size.
    pub config: game_core::TableConfig,
    /// Buy-ins, clocks, pace, AI seats.
    pub settings: TableSettings,
    /// The settings as snapshots carry them, encoded on the first snapshot
    /// (a table nobody joins never needs them).
    pub(crate) settings_json: std::sync::OnceLock<Box<serde_json::value::RawValue>>,
    /// The secret each hand's deck seed is derived from (never sent).
    pub(crate) deal_key: game_core::DealKey,
    /// The lease every write for this table carries (cluster mode); `None`
    /// on a single node.
    pub fence: Option<schema::Fence>,
    /// A mirror of a table another node runs (see [`mirror`]): commands
    /// go to the owner.
    pub mirror: bool,
    pub(crate) state: Mutex<TableState>,
    pub(crate) events: broadcast::Sender<Arc<Delta>>,
    pub(crate) commands: mpsc::Sender<TableCommand>,
    /// Wakes the task when its clocks changed outside a command (the last
    /// watcher left), so it recomputes when to wake.
    pub(crate) wake: Notify,
}

/// A cheap handle to a live table.
pub type TableHandle = Arc<TableShared>;

/// A change in a player's connections to a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// A connection joined as that player.
    Joined,
    /// One of the player's connections left.
    Left,
}

/// A lobby line.
#[derive(Clone, Debug, Serialize)]
pub struct TableSummary {
    /// Table id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Seats.
    pub seats: usize,
    /// Seats taken.
    pub seated: usize,
    /// Humans seated.
    pub humans: usize,
    /// Small blind.
    pub small_blind: u64,
    /// Big blind.
    pub big_blind: u64,
    /// Ante.
    pub ante: u64,
    /// Spectators watching.
    pub spectators: usize,
    /// Pace.
    pub pace: Pace,
    /// Buy-in range.
    pub min_buy_in: u64,
    /// Buy-in range.
    pub max_buy_in: u64,
    /// Current hand number.
    pub hand: u64,
    /// Whether it is in memory now.
    pub live: bool,
}

impl TableShared {
    /// Sends a message outside the log to everyone in the room.
    pub(crate) fn publish_room(&self, message: &ServerMessage) {
        let _ = self.events.send(Delta::room(message.text()));
    }

    /// Tells the room to drop what it has and take a fresh snapshot (the
    /// table was reloaded from the store).
    pub(crate) fn publish_resync(&self) {
        let json = ServerMessage::Resync { table: &self.id }.text();
        let _ = self.events.send(Arc::new(Delta {
            seq: None,
            audience: Audience::All,
            json,
            resync: true,
            seat_change: None,
        }));
    }

    /// Tells everyone in the room that the table stopped, and why (no
    /// client request is being answered: the error has no request id).
    pub(crate) fn publish_room_error(&self, error: TableError) {
        let failure = crate::protocol::Failure::from(error);
        self.publish_room(&ServerMessage::Error {
            id: None,
            table: Some(&self.id),
            code: failure.code,
            message: &failure.message,
        });
    }

    /// Sends a command, failing with [`TableError::Restarting`] if the
    /// table stopped or [`TableError::Busy`] if it is overloaded for a
    /// whole second.
    pub async fn send(&self, command: TableCommand) -> Result<(), TableError> {
        let timeout = std::time::Duration::from_secs(1);
        match self.commands.send_timeout(command, timeout).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => Err(TableError::Busy),
            Err(mpsc::error::SendTimeoutError::Closed(_)) => Err(TableError::Restarting),
        }
    }

    /// Sends a command that answers and waits for the answer.
    pub async fn request<T>(&self, make: impl FnOnce(Reply<T>) -> TableCommand) -> Result<T, TableError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx)).await?;
        rx.await.unwrap_or(Err(TableError::Stopped))
    }

    /// The seat `player` occupies, if any.
    pub fn seat_of(&self, player: &str) -> Option<usize> {
        self.state.lock().seat_of(player)
    }

    /// The table's lobby line.
    pub fn summary(&self) -> TableSummary {
        let state = self.state.lock();
        let seated = state.occupants.iter().flatten().count();
        let humans = state
            .occupants
            .iter()
            .flatten()
            .filter(|o| o.kind == SeatKind::Human)
            .count();
        TableSummary {
            id: self.id.to_string(),
            name: self.name.clone(),
            seats: self.config.seats,
            seated,
            humans,
            small_blind: self.config.small_blind,
            big_blind: self.config.big_blind,
            ante: self.config.ante,
            spectators: state.spectators,
            pace: self.settings.pace,
            min_buy_in: self.settings.min_buy_in,
            max_buy_in: self.settings.max_buy_in,
            hand: state.engine.hand_number(),
            live: true,
        }
    }

    /// The current seq and the sum of all chips at the table.
    pub fn chip_count(&self) -> (u64, u64) {
        let state = self.state.lock();
        (state.seq, state.engine.total_chips())
    }

    /// Joins the room. `player` is the joining player (for `Role::Player`),
    /// `last_seq`/`epoch` what the client saw before. The snapshot (or the
    /// replay plan) and the subscription are taken under one lock.
    pub fn subscribe(
        self: &Arc<Self>,
        player: Option<&str>,
        spectator: bool,
        resume: Option<(u64, Option<u64>)>,
        max_spectators: usize,
    ) -> Result<Subscription, JoinError> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(JoinError::Closed);
        }
        if spectator && state.spectators >= max_spectators {
            return Err(JoinError::Refused(TableError::SpectatorsFull {
                max: max_spectators,
            }));
        }
        let rx = self.events.subscribe();
        let seat = player.and_then(|p| state.seat_of(p));
        let start = match resume.and_then(|(last, epoch)| state.replay_plan(last, epoch, seat)) {
            Some(plan) => plan,
            None => JoinStart::Snapshot(self.snapshot_locked(&state, seat)),
        };
        state.watchers += 1;
        state.idle_since = None;
        if spectator {
            state.spectators += 1;
        }
        drop(state);
        Ok(Subscription {
            rx,
            start,
            guard: WatcherGuard {
                shared: self.clone(),
                spectator,
            },
        })
    }

    /// A new receiver and a snapshot taken together, for a subscriber that fell behind.
    pub fn resync(&self, player: Option<&str>) -> (broadcast::Receiver<Arc<Delta>>, Arc<str>) {
        let state = self.state.lock();
        let rx = self.events.subscribe();
        let seat = player.and_then(|p| state.seat_of(p));
        (rx, self.snapshot_locked(&state, seat))
    }

    /// The published message for one event: its audience (decided here
    /// for every viewer, local or through a mirror) and its JSON (`None`,
    /// logged, if it cannot be encoded; the event is still stored).
    pub(crate) fn event_delta(
        &self,
        state: &TableState,
        seq: u64,
        at_ms: u64,
        event: &Event,
        seat_info: Option<&SeatInfo>,
    ) -> Option<Arc<Delta>> {
        let audience = Audience::of(event, |seat| {
            let occupant = state.occupants.get(seat)?.as_ref()?;
            (occupant.kind == SeatKind::Human).then(|| occupant.id.clone())
        });
        let (clock, legal) = match event {
            Event::TurnStarted { seat } => (state.clock_info(), Some(state.engine.legal_actions(*seat))),
            _ => (None, None),
        };
        let message = ServerMessage::Event {
            table: &self.id,
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
                tracing::error!(table = %self.id, seq, "cannot encode event: {e}");
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

    /// Keeps `delta` for resuming clients and sends it to the room.
    pub(crate) fn broadcast_locked(&self, state: &mut TableState, delta: Arc<Delta>) {
        if state.ring.len() >= RING_CAPACITY
            && let Some(old) = state.ring.pop_front()
        {
            state.ring_from = old.seq.map_or(state.ring_from, |s| s + 1);
        }
        state.ring.push_back(delta.clone());
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(delta);
    }

    /// A fresh snapshot for `player` (or a spectator).
    pub fn snapshot(&self, player: Option<&str>) -> Arc<str> {
        let state = self.state.lock();
        let seat = player.and_then(|p| state.seat_of(p));
        self.snapshot_locked(&state, seat)
    }

    /// The settings as snapshots carry them (encoded on first use).
    fn settings_json(&self) -> &serde_json::value::RawValue {
        self.settings_json.get_or_init(|| {
            // Plain data, already encoded once when the table was created.
            serde_json::value::to_raw_value(&self.settings).unwrap_or_else(|e| {
                tracing::error!(table = %self.id, "cannot encode the table's settings: {e}");
                serde_json::value::RawValue::NULL.to_owned()
            })
        })
    }

    fn snapshot_locked(&self, state: &TableState, seat: Option<usize>) -> Arc<str> {
        let viewer = seat.map_or(Viewer::Spectator, Viewer::Seat);
        let chat_skip = state.chat.len().saturating_sub(SNAPSHOT_CHAT);
        ServerMessage::Snapshot {
            table: &self.id,
            name: &self.name,
            seq: state.seq,
            epoch: state.epoch,
            you: seat,
            view: state.engine.view(viewer),
            seats: state.seat_infos(),
            clock: state.clock_info(),
            settings: self.settings_json(),
            chat: state.chat.iter().skip(chat_skip).collect(),
            spectators: state.spectators,
        }
        .text()
    }
}

/// How long a mirror's `RemoteWatch` keeps a table watched (mirrors renew
/// it every few seconds while they have clients).
pub(crate) const REMOTE_WATCH_TTL: std::time::Duration = std::time::Duration::from_secs(10);

impl TableState {
    /// Whether anyone watches: a client here, or one on another node
    /// through a mirror.
    pub(crate) fn watched(&self) -> bool {
        self.watchers > 0
            || self
                .remote_watch_until
                .is_some_and(|until| until > Instant::now())
    }

    /// Starts the turn clock of `seat` for the turn begun by the
    /// `turn_started` at `seq` (an AI seat has no time bank).
    pub(crate) fn begin_turn(
        &mut self,
        seat: usize,
        seq: u64,
        turn: u64,
        ai: bool,
        turn_clock_ms: u64,
        now: Instant,
    ) {
        let bank = if ai {
            0
        } else {
            self.occupants
                .get(seat)
                .and_then(Option::as_ref)
                .map_or(0, |o| o.bank_ms)
        };
        let clock_end = now + std::time::Duration::from_millis(turn_clock_ms);
        self.last_turn_seq = seq;
        self.clock = Some(Clock {
            seat,
            turn,
            turn_seq: seq,
            started: now,
            clock_end,
            deadline: clock_end + std::time::Duration::from_millis(bank),
        });
    }

    pub(crate) fn seat_of(&self, player: &str) -> Option<usize> {
        self.occupants
            .iter()
            .position(|o| o.as_ref().is_some_and(|o| &*o.id == player))
    }

    pub(crate) fn seat_infos(&self) -> Vec<SeatInfo> {
        self.occupants
            .iter()
            .enumerate()
            .filter_map(|(seat, o)| {
                o.as_ref().map(|o| SeatInfo {
                    seat,
                    player_id: o.id.to_string(),
                    name: o.name.clone(),
                    kind: o.kind,
                    connected: o.kind != SeatKind::Human || o.connections > 0,
                    time_bank_ms: o.bank_ms,
                })
            })
            .collect()
    }

    pub(crate) fn clock_info(&self) -> Option<ClockInfo> {
        let clock = self.clock?;
        let now = Instant::now();
        let bank = self.occupants.get(clock.seat)?.as_ref().map_or(0, |o| o.bank_ms);
        let left = clock.deadline.saturating_duration_since(now);
        Some(ClockInfo {
            seat: clock.seat,
            turn: clock.turn_seq,
            remaining_ms: millis(clock.clock_end.saturating_duration_since(now)),
            time_bank_ms: bank,
            deadline_ms: schema::now_ms() + millis(left),
        })
    }

    /// How a client that saw up to `last` (in `epoch`) catches up, or `None`
    /// for a snapshot. Events after the last load are trusted only within
    /// the same epoch: a client may have seen events a crash never stored.
    fn replay_plan(&self, last: u64, epoch: Option<u64>, seat: Option<usize>) -> Option<JoinStart> {
        if last > self.seq {
            return None;
        }
        if epoch != Some(self.epoch) && last > self.loaded_seq {
            return None;
        }
        if self.seq - last > RESUME_MAX_EVENTS {
            return None;
        }
        let ring: Vec<Arc<Delta>> = self
            .ring
            .iter()
            .filter(|d| d.seq.is_some_and(|s| s > last))
            .cloned()
            .collect();
        Some(JoinStart::Replay {
            store_after: last,
            ring_from: self.ring_from.max(last + 1),
            ring,
            seq: self.seq,
            epoch: self.epoch,
            seat,
        })
    }
}

/// Most events a resuming client is sent; further behind, a snapshot is smaller.
pub(crate) const RESUME_MAX_EVENTS: u64 = 2_000;

/// Whole milliseconds of a duration.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command channel allocates blocks of 32 commands per table: large
    /// payloads are boxed so that a block stays small (see BENCHMARKS.md,
    /// "Memory per active table").
    #[test]
    fn queued_commands_stay_small() {
        let size = std::mem::size_of::<TableCommand>();
        assert!(size <= 80, "TableCommand is {size} bytes");
    }
}
