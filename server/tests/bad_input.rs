//! Malformed and hostile input, over `/ws` and REST. Every bad message gets
//! exactly one `error` with the documented code; afterwards every connection
//! still answers `ping`, and the table still plays a correct hand.

mod helpers;

use std::time::Duration;

use futures_util::SinkExt;
use helpers::{TestServer, WsClient};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Which connection sends a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// Alice's connection (joined as a player).
    Alice,
    /// Bob's connection (joined as a player).
    Bob,
    /// An anonymous spectator.
    Spectator,
    /// A connection that has joined nothing (later Carol's).
    Stranger,
    /// The seat on turn.
    ToAct,
    /// The seated player who is not on turn.
    Waiting,
}

/// What the server must answer.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// An `error` with this code.
    Error(&'static str),
    /// An `ack`.
    Ack,
    /// A `pong`.
    Pong,
}

/// The frame a case sends.
enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

struct Case {
    name: &'static str,
    who: Who,
    frame: Frame,
    /// The request id the reply must echo, if the frame carries a readable one.
    id: Option<u64>,
    expect: Expect,
}

/// Fills a frame template: `$T` table, `$ID` a fresh request id, `$ALICE` and
/// `$CAROL` tokens, `$UNKNOWN` a well-formed token nobody has, `$LONG` 501
/// characters, `$SEAT` the seat on turn.
struct Vars {
    table: String,
    alice: String,
    carol: String,
    seat: u64,
    next_id: u64,
}

