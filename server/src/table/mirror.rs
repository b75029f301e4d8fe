//! Mirrors: a node's copy of a table another node owns, so that this
//! node's clients can join, watch and play it (design: `docs/cluster.md`).
//!
//! A mirror is a [`TableShared`] like a local table (sessions, snapshots,
//! resumes and visibility work unchanged), driven by a [`MirrorTask`]
//! instead of a table task. It loads the table from the store (snapshot +
//! log, read only), then applies the events its owner publishes on the
//! table's Redis channel once they are durable, so it only ever holds a
//! prefix of the durable log. A seq gap, a Redis reconnect, and a regular
//! check read the missing events from the store; while Redis is down the
//! mirror polls the store. Commands go to the owner through
//! [`Remote`](super::remote::Remote) and its answer comes back to the
//! client. The mirror keeps the owner's table watched while it has
//! clients, and ends when it has had none for a while, when the table
//! moves here, or when its owner is gone (its clients join again, which
//! finds the new owner, or makes this node the owner).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ai_players::SeatKind;
use game_core::Event;
use schema::{Cluster as _, Repository as _};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::agents::Agents;
use super::remote::{RemoteCommand, TableFeed};
use super::{Delta, Occupant, Presence, TableCommand, TableDeps, TableError, TableShared};
use crate::bus::BusMessage;
use crate::protocol::ServerMessage;

/// How often the mirror checks the store while Redis is down.
const POLL_BUS_DOWN: Duration = Duration::from_millis(250);
/// How often it checks the store (and the lease) anyway.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How often it tells the owner its clients still watch.
const WATCH_EVERY: Duration = Duration::from_secs(3);
/// A mirror without clients for this long ends.
const IDLE_AFTER: Duration = Duration::from_secs(10);
/// Events read per store query when catching up.
const CATCH_UP_PAGE: u64 = 2_000;

/// Where commands go.
#[derive(Clone, Debug)]
pub(crate) struct Owner {
    /// The owner's address (its node channel).
    pub address: String,
    /// The lease epoch it holds.
    pub epoch: u64,
}

/// The task behind a mirror.
pub(crate) struct MirrorTask {
    pub shared: Arc<TableShared>,
    pub deps: Arc<TableDeps>,
    pub rx: mpsc::Receiver<TableCommand>,
    pub feed: crate::bus::Subscription,
    pub owner: Owner,
}

/// Why a mirror ended.
enum End {
    /// Nobody watched for a while, or shutdown.
    Quiet,
    /// The table moved (its owner is gone, or it is ours now): clients join again.
    Moved,
}

impl MirrorTask {
    /// Runs until the mirror ends; unsubscribes then.
    pub(crate) async fn run(mut self) {
        let remote = self.deps.remote.clone();
        // Events committed between the load and the subscription.
        self.catch_up().await;
        let mut last_check = Instant::now();
        let mut last_watch: Option<Instant> = None;
        let end = loop {
            let bus_up = remote.as_ref().is_some_and(|r| r.bus.is_up());
            let poll = if bus_up { CHECK_EVERY } else { POLL_BUS_DOWN };
            tokio::select! {
                command = self.rx.recv() => match command {
                    None | Some(TableCommand::Shutdown) => break End::Quiet,
                    Some(command) => self.forward(command),
                },
                message = self.feed.recv() => match message {
                    Some(BusMessage::Payload(bytes)) => self.on_feed(&bytes).await,
                    Some(BusMessage::Reconnected) => self.catch_up().await,
                    // Another mirror of this table replaced our subscription.
                    None => break End::Quiet,
                },
                () = tokio::time::sleep(poll) => {
                    if !bus_up {
                        self.catch_up().await;
                    }
                }
            }
            if self.shared.state.lock().closed {
                break End::Quiet;
            }
            if last_check.elapsed() >= CHECK_EVERY {
                last_check = Instant::now();
                if bus_up {
                    // A message lost at the end of a burst leaves no gap to see.
                    self.catch_up().await;
                }
                if !self.check_owner().await {
                    break End::Moved;
                }
            }
            let (watchers, idle_since) = {
                let state = self.shared.state.lock();
                (state.watchers, state.idle_since)
            };
            if watchers > 0 && last_watch.is_none_or(|at| at.elapsed() >= WATCH_EVERY) {
                last_watch = Some(Instant::now());
                if let Some(remote) = &remote {
                    remote.notify(&self.owner.address, &self.shared.id, RemoteCommand::Watch);
                }
            }
            if watchers == 0 && idle_since.is_some_and(|since| since.elapsed() >= IDLE_AFTER) {
                break End::Quiet;
            }
        };
        self.shared.state.lock().closed = true;
        if let End::Moved = end {
            self.shared.publish_room_error(TableError::Moved);
        }
        debug!(table = %self.shared.id, "mirror ended");
    }

