//! What the server sends: [`ServerMessage`]. Every frame either transport
//! writes is one of these, serialised once (a table's deltas once for the
//! whole room).

use std::sync::Arc;

use ai_players::SeatKind;
use game_core::{Event, LegalActions, TableView};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tracing::error;

use super::client::{ClientType, Role};
use super::codes::ErrorCode;

/// The protocol version `hello` announces.
pub const PROTOCOL_VERSION: u32 = 1;

/// A seated human or AI as the room sees it.
#[derive(Clone, Debug, Serialize)]
pub struct SeatInfo {
    /// Seat number.
    pub seat: usize,
    /// Player id (`p_...`) or agent spec.
    pub player_id: String,
    /// Name shown.
    pub name: String,
    /// `human`, `bot` or `llm`.
    pub kind: SeatKind,
    /// Whether the player has a connection in the room (AI seats: always).
    pub connected: bool,
    /// Time bank left, ms.
    pub time_bank_ms: u64,
}

/// The running turn clock, as clients see it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ClockInfo {
    /// The seat to act.
    pub seat: usize,
    /// The turn: the seq of the `turn_started` event that began it. An
    /// `act` that names it is refused once the turn is over.
    pub turn: u64,
    /// Time left on the turn clock, ms (time bank not included).
    pub remaining_ms: u64,
    /// The seat's time bank, used after the turn clock, ms.
    pub time_bank_ms: u64,
    /// When the seat times out, ms since the Unix epoch (turn clock plus bank).
    pub deadline_ms: u64,
}

/// A chat line.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ChatLine {
    /// Name shown.
    pub from: String,
    /// Player id, if a registered player wrote it.
    pub player_id: Option<String>,
    /// The text.
    pub text: String,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
}

/// A reason an LLM seat gave for an action: kept with the hand's history
/// and shown to everyone once the hand is over (it may name the seat's
/// hole cards).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandReason {
    /// The seat that acted.
    pub seat: usize,
    /// The seq of the `action_taken` it explains.
    pub seq: u64,
    /// The model's words.
    pub reason: String,
}

/// The limits `hello` announces.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct HelloLimits {
    /// Largest frame accepted, bytes.
    pub max_frame_bytes: usize,
    /// Sustained messages per second.
    pub messages_per_sec: u32,
    /// Burst above the sustained rate.
    pub message_burst: u32,
}

/// What an `ack` says beyond what it acknowledges.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(untagged)]
pub enum AckDetail {
    /// `join`: as whom, and the seat if the player sits there (`null` otherwise).
    Join {
        /// Player or spectator.
        #[serde(rename = "as")]
        role: Role,
        /// The player's seat.
        seat: Option<usize>,
    },
    /// `sit`: the seat taken and its stack.
    Sit {
        /// Seat number.
        seat: usize,
        /// Chips on it.
        stack: u64,
    },
    /// `stand`: what goes back to the balance, and whether after the running hand.
    Stand {
        /// Chips returned (0 until the hand ends when `after_hand`).
        cashed_out: u64,
        /// Whether the player leaves when the running hand ends.
        after_hand: bool,
    },
    /// `act`: the seq of the stored action.
    Act {
        /// Its seq.
        seq: u64,
    },
    /// `watch_experiments`: how many experiment lines follow.
    Watch {
        /// Experiments listed.
        count: usize,
    },
}

