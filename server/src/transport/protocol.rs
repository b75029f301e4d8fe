//! The wire protocol both transports speak: JSON objects with a `type`.
//! Decoding is strict and every failure maps to one stable [`ErrorCode`];
//! `docs/protocol.md` documents each message and code.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Stable machine codes of `error` messages (and of REST errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON, or not a JSON object.
    MalformedJson,
    /// The object has no string `type`.
    MissingType,
    /// `type` names no client message.
    UnknownType,
    /// A known message with missing or ill-typed fields.
    InvalidMessage,
    /// The frame exceeds the size limit; the connection is closed.
    FrameTooLarge,
    /// Too many messages per second; persisting closes the connection.
    RateLimited,
    /// A token is missing, unknown or malformed.
    Unauthorized,
    /// The token is valid but does not allow this (another seat, admin only).
    Forbidden,
    /// The message needs a `join` of that table first.
    NotJoined,
    /// No such table.
    TableNotFound,
    /// No such player.
    PlayerNotFound,
    /// No such finished hand at this table.
    HandNotFound,
    /// The seat is taken, or the table has no free seat.
    SeatTaken,
    /// The player already sits at this table.
    AlreadySeated,
    /// The player does not sit at this table.
    NotSeated,
    /// The buy-in is outside the table's range.
    InvalidBuyIn,
    /// The player's balance does not cover the buy-in.
    InsufficientBalance,
    /// It is not this seat's turn.
    NotYourTurn,
    /// The action is not legal now (the message says why).
    IllegalAction,
    /// The request is well-formed but not valid (bad table settings, empty chat, ...).
    InvalidRequest,
    /// The table has its maximum number of spectators.
    SpectatorsFull,
    /// The server holds its maximum number of live tables.
    TooManyTables,
    /// The server holds its maximum number of connections.
    TooManyConnections,
    /// The agent spec names no known bot or configured LLM model.
    UnknownAgent,
    /// No such experiment.
    ExperimentNotFound,
    /// The experiment cannot do that in its current status (resume a finished one, ...).
    ExperimentState,
    /// The store or a table is temporarily unavailable; retry.
    Unavailable,
    /// The server is shutting down.
    ShuttingDown,
    /// An unexpected server fault (logged with details).
    Internal,
}

impl ErrorCode {
    /// The code's wire name.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::MissingType => "missing_type",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::TableNotFound => "table_not_found",
            ErrorCode::PlayerNotFound => "player_not_found",
            ErrorCode::HandNotFound => "hand_not_found",
            ErrorCode::SeatTaken => "seat_taken",
            ErrorCode::AlreadySeated => "already_seated",
            ErrorCode::NotSeated => "not_seated",
            ErrorCode::InvalidBuyIn => "invalid_buy_in",
            ErrorCode::InsufficientBalance => "insufficient_balance",
            ErrorCode::NotYourTurn => "not_your_turn",
            ErrorCode::IllegalAction => "illegal_action",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::SpectatorsFull => "spectators_full",
            ErrorCode::TooManyTables => "too_many_tables",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::UnknownAgent => "unknown_agent",
            ErrorCode::ExperimentNotFound => "experiment_not_found",
            ErrorCode::ExperimentState => "experiment_state",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Internal => "internal",
        }
    }
}

/// A failure to report: a code and a human message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.name())]
pub struct Failure {
    /// The machine code.
    pub code: ErrorCode,
    /// What a person reads.
    pub message: String,
}

impl Failure {
    /// A failure with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// How a client joins a table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
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

/// The `type` names clients may send.
pub const CLIENT_TYPES: [&str; 11] = [
    "join",
    "leave",
    "sit",
    "stand",
    "sit_out",
    "sit_in",
    "act",
    "chat",
    "ping",
    "watch_experiments",
    "unwatch_experiments",
];

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
                amount: Some(40)
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
