//! Reconnects: a player whose connection drops mid-hand rejoins with
//! `last_seq` and `epoch` and gets exactly the events it missed, then live
//! events; a rejoin the table cannot trust (stale epoch, a seq the table
//! never reached, too far behind) gets a fresh snapshot instead.

mod helpers;

use std::time::Duration;

use helpers::{TestServer, WsClient};
use serde_json::{Value, json};

fn is_event(message: &Value, kind: &str) -> bool {
    message["type"] == "event" && message["event"]["type"] == kind
}

fn seq_of(message: &Value) -> u64 {
    message["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq in {message}"))
}

/// Whether a `hand_started` event deals `seat` in.
fn deals_in(message: &Value, seat: u64) -> bool {
    message["event"]["players"]
        .as_array()
        .is_some_and(|players| players.iter().any(|p| p["seat"] == seat))
}

/// The `(seq, event)` of every event message with a seq in `range`. Replayed
/// events may lack `at_ms` and `clock`, so only these two parts are compared.
fn events_in(messages: &[Value], range: std::ops::RangeInclusive<u64>) -> Vec<(u64, Value)> {
    messages
        .iter()
        .filter(|m| m["type"] == "event" && range.contains(&seq_of(m)))
        .map(|m| (seq_of(m), m["event"].clone()))
        .collect()
}

/// Acts on the player's turn: check, or call when checking is not allowed.
async fn check_or_call(client: &mut WsClient, table: &str) {
    let reply = client
        .request(json!({"type": "act", "table": table, "action": "check"}))
        .await;
    if reply["type"] == "error" && reply["code"] == "illegal_action" {
        let reply = client
            .request(json!({"type": "act", "table": table, "action": "call"}))
            .await;
        assert_eq!(reply["type"], "ack", "{reply}");
    } else {
        assert_eq!(reply["type"], "ack", "{reply}");
    }
}

/// Joins with `last_seq` (and `epoch`, if given); returns the ack and the
/// first `snapshot` or `resumed` that follows, leaving the events before it
/// in `client.received`.
async fn rejoin(client: &mut WsClient, table: &str, join: Value) -> (Value, Value) {
    let mut message = join;
    message["type"] = json!("join");
    message["table"] = json!(table);
    let ack = client.request(message).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let start = client
        .until("a snapshot or resumed", |v| {
            v["type"] == "snapshot" || v["type"] == "resumed"
        })
        .await;
    (ack, start)
}

/// A table of `bot:calling-station`s only, at auto pace.
async fn ai_table(server: &TestServer, token: &str, actions_per_sec: f64) -> String {
    server
        .create_table(
            token,
            json!({
                "name": "bots", "seats": 3, "small_blind": 5, "big_blind": 10,
                "pace": "auto", "actions_per_sec": actions_per_sec,
                "ai_seats": [{"seat": 0, "agent": "bot:calling-station", "stack": 1000},
                             {"seat": 1, "agent": "bot:calling-station", "stack": 1000},
                             {"seat": 2, "agent": "bot:calling-station", "stack": 1000}]
            }),
        )
        .await
}