/// A message from the server. Field order is the wire order.
// Built and serialised on the spot, never stored or queued: the size of
// the snapshot variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    /// The first frame of every connection.
    Hello {
        /// Always `showdown`.
        server: &'static str,
        /// The server's version.
        version: &'static str,
        /// The protocol version.
        protocol: u32,
        /// Frame size and message rate limits.
        limits: HelloLimits,
    },
    /// A request failed, or the server reports a problem.
    Error {
        /// The request's `id`, if it had one.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        /// The table concerned, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        table: Option<&'a str>,
        /// The machine code.
        code: ErrorCode,
        /// What a person reads.
        message: &'a str,
    },
    /// A request succeeded.
    Ack {
        /// The request's `id`, if it had one.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        /// The request's `type`.
        of: ClientType,
        /// The table concerned, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        table: Option<&'a str>,
        /// What the request produced.
        #[serde(flatten)]
        detail: Option<AckDetail>,
    },
    /// The answer to `ping`.
    Pong {
        /// The ping's `id`, if it had one.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// A table as the viewer sees it: on join, and whenever a client must resync.
    Snapshot {
        /// Table id.
        table: &'a str,
        /// Table name.
        name: &'a str,
        /// The seq of the last event included in this view.
        seq: u64,
        /// Changes whenever the table is reloaded from the store; send it back with `last_seq`.
        epoch: u64,
        /// The viewer's seat, if seated.
        you: Option<usize>,
        /// The table from the viewer's point of view.
        view: TableView,
        /// Who sits where.
        seats: Vec<SeatInfo>,
        /// The running turn clock.
        clock: Option<ClockInfo>,
        /// Buy-ins, clocks and pace (the table's settings, encoded once).
        settings: &'a RawValue,
        /// Recent chat, oldest first.
        chat: Vec<&'a ChatLine>,
        /// Spectators in the room.
        spectators: usize,
    },
    /// One event of the table's log.
    Event {
        /// Table id.
        table: &'a str,
        /// Its seq.
        seq: u64,
        /// When it happened, ms since the Unix epoch (live deltas only).
        #[serde(skip_serializing_if = "Option::is_none")]
        at_ms: Option<u64>,
        /// The event.
        event: &'a Event,
        /// For `turn_started`: the clock.
        #[serde(skip_serializing_if = "Option::is_none")]
        clock: Option<ClockInfo>,
        /// For `turn_started`: what the seat to act may do (public: it follows
        /// from public information), so no client re-derives the betting rules.
        #[serde(skip_serializing_if = "Option::is_none")]
        legal: Option<LegalActions>,
        /// For `seat_taken`: who sat down.
        #[serde(skip_serializing_if = "Option::is_none")]
        player: Option<&'a SeatInfo>,
    },
    /// A resuming client has every event it missed; live deltas follow.
    Resumed {
        /// Table id.
        table: &'a str,
        /// The seq it is now at.
        seq: u64,
        /// The table's epoch.
        epoch: u64,
    },
    /// A chat line.
    Chat {
        /// Table id.
        table: &'a str,
        /// The line.
        #[serde(flatten)]
        line: &'a ChatLine,
    },
    /// A seated player's connection came or went.
    Presence {
        /// Table id.
        table: &'a str,
        /// Their seat.
        seat: usize,
        /// Whether they now have a connection in the room.
        connected: bool,
    },
    /// The table was reloaded: a snapshot follows.
    Resync {
        /// Table id.
        table: &'a str,
    },
    /// The reasons LLM seats gave in a hand, after it ended.
    Reasons {
        /// Table id.
        table: &'a str,
        /// The hand's number.
        hand: u64,
        /// One per explained action.
        reasons: &'a [HandReason],
    },
    /// An experiment's progress line (to clients watching experiments).
    Experiment {
        /// The experiment as `GET /api/experiments/{id}` shows it.
        experiment: &'a serde_json::Value,
    },
}