    /// Whether the owner still holds the table elsewhere (and where).
    async fn check_owner(&mut self) -> bool {
        let lease = match self.deps.repo.lease(&self.shared.id).await {
            Ok(lease) => lease,
            Err(e) => {
                // The store decides; without it, keep mirroring what we have.
                warn!(table = %self.shared.id, "cannot read the table's lease: {e}");
                return true;
            }
        };
        let mine = self.deps.remote.as_ref().map(|r| r.address.as_str());
        match lease {
            Some(lease) if lease.owner.is_some() && lease.owner_live => match lease.owner_address {
                Some(address) if Some(address.as_str()) != mine => {
                    if address != self.owner.address || lease.epoch != self.owner.epoch {
                        info!(table = %self.shared.id, owner = %address, epoch = lease.epoch, "the table's owner changed");
                        self.owner = Owner {
                            address,
                            epoch: lease.epoch,
                        };
                    }
                    true
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Sends a client's command to the owner; the answer goes back to the
    /// client when it comes (the mirror goes on meanwhile).
    fn forward(&self, command: TableCommand) {
        let Some(remote) = self.deps.remote.clone() else {
            return;
        };
        let owner = self.owner.address.clone();
        let table = self.shared.id.to_string();
        macro_rules! answer {
            ($reply:expr, $command:expr, $convert:expr) => {{
                let reply = $reply;
                let command = $command;
                tokio::spawn(async move {
                    let result = remote.request(&owner, &table, command).await;
                    let _ = reply.send(result.and_then($convert));
                });
            }};
        }
        match command {
            TableCommand::SitAtOwner {
                player_id,
                name,
                seat,
                buy_in,
                reply,
            } => answer!(
                reply,
                RemoteCommand::Sit {
                    player_id,
                    name,
                    seat,
                    buy_in,
                },
                decode
            ),
            TableCommand::Stand { player_id, reply } => {
                answer!(reply, RemoteCommand::Stand { player_id }, decode)
            }
            TableCommand::SitOut {
                player_id,
                out,
                reply,
            } => {
                answer!(reply, RemoteCommand::SitOut { player_id, out }, |_| Ok(()))
            }
            TableCommand::Act {
                player_id,
                action,
                turn,
                reply,
            } => answer!(
                reply,
                RemoteCommand::Act {
                    player_id,
                    action,
                    turn,
                },
                decode
            ),
            TableCommand::Chat { line, reply } => {
                answer!(reply, RemoteCommand::Chat { line: *line }, |_| Ok(()))
            }
            TableCommand::Presence { player_id, change } => {
                let joined = change == Presence::Joined;
                remote.notify(&owner, &table, RemoteCommand::Presence { player_id, joined });
            }
            // A seat with a buy-in reserved here: never sent to a mirror
            // (`seat::sit` forwards the whole request instead).
            TableCommand::Sit { reply, .. } => {
                let _ = reply.send(Err(TableError::Restarting));
            }
            TableCommand::AiDecision { .. } | TableCommand::RemoteWatch | TableCommand::Shutdown => {}
        }
    }

    /// One message from the table's channel.
    async fn on_feed(&mut self, bytes: &[u8]) {
        let feed: TableFeed = match serde_json::from_slice(bytes) {
            Ok(feed) => feed,
            Err(e) => {
                warn!(table = %self.shared.id, "unreadable message on the table's channel: {e}");
                return;
            }
        };
        match feed {
            TableFeed::Events { at_ms, events } => {
                let mut decoded = Vec::with_capacity(events.len());
                for e in events {
                    match serde_json::from_str::<Event>(e.payload.get()) {
                        Ok(event) => decoded.push((e.seq, event)),
                        Err(err) => {
                            warn!(table = %self.shared.id, seq = e.seq, "unreadable event on the table's channel: {err}");
                            self.catch_up().await;
                            return;
                        }
                    }
                }
                let first = decoded.first().map(|(seq, _)| *seq);
                let seq = self.shared.state.lock().seq;
                if first.is_some_and(|first| first > seq + 1) {
                    // A gap: what is missing (and this batch) is in the store.
                    self.catch_up().await;
                    return;
                }
                decoded.retain(|(s, _)| *s > seq);
                if self.apply(decoded, Some(at_ms)).await {
                    let lag = schema::now_ms().saturating_sub(at_ms);
                    self.deps.metrics.mirror_lag_ms.store(lag, Ordering::Relaxed);
                }
            }
            TableFeed::Chat { line } => {
                let json = ServerMessage::Chat {
                    table: &self.shared.id,
                    line: &line,
                }
                .text();
                {
                    let mut state = self.shared.state.lock();
                    if state.chat.len() >= super::CHAT_CAPACITY {
                        state.chat.pop_front();
                    }
                    state.chat.push_back(line);
                }
                let _ = self.shared.events.send(Delta::room(json));
            }
            TableFeed::Presence { seat, connected } => {
                if let Some(o) = self
                    .shared
                    .state
                    .lock()
                    .occupants
                    .get_mut(seat)
                    .and_then(Option::as_mut)
                {
                    o.connections = u32::from(connected);
                }
                self.shared.publish_room(&ServerMessage::Presence {
                    table: &self.shared.id,
                    seat,
                    connected,
                });
            }
            TableFeed::Room { json } => {
                let _ = self.shared.events.send(Delta::room(json.into()));
            }
        }
    }

    /// Reads the events after the mirror's seq from the store and applies them.
    async fn catch_up(&mut self) {
        self.deps.metrics.mirror_catchups.fetch_add(1, Ordering::Relaxed);
        loop {
            let after = self.shared.state.lock().seq;
            let page = match self
                .deps
                .repo
                .events_since(&self.shared.id, after, CATCH_UP_PAGE)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    warn!(table = %self.shared.id, "cannot read the table's log: {e}");
                    return;
                }
            };
            let full = page.len() as u64 == CATCH_UP_PAGE;
            let mut events = Vec::with_capacity(page.len());
            for record in page {
                match record.event() {
                    Ok(event) => events.push((record.seq, event)),
                    Err(e) => {
                        warn!(table = %self.shared.id, seq = record.seq, "unreadable stored event: {e}");
                        return;
                    }
                }
            }
            let n = events.len() as u64;
            if n == 0 || !self.apply(events, None).await {
                return;
            }
            self.deps
                .metrics
                .mirror_backfilled
                .fetch_add(n, Ordering::Relaxed);
            if !full {
                return;
            }
        }
    }

    /// Applies events that follow the mirror's seq: to the engine (which
    /// checks they replay), the seats and the clock, and publishes each to
    /// the room, stamped `at_ms` (the owner's commit time; now when read
    /// from the store). False (and the mirror reloads) if they do not replay.
    async fn apply(&mut self, events: Vec<(u64, Event)>, at_ms: Option<u64>) -> bool {
        if events.is_empty() {
            return true;
        }
        // Names of people taking seats, read before taking the lock.
        let mut names = HashMap::new();
        for (_, event) in &events {
            if let Event::SeatTaken { player, .. } = event
                && crate::auth::is_player_id(player)
                && !names.contains_key(player)
            {
                let name = match self.deps.repo.load_player(player).await {
                    Ok(p) => p.display_name,
                    Err(_) => player.clone(),
                };
                names.insert(player.clone(), name);
            }
        }
        let outcome = {
            let shared = self.shared.clone();
            let mut state = shared.state.lock();
            self.apply_locked(&mut state, &events, &names, at_ms.unwrap_or_else(schema::now_ms))
        };
        match outcome {
            Ok(applied) => applied,
            Err(why) => {
                self.reload(&why).await;
                false
            }
        }
    }

    /// [`MirrorTask::apply`] under the table lock: whether anything was
    /// applied, or why the events do not replay.
    fn apply_locked(
        &self,
        state: &mut super::TableState,
        events: &[(u64, Event)],
        names: &HashMap<String, String>,
        at_ms: u64,
    ) -> Result<bool, String> {
        if events[0].0 != state.seq + 1 {
            return Ok(false);
        }
        let plain: Vec<Event> = events.iter().map(|(_, e)| e.clone()).collect();
        let mut index = 0;
        while index < plain.len() {
            // One command's events at a time: each delta is built on the
            // engine, seats and clock as the owner had them after that
            // command (hole-card audiences and legal actions match).
            match state.engine.replay_step(&plain[index..]) {
                Ok(n) => {
                    self.publish_locked(state, &events[index..index + n], names, at_ms);
                    index += n;
                }
                // A page cut inside a command: the rest comes next.
                Err(game_core::ReplayError::Truncated { .. }) => return Ok(index > 0),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(true)
    }

    /// Publishes one command's events (already applied to the engine).
    fn publish_locked(
        &self,
        state: &mut super::TableState,
        events: &[(u64, Event)],
        names: &HashMap<String, String>,
        at_ms: u64,
    ) {
        let now = Instant::now();
        let turn_clock_ms = self.shared.settings.turn_clock_ms;
        let time_bank_ms = self.shared.settings.time_bank_ms;
        for (seq, event) in events {
            state.seq = *seq;
            let mut seat_info = None;
            match event {
                Event::SeatTaken { seat, player, .. } => {
                    let kind = if crate::auth::is_player_id(player) {
                        SeatKind::Human
                    } else {
                        Agents::kind(player)
                    };
                    let name = names
                        .get(player)
                        .cloned()
                        .unwrap_or_else(|| self.deps.agents.display_name(player, *seat));
                    if let Some(slot) = state.occupants.get_mut(*seat) {
                        *slot = Some(Occupant {
                            id: player.as_str().into(),
                            name,
                            kind,
                            connections: u32::from(kind == SeatKind::Human),
                            disconnected_at: None,
                            bank_ms: if kind == SeatKind::Human { time_bank_ms } else { 0 },
                            leaving: false,
                        });
                    }
                    seat_info = state.seat_infos().into_iter().find(|i| i.seat == *seat);
                }
                Event::TurnStarted { seat } => {
                    let ai = state
                        .occupants
                        .get(*seat)
                        .and_then(Option::as_ref)
                        .is_none_or(|o| o.kind != SeatKind::Human);
                    state.begin_turn(*seat, *seq, 0, ai, turn_clock_ms, now);
                }
                Event::ActionTaken { .. } | Event::HandEnded { .. } => state.clock = None,
                _ => {}
            }
            if let Some(delta) = self
                .shared
                .event_delta(state, *seq, at_ms, event, seat_info.as_ref())
            {
                self.shared.broadcast_locked(state, delta);
            }
            if let Event::SeatLeft { seat, .. } = event
                && let Some(slot) = state.occupants.get_mut(*seat)
            {
                *slot = None;
            }
        }
    }

    /// Rebuilds the mirror from the store after events that do not replay
    /// on it (its clients take a fresh snapshot).
    async fn reload(&mut self, why: &str) {
        warn!(table = %self.shared.id, "mirror out of step ({why}); reloading it from the store");
        let loaded = match Box::pin(super::load::load_state(
            &self.deps,
            &self.shared.id,
            self.shared.config.clone(),
            self.shared.settings.time_bank_ms,
            None,
            false,
        ))
        .await
        {
            Ok(loaded) => loaded,
            Err(e) => {
                warn!(table = %self.shared.id, "cannot reload the mirror: {e}");
                return;
            }
        };
        {
            let mut state = self.shared.state.lock();
            let (watchers, spectators, idle_since) = (state.watchers, state.spectators, state.idle_since);
            let chat = std::mem::take(&mut state.chat);
            *state = loaded.state;
            mark_connected(&mut state);
            state.watchers = watchers;
            state.spectators = spectators;
            state.idle_since = idle_since;
            state.chat = chat;
        }
        self.shared.publish_resync();
    }
}

/// An owner's answer as the command's result type (an answer that does not
/// decode counts as none).
fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, TableError> {
    serde_json::from_value(value).map_err(|_| TableError::NoAnswer)
}

/// A mirror cannot see who is connected at the owner: seated people count
/// as connected until the owner says otherwise.
pub(crate) fn mark_connected(state: &mut super::TableState) {
    for o in state.occupants.iter_mut().flatten() {
        if o.kind == SeatKind::Human {
            o.connections = 1;
            o.disconnected_at = None;
        }
    }
}
