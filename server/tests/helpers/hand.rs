//! A full hand between two human players and two calling-station bots,
//! checked move by move, written once for every transport: `ws_hand.rs`
//! plays it over `/ws`, `socketio.rs` over Socket.IO. Each frame is checked
//! as it comes: events in seq order, only one's own hole cards and never
//! the seed, the turn clock, the action taken is the one sent and its ack
//! covers it, the bet each seat faces, chips conserved; then both players
//! stand and get their chips back.

use std::time::Duration;

use serde_json::{Value, json};

use super::TestServer;
use super::client::TestClient;

/// The table of a move-by-move hand and its two human players.
pub struct MoveByMove {
    pub table: String,
    /// Alice's (id, token); she sits on seat 0.
    alice: (String, String),
    /// Bob's (id, token); he sits on seat 1.
    bob: (String, String),
}

impl MoveByMove {
    /// Registers Alice and Bob and creates the table `name` (Alice's): four
    /// seats, blinds 5/10, auto pace, calling-station bots on seats 2 and 3.
    pub async fn create(server: &TestServer, name: &str) -> MoveByMove {
        let alice = server.register("Alice").await;
        let bob = server.register("Bob").await;
        // Humans sit first; the bots' seats are filled when the table starts, so
        // a hand may already be running between the bots when the humans arrive.
        let table = server
            .create_table(
                &alice.1,
                json!({
                    "name": name, "seats": 4, "small_blind": 5, "big_blind": 10,
                    "pace": "auto", "turn_clock_ms": 30000,
                    "ai_seats": [{"seat": 2, "agent": "bot:calling-station", "stack": 1000},
                                 {"seat": 3, "agent": "bot:calling-station", "stack": 1000}]
                }),
            )
            .await;
        MoveByMove { table, alice, bob }
    }

