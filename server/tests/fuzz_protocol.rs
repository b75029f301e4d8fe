//! Property-based fuzzing of the protocol: the decoder on arbitrary text and
//! on structured near-miss messages, and a live session fed random frames.
//! Every case must end in a decoded message or a precise error, never a
//! panic; a fuzzed session must leave the table playable and every chip
//! where it was. `PROPTEST_CASES` runs more cases (CI runs the default).

mod helpers;

use std::time::Duration;

use helpers::{TestServer, WsClient};
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use serde_json::{Map, Value, json};
use server::transport::protocol::{ClientMessage, ErrorCode, decode};

/// Codes the decoder may answer with.
const DECODE_CODES: [ErrorCode; 4] = [
    ErrorCode::MalformedJson,
    ErrorCode::MissingType,
    ErrorCode::UnknownType,
    ErrorCode::InvalidMessage,
];

const KEYS: [&str; 14] = [
    "type", "id", "table", "as", "token", "last_seq", "epoch", "seat", "buy_in", "action", "amount", "text",
    "extra", "TYPE",
];

/// Every client type, plus server types and near misses clients must not use.
fn types() -> Vec<&'static str> {
    let mut types = server::transport::protocol::CLIENT_TYPES.to_vec();
    types.extend(["snapshot", "Join", ""]);
    types
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(types()).prop_map(|s| json!(s)),
        prop::sample::select(vec![
            "fold",
            "check",
            "call",
            "bet",
            "raise",
            "all_in",
            "player",
            "spectator"
        ])
        .prop_map(|s| json!(s)),
        "\\PC{0,40}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..4).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// A message that is often almost right: a known type, plausible keys, any values.
fn near_miss() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(types()),
        prop::collection::vec((prop::sample::select(KEYS.to_vec()), json_value()), 0..6),
    )
        .prop_map(|(kind, fields)| {
            let mut object = Map::new();
            object.insert("type".to_owned(), json!(kind));
            for (k, v) in fields {
                if k != "type" {
                    object.insert(k.to_owned(), v);
                }
            }
            Value::Object(object)
        })
}

fn check_decode(text: &str) {
    match decode(text) {
        Ok(message) => {
            // A decoded message is one of the client types, with its fields typed.
            let value: Value = serde_json::from_str(text).expect("decoded text is JSON");
            let kind = value["type"].as_str().expect("decoded message has a type");
            assert!(
                server::transport::protocol::CLIENT_TYPES.contains(&kind),
                "{text}"
            );
            if let ClientMessage::Act { amount: Some(a), .. } = message {
                assert_eq!(value["amount"].as_u64(), Some(a));
            }
        }
        Err((id, failure)) => {
            assert!(DECODE_CODES.contains(&failure.code), "{text}: {failure:?}");
            assert!(!failure.message.is_empty());
            // The request id is echoed whenever the object has a usable one.
            if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(text) {
                assert_eq!(id, o.get("id").and_then(Value::as_u64), "{text}");
            }
        }
    }
}

proptest! {
    #[test]
    fn the_decoder_answers_any_text(text in "\\PC{0,200}") {
        check_decode(&text);
    }

    #[test]
    fn the_decoder_answers_any_json(value in json_value()) {
        check_decode(&value.to_string());
    }

    #[test]
    fn the_decoder_answers_near_misses(value in near_miss()) {
        check_decode(&value.to_string());
    }

    #[test]
    fn the_decoder_answers_cut_and_spliced_messages(value in near_miss(), cut in 0usize..200, splice in "\\PC{0,8}") {
        let text = value.to_string();
        let mut at = cut.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        check_decode(&format!("{}{splice}{}", &text[..at], &text[at..]));
    }
}

