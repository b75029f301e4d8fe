//! Error codes, the wire error ([`Failure`]) and WebSocket close codes.

use std::fmt;
use std::sync::LazyLock;

use serde::de::DeserializeOwned;
use serde::de::value::{MapDeserializer, StrDeserializer};
use serde::{Deserialize, Serialize};

/// WebSocket close codes the server sends (RFC 6455, section 7.4.1).
pub mod close {
    /// The server is shutting down (`1001`, going away).
    pub const GOING_AWAY: u16 = 1001;
    /// The client kept flooding past the rate limit (`1008`, policy violation).
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame over the size limit, or not valid (`1009`, message too big).
    pub const MESSAGE_TOO_BIG: u16 = 1009;
}

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
    /// An `act` named a turn that is over (or not the seat's).
    StaleTurn,
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
    /// The table is run by another node of the cluster (the message names
    /// its address); join it there.
    TableElsewhere,
    /// The server is shutting down.
    ShuttingDown,
    /// An unexpected server fault (logged with details).
    Internal,
}

impl ErrorCode {
    /// The code's wire name (serde's, so it cannot drift from the JSON).
    pub fn name(self) -> &'static str {
        static NAMES: LazyLock<&'static [&'static str]> = LazyLock::new(variant_names::<ErrorCode>);
        // A fieldless enum's discriminant is its place in serde's list.
        NAMES.get(self as usize).copied().unwrap_or("internal")
    }

    /// Every code, in declaration order.
    pub fn all() -> impl Iterator<Item = ErrorCode> {
        variant_names::<ErrorCode>()
            .iter()
            .filter_map(|name| serde_json::from_value(serde_json::Value::from(*name)).ok())
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

/// The names serde gives the variants of an enum (a fieldless enum, or an
/// internally tagged one), read from serde's own derive: deserialising an
/// impossible name makes the derive report every name it expects. So lists
/// of names are never kept by hand next to the enum. It probes the derive
/// on every call: keep the result in a static.
pub fn variant_names<T: DeserializeOwned>() -> &'static [&'static str] {
    const IMPOSSIBLE: &str = "\u{0}";
    // A fieldless enum asks for an enum; an internally tagged one for a map with its tag.
    match T::deserialize(StrDeserializer::<Probe>::new(IMPOSSIBLE)) {
        Err(Probe(Some(names))) => names,
        _ => match T::deserialize(MapDeserializer::<_, Probe>::new(std::iter::once((
            "type", IMPOSSIBLE,
        )))) {
            Err(Probe(Some(names))) => names,
            _ => &[],
        },
    }
}

/// The error [`variant_names`] deserialises with: it keeps the expected names.
#[derive(Debug)]
struct Probe(Option<&'static [&'static str]>);

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for Probe {}

impl serde::de::Error for Probe {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probe(None)
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        Probe(Some(expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_are_serdes() {
        let all: Vec<ErrorCode> = ErrorCode::all().collect();
        assert_eq!(all.len(), 31);
        assert_eq!(all.first(), Some(&ErrorCode::MalformedJson));
        assert_eq!(all.last(), Some(&ErrorCode::Internal));
        for code in all {
            assert_eq!(
                serde_json::to_value(code).expect("a code").as_str(),
                Some(code.name())
            );
        }
        assert_eq!(ErrorCode::NotYourTurn.name(), "not_your_turn");
    }
}