    /// Alice and Bob, connected through `alice` and `bob` (their `hello`
    /// read), join and sit with 1,000 each; the first hand that deals all
    /// four in is checked move by move, the humans acting when on turn; then
    /// both stand and get their stacks back. Returns the two clients.
    pub async fn play<C: TestClient>(&self, server: &TestServer, mut alice: C, mut bob: C) -> [C; 2] {
        let table = self.table.as_str();
        let snapshot = alice.join_player(table, &self.alice.1).await;
        assert_eq!(snapshot["you"], Value::Null);
        bob.join_player(table, &self.bob.1).await;
        for (client, seat) in [(&mut alice, 0), (&mut bob, 1)] {
            let ack = client
                .request(json!({"type": "sit", "table": table, "seat": seat, "buy_in": 1000}))
                .await;
            assert_eq!(ack["type"], "ack", "{ack}");
            assert_eq!(ack["seat"], seat);
            assert_eq!(ack["stack"], 1000);
        }
        // The balance paid for the buy-in.
        assert_eq!(server.me(&self.alice.1).await["balance"], 9_000);

        // Bots may be playing a hand of their own when the humans sit, and a
        // hand may start between the two sits (the humans cannot sit at once):
        // play such hands out until one deals all four in, and check only that
        // one. Every event is taken in order, so those of the checked hand
        // that arrived while a human acted stay next in line (only other
        // messages are left in the backlog, and the checks below skip them).
        let mut clients = [(0u64, alice), (1u64, bob)];
        let started = loop {
            let message = clients[0].1.until("an event", |v| v["type"] == "event").await;
            let event = &message["event"];
            if event["type"] == "hand_started" {
                if event["players"].as_array().is_some_and(|p| p.len() == 4) {
                    break message;
                }
            } else if event["type"] == "turn_started"
                && let Some(seat) = event["seat"].as_u64().filter(|s| *s < 2)
            {
                fold_or_check(&mut clients, table, seat).await;
            }
        };
        let hand = started["event"]["hand"].as_u64().expect("hand number");
        let mut seq = started["seq"].as_u64().expect("seq");

        // Follow the hand through Alice's stream; act for the humans when on turn.
        let mut bet_level = 10u64;
        let mut committed = [0u64; 4];
        let mut own_cards = 0;
        let mut human_actions = 0;
        // The action a human sent and the seq its ack reported, until its `action_taken` arrives.
        let mut sent: Option<(u64, String, u64)> = None;
        loop {
            let message = clients[0]
                .1
                .until("the next event", |v| v["type"] == "event")
                .await;
            let next = message["seq"].as_u64().expect("seq");
            // Increasing; the seqs of events Alice may not see (the seed, other
            // seats' cards) are skipped.
            assert!(next > seq, "events arrive in order: {next} after {seq}");
            seq = next;
            let event = &message["event"];
            match event["type"].as_str().expect("type") {
                "hole_cards_dealt" => {
                    assert_eq!(event["seat"], 0, "Alice only ever sees her own cards: {event}");
                    assert_eq!(event["cards"].as_array().map(Vec::len), Some(2), "{event}");
                    own_cards += 1;
                }
                "deck_shuffled" => panic!("the seed never reaches a client: {event}"),
                "blind_posted" => {
                    let s = event["seat"].as_u64().expect("seat") as usize;
                    committed[s] += event["amount"].as_u64().expect("amount");
                }
                "board_dealt" => {
                    bet_level = 0;
                    committed = [0; 4];
                }
                "turn_started" => {
                    let s = event["seat"].as_u64().expect("seat");
                    assert!(message["clock"]["remaining_ms"].as_u64().is_some(), "{message}");
                    assert!(
                        sent.is_none(),
                        "a new turn before the last action was seen: {event}"
                    );
                    if s < 2 {
                        let facing = bet_level > committed[s as usize];
                        let (action, ack_seq) = play_turn(&mut clients, table, s, facing).await;
                        sent = Some((s, action, ack_seq));
                    }
                }
                "action_taken" => {
                    let s = event["seat"].as_u64().expect("seat");
                    let action = event["action"]["action"].as_str().expect("action");
                    if let Some((seat, sent_action, ack_seq)) = sent.take() {
                        assert_eq!(s, seat, "the seat on turn acted: {event}");
                        assert_eq!(action, sent_action, "the action taken is the one sent: {event}");
                        assert!(next <= ack_seq, "the ack ({ack_seq}) covers the action ({next})");
                        human_actions += 1;
                    }
                    // Nobody bets: everyone calls the big blind, then checks down.
                    let s = s as usize;
                    let expected = if bet_level > committed[s] { "call" } else { "check" };
                    assert_eq!(action, expected, "seat {s} at bet level {bet_level}: {event}");
                    committed[s] += event["amount"].as_u64().expect("amount");
                    bet_level = bet_level.max(committed[s]);
                    assert_eq!(event["timed_out"], false);
                }
                "hand_ended" => {
                    assert_eq!(event["hand"], hand);
                    let total: u64 = event["stacks"]
                        .as_array()
                        .expect("stacks")
                        .iter()
                        .map(|s| s["stack"].as_u64().expect("stack"))
                        .sum();
                    assert_eq!(total, 4_000, "chips are conserved: {event}");
                    break;
                }
                _ => {}
            }
        }
        assert!(sent.is_none(), "every action sent was taken");
        // Preflop, flop, turn and river: each human acts at least once a street.
        assert!(human_actions >= 8, "the humans acted {human_actions} times");
        assert_eq!(own_cards, 1, "Alice got her hole cards once");
        assert!(
            clients[0]
                .1
                .received()
                .iter()
                .any(|v| v["event"]["type"] == "pot_awarded"),
            "the pot was awarded"
        );

        // Bob's stream shows the same hand, with his own cards only.
        let bob_client = &mut clients[1].1;
        let ended = bob_client
            .until("the same hand_ended", |v| v["type"] == "event" && v["seq"] == seq)
            .await;
        assert_eq!(ended["event"]["type"], "hand_ended", "{ended}");
        assert_eq!(ended["event"]["hand"], hand, "{ended}");
        let mut bob_cards = 0;
        for v in bob_client.received() {
            if v["event"]["type"] == "hole_cards_dealt" {
                assert_eq!(v["event"]["seat"], 1, "Bob sees only his own cards: {v}");
                bob_cards += 1;
            }
            assert_ne!(
                v["event"]["type"], "deck_shuffled",
                "the seed never reaches a client"
            );
        }
        assert!(bob_cards >= 1, "Bob got his hole cards");

        // Both stand up between hands (or after the next) and get their stacks back.
        // A seat in a hand folds on its turn and leaves when the hand ends.
        for (_, client) in clients.iter_mut() {
            let ack = client.request(json!({"type": "stand", "table": table})).await;
            assert_eq!(ack["type"], "ack", "{ack}");
        }
        for (id, token) in [&self.alice, &self.bob] {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let me = server.me(token).await;
                if me["seats"].as_array().is_some_and(Vec::is_empty) && me["balance"].as_u64() != Some(9_000)
                {
                    let balance = me["balance"].as_u64().expect("balance");
                    assert!(balance > 9_000 - 1_000 && balance <= 9_000 + 4_000, "{me}");
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{id} never left the table: {me}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        clients.map(|(_, client)| client)
    }
}

/// Acts for the human on `seat` (call if facing a bet, else check); returns
/// the action sent and the `seq` its ack reports.
async fn play_turn<C: TestClient>(
    clients: &mut [(u64, C)],
    table: &str,
    seat: u64,
    to_call: bool,
) -> (String, u64) {
    let (_, client) = clients.iter_mut().find(|(s, _)| *s == seat).expect("our seat");
    let action = if to_call { "call" } else { "check" };
    let ack = client
        .request(json!({"type": "act", "table": table, "action": action}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["of"], "act", "{ack}");
    (action.to_owned(), ack["seq"].as_u64().expect("ack seq"))
}

/// Gets the human on `seat` out of a hand that is not the one checked.
async fn fold_or_check<C: TestClient>(clients: &mut [(u64, C)], table: &str, seat: u64) {
    let (_, client) = clients.iter_mut().find(|(s, _)| *s == seat).expect("our seat");
    let mut reply = client
        .request(json!({"type": "act", "table": table, "action": "fold"}))
        .await;
    if reply["code"] == "illegal_action" {
        reply = client
            .request(json!({"type": "act", "table": table, "action": "check"}))
            .await;
    }
    assert_eq!(reply["type"], "ack", "{reply}");
}