impl Vars {
    fn cases(&mut self, table: &[(&'static str, Who, &str, Expect)]) -> Vec<Case> {
        table
            .iter()
            .map(|&(name, who, template, expect)| {
                let id = template.contains("$ID").then(|| {
                    self.next_id += 1;
                    self.next_id
                });
                let text = template
                    .replace("$T", &self.table)
                    .replace("$ID", &id.map_or(String::new(), |i| i.to_string()))
                    .replace("$ALICE", &self.alice)
                    .replace("$CAROL", &self.carol)
                    .replace("$UNKNOWN", &"ab".repeat(32))
                    .replace("$LONG", &"x".repeat(501))
                    .replace("$SEAT", &self.seat.to_string());
                Case {
                    name,
                    who,
                    frame: Frame::Text(text),
                    id,
                    expect,
                }
            })
            .collect()
    }
}

/// Sends a case's frame, then a `ping`; everything answered before that
/// `pong` must be exactly the one expected reply.
async fn run_case(client: &mut WsClient, case: &Case) {
    match &case.frame {
        Frame::Text(text) => client.send_text(text).await,
        Frame::Binary(bytes) => client
            .socket
            .send(Message::Binary(bytes.clone().into()))
            .await
            .expect("send binary"),
    }
    let probe = client.send(json!({"type": "ping"})).await;
    let mut replies = Vec::new();
    loop {
        let reply = client
            .until(case.name, |v| {
                matches!(v["type"].as_str(), Some("error" | "ack" | "pong"))
            })
            .await;
        if reply["type"] == "pong" && reply["id"] == json!(probe) {
            break;
        }
        replies.push(reply);
    }
    let [reply] = replies.as_slice() else {
        panic!("{}: expected exactly one reply, got {replies:?}", case.name);
    };
    match case.expect {
        Expect::Error(code) => {
            assert_eq!(reply["type"], "error", "{}: {reply}", case.name);
            assert_eq!(reply["code"], code, "{}: {reply}", case.name);
            assert!(
                reply["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{}: an error says what is wrong: {reply}",
                case.name
            );
        }
        Expect::Ack => assert_eq!(reply["type"], "ack", "{}: {reply}", case.name),
        Expect::Pong => assert_eq!(reply["type"], "pong", "{}: {reply}", case.name),
    }
    match case.id {
        Some(id) => assert_eq!(reply["id"], id, "{}: the reply echoes the id: {reply}", case.name),
        None => assert!(reply.get("id").is_none(), "{}: {reply}", case.name),
    }
}

/// The connections of the test, by role.
struct Room {
    alice: WsClient,
    bob: WsClient,
    spectator: WsClient,
    stranger: WsClient,
    /// Error cases sent per connection: alice, bob, spectator, stranger.
    errors: [usize; 4],
}

impl Room {
    /// Seat 0 is Alice's, seat 1 Bob's.
    fn client(&mut self, who: Who, to_act: u64) -> (&mut WsClient, usize) {
        let seat_client = |seat: u64| if seat == 0 { Who::Alice } else { Who::Bob };
        let who = match who {
            Who::ToAct => seat_client(to_act),
            Who::Waiting => seat_client(1 - to_act),
            other => other,
        };
        match who {
            Who::Alice => (&mut self.alice, 0),
            Who::Bob => (&mut self.bob, 1),
            Who::Spectator => (&mut self.spectator, 2),
            _ => (&mut self.stranger, 3),
        }
    }

    async fn run(&mut self, cases: &[Case], to_act: u64) {
        for case in cases {
            let (client, index) = self.client(case.who, to_act);
            run_case(client, case).await;
            if matches!(case.expect, Expect::Error(_)) {
                self.errors[index] += 1;
            }
        }
    }
}

/// A player's balance, via `GET /api/me`.
async fn balance(server: &TestServer, token: &str) -> u64 {
    server.me(token).await["balance"].as_u64().expect("balance")
}

/// Waits until `token`'s balance is `expected` (refunds settle in the background).
async fn wait_balance(server: &TestServer, token: &str, expected: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = balance(server, token).await;
        if now == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "balance {now}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn hostile_messages_get_errors_and_the_table_plays_on() {
    // Rate limits are the limits test's business: here every case gets through.
    let server = TestServer::start_with("bad-input", |config| {
        config.limits.messages_per_sec = 10_000;
        config.limits.message_burst = 10_000;
    })
    .await;
    let (_, alice) = server.register("Alice").await;
    let (_, bob) = server.register("Bob").await;
    let (_, carol) = server.register("Carol").await;
    // Blinds 5/10: buy-ins 400 to 2000. No AI seats: Alice and Bob play heads-up.
    let table = server
        .create_table(
            &alice,
            json!({"name": "hostile", "seats": 3, "small_blind": 5, "big_blind": 10, "turn_clock_ms": 120000}),
        )
        .await;
    let mut room = Room {
        alice: server.connect().await,
        bob: server.connect().await,
        spectator: server.connect().await,
        stranger: server.connect().await,
        errors: [0; 4],
    };
    room.alice.join_player(&table, &alice).await;
    room.bob.join_player(&table, &bob).await;
    let first_snapshot = room.spectator.join_spectator(&table).await;
    let mut vars = Vars {
        table: table.clone(),
        alice: alice.clone(),
        carol: carol.clone(),
        seat: 0,
        next_id: 10_000,
    };
    use Expect::{Ack, Error};
    use Who::*;

    // Nobody is seated yet.
    #[rustfmt::skip]
    let cases = vars.cases(&[
        // Not a protocol message at all.
        ("not JSON", Alice, "hello there", Error("malformed_json")),
        ("truncated JSON", Alice, r#"{"type":"ping""#, Error("malformed_json")),
        ("empty frame", Alice, "", Error("malformed_json")),
        ("JSON array", Alice, r#"[{"type":"ping"}]"#, Error("malformed_json")),
        ("JSON string", Alice, r#""ping""#, Error("malformed_json")),
        ("JSON number", Alice, "42", Error("malformed_json")),
        ("JSON null", Alice, "null", Error("malformed_json")),
        ("nesting past the recursion limit", Alice, &"[".repeat(5_000), Error("malformed_json")),
        // Valid JSON whose number fits no field: one code, however large.
        ("number beyond f64", Alice, r#"{"type":"ping","x":1e400}"#, Error("invalid_message")),
        ("buy-in beyond f64", Alice, r#"{"type":"sit","table":"$T","seat":0,"buy_in":1e400}"#, Error("invalid_message")),
        // The `type`.
        ("missing type", Alice, r#"{"id":$ID,"table":"$T"}"#, Error("missing_type")),
        ("numeric type", Alice, r#"{"id":$ID,"type":5}"#, Error("missing_type")),
        ("null type", Alice, r#"{"id":$ID,"type":null}"#, Error("missing_type")),
        ("object type", Alice, r#"{"id":$ID,"type":{"join":1}}"#, Error("missing_type")),
        ("unknown type", Alice, r#"{"id":$ID,"type":"explode"}"#, Error("unknown_type")),
        ("type in other case", Alice, r#"{"id":$ID,"type":"PING"}"#, Error("unknown_type")),
        ("server message type", Alice, r#"{"id":$ID,"type":"snapshot"}"#, Error("unknown_type")),
        ("huge unknown type", Alice, &format!(r#"{{"id":$ID,"type":"{}"}}"#, "z".repeat(4_000)), Error("unknown_type")),
        // Fields.
        ("act without table", Alice, r#"{"id":$ID,"type":"act","action":"fold"}"#, Error("invalid_message")),
        ("act without action", Alice, r#"{"id":$ID,"type":"act","table":"$T"}"#, Error("invalid_message")),
        ("sit without buy_in", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":0}"#, Error("invalid_message")),
        ("chat without text", Alice, r#"{"id":$ID,"type":"chat","table":"$T"}"#, Error("invalid_message")),
        ("join without table", Alice, r#"{"id":$ID,"type":"join","as":"spectator"}"#, Error("invalid_message")),
        ("numeric table", Alice, r#"{"id":$ID,"type":"leave","table":7}"#, Error("invalid_message")),
        ("string seat", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":"0","buy_in":1000}"#, Error("invalid_message")),
        ("negative seat", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":-1,"buy_in":1000}"#, Error("invalid_message")),
        ("fractional buy-in", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":0,"buy_in":1000.5}"#, Error("invalid_message")),
        ("buy-in beyond u64", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":0,"buy_in":18446744073709551616}"#, Error("invalid_message")),
        ("unknown action", Alice, r#"{"id":$ID,"type":"act","table":"$T","action":"shove"}"#, Error("invalid_message")),
        ("unknown role", Alice, r#"{"id":$ID,"type":"join","table":"$T","as":"dealer"}"#, Error("invalid_message")),
        ("boolean text", Alice, r#"{"id":$ID,"type":"chat","table":"$T","text":true}"#, Error("invalid_message")),
        ("extra field", Alice, r#"{"id":$ID,"type":"ping","admin":true}"#, Error("invalid_message")),
        ("extra field on join", Alice, r#"{"id":$ID,"type":"join","table":"$T","as":"spectator","seat":0}"#, Error("invalid_message")),
        ("duplicate field", Alice, r#"{"id":$ID,"type":"leave","table":"$T","table":"$T"}"#, Error("invalid_message")),
        // An id that cannot be echoed.
        ("string id", Alice, r#"{"id":"7","type":"ping"}"#, Error("invalid_message")),
        ("negative id", Alice, r#"{"id":-7,"type":"ping"}"#, Error("invalid_message")),
        // Not joined.
        ("act when not joined", Stranger, r#"{"id":$ID,"type":"act","table":"$T","action":"check"}"#, Error("not_joined")),
        ("sit when not joined", Stranger, r#"{"id":$ID,"type":"sit","table":"$T","seat":2,"buy_in":1000}"#, Error("not_joined")),
        ("stand when not joined", Stranger, r#"{"id":$ID,"type":"stand","table":"$T"}"#, Error("not_joined")),
        ("sit_out when not joined", Stranger, r#"{"id":$ID,"type":"sit_out","table":"$T"}"#, Error("not_joined")),
        ("chat when not joined", Stranger, r#"{"id":$ID,"type":"chat","table":"$T","text":"hi"}"#, Error("not_joined")),
        ("leave when not joined", Stranger, r#"{"id":$ID,"type":"leave","table":"$T"}"#, Error("not_joined")),
        // Joining.
        ("join with an unknown token", Stranger, r#"{"id":$ID,"type":"join","table":"$T","as":"player","token":"$UNKNOWN"}"#, Error("unauthorized")),
        ("join with a malformed token", Stranger, r#"{"id":$ID,"type":"join","table":"$T","as":"player","token":"letmein"}"#, Error("unauthorized")),
        ("join with a token and junk", Stranger, r#"{"id":$ID,"type":"join","table":"$T","as":"player","token":"$ALICE "}"#, Error("unauthorized")),
        ("join as player without token", Stranger, r#"{"id":$ID,"type":"join","table":"$T","as":"player"}"#, Error("unauthorized")),
        ("join an unknown table", Stranger, r#"{"id":$ID,"type":"join","table":"t_000000000000"}"#, Error("table_not_found")),
        ("join an empty table id", Stranger, r#"{"id":$ID,"type":"join","table":""}"#, Error("table_not_found")),
        ("join a huge table id", Stranger, &format!(r#"{{"id":$ID,"type":"join","table":"{}"}}"#, "t".repeat(5_000)), Error("table_not_found")),
        ("join a table id with a quote", Stranger, r#"{"id":$ID,"type":"join","table":"t_\"; DROP TABLE events; --"}"#, Error("table_not_found")),
        // A spectator may only watch.
        ("act as spectator", Spectator, r#"{"id":$ID,"type":"act","table":"$T","action":"check"}"#, Error("unauthorized")),
        ("sit as spectator", Spectator, r#"{"id":$ID,"type":"sit","table":"$T","seat":2,"buy_in":1000}"#, Error("unauthorized")),
        ("stand as spectator", Spectator, r#"{"id":$ID,"type":"stand","table":"$T"}"#, Error("unauthorized")),
        ("sit_in as spectator", Spectator, r#"{"id":$ID,"type":"sit_in","table":"$T"}"#, Error("unauthorized")),
        ("chat as spectator", Spectator, r#"{"id":$ID,"type":"chat","table":"$T","text":"hi"}"#, Error("unauthorized")),
        // Alice is joined but not seated.
        ("act when not seated", Alice, r#"{"id":$ID,"type":"act","table":"$T","action":"check"}"#, Error("not_seated")),
        ("stand when not seated", Alice, r#"{"id":$ID,"type":"stand","table":"$T"}"#, Error("not_seated")),
        ("sit_out when not seated", Alice, r#"{"id":$ID,"type":"sit_out","table":"$T"}"#, Error("not_seated")),
        ("buy-in below the minimum", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":0,"buy_in":399}"#, Error("invalid_buy_in")),
        ("buy-in above the maximum", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":0,"buy_in":2001}"#, Error("invalid_buy_in")),
        ("zero buy-in", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":0,"buy_in":0}"#, Error("invalid_buy_in")),
        ("u64::MAX buy-in", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":0,"buy_in":18446744073709551615}"#, Error("invalid_buy_in")),
        ("seat past the table", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":3,"buy_in":1000}"#, Error("invalid_request")),
        ("u64::MAX seat", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":18446744073709551615,"buy_in":1000}"#, Error("invalid_request")),
        ("empty chat", Alice, r#"{"id":$ID,"type":"chat","table":"$T","text":""}"#, Error("invalid_request")),
        ("blank chat", Alice, r#"{"id":$ID,"type":"chat","table":"$T","text":" \n\t "}"#, Error("invalid_request")),
        ("oversized chat", Alice, r#"{"id":$ID,"type":"chat","table":"$T","text":"$LONG"}"#, Error("invalid_request")),
        // Not errors: a resume point from the future gets a snapshot.
        ("join with a huge last_seq", Spectator, r#"{"id":$ID,"type":"join","table":"$T","last_seq":18446744073709551615,"epoch":18446744073709551615}"#, Ack),
    ]);
    room.run(&cases, 0).await;
    let spectator_snapshot = room
        .spectator
        .until("snapshot after the resume", |v| v["type"] == "snapshot")
        .await;
    assert_eq!(
        spectator_snapshot["seq"], first_snapshot["seq"],
        "nothing happened meanwhile"
    );
    // Binary frames: UTF-8 is read as a text frame, anything else is malformed.
    let binary = [
        Case {
            name: "binary frame (not UTF-8)",
            who: Alice,
            frame: Frame::Binary(vec![0xff, 0xfe, 0x00, 0x81]),
            id: None,
            expect: Error("malformed_json"),
        },
        Case {
            name: "binary frame (UTF-8 ping)",
            who: Alice,
            frame: Frame::Binary(br#"{"type":"ping"}"#.to_vec()),
            id: None,
            expect: Expect::Pong,
        },
    ];
    room.run(&binary, 0).await;

    // Alice sits; alone, no hand can start.
    let ack = room
        .alice
        .request(json!({"type": "sit", "table": table, "seat": 0, "buy_in": 1000}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let ack = room
        .stranger
        .request(json!({"type": "join", "table": table, "as": "player", "token": carol}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    #[rustfmt::skip]
    let cases = vars.cases(&[
        ("act with no hand running", Alice, r#"{"id":$ID,"type":"act","table":"$T","action":"check"}"#, Error("not_your_turn")),
        ("sit twice (another seat)", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":2,"buy_in":1000}"#, Error("already_seated")),
        ("sit twice (same seat)", Alice, r#"{"id":$ID,"type":"sit","table":"$T","seat":0,"buy_in":1000}"#, Error("already_seated")),
        ("sit_in when not sitting out", Alice, r#"{"id":$ID,"type":"sit_in","table":"$T"}"#, Error("invalid_request")),
        ("sit on a taken seat", Stranger, r#"{"id":$ID,"type":"sit","table":"$T","seat":0,"buy_in":1000}"#, Error("seat_taken")),
        ("join with a second identity", Stranger, r#"{"id":$ID,"type":"join","table":"$T","as":"player","token":"$ALICE"}"#, Error("forbidden")),
        ("act for Alice from Carol's connection", Stranger, r#"{"id":$ID,"type":"act","table":"$T","action":"check"}"#, Error("not_seated")),
    ]);
    room.run(&cases, 0).await;
    // The refused seat cost Carol nothing.
    wait_balance(&server, &carol, 10_000).await;

    // Bob sits: a heads-up hand starts. Hand 1's button is seat 0 (Alice),
    // who acts first preflop as the small blind.
    let ack = room
        .bob
        .request(json!({"type": "sit", "table": table, "seat": 1, "buy_in": 1000}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let started = room
        .alice
        .until("a hand with both players", |v| {
            v["type"] == "event" && v["event"]["type"] == "hand_started"
        })
        .await;
    assert_eq!(
        started["event"]["players"].as_array().map(Vec::len),
        Some(2),
        "{started}"
    );
    let start_seq = started["seq"].as_u64().expect("seq");
    let mut seq = start_seq;
    let mut bet_level = 0u64;
    let mut committed = [0u64; 2];
    let mut first_turn = true;
    loop {
        let message = room.alice.until("the next event", |v| v["type"] == "event").await;
        let next = message["seq"].as_u64().expect("seq");
        if next < start_seq {
            // Seats taken before the hand, read while waiting for it.
            continue;
        }
        assert!(next > seq, "events in order: {next} after {seq}");
        seq = next;
        let event = &message["event"];
        match event["type"].as_str().expect("event type") {
            "blind_posted" => {
                let s = event["seat"].as_u64().expect("seat") as usize;
                committed[s] += event["amount"].as_u64().expect("amount");
                bet_level = bet_level.max(committed[s]);
            }
            "board_dealt" => {
                bet_level = 0;
                committed = [0; 2];
            }
            "turn_started" => {
                let to_act = event["seat"].as_u64().expect("seat");
                vars.seat = to_act;
                if first_turn {
                    assert_eq!(to_act, 0, "Alice (the button) acts first heads-up");
                }
                // Whoever waits tries to act: B acting on A's turn, and A on B's.
                #[rustfmt::skip]
                let mut cases = vars.cases(&[
                    (
                        "act out of turn (call)",
                        Waiting,
                        r#"{"id":$ID,"type":"act","table":"$T","action":"call"}"#,
                        Error("not_your_turn"),
                    ),
                    (
                        "act out of turn (fold)",
                        Waiting,
                        r#"{"id":$ID,"type":"act","table":"$T","action":"fold"}"#,
                        Error("not_your_turn"),
                    ),
                    (
                        "act naming the seat on turn",
                        Waiting,
                        r#"{"id":$ID,"type":"act","table":"$T","action":"check","seat":$SEAT}"#,
                        Error("invalid_message"),
                    ),
                    (
                        "act for the seat on turn as spectator",
                        Spectator,
                        r#"{"id":$ID,"type":"act","table":"$T","action":"check"}"#,
                        Error("unauthorized"),
                    ),
                ]);
                if first_turn {
                    // Preflop, the small blind faces the big blind: to call 5, min raise to 20.
                    #[rustfmt::skip]
                    let first_turn_cases = vars.cases(&[
                        ("raise without amount", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"raise"}"#, Error("invalid_message")),
                        ("bet without amount", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"bet"}"#, Error("invalid_message")),
                        ("raise with null amount", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"raise","amount":null}"#, Error("invalid_message")),
                        ("negative raise", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"raise","amount":-20}"#, Error("invalid_message")),
                        ("fractional raise", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"raise","amount":20.5}"#, Error("invalid_message")),
                        ("string raise", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"raise","amount":"20"}"#, Error("invalid_message")),
                        ("raise beyond u64", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"raise","amount":18446744073709551616}"#, Error("invalid_message")),
                        ("raise below the minimum", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"raise","amount":15}"#, Error("illegal_action")),
                        ("raise to zero", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"raise","amount":0}"#, Error("illegal_action")),
                        ("raise above the stack", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"raise","amount":1001}"#, Error("illegal_action")),
                        ("raise to u64::MAX", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"raise","amount":18446744073709551615}"#, Error("illegal_action")),
                        ("bet facing a bet", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"bet","amount":20}"#, Error("illegal_action")),
                        ("bet to u64::MAX", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"bet","amount":18446744073709551615}"#, Error("illegal_action")),
                        ("check facing a bet", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"check"}"#, Error("illegal_action")),
                        ("unknown field on act", ToAct, r#"{"id":$ID,"type":"act","table":"$T","action":"call","all_in":true}"#, Error("invalid_message")),
                        ("sit elsewhere mid-hand", ToAct, r#"{"id":$ID,"type":"sit","table":"$T","seat":2,"buy_in":400}"#, Error("already_seated")),
                    ]);
                    cases.extend(first_turn_cases);
                    first_turn = false;
                }
                room.run(&cases, to_act).await;
                // The legal move: call when facing a bet, else check.
                let facing = bet_level > committed[to_act as usize];
                let action = if facing { "call" } else { "check" };
                let (client, _) = room.client(ToAct, to_act);
                let ack = client
                    .request(json!({"type": "act", "table": table, "action": action}))
                    .await;
                assert_eq!(ack["type"], "ack", "{ack}");
            }
            "action_taken" => {
                // Only the legal moves above were applied; nothing refused slipped in.
                let s = event["seat"].as_u64().expect("seat") as usize;
                let expected = if bet_level > committed[s] { "call" } else { "check" };
                assert_eq!(event["action"]["action"], expected, "{event}");
                assert_eq!(event["timed_out"], false, "{event}");
                committed[s] += event["amount"].as_u64().expect("amount");
                bet_level = bet_level.max(committed[s]);
            }
            "hand_ended" => {
                let total: u64 = event["stacks"]
                    .as_array()
                    .expect("stacks")
                    .iter()
                    .map(|s| s["stack"].as_u64().expect("stack"))
                    .sum();
                assert_eq!(total, 2_000, "chips are conserved: {event}");
                break;
            }
            _ => {}
        }
    }

    // Every connection still works and got one error per bad case, no more.
    for (index, client) in [
        &mut room.alice,
        &mut room.bob,
        &mut room.spectator,
        &mut room.stranger,
    ]
    .into_iter()
    .enumerate()
    {
        let id = client.send(json!({"type": "ping"})).await;
        let pong = client
            .until("pong", |v| v["type"] == "pong" && v["id"] == id)
            .await;
        assert_eq!(pong["type"], "pong");
        let errors: Vec<&Value> = client.received.iter().filter(|v| v["type"] == "error").collect();
        assert_eq!(errors.len(), room.errors[index], "connection {index}: {errors:?}");
    }
    // A fresh spectator sees both seated with all the chips.
    let mut watcher = server.connect().await;
    let snapshot = watcher.join_spectator(&table).await;
    let seats: Vec<&Value> = snapshot["view"]["seats"]
        .as_array()
        .expect("seats")
        .iter()
        .filter(|s| !s.is_null())
        .collect();
    assert_eq!(seats.len(), 2, "{snapshot}");
    let chips: u64 = seats
        .iter()
        .map(|s| s["stack"].as_u64().expect("stack") + s["committed"].as_u64().expect("committed"))
        .sum();
    assert_eq!(chips, 2_000, "{snapshot}");
    assert_eq!(balance(&server, &alice).await, 9_000);
    assert_eq!(balance(&server, &bob).await, 9_000);
    assert_eq!(balance(&server, &carol).await, 10_000);
    server.server.shutdown().await.expect("clean shutdown");
}

/// The credentials a REST case sends.
#[derive(Clone, Copy, Debug)]
enum Auth {
    None,
    Alice,
    Bob,
    /// A well-formed token nobody has.
    Unknown,
    /// `Authorization` exactly as given.
    Header(&'static str),
}

#[tokio::test]
async fn rest_bad_input_gets_json_errors() {
    // Balances of 1500 chips make a 2000-chip buy-in unaffordable.
    let server = TestServer::start_with("rest-bad-input", |config| config.starting_balance = 1_500).await;
    let (_, alice) = server.register("Alice").await;
    let (_, bob) = server.register("Bob").await;
    let table = server
        .create_table(&alice, json!({"seats": 3, "small_blind": 5, "big_blind": 10}))
        .await;
    let sit = server
        .client
        .post(format!("{}/api/tables/{table}/sit", server.http))
        .bearer_auth(&alice)
        .json(&json!({"seat": 0, "buy_in": 1000}))
        .send()
        .await
        .expect("sit");
    assert_eq!(sit.status(), 200);
    let huge_body = "x".repeat(70_000);
    use Auth::{Alice, Bob, Header, None, Unknown};
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, &str, Auth, &str, u16, &str)> = vec![
        // Bodies.
        ("malformed JSON", "POST", "/api/players", None, r#"{"name":"#, 400, "malformed_json"),
        ("empty body", "POST", "/api/players", None, "", 400, "malformed_json"),
        ("not JSON", "POST", "/api/players", None, "name=Eve", 400, "malformed_json"),
        ("unknown field", "POST", "/api/players", None, r#"{"name":"Eve","balance":1000000}"#, 400, "invalid_request"),
        ("wrong field type", "POST", "/api/players", None, r#"{"name":5}"#, 400, "invalid_request"),
        ("array body", "POST", "/api/players", None, r#"["Eve"]"#, 400, "invalid_request"),
        ("array body with more elements", "POST", "/api/players", None, r#"["Eve", 5]"#, 400, "invalid_request"),
        ("string body", "POST", "/api/players", None, r#""Eve""#, 400, "invalid_request"),
        ("null body", "POST", "/api/players", None, "null", 400, "invalid_request"),
        ("number beyond u64", "POST", "/api/tables/$T/sit", Bob, r#"{"seat":1,"buy_in":18446744073709551616}"#, 400, "invalid_request"),
        ("number beyond f64", "POST", "/api/tables/$T/sit", Bob, r#"{"seat":1,"buy_in":1e400}"#, 400, "invalid_request"),
        ("trailing garbage", "POST", "/api/players", None, r#"{"name":"Eve"} x"#, 400, "malformed_json"),
        ("empty name", "POST", "/api/players", None, r#"{"name":"  "}"#, 400, "invalid_request"),
        ("control characters in a name", "POST", "/api/players", None, r#"{"name":"E\u0000ve"}"#, 400, "invalid_request"),
        ("body over the limit", "POST", "/api/players", None, &huge_body, 413, "frame_too_large"),
        ("unknown table field", "POST", "/api/tables", Alice, r#"{"seats":2,"small_blind":1,"big_blind":2,"rake":5}"#, 400, "invalid_request"),
        ("unplayable table", "POST", "/api/tables", Alice, r#"{"seats":1,"small_blind":1,"big_blind":2}"#, 400, "invalid_request"),
        ("negative blind", "POST", "/api/tables", Alice, r#"{"seats":2,"small_blind":-1,"big_blind":2}"#, 400, "invalid_request"),
        ("unknown bot", "POST", "/api/tables", Alice, r#"{"seats":2,"small_blind":1,"big_blind":2,"ai_seats":[{"agent":"bot:nobody"}]}"#, 400, "unknown_agent"),
        // Credentials.
        ("no bearer token", "GET", "/api/me", None, "", 401, "unauthorized"),
        ("malformed bearer token", "GET", "/api/me", Header("Bearer letmein"), "", 401, "unauthorized"),
        ("unknown bearer token", "GET", "/api/me", Unknown, "", 401, "unauthorized"),
        ("not a bearer scheme", "GET", "/api/me", Header("Basic YWxpY2U6c2VjcmV0"), "", 401, "unauthorized"),
        ("create a table without a token", "POST", "/api/tables", None, r#"{"seats":2,"small_blind":1,"big_blind":2}"#, 401, "unauthorized"),
        ("sit without a token", "POST", "/api/tables/$T/sit", None, r#"{"seat":1,"buy_in":1000}"#, 401, "unauthorized"),
        ("sit with an unknown token", "POST", "/api/tables/$T/sit", Unknown, r#"{"seat":1,"buy_in":1000}"#, 401, "unauthorized"),
        // Tables and seats.
        ("unknown table", "GET", "/api/tables/t_000000000000", None, "", 404, "table_not_found"),
        ("unknown table's hands", "GET", "/api/tables/t_000000000000/hands", None, "", 404, "table_not_found"),
        ("unknown table's chat", "GET", "/api/tables/t_000000000000/chat", None, "", 404, "table_not_found"),
        ("sit at an unknown table", "POST", "/api/tables/t_000000000000/sit", Bob, r#"{"seat":1,"buy_in":1000}"#, 404, "table_not_found"),
        ("unknown hand", "GET", "/api/tables/$T/hands/7", None, "", 404, "hand_not_found"),
        ("hand number that is not a number", "GET", "/api/tables/$T/hands/seven", None, "", 400, "invalid_request"),
        ("sit on a taken seat", "POST", "/api/tables/$T/sit", Bob, r#"{"seat":0,"buy_in":1000}"#, 409, "seat_taken"),
        ("sit twice", "POST", "/api/tables/$T/sit", Alice, r#"{"seat":1,"buy_in":1000}"#, 409, "already_seated"),
        ("insufficient balance", "POST", "/api/tables/$T/sit", Bob, r#"{"seat":1,"buy_in":2000}"#, 409, "insufficient_balance"),
        ("buy-in out of range", "POST", "/api/tables/$T/sit", Bob, r#"{"seat":1,"buy_in":10}"#, 400, "invalid_buy_in"),
        ("no such seat", "POST", "/api/tables/$T/sit", Bob, r#"{"seat":9,"buy_in":1000}"#, 400, "invalid_request"),
        ("unknown sit field", "POST", "/api/tables/$T/sit", Bob, r#"{"seat":1,"buy_in":1000,"stack":99999}"#, 400, "invalid_request"),
        ("stand when not seated", "POST", "/api/tables/$T/stand", Bob, "", 409, "not_seated"),
        // Routes, methods and queries.
        ("unknown API route", "GET", "/api/nope", None, "", 404, "invalid_request"),
        ("unknown route", "GET", "/nope", None, "", 404, "invalid_request"),
        ("wrong method", "DELETE", "/api/tables", Alice, "", 405, "invalid_request"),
        ("unreadable query", "GET", "/api/tables/$T/hands?limit=many", None, "", 400, "invalid_request"),
        ("negative query", "GET", "/api/tables/$T/chat?limit=-1", None, "", 400, "invalid_request"),
        ("plain GET of /ws", "GET", "/ws", None, "", 400, "invalid_request"),
    ];
    for (name, method, path, auth, body, status, code) in cases {
        // Paced well under the REST rate limit (10 per second, bursts of 30).
        tokio::time::sleep(Duration::from_millis(30)).await;
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = server
            .client
            .request(method, format!("{}{}", server.http, path.replace("$T", &table)))
            .body(body.to_owned());
        request = match auth {
            Auth::None => request,
            Auth::Alice => request.bearer_auth(&alice),
            Auth::Bob => request.bearer_auth(&bob),
            Auth::Unknown => request.bearer_auth("cd".repeat(32)),
            Auth::Header(value) => request.header("authorization", value),
        };
        let response = request.send().await.expect(name);
        let got = response.status().as_u16();
        let text = response.text().await.expect("body");
        let json: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{name}: not JSON: {text:?}"));
        assert_eq!(got, status, "{name}: {json}");
        assert_eq!(json["error"]["code"], code, "{name}: {json}");
        assert!(
            json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}: {json}"
        );
    }
    // Nothing was charged for the refused seats and Alice's seat is intact.
    wait_balance(&server, &bob, 1_500).await;
    assert_eq!(balance(&server, &alice).await, 500);
    let (status, lobby) = server.get_json(&format!("/api/tables/{table}")).await;
    assert_eq!(status, 200);
    assert_eq!(lobby["table"]["seated"], 1, "{lobby}");
    server.server.shutdown().await.expect("clean shutdown");
}
