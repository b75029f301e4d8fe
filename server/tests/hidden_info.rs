//! Hidden information: every frame a spectator and each player receives over
//! 200 hands is recorded, and none carries another seat's hole cards before
//! they are shown, the seed, or an undealt card.

mod helpers;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use helpers::{TestServer, WsClient};
use serde_json::{Value, json};

const HANDS: u64 = 200;

/// Every string value that is a card (`As`, `Td`, `2c`, ...), anywhere in `value`.
fn cards_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let b = s.as_bytes();
            if b.len() == 2 && b"23456789TJQKA".contains(&b[0]) && b"cdhs".contains(&b[1]) {
                out.push(s.clone());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| cards_in(v, out)),
        Value::Object(map) => map.values().for_each(|v| cards_in(v, out)),
        _ => {}
    }
}

/// Whether `value` has an object key naming server-only data.
fn has_secret_key(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(has_secret_key),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k == "seed" || k == "deck" || has_secret_key(v)),
        _ => false,
    }
}

fn strings(cards: &Value) -> Vec<String> {
    let mut out = Vec::new();
    cards_in(cards, &mut out);
    out
}

/// Replays what one client received and fails on the first frame that shows
/// it something it may not know. `seat` is the client's seat (None: spectator).
fn check_stream(who: &str, seat: Option<u64>, frames: &[Value]) -> u64 {
    let mut public: HashSet<String> = HashSet::new();
    let mut own: HashSet<String> = HashSet::new();
    let mut hands = 0;
    for frame in frames {
        assert!(!has_secret_key(frame), "{who} received server-only data: {frame}");
        match frame["type"].as_str() {
            Some("event") => {
                let event = &frame["event"];
                let kind = event["type"].as_str().unwrap_or("");
                assert!(
                    kind != "deck_shuffled" && kind != "deck_stacked",
                    "{who} received the deck: {frame}"
                );
                match kind {
                    "hand_started" => {
                        public.clear();
                        own.clear();
                    }
                    "hole_cards_dealt" => {
                        assert_eq!(
                            event["seat"].as_u64(),
                            seat,
                            "{who} received another seat's hole cards: {frame}"
                        );
                        own.extend(strings(&event["cards"]));
                    }
                    "board_dealt" | "hand_shown" => public.extend(strings(&event["cards"])),
                    "hand_ended" => hands += 1,
                    _ => {}
                }
            }
            Some("snapshot") => {
                let view = &frame["view"];
                public.extend(strings(&view["board"]));
                let showdown = view["street"] == "showdown" || view["hand_in_progress"] == false;
                for entry in view["seats"].as_array().into_iter().flatten() {
                    if entry.is_null() || entry["cards"].is_null() {
                        continue;
                    }
                    let cards = strings(&entry["cards"]);
                    if entry["seat"].as_u64() == seat {
                        own.extend(cards);
                    } else {
                        assert!(
                            showdown,
                            "{who} sees seat {}'s cards mid-hand: {frame}",
                            entry["seat"]
                        );
                        public.extend(cards);
                    }
                }
            }
            _ => {}
        }
        let mut seen = Vec::new();
        cards_in(frame, &mut seen);
        for card in seen {
            assert!(
                public.contains(&card) || own.contains(&card),
                "{who} received card {card} it may not know: {frame}"
            );
        }
    }
    hands
}

/// Plays a seat: on its turn, check if possible, else call (sometimes fold);
/// sits again after busting. Returns every frame received.
async fn play(mut client: WsClient, table: String, seat: u64, stop: Arc<AtomicBool>) -> Vec<Value> {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(message) = client.try_recv(std::time::Duration::from_millis(200)).await else {
            continue;
        };
        let event = &message["event"];
        if message["type"] == "event"
            && event["type"] == "turn_started"
            && event["seat"].as_u64() == Some(seat)
        {
            n += 1;
            let check = client
                .request(json!({"type": "act", "table": table, "action": "check"}))
                .await;
            if check["type"] == "error" {
                assert!(
                    check["code"] == "illegal_action" || check["code"] == "not_your_turn",
                    "{check}"
                );
                let action = if n.is_multiple_of(4) { "fold" } else { "call" };
                let reply = client
                    .request(json!({"type": "act", "table": table, "action": action}))
                    .await;
                assert!(
                    reply["type"] == "ack" || reply["code"] == "not_your_turn",
                    "{reply}"
                );
            }
        }
        if message["type"] == "event" && event["type"] == "seat_left" && event["seat"].as_u64() == Some(seat)
        {
            let reply = client
                .request(json!({"type": "sit", "table": table, "seat": seat, "buy_in": 1000}))
                .await;
            assert_eq!(reply["type"], "ack", "re-sitting after busting: {reply}");
        }
    }
    client.received
}