/// Random frames at a live table: each gets an answer (an error or an ack),
/// the connection survives, and afterwards the table still plays and no
/// chip appeared or vanished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_fed_random_frames_stays_consistent() {
    let server = TestServer::start_with("fuzz-session", |c| {
        c.limits.messages_per_sec = 100_000;
        c.limits.message_burst = 100_000;
    })
    .await;
    let (_, token) = server.register("Fuzzy").await;
    let table = server
        .create_table(
            &token,
            // Two calling stations with deep stacks: neither ever bets, so
            // neither can bust (an AI seat that busts buys in again from the
            // house, which would add chips).
            json!({"seats": 3, "small_blind": 5, "big_blind": 10, "pace": "auto", "max_buy_in": 10_000_000,
                "ai_seats": [{"seat": 1, "agent": "bot:calling-station", "stack": 1_000_000},
                             {"seat": 2, "agent": "bot:calling-station", "stack": 1_000_000}]}),
        )
        .await;
    let mut ws = WsClient::connect(&server.ws).await;
    ws.join_player(&table, &token).await;
    let sit = ws
        .request(json!({"type": "sit", "table": table, "seat": 0, "buy_in": 1000}))
        .await;
    assert_eq!(sit["type"], "ack", "{sit}");

    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop_oneof![
        near_miss().boxed(),
        json_value().boxed(),
        "\\PC{0,120}".prop_map(Value::String).boxed(),
    ];
    for sent in 0..400u64 {
        let value = strategy.new_tree(&mut runner).expect("a case").current();
        // Aim most frames at the real table (and never make the client leave for good).
        let frame = match value {
            Value::Object(mut o) => {
                if o.get("table").is_some_and(|_| sent.is_multiple_of(2)) {
                    o.insert("table".to_owned(), json!(table));
                }
                o.insert("id".to_owned(), json!(1_000_000 + sent));
                Value::Object(o).to_string()
            }
            Value::String(s) => s,
            other => other.to_string(),
        };
        ws.send_text(&frame).await;
    }
    // The connection is still open and answers in order.
    let ping = ws.send(json!({"type": "ping"})).await;
    ws.until("the pong", |m| m["type"] == "pong" && m["id"] == ping)
        .await;
    // Join again (the fuzz may have left or re-joined as a spectator), sit if
    // the fuzz stood up, and play on: hands still end.
    ws.join_player(&table, &token).await;
    ws.clear_backlog();
    let _ = ws
        .request(json!({"type": "sit", "table": table, "seat": 0, "buy_in": 1000}))
        .await;
    ws.request(json!({"type": "sit_in", "table": table})).await;
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let m = ws.recv().await;
            if m["type"] == "event" && m["event"]["type"] == "turn_started" && m["event"]["seat"] == 0 {
                ws.send(json!({"type": "act", "table": table, "action": "fold"}))
                    .await;
                ws.send(json!({"type": "act", "table": table, "action": "check"}))
                    .await;
            }
            if m["type"] == "event" && m["event"]["type"] == "hand_ended" {
                return m;
            }
        }
    })
    .await
    .expect("the table still plays hands after the fuzz");
    assert_eq!(ended["table"], json!(table));
    // Every chip is where it should be: the player's balance plus everything
    // at the table (stacks and pots) is what there was at the start. Read
    // until a cash-out in flight has landed (at most 5 s).
    let expected = 10_000 + 2_000_000;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, snapshot) = server.get_json(&format!("/api/tables/{table}")).await;
        assert_eq!(status, 200, "{snapshot}");
        let view = &snapshot["snapshot"]["view"];
        let stacks: u64 = view["seats"]
            .as_array()
            .expect("seats")
            .iter()
            .filter_map(|s| s["stack"].as_u64())
            .sum();
        let pots: u64 = view["pots"]
            .as_array()
            .expect("pots")
            .iter()
            .filter_map(|p| p["amount"].as_u64())
            .sum();
        let balance = server.me(&token).await["balance"].as_u64().expect("balance");
        if balance + stacks + pots == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chips: balance {balance} + stacks {stacks} + pots {pots} != {expected}: {snapshot}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.server.shutdown().await.expect("shutdown");
}