#[tokio::test]
async fn a_player_who_drops_mid_hand_gets_exactly_the_missed_events() {
    let server = TestServer::start("reconnect-mid-hand").await;
    let (_, alice) = server.register("Alice").await;
    // A long turn clock: the table waits for Alice while the test looks.
    let table = server
        .create_table(
            &alice,
            json!({
                "name": "reconnect", "seats": 3, "small_blind": 5, "big_blind": 10,
                "pace": "auto", "turn_clock_ms": 120000,
                "ai_seats": [{"seat": 1, "agent": "bot:calling-station", "stack": 1000},
                             {"seat": 2, "agent": "bot:calling-station", "stack": 1000}]
            }),
        )
        .await;

    // The reference connection never drops and plays for Alice; the other
    // connection of the same player drops mid-hand.
    let mut reference = server.connect().await;
    reference.join_player(&table, &alice).await;
    let ack = reference
        .request(json!({"type": "sit", "table": table, "seat": 0, "buy_in": 1000}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let mut dropping = server.connect().await;
    let snapshot = dropping.join_player(&table, &alice).await;
    assert_eq!(snapshot["you"], 0, "{snapshot}");
    let epoch = snapshot["epoch"].as_u64().expect("snapshot epoch");

    let started = reference
        .until("a hand dealing Alice in", |v| {
            is_event(v, "hand_started") && deals_in(v, 0)
        })
        .await;
    // Earlier hands (between the bots) are not replayed here.
    reference.clear_backlog();
    let hand = started["event"]["hand"].as_u64().expect("hand");

    // Drop right after Alice's hole cards: mid-hand, before her first turn.
    let cards = dropping
        .until("Alice's hole cards", |v| is_event(v, "hole_cards_dealt"))
        .await;
    let last_seq = seq_of(&cards);
    assert!(last_seq > seq_of(&started), "{cards}");
    assert!(
        dropping
            .received
            .iter()
            .filter(|m| m["type"] == "event")
            .all(|m| seq_of(m) <= last_seq),
        "nothing after the hole cards was read"
    );
    dropping.socket.close(None).await.expect("close");
    drop(dropping);

    // The reference plays the rest of this hand and stops at Alice's first
    // turn of the next one: the table then waits for her.
    let mut current = hand;
    let stop = loop {
        let message = reference.until("the next event", |v| v["type"] == "event").await;
        if is_event(&message, "hand_started") {
            current = message["event"]["hand"].as_u64().expect("hand");
        }
        if is_event(&message, "turn_started") && message["event"]["seat"] == 0 {
            if current == hand {
                check_or_call(&mut reference, &table).await;
            } else {
                break message;
            }
        }
    };
    let stop_seq = seq_of(&stop);
    assert_eq!(current, hand + 1);

    // Rejoin with what the dropped connection saw.
    let mut again = server.connect().await;
    let (ack, resumed) = rejoin(
        &mut again,
        &table,
        json!({"as": "player", "token": alice, "last_seq": last_seq, "epoch": epoch}),
    )
    .await;
    assert_eq!(ack["seat"], 0, "{ack}");
    assert_eq!(resumed["type"], "resumed", "a replay, not a snapshot: {resumed}");
    assert_eq!(resumed["seq"], stop_seq, "{resumed}");
    assert_eq!(resumed["epoch"], epoch, "{resumed}");
    let replayed = events_in(&again.received, 0..=u64::MAX);
    let missed = events_in(&reference.received, last_seq + 1..=stop_seq);
    assert_eq!(replayed, missed, "the replay is exactly what was missed");
    // The gap spans the end of one hand (read back from the store) and the
    // start of the next, with Alice's new hole cards and never the seed.
    let kinds: Vec<&str> = replayed
        .iter()
        .map(|(_, e)| e["type"].as_str().unwrap_or(""))
        .collect();
    for kind in ["action_taken", "hand_ended", "hand_started", "hole_cards_dealt"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert!(!kinds.contains(&"deck_shuffled"), "{kinds:?}");
    for (_, event) in &replayed {
        if event["type"] == "hole_cards_dealt" {
            assert_eq!(event["seat"], 0, "only Alice's own cards: {event}");
        }
    }
    again.clear_backlog();

    // Live from here: the rejoined connection plays the hand out, and both
    // connections see the same messages.
    check_or_call(&mut again, &table).await;
    let ended = loop {
        let message = again.until("the next event", |v| v["type"] == "event").await;
        if is_event(&message, "turn_started") && message["event"]["seat"] == 0 {
            check_or_call(&mut again, &table).await;
        }
        if is_event(&message, "hand_ended") {
            break message;
        }
    };
    assert_eq!(ended["event"]["hand"], hand + 1);
    let end_seq = seq_of(&ended);
    reference
        .until("the end of the hand", |v| {
            is_event(v, "hand_ended") && seq_of(v) == end_seq
        })
        .await;
    let live = |messages: &[Value]| -> Vec<Value> {
        messages
            .iter()
            .filter(|m| m["type"] == "event" && (stop_seq + 1..=end_seq).contains(&seq_of(m)))
            .cloned()
            .collect()
    };
    let live_again = live(&again.received);
    assert!(live_again.len() > 5, "{live_again:?}");
    assert!(
        live_again.iter().all(|m| m["at_ms"].is_u64()),
        "live events carry at_ms"
    );
    assert_eq!(live_again, live(&reference.received));

    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_rejoin_the_table_cannot_trust_gets_a_snapshot() {
    let server = TestServer::start("reconnect-untrusted").await;
    let (_, alice) = server.register("Alice").await;
    let table = ai_table(&server, &alice, 50.0).await;
    let mut watcher = server.connect().await;
    let snapshot = watcher.join_spectator(&table).await;
    let epoch = snapshot["epoch"].as_u64().expect("epoch");
    // A few events in, so the seq is past the point the table was loaded at (0).
    let seen = watcher
        .until("some events", |v| {
            v["type"] == "event" && seq_of(v) > seq_of(&snapshot) + 5
        })
        .await;
    let last = seq_of(&seen);

    let cases = [
        ("a stale epoch", json!({"last_seq": last, "epoch": epoch ^ 1})),
        ("no epoch", json!({"last_seq": last})),
        (
            "a seq the table never reached",
            json!({"last_seq": last + 100_000, "epoch": epoch}),
        ),
        (
            "a stale epoch and a seq beyond the table's",
            json!({"last_seq": last + 100_000, "epoch": epoch + 1}),
        ),
    ];
    for (what, join) in cases {
        for player in [false, true] {
            let mut client = server.connect().await;
            let mut join = join.clone();
            if player {
                join["as"] = json!("player");
                join["token"] = json!(alice);
            }
            let (_, start) = rejoin(&mut client, &table, join).await;
            assert_eq!(start["type"], "snapshot", "{what}: {start}");
            assert_eq!(start["epoch"], epoch, "{what}: {start}");
            assert!(seq_of(&start) >= last, "{what}: {start}");
            assert!(
                !client.received.iter().any(|m| m["type"] == "event"),
                "{what}: no event before the snapshot"
            );
            // Live events follow the snapshot.
            let next = client.until("a live event", |v| v["type"] == "event").await;
            assert!(seq_of(&next) > seq_of(&start), "{what}: {next}");
        }
    }

    // The control: the same seq with the right epoch is a replay.
    let mut client = server.connect().await;
    let (_, start) = rejoin(&mut client, &table, json!({"last_seq": last, "epoch": epoch})).await;
    assert_eq!(start["type"], "resumed", "{start}");
    assert!(seq_of(&start) >= last, "{start}");
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_rejoin_after_the_table_reloaded_replays_what_was_stored() {
    let server = TestServer::start_with("reconnect-reload", |config| {
        config.timing.idle_ttl = Duration::from_secs(1);
    })
    .await;
    let (_, alice) = server.register("Alice").await;
    let table = ai_table(&server, &alice, 20.0).await;
    let mut watcher = server.connect().await;
    let snapshot = watcher.join_spectator(&table).await;
    let epoch = snapshot["epoch"].as_u64().expect("epoch");
    let seen = watcher
        .until("some events", |v| {
            v["type"] == "event" && seq_of(v) > seq_of(&snapshot) + 5
        })
        .await;
    let last = seq_of(&seen);
    watcher.socket.close(None).await.expect("close");
    drop(watcher);

    // Nobody watches and nobody plays: the table leaves memory.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, lobby) = server.get_json("/api/tables").await;
        assert_eq!(status, 200, "{lobby}");
        let line = lobby["tables"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["id"] == json!(table)).cloned())
            .expect("the table is listed");
        if line["live"] == false {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle table was never evicted: {line}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Everything the client saw was stored before the table left memory, so
    // its stale epoch does not matter: it gets the rest of the log.
    let mut client = server.connect().await;
    let (_, start) = rejoin(&mut client, &table, json!({"last_seq": last, "epoch": epoch})).await;
    assert_eq!(start["type"], "resumed", "{start}");
    assert_ne!(start["epoch"], epoch, "a reload changes the epoch: {start}");
    let replayed = events_in(&client.received, 0..=u64::MAX);
    assert!(!replayed.is_empty(), "the table played on before it left memory");
    assert!(replayed[0].0 > last, "{replayed:?}");
    assert!(
        replayed.windows(2).all(|w| w[0].0 < w[1].0),
        "in order: {replayed:?}"
    );
    assert!(replayed.iter().all(|(seq, _)| *seq <= seq_of(&start)));

    // With the new epoch, a seq beyond the table's is still refused.
    let new_epoch = start["epoch"].as_u64().expect("epoch");
    let mut client = server.connect().await;
    let (_, start) = rejoin(
        &mut client,
        &table,
        json!({"last_seq": seq_of(&start) + 100_000, "epoch": new_epoch}),
    )
    .await;
    assert_eq!(start["type"], "snapshot", "{start}");
    assert_eq!(start["epoch"], new_epoch, "{start}");
    server.server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_rejoin_too_far_behind_gets_a_snapshot() {
    let server = TestServer::start("reconnect-far-behind").await;
    let (_, alice) = server.register("Alice").await;
    // Fast enough to pass 2,000 events in seconds, slow enough that the seq
    // moves little between two requests.
    let table = ai_table(&server, &alice, 400.0).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (seq, epoch) = loop {
        let (status, body) = server.get_json(&format!("/api/tables/{table}")).await;
        assert_eq!(status, 200, "{body}");
        let seq = seq_of(&body["snapshot"]);
        if seq > 2_200 {
            break (seq, body["snapshot"]["epoch"].as_u64().expect("epoch"));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the table reached only seq {seq}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let mut client = server.connect().await;
    let (_, start) = rejoin(&mut client, &table, json!({"last_seq": 1, "epoch": epoch})).await;
    assert_eq!(
        start["type"], "snapshot",
        "more than 2,000 events behind: {start}"
    );
    assert!(!client.received.iter().any(|m| m["type"] == "event"));

    // Well behind but within the bound: a long replay, mostly from the store.
    let from = seq - 1_500;
    let mut client = server.connect().await;
    let (_, start) = rejoin(&mut client, &table, json!({"last_seq": from, "epoch": epoch})).await;
    assert_eq!(start["type"], "resumed", "{start}");
    let replayed = events_in(&client.received, 0..=u64::MAX);
    assert!(replayed.len() > 1_000, "{} events replayed", replayed.len());
    assert!(replayed[0].0 > from);
    assert!(replayed.windows(2).all(|w| w[0].0 < w[1].0), "in order");
    assert!(replayed.iter().all(|(s, _)| *s <= seq_of(&start)));
    server.server.shutdown().await.expect("clean shutdown");
}