#[tokio::test]
async fn no_frame_leaks_hidden_cards_over_200_hands() {
    // Auto pace deals hands as fast as the seats answer: let the players answer that fast.
    let server = TestServer::start_with("hidden-info", |config| {
        config.limits.messages_per_sec = 10_000;
        config.limits.message_burst = 10_000;
        // Calling down against a random bot busts often; keep re-buying.
        config.starting_balance = 1_000_000;
    })
    .await;
    let (_, alice) = server.register("Alice").await;
    let (_, bob) = server.register("Bob").await;
    let table = server
        .create_table(
            &alice,
            json!({
                "seats": 5, "small_blind": 5, "big_blind": 10, "pace": "auto",
                "ai_seats": [
                    {"seat": 2, "agent": "bot:calling-station", "stack": 1000},
                    {"seat": 3, "agent": "bot:random", "stack": 1000},
                    {"seat": 4, "agent": "bot:tight-aggressive", "stack": 1000}
                ]
            }),
        )
        .await;
    let mut spectator = server.connect().await;
    spectator.join_spectator(&table).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut players = Vec::new();
    for (seat, token) in [(0u64, &alice), (1, &bob)] {
        let mut client = server.connect().await;
        client.join_player(&table, token).await;
        let ack = client
            .request(json!({"type": "sit", "table": table, "seat": seat, "buy_in": 1000}))
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
        players.push((
            seat,
            tokio::spawn(play(client, table.clone(), seat, stop.clone())),
        ));
    }
    // Watch until 200 hands have ended.
    let mut ended = 0;
    while ended < HANDS {
        spectator.event("hand_ended").await;
        ended += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let spectator_hands = check_stream("the spectator", None, &spectator.received);
    assert!(spectator_hands >= HANDS, "{spectator_hands}");
    let mut shown = 0;
    for (seat, player) in players {
        let frames = player.await.expect("player task");
        let hands = check_stream(&format!("seat {seat}"), Some(seat), &frames);
        assert!(hands >= HANDS - 1, "seat {seat} saw {hands} hands");
        shown += frames
            .iter()
            .filter(|f| f["event"]["type"] == "hand_shown")
            .count();
    }
    // The check would be vacuous if cards were never shown or mucked.
    assert!(shown > 0, "some hands reached a showdown");
    assert!(
        spectator
            .received
            .iter()
            .any(|f| f["event"]["type"] == "hand_mucked")
            || spectator
                .received
                .iter()
                .filter(|f| f["event"]["type"] == "hand_shown")
                .count()
                > 10,
        "showdowns happened"
    );
    server.server.shutdown().await.expect("clean shutdown");
}

#[test]
fn the_checker_catches_leaks() {
    // A spectator must not see hole cards; a player must not see another seat's.
    let hole = json!({"type": "event", "seq": 3, "event": {"type": "hole_cards_dealt", "seat": 1, "cards": ["As", "Kd"]}});
    let started = json!({"type": "event", "seq": 1, "event": {"type": "hand_started", "hand": 1}});
    let leak = std::panic::catch_unwind(|| check_stream("spectator", None, &[started.clone(), hole.clone()]));
    assert!(leak.is_err());
    let leak = std::panic::catch_unwind(|| check_stream("seat 0", Some(0), &[started.clone(), hole.clone()]));
    assert!(leak.is_err());
    assert_eq!(
        check_stream("seat 1", Some(1), &[started.clone(), hole.clone()]),
        0
    );
    // A card in any other frame before it is public is a leak too.
    let early = json!({"type": "event", "seq": 4, "event": {"type": "hand_mucked", "seat": 2, "x": "7c"}});
    assert!(std::panic::catch_unwind(|| check_stream("seat 1", Some(1), &[started.clone(), early])).is_err());
    let seed = json!({"type": "event", "seq": 2, "event": {"type": "deck_shuffled", "hand": 1, "seed": 5}});
    assert!(std::panic::catch_unwind(|| check_stream("seat 1", Some(1), &[started, seed])).is_err());
}
