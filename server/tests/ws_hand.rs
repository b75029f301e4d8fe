//! A full hand over `/ws` between two WebSocket players and two bots,
//! checked move by move, then both players stand and get their chips back.

mod helpers;

use helpers::{TestServer, WsClient};
use serde_json::{Value, json};

/// Acts for whoever of `players` (seat, client) is on turn: call if facing a bet, else check.
async fn play_turn(clients: &mut [(u64, WsClient)], table: &str, seat: u64, to_call: bool) -> Value {
    let (_, client) = clients.iter_mut().find(|(s, _)| *s == seat).expect("our seat");
    let action = if to_call { "call" } else { "check" };
    let ack = client
        .request(json!({"type": "act", "table": table, "action": action}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    ack
}

#[tokio::test]
async fn two_players_and_two_bots_play_a_hand_move_by_move() {
    let server = TestServer::start("ws-hand").await;
    let (alice_id, alice) = server.register("Alice").await;
    let (bob_id, bob) = server.register("Bob").await;
    // Humans sit first; the bots' seats are filled when the table starts, so
    // a hand may already be running between the bots when the humans arrive.
    let table = server
        .create_table(
            &alice,
            json!({
                "name": "move by move", "seats": 4, "small_blind": 5, "big_blind": 10,
                "pace": "auto", "turn_clock_ms": 30000,
                "ai_seats": [{"seat": 2, "agent": "bot:calling-station", "stack": 1000},
                             {"seat": 3, "agent": "bot:calling-station", "stack": 1000}]
            }),
        )
        .await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    let snapshot = a.join_player(&table, &alice).await;
    assert_eq!(snapshot["you"], Value::Null);
    b.join_player(&table, &bob).await;
    for (client, seat) in [(&mut a, 0), (&mut b, 1)] {
        let ack = client
            .request(json!({"type": "sit", "table": table, "seat": seat, "buy_in": 1000}))
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
        assert_eq!(ack["stack"], 1000);
    }
    // The balance paid for the buy-in.
    let me = server.me(&alice).await;
    assert_eq!(me["balance"], 9_000);

    // Wait for a hand that deals all four in. A hand may start between the
    // two sits with only Alice and the bots: she checks or folds through it.
    let mut clients = vec![(0u64, a), (1u64, b)];
    let started = loop {
        let message = clients[0].1.until("an event", |v| v["type"] == "event").await;
        let event = &message["event"];
        if event["type"] == "hand_started" && event["players"].as_array().is_some_and(|p| p.len() == 4) {
            break message;
        }
        if event["type"] == "turn_started" && event["seat"].as_u64().is_some_and(|s| s < 2) {
            let seat = event["seat"].as_u64().expect("seat");
            let (_, client) = clients.iter_mut().find(|(s, _)| *s == seat).expect("our seat");
            let check = client
                .request(json!({"type": "act", "table": table, "action": "check"}))
                .await;
            if check["type"] == "error" {
                let fold = client
                    .request(json!({"type": "act", "table": table, "action": "fold"}))
                    .await;
                assert_eq!(fold["type"], "ack", "{fold}");
            }
        }
    };
    // Bob's stream still holds what came before; only his view of this hand is checked below.
    let hand = started["event"]["hand"].as_u64().expect("hand number");
    let mut seq = started["seq"].as_u64().expect("seq");

    // Follow the hand through Alice's stream; act for the humans when on turn.
    let mut bet_level = 10u64;
    let mut committed = [0u64; 4];
    let mut own_cards = 0;
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
                own_cards += 1;
            }
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
                if s < 2 {
                    let facing = bet_level > committed[s as usize];
                    play_turn(&mut clients, &table, s, facing).await;
                }
            }
            "action_taken" => {
                let s = event["seat"].as_u64().expect("seat") as usize;
                let action = event["action"]["action"].as_str().expect("action");
                // Nobody bets: everyone calls the big blind, then checks down.
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
    assert_eq!(own_cards, 1, "Alice got her hole cards once");
    assert!(
        clients[0]
            .1
            .received
            .iter()
            .any(|v| v["event"]["type"] == "pot_awarded"),
        "the pot was awarded"
    );

    // Bob's stream shows the same public events, with his own cards only.
    let bob_client = &mut clients[1].1;
    bob_client
        .until("the same hand's end", |v| {
            v["event"]["type"] == "hand_ended" && v["event"]["hand"].as_u64() == Some(hand)
        })
        .await;
    for v in &bob_client.received {
        if v["event"]["type"] == "hole_cards_dealt" {
            assert_eq!(v["event"]["seat"], 1, "Bob sees only his own cards: {v}");
        }
        assert_ne!(
            v["event"]["type"], "deck_shuffled",
            "the seed never reaches a client"
        );
    }

    // Both stand up between hands (or after the next) and get their stacks back.
    // A seat in a hand folds on its turn and leaves when the hand ends.
    for (_, client) in clients.iter_mut() {
        let ack = client.request(json!({"type": "stand", "table": table})).await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    for (token, id) in [(&alice, &alice_id), (&bob, &bob_id)] {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let me = server.me(token).await;
            if me["seats"].as_array().is_some_and(Vec::is_empty) && me["balance"].as_u64() != Some(9_000) {
                let balance = me["balance"].as_u64().expect("balance");
                assert!(balance > 9_000 - 1_000 && balance <= 9_000 + 4_000, "{me}");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{id} never left the table: {me}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    server.server.shutdown().await.expect("clean shutdown");
}
