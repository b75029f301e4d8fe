//! What clients send: [`ClientMessage`], decoded strictly; every failure
//! maps to one stable [`ErrorCode`]. `docs/protocol.md` documents each
//! message and code.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::codes::{ErrorCode, Failure, variant_names};

/// How a client joins a table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// As a registered player (a token is required; sees its own hole cards once seated).
    Player,
    /// As an anonymous spectator (public events only).
    #[default]
    Spectator,
}

/// What a client may do in an `act`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Give up the hand.
    Fold,
    /// Pass without betting.
    Check,
    /// Match the current bet.
    Call,
    /// Open the betting; `amount` is the total to bet.
    Bet,
    /// Raise; `amount` is the total to raise to.
    Raise,
}

/// A message from a client. `id`, when given, is echoed in the `ack` or `error` it causes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Watch or play a table: a snapshot follows, then deltas.
    Join {
        /// Client request id.
        #[serde(default)]
        id: Option<u64>,
        /// Table id.
        table: String,
        /// Player or spectator.
        #[serde(rename = "as", default)]
        role: Role,
        /// Bearer token (required as a player).
        #[serde(default)]
        token: Option<String>,
        /// The last seq this client saw: only later events are sent when possible.
        #[serde(default)]
        last_seq: Option<u64>,
        /// The table epoch of the client's last snapshot (from `snapshot` or `resumed`).
        #[serde(default)]
        epoch: Option<u64>,
    },
    /// Stop receiving a table's events.
    Leave {
        /// Client request id.
        #[serde(default)]
        id: Option<u64>,
        /// Table id.
        table: String,
    },
    /// Take a seat with chips from the player's balance.
    Sit {
        /// Client request id.
        #[serde(default)]
        id: Option<u64>,
        /// Table id.
        table: String,
        /// Seat number (0-based).
        seat: usize,
        /// Chips to bring.
        buy_in: u64,
    },
    /// Leave the seat; chips go back to the balance (after the hand if one is running).
    Stand {
        /// Client request id.
        #[serde(default)]
        id: Option<u64>,
        /// Table id.
        table: String,
    },
    /// Skip hands from the next one on.
    SitOut {
        /// Client request id.
        #[serde(default)]
        id: Option<u64>,
        /// Table id.
        table: String,
    },
    /// Play again after sitting out.
    SitIn {
        /// Client request id.
        #[serde(default)]
        id: Option<u64>,
        /// Table id.
        table: String,
    },
    /// Act on your turn.
    Act {
        /// Client request id.
        #[serde(default)]
        id: Option<u64>,
        /// Table id.
        table: String,
        /// What to do.
        action: ActionKind,
        /// The total to bet or raise to (bet and raise only).
        #[serde(default)]
        amount: Option<u64>,
        /// The turn this answers (`clock.turn`: the seq of its
        /// `turn_started`); refused with `stale_turn` once that turn is over,
        /// so a resend never lands on a later turn. Optional.
        #[serde(default)]
        turn: Option<u64>,
    },
    /// Say something at the table.
    Chat {
        /// Client request id.
        #[serde(default)]
        id: Option<u64>,
        /// Table id.
        table: String,
        /// The text.
        text: String,
    },
    /// Liveness check; answered with `pong`.
    Ping {
        /// Client request id.
        #[serde(default)]
        id: Option<u64>,
    },
    /// Receive every experiment's progress (`experiment` messages) until `unwatch_experiments`.
    WatchExperiments {
        /// Client request id.
        #[serde(default)]
        id: Option<u64>,
    },
    /// Stop receiving experiment progress.
    UnwatchExperiments {
        /// Client request id.
        #[serde(default)]
        id: Option<u64>,
    },
}

/// The `type` names clients may send (serde's names of [`ClientMessage`]).
pub static CLIENT_TYPES: LazyLock<&'static [&'static str]> = LazyLock::new(variant_names::<ClientMessage>);

/// The kind of a client message, named on the wire as its `type` (an
/// `ack`'s `of`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// `join`
    Join,
    /// `leave`
    Leave,
    /// `sit`
    Sit,
    /// `stand`
    Stand,
    /// `sit_out`
    SitOut,
    /// `sit_in`
    SitIn,
    /// `act`
    Act,
    /// `chat`
    Chat,
    /// `ping`
    Ping,
    /// `watch_experiments`
    WatchExperiments,
    /// `unwatch_experiments`
    UnwatchExperiments,
}

impl ClientMessage {
    /// The message's kind.
    pub fn kind(&self) -> ClientType {
        match self {
            ClientMessage::Join { .. } => ClientType::Join,
            ClientMessage::Leave { .. } => ClientType::Leave,
            ClientMessage::Sit { .. } => ClientType::Sit,
            ClientMessage::Stand { .. } => ClientType::Stand,
            ClientMessage::SitOut { .. } => ClientType::SitOut,
            ClientMessage::SitIn { .. } => ClientType::SitIn,
            ClientMessage::Act { .. } => ClientType::Act,
            ClientMessage::Chat { .. } => ClientType::Chat,
            ClientMessage::Ping { .. } => ClientType::Ping,
            ClientMessage::WatchExperiments { .. } => ClientType::WatchExperiments,
            ClientMessage::UnwatchExperiments { .. } => ClientType::UnwatchExperiments,
        }
    }
}