impl ServerMessage<'_> {
    /// The `hello` frame for these limits.
    pub fn hello(limits: HelloLimits) -> ServerMessage<'static> {
        ServerMessage::Hello {
            server: "showdown",
            version: env!("CARGO_PKG_VERSION"),
            protocol: PROTOCOL_VERSION,
            limits,
        }
    }

    /// The frame's text.
    pub fn encode(&self) -> Result<Arc<str>, serde_json::Error> {
        serde_json::to_string(self).map(Into::into)
    }

    /// The frame's text; an `internal` error frame (logged) in the one case
    /// serialisation could fail, a payload that is not plain data.
    pub fn text(&self) -> Arc<str> {
        self.encode().unwrap_or_else(|e| {
            error!("cannot encode a server message: {e}");
            Arc::from(
                r#"{"type":"error","code":"internal","message":"the server could not encode a message"}"#,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    //! Golden frames: one of each message type, byte for byte. A change here
    //! is a change of the wire format (docs/protocol.md).

    use game_core::{TableConfig, Viewer};

    use super::*;
    use crate::protocol::client::CLIENT_TYPES;
    use crate::protocol::codes::variant_names;

    fn seat() -> SeatInfo {
        SeatInfo {
            seat: 2,
            player_id: "p_ada".into(),
            name: "Ada".into(),
            kind: SeatKind::Human,
            connected: true,
            time_bank_ms: 30_000,
        }
    }

    fn clock() -> ClockInfo {
        ClockInfo {
            seat: 2,
            turn: 13,
            remaining_ms: 15_000,
            time_bank_ms: 30_000,
            deadline_ms: 1_700_000_045_000,
        }
    }

    #[test]
    fn golden_frames() {
        let settings = RawValue::from_string(r#"{"min_buy_in":400}"#.into()).expect("raw");
        let table = game_core::Table::new(TableConfig::new(2, 1, 2)).expect("a table");
        let line = ChatLine {
            from: "Ada".into(),
            player_id: Some("p_ada".into()),
            text: "gl".into(),
            at_ms: 5,
        };
        let event = Event::AntePosted { seat: 1, amount: 5 };
        let reasons = [HandReason {
            seat: 1,
            seq: 40,
            reason: "pot odds".into(),
        }];
        let info = serde_json::json!({"id": "e1", "status": "running"});
        let frames: Vec<(ServerMessage, &str)> = vec![
            (
                ServerMessage::Hello {
                    server: "showdown",
                    version: "1.2.3",
                    protocol: 1,
                    limits: HelloLimits {
                        max_frame_bytes: 65536,
                        messages_per_sec: 20,
                        message_burst: 40,
                    },
                },
                r#"{"type":"hello","server":"showdown","version":"1.2.3","protocol":1,"limits":{"max_frame_bytes":65536,"messages_per_sec":20,"message_burst":40}}"#,
            ),
            (
                ServerMessage::Error {
                    id: Some(4),
                    table: Some("t1"),
                    code: ErrorCode::NotYourTurn,
                    message: "wait",
                },
                r#"{"type":"error","id":4,"table":"t1","code":"not_your_turn","message":"wait"}"#,
            ),
            (
                ServerMessage::Ack {
                    id: Some(5),
                    of: ClientType::Join,
                    table: Some("t1"),
                    detail: Some(AckDetail::Join {
                        role: Role::Spectator,
                        seat: None,
                    }),
                },
                r#"{"type":"ack","id":5,"of":"join","table":"t1","as":"spectator","seat":null}"#,
            ),
            (
                ServerMessage::Ack {
                    id: None,
                    of: ClientType::SitOut,
                    table: Some("t1"),
                    detail: None,
                },
                r#"{"type":"ack","of":"sit_out","table":"t1"}"#,
            ),
            (ServerMessage::Pong { id: Some(9) }, r#"{"type":"pong","id":9}"#),
            (
                ServerMessage::Snapshot {
                    table: "t1",
                    name: "Main",
                    seq: 0,
                    epoch: 3,
                    you: None,
                    view: table.view(Viewer::Spectator),
                    seats: vec![seat()],
                    clock: None,
                    settings: &settings,
                    chat: vec![&line],
                    spectators: 1,
                },
                "", // the engine's view is pinned by its own tests; checked below
            ),
            (
                ServerMessage::Event {
                    table: "t1",
                    seq: 12,
                    at_ms: Some(1_700_000_000_000),
                    event: &event,
                    clock: None,
                    legal: None,
                    player: None,
                },
                r#"{"type":"event","table":"t1","seq":12,"at_ms":1700000000000,"event":{"type":"ante_posted","seat":1,"amount":5}}"#,
            ),
            (
                ServerMessage::Resumed {
                    table: "t1",
                    seq: 30,
                    epoch: 3,
                },
                r#"{"type":"resumed","table":"t1","seq":30,"epoch":3}"#,
            ),
            (
                ServerMessage::Chat {
                    table: "t1",
                    line: &line,
                },
                r#"{"type":"chat","table":"t1","from":"Ada","player_id":"p_ada","text":"gl","at_ms":5}"#,
            ),
            (
                ServerMessage::Presence {
                    table: "t1",
                    seat: 2,
                    connected: false,
                },
                r#"{"type":"presence","table":"t1","seat":2,"connected":false}"#,
            ),
            (
                ServerMessage::Resync { table: "t1" },
                r#"{"type":"resync","table":"t1"}"#,
            ),
            (
                ServerMessage::Reasons {
                    table: "t1",
                    hand: 7,
                    reasons: &reasons,
                },
                r#"{"type":"reasons","table":"t1","hand":7,"reasons":[{"seat":1,"seq":40,"reason":"pot odds"}]}"#,
            ),
            (
                ServerMessage::Experiment { experiment: &info },
                r#"{"type":"experiment","experiment":{"id":"e1","status":"running"}}"#,
            ),
        ];
        let mut seen = Vec::new();
        for (message, golden) in &frames {
            let text = message.text();
            let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
            let kind = value["type"].as_str().expect("a type").to_owned();
            assert_eq!(kind, type_of(message));
            if kind == "snapshot" {
                let view = serde_json::to_value(table.view(Viewer::Spectator)).expect("a view");
                let expected = serde_json::json!({
                    "type": "snapshot", "table": "t1", "name": "Main", "seq": 0, "epoch": 3,
                    "you": null, "view": view,
                    "seats": [{"seat": 2, "player_id": "p_ada", "name": "Ada", "kind": "human",
                               "connected": true, "time_bank_ms": 30000}],
                    "clock": null, "settings": {"min_buy_in": 400},
                    "chat": [{"from": "Ada", "player_id": "p_ada", "text": "gl", "at_ms": 5}],
                    "spectators": 1,
                });
                assert_eq!(value, expected);
                assert!(
                    text.starts_with(r#"{"type":"snapshot","table":"t1","name":"Main","seq":0,"epoch":3,"#)
                );
            } else {
                assert_eq!(&*text, *golden, "{kind}");
            }
            seen.push(kind);
        }
        // A turn's event carries the clock and the legal actions.
        let turn = Event::TurnStarted { seat: 2 };
        let text = ServerMessage::Event {
            table: "t1",
            seq: 13,
            at_ms: None,
            event: &turn,
            clock: Some(clock()),
            legal: None,
            player: Some(&seat()),
        }
        .text();
        assert_eq!(
            &*text,
            r#"{"type":"event","table":"t1","seq":13,"event":{"type":"turn_started","seat":2},"clock":{"seat":2,"turn":13,"remaining_ms":15000,"time_bank_ms":30000,"deadline_ms":1700000045000},"player":{"seat":2,"player_id":"p_ada","name":"Ada","kind":"human","connected":true,"time_bank_ms":30000}}"#
        );
        // Every message type has its golden frame.
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), SERVER_TYPES);
        assert!(!CLIENT_TYPES.is_empty() && !variant_names::<ErrorCode>().is_empty());
    }

    /// How many message types there are: a new variant fails to compile in
    /// [`type_of`] until it is named there and given a golden frame above.
    const SERVER_TYPES: usize = 12;

    fn type_of(message: &ServerMessage) -> &'static str {
        match message {
            ServerMessage::Hello { .. } => "hello",
            ServerMessage::Error { .. } => "error",
            ServerMessage::Ack { .. } => "ack",
            ServerMessage::Pong { .. } => "pong",
            ServerMessage::Snapshot { .. } => "snapshot",
            ServerMessage::Event { .. } => "event",
            ServerMessage::Resumed { .. } => "resumed",
            ServerMessage::Chat { .. } => "chat",
            ServerMessage::Presence { .. } => "presence",
            ServerMessage::Resync { .. } => "resync",
            ServerMessage::Reasons { .. } => "reasons",
            ServerMessage::Experiment { .. } => "experiment",
        }
    }
}
