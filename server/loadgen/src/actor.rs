//! What each load connection does: a player who sits and acts after a think
//! time, a spectator who only watches, and the snapshot probe.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use super::conn::{Conn, Incoming};
use super::stats::Counters;
use super::{Plan, Role};

/// Buy-in of every load player (the table's blinds are 5/10).
const BUY_IN: u64 = 1_000;

/// A small, fast generator for think times and choices (not for anything
/// that needs good randomness).
pub struct SplitMix(game_core::sim::SplitMix64);

impl SplitMix {
    /// Seeded from the connection's number and the clock.
    pub fn new(seed: u64) -> SplitMix {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into());
        SplitMix(game_core::sim::SplitMix64::new(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos,
        ))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[low, high]`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.next_u64() % (high - low + 1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// Milliseconds since the Unix epoch, with microseconds.
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The betting of the current street, followed from the events: enough to
/// choose a legal action without asking the server.
#[derive(Default)]
struct Street {
    bets: [u64; 10],
    stacks: [u64; 10],
    current_bet: u64,
}

impl Street {
    fn apply(&mut self, event: &Value) {
        let seat = event["seat"]
            .as_u64()
            .and_then(|s| usize::try_from(s).ok())
            .filter(|s| *s < 10);
        let amount = event["amount"].as_u64().unwrap_or(0);
        match event["type"].as_str() {
            Some("hand_started") => {
                *self = Street::default();
                for player in event["players"].as_array().into_iter().flatten() {
                    if let (Some(s), Some(stack)) = (player["seat"].as_u64(), player["stack"].as_u64())
                        && let Some(slot) = usize::try_from(s).ok().and_then(|s| self.stacks.get_mut(s))
                    {
                        *slot = stack;
                    }
                }
            }
            Some("board_dealt") => {
                self.bets = [0; 10];
                self.current_bet = 0;
            }
            Some("blind_posted") => {
                if let Some(seat) = seat {
                    self.bets[seat] += amount;
                    self.stacks[seat] = self.stacks[seat].saturating_sub(amount);
                    self.current_bet = self.current_bet.max(self.bets[seat]);
                }
            }
            Some("action_taken") => {
                if let Some(seat) = seat {
                    self.bets[seat] += amount;
                    self.stacks[seat] = event["stack"].as_u64().unwrap_or(0);
                    self.current_bet = self.current_bet.max(self.bets[seat]);
                }
            }
            _ => {}
        }
    }

    /// A human-like choice: mostly check or call, sometimes fold to a bet,
    /// sometimes bet two big blinds into an unopened street.
    fn choose(&self, seat: usize, big_blind: u64, rng: &mut SplitMix) -> Value {
        let to_call = self.current_bet.saturating_sub(self.bets[seat]);
        if to_call > 0 {
            if rng.chance(20) {
                json!({"action": "fold"})
            } else {
                json!({"action": "call"})
            }
        } else if self.current_bet == 0 && self.stacks[seat] > 4 * big_blind && rng.chance(15) {
            json!({"action": "bet", "amount": 2 * big_blind})
        } else {
            json!({"action": "check"})
        }
    }
}

/// Runs one connection until `stop` says so or the server closes it.
pub async fn run(
    plan: Arc<Plan>,
    index: usize,
    role: Role,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) {
    let conn = tokio::select! {
        conn = Conn::connect(plan.targets[index % plan.targets.len()], plan.transport, plan.api_key.as_deref(), counters.clone()) => conn,
        () = stopped(&mut stop) => return,
    };
    let mut conn = match conn {
        Ok(conn) => conn,
        Err(reason) => {
            counters.connect_failed(reason);
            return;
        }
    };
    counters.opened();
    let mut client = Client {
        table: plan.tables[role.table()].clone(),
        plan,
        role,
        counters: counters.clone(),
        street: Street::default(),
        pending_action: None,
        snapshots_seen: 0,
        rng: SplitMix::new(index as u64),
    };
    let mut next_id: u64 = 1;
    let mut dropped = conn.send(&client.join()).await.is_err();
    while !dropped {
        let wake = client
            .pending_action
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        let reply = tokio::select! {
            incoming = conn.recv() => match incoming {
                Some(incoming) => client.handle(&incoming),
                None => {
                    dropped = true;
                    None
                }
            },
            () = tokio::time::sleep_until(wake), if client.pending_action.is_some() => client.act(),
            () = stopped(&mut stop) => break,
        };
        if let Some(mut reply) = reply {
            reply["id"] = next_id.into();
            next_id += 1;
            dropped = conn.send(&reply).await.is_err();
        }
    }
    if dropped && !*stop.borrow() {
        Counters::bump(&counters.dropped);
    }
    counters.closed();
    if !dropped {
        conn.close().await;
    }
}

/// One connection's state between messages.
struct Client {
    plan: Arc<Plan>,
    role: Role,
    table: String,
    counters: Arc<Counters>,
    street: Street,
    /// When a player acts, once it is its turn.
    pending_action: Option<Instant>,
    snapshots_seen: u64,
    rng: SplitMix,
}

impl Client {
    fn join(&self) -> Value {
        match &self.role {
            Role::Player { token, .. } => {
                json!({"type": "join", "table": self.table, "as": "player", "token": token})
            }
            Role::Spectator { .. } | Role::Probe { .. } => {
                json!({"type": "join", "table": self.table, "as": "spectator"})
            }
        }
    }

    /// The player's action, its think time over.
    fn act(&mut self) -> Option<Value> {
        self.pending_action = None;
        let Role::Player { seat, .. } = self.role else {
            return None;
        };
        let mut act = self.street.choose(seat, self.plan.big_blind, &mut self.rng);
        act["type"] = "act".into();
        act["table"] = self.table.clone().into();
        Counters::bump(&self.counters.actions_sent);
        Some(act)
    }

    /// Handles one message; returns a message to send, if any.
    fn handle(&mut self, incoming: &Incoming) -> Option<Value> {
        let message = &incoming.message;
        let counters = &self.counters;
        match message["type"].as_str() {
            Some("event") => {
                Counters::bump(&counters.events);
                if let Some(at_ms) = message["at_ms"].as_u64()
                    && counters.measuring.load(std::sync::atomic::Ordering::Relaxed)
                {
                    counters.latency.record(now_us().saturating_sub(at_ms * 1000));
                }
                let event = &message["event"];
                let kind = event["type"].as_str();
                match self.role {
                    Role::Spectator { .. } => {
                        Counters::add(&counters.spectator_event_bytes, incoming.wire_bytes);
                        Counters::bump(&counters.spectator_event_frames);
                        if kind == Some("action_taken") {
                            Counters::bump(&counters.spectator_actions);
                        }
                    }
                    Role::Probe { .. } => {
                        if kind == Some("action_taken") {
                            // Ask for the full view at this point.
                            return Some(self.join());
                        }
                    }
                    Role::Player { seat, .. } => {
                        self.street.apply(event);
                        let event_seat = event["seat"].as_u64().and_then(|s| usize::try_from(s).ok());
                        match kind {
                            Some("turn_started") if event_seat == Some(seat) => {
                                let think = self.rng.between(self.plan.think_min_ms, self.plan.think_max_ms);
                                self.pending_action = Some(Instant::now() + Duration::from_millis(think));
                            }
                            Some("turn_started" | "hand_ended") => self.pending_action = None,
                            // Busted, or stood up: sit again while the balance lasts.
                            Some("seat_left") if event_seat == Some(seat) => {
                                self.pending_action = None;
                                return Some(sit(&self.table, seat));
                            }
                            _ => {}
                        }
                    }
                }
            }
            Some("snapshot") => {
                self.snapshots_seen += 1;
                let again = self.snapshots_seen > 1;
                match self.role {
                    Role::Probe { .. } if again => {
                        Counters::add(&counters.snapshot_bytes, incoming.wire_bytes);
                        Counters::bump(&counters.snapshots);
                    }
                    Role::Probe { .. } => {}
                    _ if again => Counters::bump(&counters.resyncs),
                    _ => {}
                }
            }
            Some("ack") if message["of"] == "join" => {
                if let Role::Player { seat, .. } = self.role
                    && message["seat"].is_null()
                {
                    return Some(sit(&self.table, seat));
                }
            }
            Some("error") => counters.error(message["code"].as_str().unwrap_or("unknown")),
            _ => {}
        }
        None
    }
}

/// Resolves once the run stops (the watch guard is dropped inside, so the
/// caller's future stays `Send`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn sit(table: &str, seat: usize) -> Value {
    json!({"type": "sit", "table": table, "seat": seat, "buy_in": BUY_IN})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_street_to_choose_legal_actions() {
        let mut street = Street::default();
        let mut rng = SplitMix::new(7);
        street.apply(&json!({"type": "hand_started", "players": [{"seat": 0, "stack": 1000}, {"seat": 1, "stack": 1000}]}));
        street.apply(&json!({"type": "blind_posted", "seat": 0, "amount": 5}));
        street.apply(&json!({"type": "blind_posted", "seat": 1, "amount": 10}));
        // The small blind faces 5 more: never a check or a bet.
        for _ in 0..50 {
            let action = street.choose(0, 10, &mut rng);
            assert!(
                action["action"] == "call" || action["action"] == "fold",
                "{action}"
            );
        }
        street.apply(&json!({"type": "action_taken", "seat": 0, "amount": 5, "stack": 990}));
        // The big blind has matched: check (a bet would be a raise here).
        for _ in 0..50 {
            assert_eq!(street.choose(1, 10, &mut rng)["action"], "check");
        }
        street.apply(&json!({"type": "board_dealt"}));
        let actions: Vec<Value> = (0..200)
            .map(|_| street.choose(1, 10, &mut rng)["action"].clone())
            .collect();
        assert!(actions.iter().all(|a| a == "check" || a == "bet"));
        assert!(actions.iter().any(|a| a == "bet"));
    }
}