/// Whether a JSON parse failed only because a number does not fit a double
/// (`1e400`): such text is valid JSON (RFC 8259 sets no range), so it is
/// answered like any other out-of-range number (`2^64` for a `u64` field):
/// `invalid_message` (REST: `invalid_request`), not `malformed_json`.
/// serde_json reports it as a syntax error with this message; the unit test
/// `out_of_range_numbers_are_one_code` pins that.
pub fn is_number_out_of_range(e: &serde_json::Error) -> bool {
    e.is_syntax() && e.to_string().starts_with("number out of range")
}

/// Decodes one client frame, or says precisely what is wrong with it (with
/// the request `id` when one could be read, so the error can echo it).
pub fn decode(text: &str) -> Result<ClientMessage, (Option<u64>, Failure)> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let code = if is_number_out_of_range(&e) {
            ErrorCode::InvalidMessage
        } else {
            ErrorCode::MalformedJson
        };
        (None, Failure::new(code, format!("not valid JSON: {e}")))
    })?;
    let Value::Object(object) = &value else {
        return Err((
            None,
            Failure::new(ErrorCode::MalformedJson, "a message must be a JSON object"),
        ));
    };
    let id = object.get("id").and_then(Value::as_u64);
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => {
            return Err((
                id,
                Failure::new(ErrorCode::MissingType, "`type` must be a string"),
            ));
        }
        None => {
            return Err((
                id,
                Failure::new(ErrorCode::MissingType, "the message has no `type`"),
            ));
        }
    };
    if !CLIENT_TYPES.contains(&kind) {
        let shown: String = kind.chars().take(40).collect();
        return Err((
            id,
            Failure::new(
                ErrorCode::UnknownType,
                format!(
                    "unknown message type {shown:?}; expected one of {}",
                    CLIENT_TYPES.join(", ")
                ),
            ),
        ));
    }
    // Decoded from the text, not from `value`: a map keeps only the last of
    // duplicate keys, and a message that says two things is refused instead.
    serde_json::from_str(text).map_err(|e| (id, Failure::new(ErrorCode::InvalidMessage, e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> ErrorCode {
        decode(text).expect_err("must fail").1.code
    }

    #[test]
    fn decodes_every_message_type() {
        let join = decode(r#"{"type":"join","table":"t1","as":"player","token":"x","last_seq":7,"id":3}"#);
        assert_eq!(
            join,
            Ok(ClientMessage::Join {
                id: Some(3),
                table: "t1".into(),
                role: Role::Player,
                token: Some("x".into()),
                last_seq: Some(7),
                epoch: None,
            })
        );
        let act = decode(r#"{"type":"act","table":"t1","action":"raise","amount":40}"#);
        assert_eq!(
            act,
            Ok(ClientMessage::Act {
                id: None,
                table: "t1".into(),
                action: ActionKind::Raise,
                amount: Some(40),
                turn: None
            })
        );
        assert_eq!(
            decode(r#"{"type":"act","table":"t1","action":"check","turn":17}"#),
            Ok(ClientMessage::Act {
                id: None,
                table: "t1".into(),
                action: ActionKind::Check,
                amount: None,
                turn: Some(17)
            })
        );
        for text in [
            r#"{"type":"leave","table":"t"}"#,
            r#"{"type":"sit","table":"t","seat":2,"buy_in":100}"#,
            r#"{"type":"stand","table":"t"}"#,
            r#"{"type":"sit_out","table":"t"}"#,
            r#"{"type":"sit_in","table":"t"}"#,
            r#"{"type":"chat","table":"t","text":"hi"}"#,
            r#"{"type":"ping"}"#,
        ] {
            assert!(decode(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn client_names_come_from_serde() {
        assert_eq!(CLIENT_TYPES.len(), 11);
        assert_eq!(*CLIENT_TYPES, variant_names::<ClientType>());
        assert!(CLIENT_TYPES.contains(&"watch_experiments"));
        let ping = decode(r#"{"type":"ping"}"#).expect("ping");
        assert_eq!(serde_json::to_value(ping.kind()).expect("a name"), "ping");
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(code("{"), ErrorCode::MalformedJson);
        assert_eq!(code("[1,2]"), ErrorCode::MalformedJson);
        assert_eq!(code(r#"{"table":"t"}"#), ErrorCode::MissingType);
        assert_eq!(code(r#"{"type":5}"#), ErrorCode::MissingType);
        assert_eq!(code(r#"{"type":"explode"}"#), ErrorCode::UnknownType);
        assert_eq!(
            code(r#"{"type":"act","table":"t","action":"shove"}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            code(r#"{"type":"sit","table":"t","seat":-1,"buy_in":5}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(code(r#"{"type":"ping","extra":1}"#), ErrorCode::InvalidMessage);
        assert_eq!(
            code(r#"{"type":"leave","table":"a","table":"b"}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            code(r#"{"type":"ping","type":"leave","table":"t"}"#),
            ErrorCode::InvalidMessage
        );
        let (id, _) = decode(r#"{"type":"act","id":9,"table":"t"}"#).expect_err("no action");
        assert_eq!(id, Some(9));
    }

    #[test]
    fn out_of_range_numbers_are_one_code() {
        for text in [
            r#"{"type":"sit","table":"t","seat":1,"buy_in":18446744073709551616}"#,
            r#"{"type":"sit","table":"t","seat":1,"buy_in":1e400}"#,
            r#"{"type":"sit","table":"t","seat":1,"buy_in":-1e400}"#,
            r#"{"type":"ping","id":1e999}"#,
        ] {
            assert_eq!(code(text), ErrorCode::InvalidMessage, "{text}");
        }
        assert_eq!(code(r#"{"type":"ping","id":1e}"#), ErrorCode::MalformedJson);
    }
}
